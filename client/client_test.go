package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

const testKey = "sk_test_secret"

// newServer starts an httptest server with h and returns a client for it that retries quickly.
func newServer(t *testing.T, h http.HandlerFunc, opts ...client.Option) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts = append([]client.Option{client.WithBackoff(time.Millisecond, 2*time.Millisecond)}, opts...)
	return client.New(srv.URL+"/", testKey, opts...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "https://switchboard.example/errors/" + code, "title": http.StatusText(status),
		"status": status, "detail": detail, "code": code,
	})
}

// recorder keeps what a test server saw, for checks after the call.
type recorder struct {
	mu       sync.Mutex
	requests []seen
}

type seen struct {
	method, path, query string
	header              http.Header
	body                []byte
}

func (r *recorder) record(req *http.Request) int {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, seen{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), b})
	return len(r.requests)
}

func (r *recorder) all() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.requests...)
}

func accepted(id string) *switchboard.Message {
	return &switchboard.Message{ID: id, Status: switchboard.StatusQueued, To: "+14155550100", Segments: 1, Encoding: switchboard.EncodingGSM7}
}

func TestSendRequestShape(t *testing.T) {
	t.Parallel()
	sendAt := time.Date(2026, 3, 1, 9, 30, 0, 0, time.FixedZone("EST", -5*3600))
	tests := []struct {
		name string
		req  client.SendRequest
		want map[string]any
	}{
		{
			name: "minimal request sends only what is set",
			req:  client.SendRequest{To: "+14155550100", Body: "hi"},
			want: map[string]any{"to": "+14155550100", "body": "hi"},
		},
		{
			name: "every field",
			req: client.SendRequest{
				To: "+14155550100", Body: "hi", Template: "reminder", TemplateVersion: 3, Locale: "fr-CA",
				Variables: map[string]string{"name": "Ada"}, From: "+15005550006", Pool: "default",
				Channel: switchboard.ChannelMMS, MediaURLs: []string{"https://example.com/a.png"},
				Category: switchboard.CategoryMarketing, SendAt: sendAt, Validity: 1500 * time.Millisecond,
				Metadata: map[string]string{"job": "4711"}, Timezone: "America/New_York",
			},
			want: map[string]any{
				"to": "+14155550100", "body": "hi", "template": "reminder", "template_version": 3.0,
				"locale": "fr-CA", "variables": map[string]any{"name": "Ada"}, "from": "+15005550006",
				"pool": "default", "channel": "mms", "media_urls": []any{"https://example.com/a.png"},
				"category": "marketing", "send_at": "2026-03-01T14:30:00Z", "validity_seconds": 2.0,
				"metadata": map[string]any{"job": "4711"}, "timezone": "America/New_York",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec recorder
			c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				writeJSON(w, http.StatusAccepted, accepted("msg_1"))
			}, client.WithUserAgent("test-app/1.0"))
			m, err := c.Send(context.Background(), &tt.req)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if m.ID != "msg_1" || m.Status != switchboard.StatusQueued || m.Segments != 1 {
				t.Errorf("Send returned %+v", m)
			}
			reqs := rec.all()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.method != http.MethodPost || got.path != "/v1/messages" {
				t.Errorf("request line %s %s, want POST /v1/messages", got.method, got.path)
			}
			for h, want := range map[string]string{
				"Authorization": "Bearer " + testKey,
				"Content-Type":  "application/json",
				"User-Agent":    "test-app/1.0",
			} {
				if v := got.header.Get(h); v != want {
					t.Errorf("%s = %q, want %q", h, v, want)
				}
			}
			key, err := uuid.Parse(got.header.Get("Idempotency-Key"))
			if err != nil || key.Version() != 7 {
				t.Errorf("Idempotency-Key %q is not a UUID v7 (err %v)", got.header.Get("Idempotency-Key"), err)
			}
			var body map[string]any
			if err := json.Unmarshal(got.body, &body); err != nil {
				t.Fatalf("body %s: %v", got.body, err)
			}
			if !reflect.DeepEqual(body, tt.want) {
				t.Errorf("body\n got %v\nwant %v", body, tt.want)
			}
		})
	}
}

