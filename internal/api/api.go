// Package api serves Switchboard's JSON HTTP API under /v1: accepting messages into the outbox,
// reading their timelines, listing and canceling them. Every error is an RFC 9457
// application/problem+json document with a stable code.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/staging"
	"github.com/switchboard-gw/switchboard/internal/strictjson"
	"github.com/switchboard-gw/switchboard/internal/templates"
	"github.com/switchboard-gw/switchboard/internal/tenantcreds"
	"github.com/switchboard-gw/switchboard/internal/verify"
	"github.com/switchboard-gw/switchboard/internal/voice"
	"github.com/switchboard-gw/switchboard/internal/whatsapp"
)

// Config wires a Server.
type Config struct {
	Store Store
	// Senders are the senders when LiveSenders is nil (a fixed set).
	Senders []switchboard.Sender
	// LiveSenders, when set, holds the current senders (the node replaces them when they change).
	LiveSenders *switchboard.LiveSenders
	// OnSendersChanged, when set, is called after a sender is created, changed or removed
	// through the API, so that this node applies the change at once instead of at its next poll.
	OnSendersChanged func()
	Clock            switchboard.Clock
	Logger           *slog.Logger
	// MaxBodyBytes caps a request body; larger ones get 413.
	MaxBodyBytes int64
	// DefaultValidity applies when a message sets no validity_seconds.
	DefaultValidity time.Duration
	// Templates returns the current template catalog, or nil when none is configured.
	Templates func() *templates.Catalog
	// QuietHours hold messages of some categories outside the recipient's daytime.
	QuietHours consent.QuietHours
	// Consent checks recipients' opt-outs at acceptance; nil checks nothing.
	Consent *consent.Service
	// Staging refuses the messages, calls and verifications a staging tenant may not send
	// (internal/staging); nil checks nothing.
	Staging *staging.Guard
	// Observer receives measurements (metrics); nil observes nothing.
	Observer Observer
	// OnAccepted is called after a message is committed, to wake the dispatcher.
	OnAccepted func()
	// Endpoints configures the event endpoints part of the API.
	Endpoints EndpointsConfig
	// Verify runs one-time-code verifications; nil answers 503 verify_not_configured.
	Verify *verify.Service
	// Calls places and controls voice calls; nil answers calls_not_configured.
	Calls *voice.Service
	// WhatsApp applies WhatsApp's window and fallback rules; nil refuses the whatsapp channel.
	WhatsApp *whatsapp.Service
	// Messages is the acceptance service POST /v1/messages goes through. When nil, New makes
	// one of Store, Senders, Clock, Logger, DefaultValidity, Templates, QuietHours, Consent,
	// WhatsApp, Observer and OnAccepted (a node passes the one every other path uses).
	Messages *accept.Service
	// Credentials keeps the tenants' own provider accounts (PUT/GET/DELETE
	// /v1/tenants/{id}/credentials); nil answers 422 credentials_not_configured.
	Credentials *tenantcreds.Cache
	// Health, when set, is asked by /readyz after the store answers: what it returns is shown
	// in the answer (e.g. the clock offsets), and an error makes the node unready (503).
	Health func(ctx context.Context) (map[string]any, error)
}

// Observer receives the API's measurements.
type Observer interface {
	MessageAccepted(m *switchboard.Message)
	// HTTPRequest is one request answered with status after d; route is its registered pattern.
	HTTPRequest(route string, status int, d time.Duration)
}

// Server is the HTTP API.
type Server struct {
	cfg      Config
	mux      *routeMux
	keys     keyCache
	msgs     *accept.Service
	draining atomic.Bool
}

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.DefaultValidity == 0 {
		cfg.DefaultValidity = 10 * time.Hour
	}
	if cfg.LiveSenders == nil {
		cfg.LiveSenders = switchboard.NewLiveSenders(cfg.Senders)
	}
	s := &Server{cfg: cfg, mux: &routeMux{ServeMux: http.NewServeMux(), observer: cfg.Observer}}
	s.msgs = cfg.Messages
	if s.msgs == nil {
		a := accept.Config{Store: cfg.Store, LiveSenders: cfg.LiveSenders, Clock: cfg.Clock, Logger: cfg.Logger,
			DefaultValidity: cfg.DefaultValidity, Templates: cfg.Templates, QuietHours: cfg.QuietHours, Consent: cfg.Consent,
			Staging: cfg.Staging, OnAccepted: cfg.OnAccepted}
		if cfg.WhatsApp != nil {
			a.WhatsApp = cfg.WhatsApp
		}
		if cfg.Observer != nil {
			a.Observer = cfg.Observer
		}
		s.msgs = accept.New(a)
	}
	s.keys.ttl = 10 * time.Second
	s.routes()
	return s
}

