package switchboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// MediaBlobs stores inbound media in the database, content-addressed, so that every node of a
// cluster serves what any node received (media_store: database). Both store engines implement
// it; it is apart from Store because only the media pipeline needs it.
type MediaBlobs interface {
	// PutMediaBlob stores data under its SHA-256 in lowercase hex; the ID must match the bytes
	// (EINVALID otherwise). Storing an ID again keeps the bytes and marks them received now.
	PutMediaBlob(ctx context.Context, sha256 string, data []byte) error
	// GetMediaBlob returns the bytes stored under sha256, or ENOTFOUND.
	GetMediaBlob(ctx context.Context, sha256 string) ([]byte, error)
	// PruneMediaBlobs deletes the media last received before before (retention) and returns
	// how many.
	PruneMediaBlobs(ctx context.Context, before time.Time) (int, error)
}

// CheckMediaBlob reports whether id is the SHA-256 of data (EINVALID otherwise).
func CheckMediaBlob(id string, data []byte) error {
	sum := sha256.Sum256(data)
	if id != hex.EncodeToString(sum[:]) {
		return Errorf(EINVALID, "media_id_mismatch", "the media ID is not the SHA-256 of its bytes")
	}
	return nil
}
