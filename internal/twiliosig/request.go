package twiliosig

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// Receiver checks the signature of the webhooks Twilio posts to this node: the one check every
// Twilio webhook route uses (message status and inbound in internal/webhook, voice in
// internal/voice), as the simulator's callbacks are signed by Sign above.
type Receiver struct {
	// AuthToken is the Twilio account's auth token, the key of the signature.
	AuthToken string
	// PublicURL is the base URL Twilio was given (SWITCHBOARD_PUBLIC_URL): the signed URL is
	// PublicURL plus the request's path and query, never the request's Host header.
	PublicURL string
	// MaxBytes caps the form body.
	MaxBytes int64
	// Logger receives one warning per refused signature; nil logs nothing.
	Logger *slog.Logger
}

// Check reads r's form (at most MaxBytes) and checks its X-Twilio-Signature. When the request
// must go no further it answers the refusal itself — 413 for a body over the cap, 400 for a
// malformed form, 403 for a missing or wrong signature — and returns false; then nothing of the
// request may be used.
func (rc *Receiver) Check(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, rc.MaxBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "webhook body too large", http.StatusRequestEntityTooLarge)
			return false
		}
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return false
	}
	fullURL := strings.TrimRight(rc.PublicURL, "/") + r.URL.RequestURI()
	if !Valid(rc.AuthToken, fullURL, r.PostForm, r.Header.Get(Header)) {
		if rc.Logger != nil {
			rc.Logger.Warn("webhook signature rejected", "path", r.URL.Path, "has_signature", r.Header.Get(Header) != "")
		}
		http.Error(w, "invalid "+Header, http.StatusForbidden)
		return false
	}
	return true
}
