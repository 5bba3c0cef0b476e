package web

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

const (
	testUser     = "ops"
	testPassword = "correct horse battery staple"
	testSender   = "+15005550006"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t      *testing.T
	store  switchboard.Store
	srv    *httptest.Server
	web    *Server
	clock  *clock
	secret string // an API key
	keyID  string
}

func newEnv(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)}
	cfg := Config{
		Store: st, Clock: c.now, Logger: slog.New(slog.DiscardHandler), User: testUser, Password: testPassword,
		LoginRate: 3, Senders: []switchboard.Sender{{From: testSender}},
		ExplainCode: func(code int) CodeInfo {
			return CodeInfo{Code: code, Title: "Title of " + itoa(code), Explanation: "Runbook of " + itoa(code), Advice: "Advice"}
		},
		QueueStats: func(context.Context) ([]SenderQueue, error) {
			return []SenderQueue{{From: testSender, Ready: 7, Deferred: 2}}, nil
		},
		Messages: accept.New(accept.Config{Store: st, Clock: c.now}),
	}
	if edit != nil {
		edit(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	e := &env{t: t, store: st, srv: srv, web: w, clock: c}
	e.secret = "sb_test_" + strings.Repeat("k", 40)
	e.keyID = "key_test"
	if err := st.CreateAPIKey(t.Context(), &switchboard.APIKey{ID: e.keyID, Name: "ops", Hash: switchboard.HashAPIKeySecret(e.secret), CreatedAt: c.now()}); err != nil {
		t.Fatal(err)
	}
	return e
}

func itoa(n int) string    { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonNum(n)) }
func jsonNum(n int) string { b, _ := json.Marshal(n); return string(b) }

// client returns an HTTP client with its own cookie jar that does not follow redirects.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type resp struct {
	status   int
	body     string // as sent
	text     string // with HTML entities unescaped
	location string
	header   http.Header
}

func (e *env) do(c *http.Client, method, path string, form url.Values) resp {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, body: string(b), text: html.UnescapeString(string(b)), location: r.Header.Get("Location"), header: r.Header}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the CSRF token of the first form of a page.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

// login logs c in with form (plus the login page's CSRF token) and returns the answer.
func (e *env) login(c *http.Client, form url.Values) resp {
	e.t.Helper()
	page := e.do(c, "GET", "/ui/login", nil)
	if page.status != http.StatusOK {
		e.t.Fatalf("login page: %d", page.status)
	}
	form.Set("csrf", csrfOf(e.t, page.body))
	return e.do(c, "POST", "/ui/login", form)
}

// loggedIn returns a client with a session, by API key.
func (e *env) loggedIn() *http.Client {
	e.t.Helper()
	c := e.client()
	r := e.login(c, url.Values{"api_key": {e.secret}})
	if r.status != http.StatusSeeOther || r.location != "/ui/" {
		e.t.Fatalf("login: %d %q\n%s", r.status, r.location, r.body)
	}
	return c
}

// csrf returns a logged-in client's CSRF token.
func (e *env) csrf(c *http.Client) string {
	e.t.Helper()
	return csrfOf(e.t, e.do(c, "GET", "/ui/", nil).body)
}

