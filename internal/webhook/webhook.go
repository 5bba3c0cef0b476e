// Package webhook receives Twilio's webhooks: message status callbacks and inbound messages.
//
// Every request's X-Twilio-Signature is checked against the configured public URL (never the
// request's Host header) before anything is read into the store; a missing or wrong signature
// gets 403 and changes nothing. A callback is answered 2xx only after it is durably recorded,
// and it is applied in the same transaction: deduplicated on (MessageSid, MessageStatus), status
// only forward, kept for later when its message is not known yet.
package webhook

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
)

// Paths of the webhook endpoints.
const (
	StatusPath  = "/webhooks/twilio/status"
	InboundPath = "/webhooks/twilio/inbound"
)

// MaxFormBytes caps a webhook body; Twilio's are a few kilobytes.
const MaxFormBytes = 64 << 10

// Config wires a Handler.
type Config struct {
	Store Store
	// AuthToken is the Twilio account's auth token, the key of X-Twilio-Signature.
	AuthToken string
	// Tokens, when set, names the token that signs the webhooks of a tenant's own account, by
	// the webhook's AccountSid (see twiliosig.Receiver.Tokens).
	Tokens func(accountSID string) (token string, ok bool)
	// PublicURL is the base URL Twilio was given, such as https://sms.example.com.
	PublicURL string
	Clock     switchboard.Clock
	Logger    *slog.Logger
	// Observer receives measurements (metrics); nil observes nothing.
	Observer Observer
	// OnInbound, when set, is called after an inbound message is stored, on every delivery of
	// the webhook (created is false for a repeat): it must be idempotent. An error answers 500, so
	// that Twilio delivers the webhook again.
	OnInbound func(ctx context.Context, in *switchboard.InboundMessage, created bool) error
	// Prepare, when set, is called before an inbound message is stored, to set what the store
	// cannot know: its Route and RouteEndpoints (which decide where its message.received event
	// goes) and its Tenant when the number that received it is one tenant's (the store keeps a
	// tenant set here and decides one otherwise).
	Prepare func(in *switchboard.InboundMessage)
}

// Observer receives the ingress's measurements.
type Observer interface {
	Webhook(endpoint, result string, d time.Duration)
	Callback(providerStatus string, res switchboard.CallbackResult)
}

type nopObserver struct{}

func (nopObserver) Webhook(string, string, time.Duration)       {}
func (nopObserver) Callback(string, switchboard.CallbackResult) {}

// Handler serves the webhook endpoints.
type Handler struct {
	cfg Config
	mux *http.ServeMux
	sig *twiliosig.Receiver
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), sig: &twiliosig.Receiver{
		AuthToken: cfg.AuthToken, Tokens: cfg.Tokens, PublicURL: cfg.PublicURL, MaxBytes: MaxFormBytes, Logger: cfg.Logger,
	}}
	h.mux.HandleFunc("POST "+StatusPath, h.observed("status", h.status))
	h.mux.HandleFunc("POST "+InboundPath, h.observed("inbound", h.inbound))
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// observed measures a handler by the status it answers.
func (h *Handler) observed(endpoint string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next(rec, r)
		result := "ok"
		switch {
		case rec.status == http.StatusForbidden:
			result = "bad_signature"
		case rec.status >= 500:
			result = "error"
		case rec.status >= 400:
			result = "bad_request"
		}
		h.cfg.Observer.Webhook(endpoint, result, time.Since(start))
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	if !h.sig.Check(w, r) {
		return
	}
	cb, err := twilio.ParseStatusCallback(r.PostForm, h.cfg.Clock())
	if err != nil {
		// A signed callback we cannot read: answer 400 so it shows in Twilio's debugger; a retry
		// would not help.
		h.cfg.Logger.Warn("status callback unreadable", "err", err)
		http.Error(w, switchboard.ErrorMessage(err), http.StatusBadRequest)
		return
	}
	cb.MessageID = r.URL.Query().Get("m")
	res, err := h.cfg.Store.IngestCallback(r.Context(), cb)
	if err != nil {
		// Not stored: a 5xx makes Twilio retry.
		h.cfg.Logger.Error("status callback not stored", "provider_sid", cb.ProviderSID, "err", err)
		storeFailed(w, err)
		return
	}
	h.cfg.Observer.Callback(cb.ProviderStatus, res)
	h.cfg.Logger.Debug("status callback", "provider_sid", cb.ProviderSID, "message_id", res.MessageID,
		"provider_status", cb.ProviderStatus, "status", res.Status, "duplicate", res.Duplicate,
		"pending", res.Pending, "applied", res.Applied, "error_code", cb.ErrorCode)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) inbound(w http.ResponseWriter, r *http.Request) {
	if !h.sig.Check(w, r) {
		return
	}
	in, err := twilio.ParseInbound(r.PostForm, h.cfg.Clock())
	if err != nil {
		h.cfg.Logger.Warn("inbound webhook unreadable", "err", err)
		http.Error(w, switchboard.ErrorMessage(err), http.StatusBadRequest)
		return
	}
	in.ID = switchboard.NewID("in")
	if h.cfg.Prepare != nil {
		h.cfg.Prepare(in)
	}
	created, err := h.cfg.Store.CreateInbound(r.Context(), in)
	if err != nil {
		h.cfg.Logger.Error("inbound message not stored", "provider_sid", in.ProviderSID, "err", err)
		storeFailed(w, err)
		return
	}
	h.cfg.Logger.Info("inbound message", "inbound_id", in.ID, "provider_sid", in.ProviderSID,
		"from", content.MaskPhone(in.From), "to", content.MaskPhone(in.To), "route", in.Route, "duplicate", !created)
	if h.cfg.OnInbound != nil {
		if err := h.cfg.OnInbound(r.Context(), in, created); err != nil {
			h.cfg.Logger.Error("inbound message not processed", "inbound_id", in.ID, "provider_sid", in.ProviderSID, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	// An empty TwiML response: no automatic reply from Twilio.
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
}

// storeFailed answers a webhook that could not be stored with its error's status
// (switchboard.HTTPStatusOf): 503 with Retry-After when the store is unavailable (down, disk full:
// temporary), 500 for a failure of ours. Either makes Twilio retry.
func storeFailed(w http.ResponseWriter, err error) {
	status := switchboard.HTTPStatusOf(err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	http.Error(w, switchboard.ErrorMessage(err), status)
}
