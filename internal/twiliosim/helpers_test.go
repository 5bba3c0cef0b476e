package twiliosim_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"

	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// env is one simulator behind a test server.
type env struct {
	sim *twiliosim.Simulator
	srv *httptest.Server
}

// newEnv starts a simulator with fast lifecycle delays (unless cfg sets them) behind an
// httptest server; both are closed when the test ends.
func newEnv(t *testing.T, cfg twiliosim.Config) *env {
	t.Helper()
	if cfg.SendingDelay == 0 {
		cfg.SendingDelay = 5 * time.Millisecond
	}
	if cfg.SentDelay == 0 {
		cfg.SentDelay = 5 * time.Millisecond
	}
	if cfg.DeliveredDelay == 0 {
		cfg.DeliveredDelay = 5 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sim := twiliosim.New(cfg)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		srv.Close()
		sim.Close()
	})
	return &env{sim: sim, srv: srv}
}

// svc returns a Messaging Service config whose SID is MG followed by n in 32 hex digits.
func svc(n int, numbers ...string) twiliosim.ServiceConfig {
	return twiliosim.ServiceConfig{SID: fmt.Sprintf("MG%032x", n), FriendlyName: "test", Numbers: numbers}
}

// testWriter routes logs to t.Log while the test runs.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// rewriteTransport sends every request to the test server, whatever host twilio-go aimed at
// (twilio-go has no base-URL option; twilio-facts §11).
type rewriteTransport struct {
	target *url.URL
}

func (rt rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rt.target.Scheme, rt.target.Host, rt.target.Host
	return http.DefaultTransport.RoundTrip(r)
}

// client returns an official twilio-go client authenticated as user:pass, talking to the
// simulator.
func (e *env) client(t *testing.T, user, pass string) *twilio.RestClient {
	t.Helper()
	return e.clientWithTimeout(t, user, pass, 10*time.Second)
}

func (e *env) clientWithTimeout(t *testing.T, user, pass string, timeout time.Duration) *twilio.RestClient {
	t.Helper()
	target, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{
		Credentials: client.NewCredentials(user, pass),
		HTTPClient:  &http.Client{Transport: rewriteTransport{target: target}, Timeout: timeout},
	}
	c.SetAccountSid(e.sim.AccountSID())
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Username: user, Password: pass, Client: c})
	rc.RequestHandler.Edge, rc.RequestHandler.Region = "", "" // ignore TWILIO_EDGE/TWILIO_REGION
	return rc
}

// account returns a client with the account's own credentials.
func (e *env) account(t *testing.T) *twilio.RestClient {
	return e.client(t, e.sim.AccountSID(), e.sim.AuthToken())
}

// do sends a raw request to the simulator with the account's credentials.
func (e *env) do(t *testing.T, method, path string, form url.Values) (int, []byte) {
	t.Helper()
	var body io.Reader
	if form != nil && method != http.MethodGet {
		body = strings.NewReader(form.Encode())
	} else if form != nil {
		path += "?" + form.Encode()
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth(e.sim.AccountSID(), e.sim.AuthToken())
	return send(t, req)
}

// control sends a JSON request to the control API.
func (e *env) control(t *testing.T, method, path, jsonBody string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(jsonBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return send(t, req)
}

func send(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (e *env) messagesPath() string {
	return "/2010-04-01/Accounts/" + e.sim.AccountSID() + "/Messages.json"
}

// received is one request a receiver got.
type received struct {
	Method    string
	Path      string
	Params    url.Values
	SigValid  bool
	Signature string // X-Twilio-Signature as received
	Token     string // I-Twilio-Idempotency-Token
	At        time.Time
	SimStatus string // the message's status at the simulator when the callback arrived
}

// receiver is an application endpoint that records (and validates) Twilio's requests.
type receiver struct {
	srv *httptest.Server
	sim *twiliosim.Simulator

	mu     sync.Mutex
	got    []received
	answer func(n int, r *http.Request) int // status to answer the n-th request (0-based)
	reply  string                           // body to answer with
}

func newReceiver(t *testing.T, sim *twiliosim.Simulator) *receiver {
	t.Helper()
	rc := &receiver{sim: sim}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fullURL := "http://" + r.Host + r.URL.RequestURI()
	params := r.PostForm
	if r.Method == http.MethodGet {
		params = nil
	}
	rec := received{
		Method:    r.Method,
		Path:      r.URL.Path,
		Params:    r.Form,
		SigValid:  twiliosig.Valid(rc.sim.AuthToken(), fullURL, params, r.Header.Get(twiliosig.Header)),
		Signature: r.Header.Get(twiliosig.Header),
		Token:     r.Header.Get("I-Twilio-Idempotency-Token"),
		At:        time.Now(),
	}
	if sid := r.Form.Get("MessageSid"); sid != "" {
		if m, ok := rc.sim.Message(sid); ok {
			rec.SimStatus = m.Status
		}
	}
	rc.mu.Lock()
	n := len(rc.got)
	rc.got = append(rc.got, rec)
	answer, reply := rc.answer, rc.reply
	rc.mu.Unlock()
	status := http.StatusOK
	if answer != nil {
		status = answer(n, r)
	}
	if reply != "" {
		w.Header().Set("Content-Type", "text/xml")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reply)
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// forSID returns the requests about one message, in arrival order.
func (rc *receiver) forSID(sid string) []received {
	var out []received
	for _, r := range rc.all() {
		if r.Params.Get("MessageSid") == sid {
			out = append(out, r)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitStatus waits until message sid has the given status at the simulator.
func waitStatus(t *testing.T, sim *twiliosim.Simulator, sid, status string) twiliosim.Message {
	t.Helper()
	var m twiliosim.Message
	eventually(t, 5*time.Second, "message "+sid+" to be "+status, func() bool {
		var ok bool
		m, ok = sim.Message(sid)
		return ok && m.Status == status
	})
	return m
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}
