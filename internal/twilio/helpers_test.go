package twilio

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

const (
	testAccount = "AC00000000000000000000000000000001"
	testToken   = "authtoken0123456789abcdef01234567"
)

// logBuffer collects a test's logs so that tests can check what was (not) logged, and echoes
// them to t.Log.
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Helper()
	l.t.Log(string(bytes.TrimRight(p, "\n")))
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// request is what the fake Twilio saw of one request.
type request struct {
	Method   string
	Path     string
	Query    url.Values
	Form     url.Values
	User     string
	Password string
	HasAuth  bool
}

// fakeTwilio is an httptest server standing in for api.twilio.com: it records every request and
// answers with handler.
type fakeTwilio struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
}

func newFakeTwilio(t *testing.T, handler http.HandlerFunc) *fakeTwilio {
	t.Helper()
	f := &fakeTwilio{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		user, pass, ok := r.BasicAuth()
		f.mu.Lock()
		f.requests = append(f.requests, request{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Form: r.PostForm,
			User: user, Password: pass, HasAuth: ok,
		})
		f.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTwilio) Requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

// newTestProvider returns a provider pointed at baseURL, logging into the returned buffer.
func newTestProvider(t *testing.T, baseURL string, mod ...func(*Config)) (*Provider, *logBuffer) {
	t.Helper()
	logs := &logBuffer{t: t}
	cfg := Config{
		AccountSID: testAccount,
		AuthToken:  testToken,
		BaseURL:    baseURL,
		Timeout:    5 * time.Second,
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mod {
		m(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p, logs
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// twilioError is Twilio's error JSON.
func twilioError(status, code int, message string) map[string]any {
	return map[string]any{
		"code": code, "message": message, "status": status,
		"more_info": "https://www.twilio.com/docs/errors/" + itoa(code),
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// messageJSON is a Message resource as Twilio returns it.
func messageJSON(sid, to, from, body, status, created string) map[string]any {
	return map[string]any{
		"sid": sid, "account_sid": testAccount, "to": to, "from": from, "body": body,
		"status": status, "direction": "outbound-api", "api_version": "2010-04-01",
		"num_segments": "1", "num_media": "0", "price": nil, "error_code": nil, "error_message": nil,
		"date_created": created, "date_updated": created, "date_sent": nil,
		"uri": "/2010-04-01/Accounts/" + testAccount + "/Messages/" + sid + ".json",
	}
}