// message stores a message; edit adjusts it.
func (e *env) message(edit func(m *switchboard.Message)) *switchboard.Message {
	e.t.Helper()
	now := e.clock.now()
	m := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: "+14155550123", From: testSender, Body: "Your technician is on the way",
		Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now, BodyLength: 29,
	}
	if edit != nil {
		edit(m)
	}
	got, _, err := e.store.CreateMessage(e.t.Context(), m, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// fail moves a message to status with an error code and a raw callback payload.
func (e *env) fail(id string, status switchboard.Status, code int) {
	e.t.Helper()
	sid := "SM" + strings.Repeat("0", 24) + id[len(id)-8:]
	now := e.clock.now()
	if _, err := e.store.UpdateMessage(e.t.Context(), switchboard.MessageUpdate{ID: id, Status: switchboard.StatusSending, ProviderSID: &sid, At: now}); err != nil {
		e.t.Fatal(err)
	}
	payload := json.RawMessage(`{"MessageSid":"` + sid + `","MessageStatus":"` + string(status) + `","To":"+14155550123","From":"` + testSender + `","ErrorCode":"` + jsonNum(code) + `"}`)
	if _, err := e.store.UpdateMessage(e.t.Context(), switchboard.MessageUpdate{ID: id, Status: status, ErrorCode: &code, At: now,
		Events: []*switchboard.Event{{Type: switchboard.EventCallback, Actor: "twilio", ErrorCode: code, Payload: payload, Detail: "status callback"}}}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) get(id string) *switchboard.Message {
	e.t.Helper()
	m, err := e.store.GetMessage(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// pagePaths are the GET pages of the dashboard, with a real message ID.
func pagePaths(t *testing.T, w *Server, id string, others ...resourceIDs) []string {
	var out []string
	for _, p := range w.Routes() {
		method, path, ok := strings.Cut(p, " ")
		if !ok || method != "GET" || path == "/ui/login" {
			continue
		}
		for _, o := range others {
			path = o.fill(path)
		}
		path = strings.ReplaceAll(path, "{id}", id)
		path = strings.ReplaceAll(path, "{$}", "")
		out = append(out, path)
	}
	if len(out) < 8 {
		t.Fatalf("only %d pages: %v", len(out), out)
	}
	return append(out, "/ui/no-such-page")
}

// TestPagesNeedALogin: without a session (none, forged, expired or logged out), every page
// redirects to the login page and shows nothing.
func TestPagesNeedALogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	m := e.message(nil)
	ids := e.resources()
	forged := e.client()
	u, _ := url.Parse(e.srv.URL + "/ui")
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "forged-session-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"}})
	for _, c := range []*http.Client{e.client(), forged} {
		for _, path := range pagePaths(t, e.web, m.ID, ids) {
			r := e.do(c, "GET", path, nil)
			if path == "/ui" {
				if r.status != http.StatusSeeOther || r.location != "/ui/" {
					t.Errorf("GET /ui: %d %q", r.status, r.location)
				}
				continue
			}
			if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/ui/login?next=") {
				t.Errorf("GET %s without a session: %d %q, want a redirect to the login page", path, r.status, r.location)
			}
			if strings.Contains(r.text, "Your technician") || strings.Contains(r.text, "4155550123") {
				t.Errorf("GET %s without a session shows data", path)
			}
		}
	}
	// After login the same pages answer.
	c := e.loggedIn()
	for _, path := range pagePaths(t, e.web, m.ID, ids) {
		r := e.do(c, "GET", path, nil)
		want := http.StatusOK
		switch path {
		case "/ui":
			want = http.StatusSeeOther
		case "/ui/no-such-page":
			want = http.StatusNotFound
		}
		if r.status != want {
			t.Errorf("GET %s with a session: %d, want %d\n%s", path, r.status, want, r.body)
		}
	}
	// The session expires.
	e.clock.add(12*time.Hour + time.Second)
	if r := e.do(c, "GET", "/ui/messages", nil); r.status != http.StatusSeeOther {
		t.Errorf("expired session: %d", r.status)
	}
}