func TestSendKeepsCallerIdempotencyKey(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		writeJSON(w, http.StatusAccepted, accepted("msg_1"))
	})
	for range 2 {
		if _, err := c.Send(context.Background(), &client.SendRequest{To: "+14155550100", Body: "hi", IdempotencyKey: "job-4711"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rec.all() {
		if k := r.header.Get("Idempotency-Key"); k != "job-4711" {
			t.Errorf("Idempotency-Key = %q, want job-4711", k)
		}
	}
}

func TestSendGeneratesNewKeyPerCall(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		writeJSON(w, http.StatusAccepted, accepted("msg_1"))
	})
	req := &client.SendRequest{To: "+14155550100", Body: "hi"}
	for range 2 {
		if _, err := c.Send(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rec.all()
	if a, b := reqs[0].header.Get("Idempotency-Key"), reqs[1].header.Get("Idempotency-Key"); a == "" || a == b {
		t.Errorf("two Send calls used keys %q and %q, want two different keys", a, b)
	}
	if req.IdempotencyKey != "" {
		t.Errorf("Send changed the caller's request: IdempotencyKey = %q", req.IdempotencyKey)
	}
}

// TestSendRetriesWithSameKey is the guarantee that matters: retries after 503s repeat the exact
// same request under the same Idempotency-Key, so the gateway can recognise them.
func TestSendRetriesWithSameKey(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n := rec.record(r); n <= 2 {
			writeProblem(w, http.StatusServiceUnavailable, "draining", "this node is shutting down")
			return
		}
		writeJSON(w, http.StatusAccepted, accepted("msg_1"))
	})
	m, err := c.Send(context.Background(), &client.SendRequest{To: "+14155550100", Body: "hi"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if m.ID != "msg_1" {
		t.Errorf("ID = %q", m.ID)
	}
	reqs := rec.all()
	if len(reqs) != 3 {
		t.Fatalf("got %d attempts, want 3", len(reqs))
	}
	key := reqs[0].header.Get("Idempotency-Key")
	if key == "" {
		t.Fatal("no Idempotency-Key on the first attempt")
	}
	for i, r := range reqs[1:] {
		if k := r.header.Get("Idempotency-Key"); k != key {
			t.Errorf("attempt %d used key %q, want %q", i+2, k, key)
		}
		if string(r.body) != string(reqs[0].body) {
			t.Errorf("attempt %d sent body %s, want %s", i+2, r.body, reqs[0].body)
		}
	}
}

func TestSendRetriesNetworkErrorsWithSameKey(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if rec.record(r) == 1 {
			// The request arrived but the answer is lost: the worst case for duplicates.
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
			return
		}
		writeJSON(w, http.StatusAccepted, accepted("msg_1"))
	})
	if _, err := c.Send(context.Background(), &client.SendRequest{To: "+14155550100", Body: "hi"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("got %d attempts, want 2", len(reqs))
	}
	if a, b := reqs[0].header.Get("Idempotency-Key"), reqs[1].header.Get("Idempotency-Key"); a == "" || a != b {
		t.Errorf("keys %q and %q, want the same key", a, b)
	}
}

func TestSendRetriesAttemptTimeout(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if rec.record(r) == 1 {
			<-r.Context().Done() // hang until the client gives up on this attempt
			return
		}
		writeJSON(w, http.StatusAccepted, accepted("msg_1"))
	}, client.WithTimeout(50*time.Millisecond))
	if _, err := c.Send(context.Background(), &client.SendRequest{To: "+14155550100", Body: "hi"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	reqs := rec.all()
	if len(reqs) != 2 || reqs[0].header.Get("Idempotency-Key") != reqs[1].header.Get("Idempotency-Key") {
		t.Errorf("got %d attempts, want 2 with the same key", len(reqs))
	}
}

func TestRetriesExhausted(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		writeProblem(w, http.StatusInternalServerError, "internal_error", "internal error")
	}, client.WithRetries(2))
	_, err := c.Get(context.Background(), "msg_1")
	if !client.IsCode(err, "internal_error") {
		t.Fatalf("err = %v, want internal_error", err)
	}
	if n := len(rec.all()); n != 3 {
		t.Errorf("got %d attempts, want 3 (1 + 2 retries)", n)
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 404, 409, 422, 501} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			var rec recorder
			c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				writeProblem(w, status, "some_code", "no")
			})
			_, err := c.Send(context.Background(), &client.SendRequest{To: "+14155550100", Body: "hi"})
			var e *client.Error
			if !errors.As(err, &e) || e.Status != status {
				t.Fatalf("err = %v, want an *Error with status %d", err, status)
			}
			if n := len(rec.all()); n != 1 {
				t.Errorf("got %d attempts, want 1", n)
			}
		})
	}
}

