package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// RunMediaBlobs is the conformance test of switchboard.MediaBlobs: content-addressed, idempotent
// puts, ENOTFOUND for what is not there, EINVALID for an ID that is not the bytes' SHA-256, and
// binary content (NUL bytes, invalid UTF-8) round-trips exactly. A second store on the same
// database (a second node), when newPeer is not nil, reads what the first wrote.
func RunMediaBlobs(t *testing.T, st switchboard.MediaBlobs, newPeer func(t *testing.T) switchboard.MediaBlobs) {
	ctx := t.Context()
	data := append([]byte("\x89PNG\r\n\x1a\n\x00\xff\xfe"), bytes.Repeat([]byte{0, 1, 2, 250}, 4096)...)
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])
	if _, err := st.GetMediaBlob(ctx, id); switchboard.ErrorKindOf(err) != switchboard.ENOTFOUND {
		t.Fatalf("GetMediaBlob before Put: %v, want ENOTFOUND", err)
	}
	if err := st.PutMediaBlob(ctx, id, data); err != nil {
		t.Fatalf("PutMediaBlob: %v", err)
	}
	if err := st.PutMediaBlob(ctx, id, data); err != nil {
		t.Fatalf("PutMediaBlob again: %v", err)
	}
	got, err := st.GetMediaBlob(ctx, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetMediaBlob: %d bytes, %v; want the %d bytes stored", len(got), err, len(data))
	}
	other := []byte("other")
	if err := st.PutMediaBlob(ctx, id, other); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
		t.Errorf("PutMediaBlob with another content under the ID: %v, want EINVALID", err)
	}
	if got, _ := st.GetMediaBlob(ctx, id); !bytes.Equal(got, data) {
		t.Error("a refused put changed the stored bytes")
	}
	if newPeer != nil {
		peer := newPeer(t)
		if got, err := peer.GetMediaBlob(ctx, id); err != nil || !bytes.Equal(got, data) {
			t.Errorf("the other node reads %d bytes, %v", len(got), err)
		}
	}
	// Retention: media last received before the cutoff go, the others stay.
	if n, err := st.PruneMediaBlobs(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneMediaBlobs an hour back: %d, %v; want 0 (received just now)", n, err)
	}
	if n, err := st.PruneMediaBlobs(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("PruneMediaBlobs after now: %d, %v; want 1", n, err)
	}
	if _, err := st.GetMediaBlob(ctx, id); switchboard.ErrorKindOf(err) != switchboard.ENOTFOUND {
		t.Errorf("a pruned medium is still served: %v", err)
	}
}