// TestActionsNeedASessionAndCSRF: every action is refused without a session, and with a session
// but a missing, forged or another session's CSRF token; nothing changes.
func TestActionsNeedASessionAndCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	queued := e.message(nil)
	failed := e.message(nil)
	e.fail(failed.ID, switchboard.StatusFailed, 30003)
	before := map[string]*switchboard.Message{queued.ID: e.get(queued.ID), failed.ID: e.get(failed.ID)}
	actions := []string{"/ui/messages/" + queued.ID + "/cancel", "/ui/messages/" + failed.ID + "/retry", "/ui/logout"}

	other := e.loggedIn()
	otherToken := e.csrf(other)
	c := e.loggedIn()
	token := e.csrf(c)
	if token == otherToken {
		t.Fatal("two sessions have the same CSRF token")
	}
	for _, tc := range []struct {
		name   string
		client *http.Client
		form   url.Values
	}{
		{"no session", e.client(), url.Values{"csrf": {token}}},
		{"no session, no token", e.client(), url.Values{}},
		{"missing token", c, url.Values{}},
		{"empty token", c, url.Values{"csrf": {""}}},
		{"forged token", c, url.Values{"csrf": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}},
		{"another session's token", c, url.Values{"csrf": {otherToken}}},
	} {
		for _, path := range actions {
			r := e.do(tc.client, "POST", path, tc.form)
			if r.status != http.StatusForbidden {
				t.Errorf("%s: POST %s = %d, want 403", tc.name, path, r.status)
			}
		}
	}
	for id, want := range before {
		got := e.get(id)
		if got.Status != want.Status || len(got.Events) != len(want.Events) {
			t.Errorf("message %s changed: %s with %d events, was %s with %d", id, got.Status, len(got.Events), want.Status, len(want.Events))
		}
	}
	msgs, _, err := e.store.ListMessages(t.Context(), switchboard.MessageFilter{})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("messages: %d, %v; want the 2 of the test (no retry made)", len(msgs), err)
	}
	// Still logged in: the refused logout did not log out.
	if r := e.do(c, "GET", "/ui/messages", nil); r.status != http.StatusOK {
		t.Fatalf("session after refused actions: %d", r.status)
	}
	// With its token the action works.
	r := e.do(c, "POST", "/ui/messages/"+queued.ID+"/cancel", url.Values{"csrf": {token}})
	if r.status != http.StatusSeeOther || e.get(queued.ID).Status != switchboard.StatusCanceled {
		t.Fatalf("cancel with the token: %d, status %s", r.status, e.get(queued.ID).Status)
	}
	last := e.get(queued.ID).Events
	if ev := last[len(last)-1]; !strings.HasPrefix(ev.Actor, "dashboard:key:"+e.keyID) {
		t.Errorf("cancel event actor %q", ev.Actor)
	}
	// Canceling again is refused with a clear message, nothing changes.
	r = e.do(c, "POST", "/ui/messages/"+queued.ID+"/cancel", url.Values{"csrf": {token}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, "already handed to the provider or is finished") {
		t.Fatalf("second cancel: %d\n%s", r.status, r.body)
	}
}

