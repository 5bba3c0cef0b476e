package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// TestAPIKeyLastUsed: an authenticated request records the key's last use, at most once a
// minute (a cache miss with a stale stored time), so `switchboard keys list` can tell keys in use
// from forgotten ones.
func TestAPIKeyLastUsed(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateAPIKey(context.Background(), &switchboard.APIKey{ID: "key_1", Name: "test", Hash: switchboard.HashAPIKeySecret(secret), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		clock = now
	)
	at := func(d time.Duration) {
		mu.Lock()
		clock = now.Add(d)
		mu.Unlock()
	}
	s := api.New(api.Config{Store: db, Clock: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	request := func() {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/v1/messages", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET /v1/messages: %d", resp.StatusCode)
		}
	}
	lastUsed := func() *time.Time {
		t.Helper()
		k, err := db.GetAPIKeyByHash(context.Background(), switchboard.HashAPIKeySecret(secret))
		if err != nil {
			t.Fatal(err)
		}
		return k.LastUsedAt
	}
	if u := lastUsed(); u != nil {
		t.Fatalf("a new key was last used at %s", u)
	}
	for _, step := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 0},                               // first use: recorded
		{30 * time.Second, 0},                // the cache missed, but the record is under a minute old
		{61 * time.Second, 61 * time.Second}, // a minute on: recorded again
		{65 * time.Second, 61 * time.Second}, // within the key cache: no store read, no write
	} {
		at(step.at)
		request()
		if u := lastUsed(); u == nil || !u.Equal(now.Add(step.want)) {
			t.Fatalf("after a request at +%s: last used %v, want +%s", step.at, u, step.want)
		}
	}
}
