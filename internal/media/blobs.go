package media

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// BlobStore keeps stored (checked) media by ID, the SHA-256 of the bytes in hex. It is the only
// place the pipeline puts and reads stored files, so that where they live is a setting
// (media_store): the local disk of one node (DiskBlobs, the default) or the database every
// node of a cluster shares (DatabaseBlobs). Quarantined files and downloads in progress stay on
// local disk: they are never served.
type BlobStore interface {
	// Put stores the content of the local file at path under id; the caller removes path.
	Put(ctx context.Context, id, path string) error
	// Open returns the content stored under id, or an error (not found included).
	Open(ctx context.Context, id string) (io.ReadSeekCloser, error)
}

// DiskBlobs stores media as files Dir/<id> on this node's disk.
type DiskBlobs struct{ Dir string }

// Put links or copies path to Dir/<id>.
func (b DiskBlobs) Put(_ context.Context, id, path string) error {
	dst := filepath.Join(b.Dir, id)
	if err := os.Link(path, dst); err == nil || os.IsExist(err) {
		return nil
	}
	return os.Rename(path, dst)
}

// Open opens Dir/<id>.
func (b DiskBlobs) Open(_ context.Context, id string) (io.ReadSeekCloser, error) {
	return os.Open(filepath.Join(b.Dir, id))
}

// DatabaseBlobs stores media in the database's media_blobs table, where every node reaches it.
type DatabaseBlobs struct{ Store switchboard.MediaBlobs }

// Put reads the file (at most the pipeline's MaxBytes) and stores it.
func (b DatabaseBlobs) Put(ctx context.Context, id, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	return b.Store.PutMediaBlob(ctx, id, data)
}

// Open reads the stored bytes.
func (b DatabaseBlobs) Open(ctx context.Context, id string) (io.ReadSeekCloser, error) {
	data, err := b.Store.GetMediaBlob(ctx, id)
	if err != nil {
		return nil, err
	}
	return nopCloser{bytes.NewReader(data)}, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Prune deletes the media last received before before.
func (b DatabaseBlobs) Prune(ctx context.Context, before time.Time) (int, error) {
	return b.Store.PruneMediaBlobs(ctx, before)
}