func TestProblemDecoding(t *testing.T) {
	t.Parallel()
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"type":"https://switchboard.example/errors/invalid_to","title":"Bad Request",
			"status":400,"detail":"to must be an E.164 number","code":"invalid_to",
			"errors":[{"field":"to","detail":"not a phone number"},{"field":"channel","detail":"unknown"}]}`)
	})
	_, err := c.Send(context.Background(), &client.SendRequest{To: "nope", Body: "hi"})
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *client.Error", err, err)
	}
	want := &client.Error{
		Status: 400, Code: "invalid_to", Title: "Bad Request", Detail: "to must be an E.164 number",
		Type:   "https://switchboard.example/errors/invalid_to",
		Fields: []client.FieldError{{Field: "to", Detail: "not a phone number"}, {Field: "channel", Detail: "unknown"}},
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("got  %+v\nwant %+v", e, want)
	}
	if !client.IsCode(err, "invalid_to") || client.IsCode(err, "other") || client.IsNotFound(err) {
		t.Error("IsCode/IsNotFound disagree with the decoded error")
	}
	const msg = "switchboard: 400 Bad Request (invalid_to): to must be an E.164 number [to: not a phone number; channel: unknown]"
	if err.Error() != msg {
		t.Errorf("Error() = %q\nwant      %q", err.Error(), msg)
	}
}

func TestNonProblemErrorBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		wantDetail  string
	}{
		{"plain text", "text/plain; charset=utf-8", "upstream connect error\nmore lines", "upstream connect error"},
		{"html page", "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", ""},
		{"broken json", "application/problem+json", `{"code":`, ""},
		{"long text", "text/plain", strings.Repeat("x", 500), strings.Repeat("x", 200) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(http.StatusBadGateway)
				_, _ = io.WriteString(w, tt.body)
			}, client.WithRetries(0))
			_, err := c.Get(context.Background(), "msg_1")
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *client.Error", err)
			}
			if e.Status != 502 || e.Title != "Bad Gateway" || e.Code != "" || e.Detail != tt.wantDetail {
				t.Errorf("got %+v, want status 502, title Bad Gateway, no code, detail %q", e, tt.wantDetail)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		w.Header().Set("Retry-After", "120")
		writeProblem(w, http.StatusTooManyRequests, "rate_limited", "slow down")
	}, client.WithBackoff(time.Millisecond, time.Second))
	_, err := c.Send(context.Background(), &client.SendRequest{To: "+14155550100", Body: "hi"})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want a 429 *Error", err)
	}
	if e.RetryAfter != 120*time.Second {
		t.Errorf("RetryAfter = %v, want 2m0s", e.RetryAfter)
	}
	// A Retry-After beyond the maximum backoff hands the decision back to the caller at once.
	if n := len(rec.all()); n != 1 {
		t.Errorf("got %d attempts, want 1", n)
	}
}

func TestRetryAfterShortIsRetried(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if rec.record(r) == 1 {
			w.Header().Set("Retry-After", "0")
			writeProblem(w, http.StatusTooManyRequests, "rate_limited", "slow down")
			return
		}
		writeJSON(w, http.StatusAccepted, accepted("msg_1"))
	})
	if _, err := c.Send(context.Background(), &client.SendRequest{To: "+14155550100", Body: "hi"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if n := len(rec.all()); n != 2 {
		t.Errorf("got %d attempts, want 2", n)
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	var rec recorder
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		if r.URL.EscapedPath() != "/v1/messages/msg_1%2Fx" {
			writeProblem(w, http.StatusNotFound, "not_found", "no such message")
			return
		}
		m := accepted("msg_1/x")
		m.Status, m.ProviderSID = switchboard.StatusDelivered, "SM123"
		m.Events = []*switchboard.Event{
			{ID: 1, Type: switchboard.EventCreated, Status: switchboard.StatusQueued, Actor: "api:test", At: at},
			{ID: 2, Type: switchboard.EventCallback, Status: switchboard.StatusDelivered, Actor: "twilio", At: at.Add(time.Second), Payload: json.RawMessage(`{"MessageStatus":"delivered"}`)},
		}
		writeJSON(w, http.StatusOK, m)
	})
	m, err := c.Get(context.Background(), "msg_1/x")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if m.Status != switchboard.StatusDelivered || m.ProviderSID != "SM123" || len(m.Events) != 2 ||
		m.Events[1].Type != switchboard.EventCallback || !m.Events[0].At.Equal(at) {
		t.Errorf("Get returned %+v", m)
	}
	r := rec.all()[0]
	if r.method != http.MethodGet || r.header.Get("Authorization") != "Bearer "+testKey || r.header.Get("Idempotency-Key") != "" {
		t.Errorf("request %s with headers %v", r.method, r.header)
	}

	_, err = c.Get(context.Background(), "msg_missing")
	if !client.IsNotFound(err) || !client.IsCode(err, "not_found") {
		t.Errorf("Get of a missing message: err = %v, want not found", err)
	}
	if _, err := c.Get(context.Background(), ""); err == nil {
		t.Error("Get with an empty ID: no error")
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		switch r.URL.Path {
		case "/v1/messages/msg_q/cancel":
			m := accepted("msg_q")
			m.Status = switchboard.StatusCanceled
			writeJSON(w, http.StatusOK, m)
		case "/v1/messages/msg_sent/cancel":
			writeProblem(w, http.StatusConflict, "not_cancelable", "message msg_sent was already handed to the provider")
		default:
			writeProblem(w, http.StatusNotFound, "not_found", "no such message")
		}
	})
	m, err := c.Cancel(context.Background(), "msg_q")
	if err != nil || m.Status != switchboard.StatusCanceled {
		t.Fatalf("Cancel = %+v, %v; want a canceled message", m, err)
	}
	if r := rec.all()[0]; r.method != http.MethodPost || len(r.body) != 0 {
		t.Errorf("cancel request: %s with body %q", r.method, r.body)
	}
	_, err = c.Cancel(context.Background(), "msg_sent")
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusConflict || e.Code != "not_cancelable" {
		t.Errorf("Cancel of a sent message: err = %v, want 409 not_cancelable", err)
	}
}

// TestCancelRetryAfterLostAnswer: the first attempt cancels the message but its answer is a 503;
// the retry gets 409. Cancel must see that the message is canceled and report success.
func TestCancelRetryAfterLostAnswer(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		canceled bool
	)
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		m := accepted("msg_1")
		switch {
		case r.Method == http.MethodPost && !canceled:
			canceled = true
			writeProblem(w, http.StatusBadGateway, "", "the answer was lost")
		case r.Method == http.MethodPost:
			writeProblem(w, http.StatusConflict, "not_cancelable", "finished")
		default:
			if canceled {
				m.Status = switchboard.StatusCanceled
			}
			writeJSON(w, http.StatusOK, m)
		}
	})
	m, err := c.Cancel(context.Background(), "msg_1")
	if err != nil || m.Status != switchboard.StatusCanceled {
		t.Fatalf("Cancel = %+v, %v; want the canceled message", m, err)
	}
}

func TestListQuery(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		writeJSON(w, http.StatusOK, map[string]any{"messages": []any{accepted("msg_1")}, "next_cursor": "msg_1"})
	})
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 3600))
	p, err := c.List(context.Background(), client.ListOptions{
		Statuses: []switchboard.Status{switchboard.StatusQueued, switchboard.StatusFailed},
		To:       "+14155550100", From: "+15005550006",
		CreatedAfter: after, CreatedBefore: after.Add(time.Hour + time.Millisecond),
		Cursor: "msg_0", Limit: 10,
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(p.Messages) != 1 || p.Messages[0].ID != "msg_1" || p.NextCursor != "msg_1" {
		t.Errorf("List returned %+v", p)
	}
	r := rec.all()[0]
	const want = "created_after=2025-12-31T23%3A00%3A00Z&created_before=2026-01-01T00%3A00%3A00.001Z&cursor=msg_0" +
		"&from=%2B15005550006&limit=10&status=queued%2Cfailed&to=%2B14155550100"
	if r.method != http.MethodGet || r.path != "/v1/messages" || r.query != want {
		t.Errorf("request %s %s?%s\nwant query %s", r.method, r.path, r.query, want)
	}

	if _, err := c.List(context.Background(), client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if q := rec.all()[1].query; q != "" {
		t.Errorf("empty ListOptions sent query %q", q)
	}
}

// pagedServer serves ids in pages of size per, with cursors that are the last ID of a page.
func pagedServer(t *testing.T, ids []string, per int, rec *recorder) *client.Client {
	return newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		start := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			for i, id := range ids {
				if id == c {
					start = i + 1
				}
			}
		}
		if r.URL.Query().Get("status") != "failed" {
			t.Errorf("filter lost on page starting at %d: %q", start, r.URL.RawQuery)
		}
		end := min(start+per, len(ids))
		page := map[string]any{"messages": []any{}, "next_cursor": ""}
		var msgs []*switchboard.Message
		for _, id := range ids[start:end] {
			msgs = append(msgs, accepted(id))
		}
		if msgs != nil {
			page["messages"] = msgs
		}
		if end < len(ids) {
			page["next_cursor"] = ids[end-1]
		}
		writeJSON(w, http.StatusOK, page)
	})
}

func TestAllFollowsCursors(t *testing.T) {
	t.Parallel()
	ids := []string{"m7", "m6", "m5", "m4", "m3", "m2", "m1"}
	var rec recorder
	c := pagedServer(t, ids, 3, &rec)
	var got []string
	for m, err := range c.All(context.Background(), client.ListOptions{Statuses: []switchboard.Status{"failed"}}) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		got = append(got, m.ID)
	}
	if !reflect.DeepEqual(got, ids) {
		t.Errorf("All yielded %v, want %v", got, ids)
	}
	reqs := rec.all()
	if len(reqs) != 3 {
		t.Fatalf("got %d page requests, want 3", len(reqs))
	}
	for i, want := range []string{"", "m5", "m2"} {
		q, _ := url.ParseQuery(reqs[i].query)
		if c := q.Get("cursor"); c != want {
			t.Errorf("page %d asked for cursor %q, want %q", i+1, c, want)
		}
	}
}

func TestAllStopsWhenTheLoopDoes(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := pagedServer(t, []string{"m7", "m6", "m5", "m4", "m3", "m2", "m1"}, 3, &rec)
	n := 0
	for _, err := range c.All(context.Background(), client.ListOptions{Statuses: []switchboard.Status{"failed"}}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 4 {
			break
		}
	}
	if got := len(rec.all()); got != 2 {
		t.Errorf("fetched %d pages for 4 messages, want 2", got)
	}
}

func TestAllYieldsErrorOnce(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if rec.record(r) == 1 {
			writeJSON(w, http.StatusOK, map[string]any{"messages": []any{accepted("m2")}, "next_cursor": "m2"})
			return
		}
		writeProblem(w, http.StatusUnauthorized, "unauthorized", "unknown API key")
	})
	var ids []string
	var errs []error
	for m, err := range c.All(context.Background(), client.ListOptions{}) {
		if err != nil {
			errs = append(errs, err)
			continue // the iterator must end by itself
		}
		ids = append(ids, m.ID)
	}
	if len(ids) != 1 || len(errs) != 1 || !client.IsCode(errs[0], "unauthorized") {
		t.Errorf("yielded ids %v and errors %v; want [m2] and one unauthorized error", ids, errs)
	}
}

func TestAllDetectsRepeatedCursor(t *testing.T) {
	t.Parallel()
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"messages": []any{accepted("m1")}, "next_cursor": "same"})
	})
	var errs int
	n := 0
	for _, err := range c.All(context.Background(), client.ListOptions{}) {
		if err != nil {
			errs++
		}
		if n++; n > 10 {
			t.Fatal("All loops on a repeated cursor")
		}
	}
	if errs != 1 {
		t.Errorf("got %d errors, want 1", errs)
	}
}

func TestContextCanceledDuringRequest(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	arrived := make(chan struct{})
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices a gone client only after the body
		close(arrived)
		<-r.Context().Done()
	})
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "hi"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestContextCanceledDuringBackoff(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var rec recorder
	// Cancel once the client has read the first answer, when it is about to wait an hour.
	hc := &http.Client{Transport: cancelOnClose{http.DefaultTransport, cancel}}
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		writeProblem(w, http.StatusServiceUnavailable, "draining", "shutting down")
	}, client.WithBackoff(time.Hour, time.Hour), client.WithHTTPClient(hc))
	_, err := c.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "hi"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if !client.IsCode(err, "draining") {
		t.Errorf("err = %v, want it to keep the last answer (draining)", err)
	}
	if n := len(rec.all()); n != 1 {
		t.Errorf("got %d attempts, want 1", n)
	}
}

// cancelOnClose is a transport that calls cancel when a response body is closed.
type cancelOnClose struct {
	rt     http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelOnClose) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if err == nil {
		resp.Body = closeHook{resp.Body, c.cancel}
	}
	return resp, err
}

type closeHook struct {
	io.ReadCloser
	hook func()
}

func (c closeHook) Close() error {
	err := c.ReadCloser.Close()
	c.hook()
	return err
}

func TestDeadlineShorterThanBackoffReturnsLastError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		writeProblem(w, http.StatusServiceUnavailable, "draining", "shutting down")
	}, client.WithBackoff(time.Hour, time.Hour))
	_, err := c.Get(ctx, "msg_1")
	if !client.IsCode(err, "draining") || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the draining answer at once", err)
	}
	if n := len(rec.all()); n != 1 {
		t.Errorf("got %d attempts, want 1", n)
	}
}

// fakeMessages is how an application fakes the Messages interface in its own tests.
type fakeMessages struct {
	client.Messages // unimplemented methods panic
	pages           map[string]*client.MessagePage
}

func (f *fakeMessages) List(_ context.Context, opts client.ListOptions) (*client.MessagePage, error) {
	return f.pages[opts.Cursor], nil
}

func TestAllOverInterface(t *testing.T) {
	t.Parallel()
	f := &fakeMessages{pages: map[string]*client.MessagePage{
		"":   {Messages: []*switchboard.Message{accepted("m2")}, NextCursor: "c1"},
		"c1": {Messages: []*switchboard.Message{accepted("m1")}},
	}}
	var got []string
	for m, err := range client.All(context.Background(), f, client.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.ID)
	}
	if !reflect.DeepEqual(got, []string{"m2", "m1"}) {
		t.Errorf("got %v", got)
	}
}

// TestListMetadataQuery: ListOptions.Metadata is sent as metadata[KEY]=VALUE, key and value
// escaped, as the API reads it.
func TestListMetadataQuery(t *testing.T) {
	t.Parallel()
	var rec recorder
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		writeJSON(w, http.StatusOK, map[string]any{"messages": []any{}, "next_cursor": ""})
	})
	if _, err := c.List(context.Background(), client.ListOptions{Metadata: &switchboard.MetadataMatch{Key: "job id", Value: "10&42"}, Limit: 5}); err != nil {
		t.Fatalf("List: %v", err)
	}
	const want = "limit=5&metadata%5Bjob+id%5D=10%2642"
	if q := rec.all()[0].query; q != want {
		t.Errorf("query %s, want %s", q, want)
	}
	parsed, err := url.ParseQuery(want)
	if err != nil || parsed.Get("metadata[job id]") != "10&42" {
		t.Errorf("query does not read back as metadata[job id]=10&42: %v %v", parsed, err)
	}
}