// TestLogin: password and API key logins; wrong ones refused without a session; the login form's
// CSRF token is checked; cookies are HttpOnly,
// SameSite=Strict, and Secure when configured.
func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	noSession := func(c *http.Client) {
		t.Helper()
		if r := e.do(c, "GET", "/ui/messages", nil); r.status != http.StatusSeeOther {
			t.Fatalf("a refused login made a session: %d", r.status)
		}
	}
	c := e.client()
	for _, form := range []url.Values{
		{"user": {testUser}, "password": {"wrong password!"}},
		{"user": {"admin"}, "password": {testPassword}},
		{"api_key": {"sb_nonsense"}},
	} {
		r := e.login(c, form)
		if r.status != http.StatusUnauthorized || strings.Contains(r.body, testPassword) {
			t.Errorf("login %v: %d", form, r.status)
		}
		noSession(c)
	}
	// One failure for the user from this address is far below the limit (3): the right password
	// works at once.
	r := e.login(c, url.Values{"user": {testUser}, "password": {testPassword}, "next": {"/ui/failures"}})
	if r.status != http.StatusSeeOther || r.location != "/ui/failures" {
		t.Fatalf("password login: %d %q\n%s", r.status, r.location, r.body)
	}
	if r := e.do(c, "GET", "/ui/failures", nil); r.status != http.StatusOK || !strings.Contains(r.body, `class="who">`+testUser+"<") {
		t.Fatalf("after password login: %d", r.status)
	}
	// An open redirect is not followed.
	for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/ui/\\evil"} {
		r = e.login(e.client(), url.Values{"api_key": {e.secret}, "next": {next}})
		if r.status != http.StatusSeeOther || r.location != "/ui/" {
			t.Errorf("next %q: redirected to %q", next, r.location)
		}
	}
	// The login form needs its CSRF token (double submit).
	c2 := e.client()
	e.do(c2, "GET", "/ui/login", nil)
	for _, form := range []url.Values{
		{"api_key": {e.secret}},
		{"api_key": {e.secret}, "csrf": {"forged"}},
	} {
		if r := e.do(c2, "POST", "/ui/login", form); r.status != http.StatusForbidden {
			t.Errorf("login without its token: %d", r.status)
		}
		noSession(c2)
	}
	// Cookies.
	r = e.login(e.client(), url.Values{"api_key": {e.secret}})
	ck := sessionCookieOf(t, r)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/ui" {
		t.Errorf("session cookie over http: %+v", ck)
	}
	es := newEnv(t, func(c *Config) { c.Secure = true })
	r = es.login(es.client(), url.Values{"api_key": {es.secret}})
	if ck := sessionCookieOf(t, r); !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie with an https public URL: %+v", ck)
	}
	// Without a configured user, the password form is not offered and a password login fails.
	ek := newEnv(t, func(c *Config) { c.User, c.Password = "", "" })
	page := ek.do(ek.client(), "GET", "/ui/login", nil)
	if strings.Contains(page.body, `name="password"`) {
		t.Error("password form offered without a configured user")
	}
	if r := ek.login(ek.client(), url.Values{"user": {""}, "password": {""}}); r.status != http.StatusBadRequest {
		t.Errorf("empty login: %d", r.status)
	}
}

func sessionCookieOf(t *testing.T, r resp) *http.Cookie {
	t.Helper()
	for _, line := range r.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", r.header.Values("Set-Cookie"))
	return nil
}

// TestLogoutEndsTheSession: after logout the old cookie no longer works (on any node: the
// session row is gone).
func TestLogoutEndsTheSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.loggedIn()
	u, _ := url.Parse(e.srv.URL + "/ui/")
	saved := c.Jar.Cookies(u)
	r := e.do(c, "POST", "/ui/logout", url.Values{"csrf": {e.csrf(c)}})
	if r.status != http.StatusSeeOther || r.location != "/ui/login" {
		t.Fatalf("logout: %d %q", r.status, r.location)
	}
	replay := e.client()
	replay.Jar.SetCookies(u, saved)
	if r := e.do(replay, "GET", "/ui/messages", nil); r.status != http.StatusSeeOther {
		t.Fatalf("the logged-out cookie still works: %d", r.status)
	}
	// A second node on the same database: sessions are shared, so a login works there too.
	other, err := New(e.web.cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(other)
	defer srv2.Close()
	c = e.loggedIn()
	saved = c.Jar.Cookies(u)
	u2, _ := url.Parse(srv2.URL + "/ui/")
	c2 := e.client()
	c2.Jar.SetCookies(u2, saved)
	req, _ := http.NewRequest("GET", srv2.URL+"/ui/messages", nil)
	r2, err := c2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusOK {
		t.Fatalf("session on a second node: %d", r2.StatusCode)
	}
}

// TestRevokedKeyEndsItsSessions.
func TestRevokedKeyEndsItsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.loggedIn()
	if err := e.store.RevokeAPIKey(t.Context(), e.keyID, e.clock.now()); err != nil {
		t.Fatal(err)
	}
	if r := e.do(c, "GET", "/ui/messages", nil); r.status != http.StatusSeeOther {
		t.Fatalf("session of a revoked key: %d", r.status)
	}
}

