package sqlite

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// TestCommitObserver: every group commit of the writer is reported with its duration and the
// requests it carried; over concurrent writes the requests add up to the writes that succeeded.
func TestCommitObserver(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		commits  int
		requests int
		took     time.Duration
	)
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "c.db"), WithCommitObserver(func(d time.Duration, n int) {
		mu.Lock()
		defer mu.Unlock()
		commits, requests, took = commits+1, requests+n, took+d
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const writes = 64
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() {
			if err := db.CreateAPIKey(t.Context(), &switchboard.APIKey{ID: fmt.Sprintf("key_%d", i), Name: "k",
				Hash: fmt.Sprintf("hash_%d", i), CreatedAt: time.Now()}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// A write that fails is rolled back to its savepoint and not counted.
	if err := db.CreateAPIKey(t.Context(), &switchboard.APIKey{ID: "key_0", Name: "k", Hash: "again", CreatedAt: time.Now()}); err == nil {
		t.Fatal("a duplicate key was created")
	}
	mu.Lock()
	defer mu.Unlock()
	if commits == 0 || commits > writes || requests != writes || took <= 0 {
		t.Fatalf("observed %d commits of %d requests in %s, want 1..%d commits of %d requests", commits, requests, took, writes, writes)
	}
}