// senders is the current set of senders.
func (s *Server) senders() *switchboard.SenderSet { return s.cfg.LiveSenders.Load() }

// Handler returns the API's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Routes returns the patterns the API serves, such as "POST /v1/messages", in the order they were
// registered. The OpenAPI test holds the document to them.
func (s *Server) Routes() []string { return slices.Clone(s.mux.patterns) }

// routeMux is an http.ServeMux that remembers the patterns registered on it.
type routeMux struct {
	*http.ServeMux
	patterns []string
	observer Observer
}

// Handle registers h for pattern; with an observer, each request is counted under pattern.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	if o := m.observer; o != nil {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			o.HTTPRequest(pattern, sw.status, time.Since(start))
		})
	}
	m.ServeMux.Handle(pattern, h)
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// HandleFunc registers h for pattern.
func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// SetDraining makes /readyz answer 503, so a load balancer stops sending traffic during shutdown.
func (s *Server) SetDraining(v bool) { s.draining.Store(v) }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.handle(s.readyz))
	s.mux.HandleFunc("GET /{$}", s.handle(s.index))
	s.mux.HandleFunc("GET /openapi.json", s.handle(s.openAPI))
	s.mux.HandleFunc("POST /v1/messages", s.handle(s.authed(s.createMessage)))
	s.mux.HandleFunc("GET /v1/messages", s.handle(s.authed(s.listMessages)))
	s.mux.HandleFunc("GET /v1/messages/{id}", s.handle(s.authed(s.getMessage)))
	s.mux.HandleFunc("POST /v1/messages/{id}/cancel", s.handle(s.authed(s.cancelMessage)))
	s.consentRoutes()
	s.endpointRoutes()
	s.conversationRoutes()
	s.traceRoutes()
	s.verificationRoutes()
	s.callRoutes()
	s.tenantRoutes()
	s.keyRoutes()
	s.senderRoutes()
	s.credentialRoutes()
	s.usageRoutes()
	s.mux.HandleFunc("/v1/", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return switchboard.Errorf(switchboard.ENOTFOUND, "route_not_found", "no route %s %s", r.Method, r.URL.Path)
	}))
}

