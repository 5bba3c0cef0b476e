// Package web serves Switchboard's dashboard at /ui: server-rendered HTML (html/template, embedded
// in the binary, no JavaScript), for the on-call engineer and support staff. It answers "did she
// get the text, and if not, why?": a message search, each message's timeline with the raw provider
// payloads and runbook text for its error code, failures grouped by code, delivery rate and
// latency per sender and category, queue depth, inbound messages and the opt-out list; and it
// cancels queued messages, retries failed ones and exports a search as CSV.
//
// Every page needs a login (an API key, or the configured user and password). Sessions live in
// the store, hashed, so that every node on one database knows them and logout ends them; every
// form carries a CSRF token derived from the session's secret. See docs/architecture.md.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/clientaddr"
)

//go:embed templates/*.html static/style.css
var assets embed.FS

// Prefix is the path the dashboard is served under.
const Prefix = "/ui"

// CodeInfo explains a provider error code: what it means and what to do about it.
type CodeInfo struct {
	Code        int
	Title       string
	Explanation string
	// Advice says whether sending the message again could help.
	Advice string
	// NoRetry, when set, says why sending the same message to the same recipient again cannot
	// help (opted out, a number that cannot receive it): the dashboard then offers no retry and
	// refuses one.
	NoRetry string
	DocURL  string
	Known   bool
}

// SenderQueue is the queue of one sender: messages waiting to be sent.
type SenderQueue struct {
	From string
	// Ready counts the waiting messages that are due; Deferred those due later (send_at, quiet
	// hours, retry backoff).
	Ready, Deferred int64
	// ReadyCapped and DeferredCapped report counts that stopped at the store's limit
	// (switchboard.QueueCountLimit): there are at least that many, shown as "10,000+".
	ReadyCapped, DeferredCapped bool
	// OldestDue is when the longest-waiting ready message became due, nil when none is ready.
	OldestDue *time.Time
}

// ReadyText is Ready as the pages show it: "10,000+" for a capped count.
func (q SenderQueue) ReadyText() string { return countText(q.Ready, q.ReadyCapped) }

// DeferredText is Deferred as the pages show it.
func (q SenderQueue) DeferredText() string { return countText(q.Deferred, q.DeferredCapped) }

// countText writes n with thousands separators, and a "+" when n is a lower bound.
func countText(n int64, atLeast bool) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	if atLeast {
		s += "+"
	}
	return s
}

// Config wires a Server.
type Config struct {
	Store  Store
	Clock  switchboard.Clock
	Logger *slog.Logger
	// User and Password allow a password login; empty User allows API keys only.
	User, Password string
	// UserTenant is the tenant the password user sees (empty: every tenant) and UserRole what
	// it may do (read, admin or platform; empty: admin). A session opened with an API key has
	// the key's tenant and role instead.
	UserTenant string
	UserRole   switchboard.Role
	// SessionTTL is how long a login lasts (default 12 h).
	SessionTTL time.Duration
	// LoginRate failed password logins per user and client address cost nothing; each further
	// one doubles the wait before the next attempt (1 s, 2 s, …, at most LoginMaxDelay). Failures
	// are forgotten after LoginWindow without one. Defaults 10, 10 min, 1 min.
	LoginRate     int
	LoginWindow   time.Duration
	LoginMaxDelay time.Duration
	// ClientAddr decides which address a request comes from (trusted proxies); the zero value
	// takes the connection's peer.
	ClientAddr clientaddr.Resolver
	// Secure marks the session cookie Secure: set it when the public URL is https.
	Secure bool
	// Senders are the configured senders; a retry is refused for a sender no longer among them.
	Senders []switchboard.Sender
	// LiveSenders, when set, holds the current senders instead of Senders.
	LiveSenders *switchboard.LiveSenders
	// DefaultValidity is the validity of a retry (default 10 h).
	DefaultValidity time.Duration
	// ExplainCode explains a provider error code; nil shows codes without explanation.
	ExplainCode func(code int) CodeInfo
	// QueueStats reports the queue of every sender; nil shows that it is not available.
	QueueStats func(ctx context.Context) ([]SenderQueue, error)
	// Messages makes retries (the acceptance service, internal/accept): the recipient's consent
	// is checked as for any request, and the dispatcher is woken. nil offers no retry.
	Messages Messages
	// Health, when set, is a one-line view of the node's health shown on the overview (its
	// clock's offsets to the database and the provider).
	Health func() string
	// Annotate fills in what a read adds to a message (a WhatsApp message's reached_by); nil
	// adds nothing.
	Annotate func(ctx context.Context, m *switchboard.Message) error
	// CancelCall cancels a call as the API does; nil offers no cancel.
	CancelCall func(ctx context.Context, id string) error
	// Reply accepts body as a reply in conversation c on behalf of actor, through the API's
	// acceptance (validation, consent, idempotency on idemKey); nil offers no reply form.
	Reply func(ctx context.Context, c *switchboard.Conversation, body, actor, idemKey string) (*switchboard.Message, error)
	// NewSecret returns a new endpoint signing secret; nil offers no rotation.
	NewSecret func() string
	// OnReplay wakes the event deliverer after dead letters were replayed.
	OnReplay func()
	// Circuits reports the provider circuit breakers; nil shows none.
	Circuits func() []Circuit
}