// TestRetry: a failed message is retried as one new message linked to it, however often the
// button is pressed; a delivered, sent or queued one is never retried.
func TestRetry(t *testing.T) {
	t.Parallel()
	var notified atomic.Int32
	e := newEnv(t, func(c *Config) {
		c.Messages = accept.New(accept.Config{Store: c.Store.(accept.Store), Clock: c.Clock, OnAccepted: func() { notified.Add(1) }})
	})
	c := e.loggedIn()
	token := e.csrf(c)
	failed := e.message(func(m *switchboard.Message) { m.Metadata = map[string]string{"job": "42"} })
	e.fail(failed.ID, switchboard.StatusUndelivered, 30003)

	var retryID string
	var wg sync.WaitGroup
	locs := make([]string, 4)
	for i := range locs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(c, "POST", "/ui/messages/"+failed.ID+"/retry", url.Values{"csrf": {token}})
			if r.status != http.StatusSeeOther {
				t.Errorf("retry: %d\n%s", r.status, r.body)
			}
			locs[i] = r.location
		}()
	}
	wg.Wait()
	for _, l := range locs {
		id := strings.TrimSuffix(strings.TrimPrefix(l, "/ui/messages/"), "?done=retried")
		if retryID == "" {
			retryID = id
		} else if id != retryID {
			t.Fatalf("retries made different messages: %v", locs)
		}
	}
	msgs, _, err := e.store.ListMessages(t.Context(), switchboard.MessageFilter{})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("messages after 4 retries: %d, %v; want 2", len(msgs), err)
	}
	rm := e.get(retryID)
	if rm.Status != switchboard.StatusQueued || rm.To != failed.To || rm.Body != failed.Body || rm.From != failed.From ||
		rm.Metadata["retry_of"] != failed.ID || rm.Metadata["job"] != "42" || rm.ValidUntil == nil {
		t.Fatalf("retry: %+v", rm)
	}
	// The retry is made by the constructor: its body hash is its body's, not one copied from the
	// original (which this original, stored by hand, lacks).
	if want, _ := switchboard.NewMessage(switchboard.MessageSpec{To: rm.To, From: rm.From, Body: rm.Body, Actor: "x"}, rm.CreatedAt); rm.BodySHA256 == "" ||
		rm.BodySHA256 != want.BodySHA256 || rm.Segments != want.Segments {
		t.Fatalf("retry's body_sha256 %q, segments %d", rm.BodySHA256, rm.Segments)
	}
	orig := e.get(failed.ID)
	if last := orig.Events[len(orig.Events)-1]; last.Type != switchboard.EventNote || !strings.Contains(last.Detail, retryID) {
		t.Fatalf("original's last event: %+v", last)
	}
	if orig.Status != switchboard.StatusUndelivered || notified.Load() != 1 {
		t.Fatalf("original %s, dispatcher notified %d times", orig.Status, notified.Load())
	}
	page := e.do(c, "GET", "/ui/messages/"+retryID+"?done=retried", nil)
	if !strings.Contains(page.body, "/ui/messages/"+failed.ID) || !strings.Contains(page.body, "This is the retry") {
		t.Fatal("the retry's page does not link to the original")
	}
	// Never retried: delivered, read, sent, sending, queued, scheduled; nor a redacted body.
	for _, st := range []switchboard.Status{switchboard.StatusDelivered, switchboard.StatusRead, switchboard.StatusSent,
		switchboard.StatusSending, switchboard.StatusQueued, switchboard.StatusScheduled} {
		m := e.message(nil)
		if st != switchboard.StatusQueued {
			if st != switchboard.StatusScheduled {
				sid := "SM" + strings.Repeat("1", 24) + m.ID[len(m.ID)-8:]
				e.update(switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSending, ProviderSID: &sid, At: e.clock.now()})
			}
			e.update(switchboard.MessageUpdate{ID: m.ID, Status: st, At: e.clock.now()})
		}
		if e.get(m.ID).Status != st {
			t.Fatalf("setup: %s", e.get(m.ID).Status)
		}
		r := e.do(c, "POST", "/ui/messages/"+m.ID+"/retry", url.Values{"csrf": {token}})
		if r.status != http.StatusConflict || !strings.Contains(r.body, "is not retried") {
			t.Errorf("retry of a %s message: %d", st, r.status)
		}
		if page := e.do(c, "GET", "/ui/messages/"+m.ID, nil); strings.Contains(page.body, "/retry") {
			t.Errorf("a %s message offers a retry", st)
		}
	}
	msgs, _, _ = e.store.ListMessages(t.Context(), switchboard.MessageFilter{Limit: 100})
	if len(msgs) != 8 {
		t.Fatalf("messages: %d, want 8 (no retry of the refused)", len(msgs))
	}
	// A message of a sender no longer configured is not retried.
	gone := e.message(func(m *switchboard.Message) { m.From = "+15005550009" })
	e.fail(gone.ID, switchboard.StatusFailed, 30003)
	if r := e.do(c, "POST", "/ui/messages/"+gone.ID+"/retry", url.Values{"csrf": {token}}); r.status != http.StatusConflict {
		t.Errorf("retry of an unconfigured sender's message: %d", r.status)
	}
	// Consent is checked.
	eb := newEnv(t, func(c *Config) {
		// The recipient opted out: the acceptance service's consent check refuses the retry.
		cs := consent.New(c.Store.(consent.Store), c.Clock)
		if _, err := cs.Record(t.Context(), "+14155550123", switchboard.ScopeAll, switchboard.ConsentOptedOut, switchboard.ConsentFromDashboard, "test", "test"); err != nil {
			t.Fatal(err)
		}
		c.Messages = accept.New(accept.Config{Store: c.Store.(accept.Store), Clock: c.Clock, Consent: cs})
	})
	cb := eb.loggedIn()
	blocked := eb.message(nil)
	eb.fail(blocked.ID, switchboard.StatusFailed, 21610)
	if r := eb.do(cb, "POST", "/ui/messages/"+blocked.ID+"/retry", url.Values{"csrf": {eb.csrf(cb)}}); r.status != http.StatusConflict || !strings.Contains(r.body, "opted out") {
		t.Errorf("retry to an opted-out recipient: %d", r.status)
	}
}