// index answers the root of a node without a dashboard (with one, / redirects to /ui/): where the
// API and its description are, so that the node's address answers something useful.
func (s *Server) index(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"service": "switchboard", "api": "/v1", "openapi": "/openapi.json", "health": "/healthz"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.draining.Load() {
		return switchboard.Errorf(switchboard.EUNAVAILABLE, "draining", "this node is shutting down")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ping(ctx); err != nil {
		s.cfg.Logger.Error("readyz: store ping failed", "err", err)
		if switchboard.IsKind(err, switchboard.EUNAVAILABLE) {
			return err // a stable code of its own, e.g. disk_full
		}
		return switchboard.Errorf(switchboard.EUNAVAILABLE, "store_unavailable", "the store does not answer")
	}
	body := map[string]any{"status": "ready"}
	if s.cfg.Health != nil {
		info, err := s.cfg.Health(ctx)
		if err != nil {
			return err
		}
		for k, v := range info {
			body[k] = v
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// handlerFunc is an HTTP handler that returns its error for handle to write.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc, writing any error as problem+json, also one met while encoding
// the answer (see writeJSON).
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := checkURLText(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		ew := &encodeWriter{ResponseWriter: w}
		err := h(ew, r)
		if err == nil {
			err = ew.err
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}
}

// encodeWriter carries an encoding failure of writeJSON back to handle, which answers it as a
// 500 problem and logs it: nothing was written yet, so the status line is still free.
type encodeWriter struct {
	http.ResponseWriter
	err error
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *encodeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkURLText applies the input policy to the path, the query (cursors, filters, IDs) and the
// Idempotency-Key header: text that
// is not UTF-8 or holds NUL is refused with the codes of a JSON body, on both engines alike
// (PostgreSQL would fail on it with a 500).
func checkURLText(r *http.Request) error {
	if p := switchboard.TextProblem(r.URL.Path); p != "" {
		return switchboard.Errorf(switchboard.EINVALID, p, "the URL path is not UTF-8 text without NUL characters")
	}
	// The one header whose text is stored.
	if p := switchboard.TextProblem(r.Header.Get("Idempotency-Key")); p != "" {
		return switchboard.Errorf(switchboard.EINVALID, p, "the Idempotency-Key header is not UTF-8 text")
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	for k, vs := range r.URL.Query() {
		for _, v := range append(vs, k) {
			if p := switchboard.TextProblem(v); p != "" {
				return switchboard.Errorf(switchboard.EINVALID, p, "the query parameter %q is not UTF-8 text without NUL characters", strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", ""), "?"))
			}
		}
	}
	return nil
}

// retryAfterSeconds is the Retry-After of a temporary 503 without one of its own (0: the 503 is
// not temporary, e.g. a feature not configured): a database that is down or restarting is
// usually back within seconds; a full disk or a broken clock waits for an operator.
func retryAfterSeconds(code string) int {
	switch code {
	case switchboard.CodeStoreUnavailable, "draining":
		return 5
	case switchboard.CodeDiskFull:
		return 30
	case "clock_skew":
		return 60
	}
	return 0
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	// SupportReference names the recorded refusal of a refused verification, for support.
	SupportReference string `json:"support_reference,omitempty"`
}

// ProblemType is the URI reference naming an error code's documentation (docs/errors.md).
func ProblemType(code string) string { return "urn:switchboard:error:" + code }

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := switchboard.ErrorKindOf(err)
	status := kind.HTTPStatus()
	if kind == switchboard.EINTERNAL {
		s.cfg.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	code := switchboard.ErrorCodeOf(err)
	if kind == switchboard.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
	}
	var ref string
	if rf := switchboard.RefusalOf(err); rf != nil {
		ref = rf.SupportRef
		if rf.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64((rf.RetryAfter+time.Second-1)/time.Second), 10))
		}
	}
	if secs := retryAfterSeconds(code); status == http.StatusServiceUnavailable && secs > 0 && w.Header().Get("Retry-After") == "" {
		// A temporary failure of the infrastructure: say when to come back.
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		if code == switchboard.CodeStoreUnavailable || code == switchboard.CodeDiskFull {
			s.cfg.Logger.Warn("store unavailable", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	problem := Problem{
		Type:   ProblemType(code),
		Title:  http.StatusText(status),
		Status: status,
		Detail: switchboard.ErrorMessage(err),
		Code:   code,
	}
	problem.SupportReference = ref
	_ = json.NewEncoder(w).Encode(problem)
}

// writeJSON answers v as JSON with status. It encodes into a buffer first: a value that cannot be
// encoded (a time past year 9999, say) writes nothing, and the handler's adapter answers a 500
// problem and logs the error, instead of a 200 with an empty or cut body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		err = fmt.Errorf("api: encoding a %d answer: %w", status, err)
		if ew, ok := w.(*encodeWriter); ok {
			ew.err = err
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"type":"` + ProblemType("internal_error") + `","title":"Internal Server Error","status":500,"detail":"internal error","code":"internal_error"}` + "\n"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// ctxKey keys request-scoped values.
type ctxKey int

const apiKeyCtx ctxKey = iota

// apiKeyFrom returns the authenticated API key of a request.
func apiKeyFrom(ctx context.Context) *switchboard.APIKey {
	k, _ := ctx.Value(apiKeyCtx).(*switchboard.APIKey)
	return k
}

// authed requires a valid bearer API key whose role allows the route (the route's declared
// role, roles.go), and puts the key and its Principal in the request's context.
func (s *Server) authed(h handlerFunc) handlerFunc { return s.authedAs(nil, h) }

// authedAs is authed with a fixed rule instead of the route's declared one (nil: declared).
func (s *Server) authedAs(fixed *routeRule, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		auth := r.Header.Get("Authorization")
		secret, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			return switchboard.Errorf(switchboard.EUNAUTHORIZED, "unauthorized", "send an API key as Authorization: Bearer <key>")
		}
		hash := switchboard.HashAPIKeySecret(strings.TrimSpace(secret))
		key, ok := s.keys.get(hash, s.cfg.Clock())
		if !ok {
			var err error
			key, err = s.cfg.Store.GetAPIKeyByHash(r.Context(), hash)
			if err != nil {
				if switchboard.IsKind(err, switchboard.EUNAUTHORIZED) {
					return switchboard.Errorf(switchboard.EUNAUTHORIZED, "unauthorized", "unknown or revoked API key")
				}
				return err
			}
			now := s.cfg.Clock()
			s.keys.put(hash, key, now)
			s.touchKey(r.Context(), key, now)
		}
		var p *Principal
		if fixed != nil {
			p = newPrincipal(key)
			if !p.Role.Allows(fixed.Need) {
				return switchboard.Errorf(switchboard.EFORBIDDEN, CodeInsufficientRole, "this needs a key with the %s role; this key has the %s role", fixed.Need, p.Role)
			}
		} else {
			var err error
			if p, err = authorize(key, r.Pattern); err != nil {
				return err
			}
		}
		ctx := context.WithValue(context.WithValue(r.Context(), apiKeyCtx, key), principalCtx, p)
		return h(w, r.WithContext(ctx))
	}
}

// keyTouchEvery is how stale a key's recorded last use may get: a key's use is recorded when the
// key cache misses (at most once per key every 10 s, its TTL) and the stored time is older than this, so an API
// key costs at most one small write a minute per node.
const keyTouchEvery = time.Minute

// touchKey records that key was used at now, unless its recorded last use is recent enough
// (keyTouchEvery). A failure is logged, not answered: the request itself is fine.
func (s *Server) touchKey(ctx context.Context, key *switchboard.APIKey, now time.Time) {
	if key.LastUsedAt != nil && now.Sub(*key.LastUsedAt) < keyTouchEvery {
		return
	}
	if err := s.cfg.Store.TouchAPIKey(ctx, key.ID, now); err != nil {
		s.cfg.Logger.Warn("recording an API key's last use", "api_key_id", key.ID, "err", err)
	}
}

// keyCache remembers authenticated keys briefly, so that the accept path does not read the key
// table on every request. A revoked key stops working within the TTL.
type keyCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]cachedKey
}

type cachedKey struct {
	key     *switchboard.APIKey
	expires time.Time
}

func (c *keyCache) get(hash string, now time.Time) (*switchboard.APIKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || now.After(e.expires) {
		return nil, false
	}
	return e.key, true
}

func (c *keyCache) put(hash string, k *switchboard.APIKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[string]cachedKey{}
	}
	c.m[hash] = cachedKey{key: k, expires: now.Add(c.ttl)}
}

// isJSONType reports whether a request's Content-Type lets its body be read as JSON: no
// Content-Type at all (a bare client that sends JSON and names nothing), application/json (any
// parameters) or a +json type. Anything else, notably curl -d's application/x-www-form-urlencoded,
// is refused with 415, since reading a form as JSON would only hide the client's mistake.
func isJSONType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// decodeJSON decodes a request body strictly: JSON only, unknown fields refused, one value only,
// at most MaxBodyBytes.
// decodeJSON decodes a request body strictly (strictjson): JSON only, one value, at most
// MaxBodyBytes, valid UTF-8 without NUL, no duplicate keys, field names in their exact case and
// no unknown fields. Every handler reads its body through it.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !isJSONType(ct) {
		return switchboard.Errorf(switchboard.EMEDIATYPE, "unsupported_media_type",
			"the body is sent as %.64q: send it as JSON with Content-Type: application/json (curl -d sends application/x-www-form-urlencoded; add -H 'Content-Type: application/json')", ct)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return switchboard.Errorf(switchboard.ETOOLARGE, "body_too_large", "request body is over %d bytes", s.cfg.MaxBodyBytes)
		}
		return switchboard.Errorf(switchboard.EINVALID, "invalid_json", "request body could not be read")
	}
	if err := strictjson.Decode(data, v); err != nil {
		var se *strictjson.Error
		if errors.As(err, &se) {
			return switchboard.Errorf(switchboard.EINVALID, se.Code, "%s", se.Detail)
		}
		return switchboard.Errorf(switchboard.EINVALID, "invalid_json", "request body is not valid JSON")
	}
	return nil
}

func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, switchboard.Errorf(switchboard.EINVALID, "invalid_query", "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// forget drops a key from the cache, so that a key revoked on this node stops at once (other
// nodes within the TTL).
func (c *keyCache) forget(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, hash)
}