// Server is the dashboard.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	pages    map[string]*template.Template
	css      []byte
	cssHash  string
	limiter  loginLimiter
	patterns []string
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("web: no store")
	}
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.LoginRate <= 0 {
		cfg.LoginRate = 10
	}
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = 10 * time.Minute
	}
	if cfg.LoginMaxDelay <= 0 {
		cfg.LoginMaxDelay = time.Minute
	}
	if cfg.DefaultValidity <= 0 {
		cfg.DefaultValidity = 10 * time.Hour
	}
	if cfg.UserRole == "" {
		cfg.UserRole = switchboard.RoleAdmin
	}
	if !cfg.UserRole.Valid() || !cfg.UserRole.Allows(switchboard.RoleRead) {
		return nil, fmt.Errorf("web: the dashboard user's role %q must be read, admin or platform", cfg.UserRole)
	}
	if cfg.UserTenant != "" {
		if err := switchboard.ValidTenantID(cfg.UserTenant); err != nil {
			return nil, fmt.Errorf("web: the dashboard user's tenant: %w", err)
		}
	}
	if cfg.ExplainCode == nil {
		cfg.ExplainCode = func(code int) CodeInfo { return CodeInfo{Code: code, Title: fmt.Sprintf("Error %d", code)} }
	}
	if cfg.LiveSenders == nil {
		cfg.LiveSenders = switchboard.NewLiveSenders(cfg.Senders)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	s.limiter = loginLimiter{free: cfg.LoginRate, window: cfg.LoginWindow, maxDelay: cfg.LoginMaxDelay, m: map[string]*attempts{}}
	var err error
	if s.css, err = assets.ReadFile("static/style.css"); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(s.css)
	s.cssHash = "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base := strings.TrimPrefix(name, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", base, err)
		}
		s.pages[strings.TrimSuffix(base, ".html")] = t
	}
	s.routes()
	return s, nil
}

// ServeHTTP serves the dashboard.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src '"+s.cssHash+"'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// Routes returns the patterns the dashboard serves, in the order they were registered.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, h)
}