func (e *env) update(u switchboard.MessageUpdate) {
	e.t.Helper()
	if _, err := e.store.UpdateMessage(e.t.Context(), u); err != nil {
		e.t.Fatal(err)
	}
}

// TestMessagePage: the timeline with masked payloads, the runbook text of the error code, and
// a redacted body that stays redacted.
func TestMessagePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.loggedIn()
	m := e.message(nil)
	e.fail(m.ID, switchboard.StatusUndelivered, 30005)
	r := e.do(c, "GET", "/ui/messages/"+m.ID, nil)
	for _, want := range []string{"Runbook of 30005", "Title of 30005", "MessageStatus", "+1415*****23", "Your technician", "undelivered", "status callback"} {
		if !strings.Contains(r.text, want) {
			t.Errorf("message page lacks %q", want)
		}
	}
	if strings.Contains(r.text, "4155550123") {
		t.Error("message page shows the full phone number")
	}
	// Redacted by retention.
	if _, err := e.store.Redact(t.Context(), e.clock.now().Add(time.Second), e.clock.now(), 100); err != nil {
		t.Fatal(err)
	}
	r = e.do(c, "GET", "/ui/messages/"+m.ID, nil)
	if strings.Contains(r.body, "Your technician") || !strings.Contains(r.body, "Redacted by the retention policy") || strings.Contains(r.body, "MessageStatus") {
		t.Errorf("redacted message page shows the body or the payload:\n%s", r.body)
	}
	if r := e.do(c, "GET", "/ui/messages/msg_nonexistent", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown message: %d", r.status)
	}
}

