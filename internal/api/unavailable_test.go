package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// failingStore fails every message create with err.
type failingStore struct {
	switchboard.Store
	err error
}

func (s failingStore) CreateMessage(context.Context, *switchboard.Message, *switchboard.Idempotency) (*switchboard.Message, bool, error) {
	return nil, false, s.err
}

// TestUnavailableIs503WithRetryAfter: a store that is down or out of disk answers 503 with
// Retry-After and its stable code, not 500 internal_error; a bug stays a 500.
func TestUnavailableIs503WithRetryAfter(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now().UTC()
	if err := db.CreateAPIKey(context.Background(), &switchboard.APIKey{ID: "key_1", Name: "test", Hash: switchboard.HashAPIKeySecret(secret), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{switchboard.Unavailable(switchboard.CodeStoreUnavailable, errors.New("connection refused")), 503, "store_unavailable"},
		{switchboard.Unavailable(switchboard.CodeDiskFull, errors.New("database or disk is full")), 503, "disk_full"},
		{errors.New("a bug"), 500, "internal_error"},
	} {
		s := api.New(api.Config{
			Store: failingStore{Store: db, err: c.err}, Clock: func() time.Time { return now },
			Senders: []switchboard.Sender{{From: "+15005550006", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}},
		})
		srv := httptest.NewServer(s.Handler())
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(`{"to":"+14155550123","body":"hi"}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p api.Problem
		decodeProblem(t, resp, &p)
		srv.Close()
		if resp.StatusCode != c.status || p.Code != c.code {
			t.Errorf("%v: %d %q, want %d %q", c.err, resp.StatusCode, p.Code, c.status, c.code)
		}
		if ra := resp.Header.Get("Retry-After"); (c.status == 503) != (ra != "") {
			t.Errorf("%v: Retry-After %q", c.err, ra)
		}
	}
}

func decodeProblem(t *testing.T, resp *http.Response, p *api.Problem) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(p); err != nil {
		t.Fatal(err)
	}
}
