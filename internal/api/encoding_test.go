package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// engines returns a fresh store of each engine (PostgreSQL when SWITCHBOARD_TEST_POSTGRES_URL is set).
func engines(t *testing.T) map[string]func(t *testing.T) switchboard.Store {
	return map[string]func(t *testing.T) switchboard.Store{
		"sqlite": func(t *testing.T) switchboard.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		"postgres": func(t *testing.T) switchboard.Store { return pgtest.NewDB(t) },
	}
}

// get sends an authenticated GET and returns the status, content type and body.
func get(t *testing.T, base, path string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), raw
}

// TestFarFutureTimesNeverEmptyAnswers stores, on both engines, a message with a send_at in year
// 9999 and so a valid_until past it (as the API accepted before send_at was bounded), and checks
// that listing, reading and tracing messages still answer 200 with the message (the time clamped
// to the last JSON can say), never a 200 with an empty body (issue 15), and that the API now
// refuses such a send_at with send_at_too_far.
func TestFarFutureTimesNeverEmptyAnswers(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := open(t)
			if err := db.CreateAPIKey(ctx, &switchboard.APIKey{ID: "key_1", Name: "test", Hash: switchboard.HashAPIKeySecret(secret), CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			s := api.New(api.Config{Store: db, Clock: func() time.Time { return now }, MaxBodyBytes: 4096,
				Senders: []switchboard.Sender{{From: "+15005550006", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}}})
			srv := httptest.NewServer(s.Handler())
			t.Cleanup(srv.Close)

			sendAt := time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC)
			until := sendAt.Add(10 * time.Hour) // year 10000: JSON cannot say it
			m := &switchboard.Message{ID: "msg_far", Status: switchboard.StatusScheduled, Channel: switchboard.ChannelSMS,
				Category: switchboard.CategoryTransactional, To: "+14155550100", From: "+15005550006", Pool: "default",
				Body: "hi", BodyLength: 2, Segments: 1, Encoding: "GSM-7", SendAt: &sendAt, ValidUntil: &until,
				NextAttemptAt: sendAt, CreatedAt: now, UpdatedAt: now, APIKeyID: "key_1",
				Events: []*switchboard.Event{{Type: switchboard.EventCreated, Actor: "api:test", Detail: "accepted"}}}
			if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/v1/messages", "/v1/messages/msg_far", "/v1/messages/msg_far/trace"} {
				status, ctype, body := get(t, srv.URL, path)
				var doc map[string]any
				if err := json.Unmarshal(body, &doc); err != nil {
					t.Errorf("GET %s: %d %s with a body that is no JSON document (%v): %q", path, status, ctype, err, body)
					continue
				}
				if status != http.StatusOK || !strings.Contains(string(body), `"valid_until":"9999-12-31T23:59:59Z"`) {
					t.Errorf("GET %s: %d %s %s", path, status, ctype, body)
				}
			}

			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages",
				strings.NewReader(`{"to":"+14155550100","body":"hi","send_at":"9999-12-31T23:00:00Z"}`))
			req.Header.Set("Authorization", "Bearer "+secret)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), `"code":"send_at_too_far"`) {
				t.Errorf("send_at in year 9999: %d %s", resp.StatusCode, raw)
			}
		})
	}
}