// TestMessagePageWhatsAppWindow: a WhatsApp message's page says whether its conversation's
// 24-hour window is open, closed or never opened.
func TestMessagePageWhatsAppWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.loggedIn()
	m := e.message(func(m *switchboard.Message) { m.Channel = switchboard.ChannelWhatsApp })
	if r := e.do(c, "GET", "/ui/messages/"+m.ID, nil); !strings.Contains(r.text, "WhatsApp window") || !strings.Contains(r.text, "not opened") {
		t.Errorf("window never opened: page lacks it:\n%s", r.text)
	}
	in := &switchboard.InboundMessage{ID: switchboard.NewID("in"), ProviderSID: "SMwin", Channel: switchboard.ChannelWhatsApp,
		From: m.To, To: m.From, Body: "hi", ReceivedAt: e.clock.now().Add(-time.Hour)}
	if _, err := e.store.CreateInbound(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if r := e.do(c, "GET", "/ui/messages/"+m.ID, nil); !strings.Contains(r.text, "open until") {
		t.Errorf("open window: page lacks it:\n%s", r.text)
	}
	e.clock.add(24 * time.Hour)
	c = e.loggedIn() // the session of a day ago has expired
	if r := e.do(c, "GET", "/ui/messages/"+m.ID, nil); !strings.Contains(r.text, "closed since") {
		t.Errorf("closed window: page lacks it:\n%s", r.text)
	}
	sms := e.message(nil)
	if r := e.do(c, "GET", "/ui/messages/"+sms.ID, nil); strings.Contains(r.text, "WhatsApp window") {
		t.Error("an SMS page shows a WhatsApp window")
	}
}

// TestSearchAndExport: each search field, bad input, paging, and the CSV export of a search.
func TestSearchAndExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.loggedIn()
	a := e.message(nil)
	b := e.message(func(m *switchboard.Message) { m.To = "+14155550999" })
	e.fail(b.ID, switchboard.StatusFailed, 30007)
	bm := e.get(b.ID)
	for _, tc := range []struct {
		query      string
		want, not  []string
		wantStatus int
	}{
		{"q=" + a.ID, []string{a.ID}, []string{b.ID}, 200},
		{"q=" + bm.ProviderSID, []string{b.ID}, []string{a.ID}, 200},
		{"q=0999", []string{b.ID}, []string{a.ID}, 200},
		{"q=" + url.QueryEscape("+1415*****99"), []string{b.ID}, []string{a.ID}, 200},
		{"q=" + url.QueryEscape("+14155550123"), []string{a.ID}, []string{b.ID}, 200},
		{"code=30007", []string{b.ID}, []string{a.ID}, 200},
		{"status=queued", []string{a.ID}, []string{b.ID}, 200},
		{"sender=" + url.QueryEscape(testSender) + "&from=2031-05-06&until=2031-05-06", []string{a.ID, b.ID}, nil, 200},
		{"from=2031-05-07", []string{"No message matches"}, []string{a.ID, b.ID}, 200},
		{"status=bogus", []string{"not a message status"}, []string{a.ID}, 400},
		{"code=abc", []string{"error code must be a number"}, nil, 400},
		{"from=yesterday", []string{"YYYY-MM-DD"}, nil, 400},
		{"q=" + url.QueryEscape("<script>"), []string{"Search for a message ID", "&lt;script&gt;"}, []string{"<script>"}, 400},
		{"cursor=x'--", []string{"cursor is not valid"}, nil, 400},
	} {
		r := e.do(c, "GET", "/ui/messages?"+tc.query, nil)
		if r.status != tc.wantStatus {
			t.Errorf("%s: %d, want %d", tc.query, r.status, tc.wantStatus)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s: page lacks %q", tc.query, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(r.body, n) {
				t.Errorf("%s: page shows %q", tc.query, n)
			}
		}
	}
	// Paging: 60 messages, 50 per page.
	for range 58 {
		e.message(nil)
	}
	r := e.do(c, "GET", "/ui/messages?status=queued", nil)
	next := regexp.MustCompile(`href="(/ui/messages\?[^"]*cursor=[^"]+)" rel="next"`).FindStringSubmatch(r.body)
	if next == nil || strings.Count(r.body, `<a href="/ui/messages/msg_`) != 50 {
		t.Fatalf("first page: %d messages, next %v", strings.Count(r.body, `<a href="/ui/messages/msg_`), next)
	}
	r = e.do(c, "GET", strings.ReplaceAll(next[1], "&amp;", "&"), nil)
	if n := strings.Count(r.body, `<a href="/ui/messages/msg_`); n != 9 || strings.Contains(r.body, `rel="next"`) {
		t.Fatalf("second page: %d messages", n)
	}
	// Export: the whole search, every page.
	r = e.do(c, "GET", "/ui/messages.csv?status=queued", nil)
	lines := strings.Split(strings.TrimSpace(r.body), "\n")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || len(lines) != 60 || !strings.HasPrefix(lines[0], "id,created_at,to") {
		t.Fatalf("CSV: %d, %s, %d lines", r.status, r.header.Get("Content-Type"), len(lines))
	}
	r = e.do(c, "GET", "/ui/messages.csv?code=30007", nil)
	if lines := strings.Split(strings.TrimSpace(r.body), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], b.ID+",") {
		t.Fatalf("CSV of code 30007: %q", r.body)
	}
	if r := e.do(c, "GET", "/ui/messages.csv?status=bogus", nil); r.status != http.StatusBadRequest {
		t.Fatalf("CSV of a bad search: %d", r.status)
	}
}