func (s *Server) routes() {
	s.handle("GET /ui/login", s.loginPage)
	s.handle("POST /ui/login", s.login)
	s.handle("POST /ui/logout", s.authed(s.logout))
	s.handle("GET /ui/{$}", s.authed(s.overview))
	s.handle("GET /ui/messages", s.authed(s.messages))
	s.handle("GET /ui/messages.csv", s.authed(s.exportCSV))
	s.handle("GET /ui/messages/{id}", s.authed(s.message))
	s.handle("POST /ui/messages/{id}/cancel", s.acting(s.cancel))
	s.handle("POST /ui/messages/{id}/retry", s.acting(s.retry))
	s.handle("GET /ui/failures", s.allTenants(s.failures))
	s.handle("GET /ui/charts", s.allTenants(s.charts))
	s.handle("GET /ui/inbound", s.authed(s.inbound))
	s.handle("GET /ui/optouts", s.authed(s.optouts))
	s.handle("POST /ui/optouts", s.acting(s.recordConsent))
	s.handle("GET /ui/calls", s.authed(s.calls))
	s.handle("GET /ui/calls/{id}", s.authed(s.call))
	s.handle("POST /ui/calls/{id}/cancel", s.acting(s.cancelCall))
	s.handle("GET /ui/verifications", s.authed(s.verifications))
	s.handle("GET /ui/conversations", s.authed(s.conversations))
	s.handle("GET /ui/conversations/{id}", s.authed(s.conversation))
	s.handle("POST /ui/conversations/{id}/reply", s.acting(s.reply))
	s.handle("GET /ui/endpoints", s.authed(s.endpoints))
	s.handle("GET /ui/endpoints/{id}", s.authed(s.endpoint))
	s.handle("POST /ui/endpoints/{id}/replay", s.acting(s.replayEndpoint))
	s.handle("POST /ui/endpoints/{id}/rotate", s.acting(s.rotateEndpoint))
	s.handle("GET /ui/senders", s.allTenants(s.sendersPage))
	s.handle("GET /ui/keys", s.authed(s.keysPage))
	s.handle("GET /ui/usage", s.allTenants(s.usage))
	s.handle("GET /ui/usage.csv", s.allTenants(s.usageCSV))
	s.handle("GET /ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusSeeOther) })
	// Anything else under /ui: not found for a session, the login page for anyone else.
	s.handle("/ui/", s.authed(func(w http.ResponseWriter, r *http.Request, sess *session) {
		s.renderError(w, r, sess, http.StatusNotFound, "No such page.")
	}))
}

// page is what every page template receives.
type page struct {
	Title   string
	Nav     string
	Session *session
	CSS     template.CSS
	Flash   string
	Error   string
	Data    any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := s.pages[name]
	if !ok {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p.CSS = template.CSS(s.css) //nolint:gosec // our own embedded stylesheet
	var b strings.Builder
	if err := t.Execute(&b, p); err != nil {
		s.cfg.Logger.Error("dashboard: rendering", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// renderError shows an error page; the message is ours, never the client's input.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, sess *session, status int, msg string) {
	s.render(w, r, status, "error", page{Title: http.StatusText(status), Session: sess, Error: msg})
}

// fail shows err: an application error's message with its status, anything else as an internal
// error (logged in full).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	status := switchboard.HTTPStatusOf(err)
	msg := "Internal error; see the node's log."
	if status == http.StatusInternalServerError {
		s.cfg.Logger.Error("dashboard: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		msg = switchboard.ErrorMessage(err)
	}
	s.renderError(w, r, sess, status, msg)
}

// loginLimiter throttles failed password logins per (user name, client address) with
// exponential backoff: the first `free` failures cost nothing, then each one makes the next
// attempt of that user from that address wait 1 s, 2 s, 4 s… up to maxDelay. Failures are
// forgotten after `window` without one, and a success clears them. So a password guesser from one
// address gets about one try per maxDelay, while the right password is never refused for longer
// than maxDelay, and users sharing an address (behind a proxy that is not trusted) who get their
// own name right are not held up by someone else's failures. API keys are never throttled: they
// are 256-bit random secrets, not guessable.
type loginLimiter struct {
	mu       sync.Mutex
	free     int
	window   time.Duration
	maxDelay time.Duration
	m        map[string]*attempts
}

type attempts struct {
	last  time.Time // the last failure
	n     int       // failures since the last success or quiet window
	until time.Time // no attempt before this
}

// limiterKey names the user and address an attempt is counted against.
func limiterKey(user, ip string) string {
	if len(user) > 128 {
		user = user[:128]
	}
	return user + "\x00" + ip
}

// wait returns how long key must wait before its next attempt at now (0: it may try now).
func (l *loginLimiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.m[key]
	if !ok || now.Sub(a.last) >= l.window || !now.Before(a.until) {
		return 0
	}
	return a.until.Sub(now)
}

// fail records a failed login of key at now and sets its backoff.
func (l *loginLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) > 100000 { // bounded memory under a spray of names and addresses
		for k, a := range l.m {
			if now.Sub(a.last) >= l.window && !now.Before(a.until) {
				delete(l.m, k)
			}
		}
	}
	a, ok := l.m[key]
	if !ok || now.Sub(a.last) >= l.window {
		a = &attempts{}
		l.m[key] = a
	}
	a.n++
	a.last = now
	if over := a.n - l.free; over > 0 {
		d := l.maxDelay
		if over <= 30 {
			d = min(time.Second<<(over-1), l.maxDelay)
		}
		a.until = now.Add(d)
	}
}

// succeed clears key's failures.
func (l *loginLimiter) succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}