// TestOtherPages: overview (queue depth, failures), failures with runbook, charts with
// accessible SVG, inbound with masked senders, and the opt-out list.
func TestOtherPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.loggedIn()
	m := e.message(nil)
	e.fail(m.ID, switchboard.StatusFailed, 30006)
	if _, err := e.store.CreateInbound(t.Context(), &switchboard.InboundMessage{ID: "in_1", ProviderSID: "SM" + strings.Repeat("a", 32),
		Channel: switchboard.ChannelSMS, From: "+14155550177", To: testSender, Body: "STOP", ReceivedAt: e.clock.now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordConsent(t.Context(), &switchboard.ConsentRecord{Phone: "+14155550177", Scope: "default",
		State: switchboard.ConsentOptedOut, Source: switchboard.ConsentFromKeyword, Evidence: "inbound in_1 from +14155550177: STOP", At: e.clock.now()}); err != nil {
		t.Fatal(err)
	}
	for path, wants := range map[string][]string{
		"/ui/":                {testSender, ">7<", "30006", "Title of 30006"},
		"/ui/failures":        {"Runbook of 30006", "Advice", "code=30006"},
		"/ui/charts":          {`role="img"`, "<title id=", "Delivery rate of " + testSender, "<desc id="},
		"/ui/inbound":         {"+1415*****77", "STOP"},
		"/ui/optouts":         {"+1415*****77", "keyword"},
		"/ui/charts?range=7d": {"Last 7 days"},
	} {
		r := e.do(c, "GET", path, nil)
		if r.status != 200 {
			t.Errorf("%s: %d", path, r.status)
		}
		for _, w := range wants {
			if !strings.Contains(r.text, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
		if strings.Contains(r.text, "4155550177") || strings.Contains(r.text, "4155550123") {
			t.Errorf("%s shows a full phone number", path)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	// Queue stats that fail are reported, not fatal.
	ef := newEnv(t, func(c *Config) {
		c.QueueStats = func(context.Context) ([]SenderQueue, error) { return nil, io.ErrUnexpectedEOF }
	})
	if r := ef.do(ef.loggedIn(), "GET", "/ui/", nil); r.status != 200 || !strings.Contains(r.body, "could not be read") {
		t.Errorf("overview with failing queue stats: %d", r.status)
	}
}
