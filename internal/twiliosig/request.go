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
	// Tokens, when set, names the token of the account a webhook comes from by its AccountSid
	// field (a tenant's own Twilio account): ok true means the account is one it knows, and the
	// signature must then be the one token makes ("" refuses every webhook of that account).
	// Any other AccountSid, or none, is checked with AuthToken.
	Tokens func(accountSID string) (token string, ok bool)
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
	// An empty token (a tenant's account known only by an API key) checks nothing: refused, as
	// a signature made with an empty key would otherwise pass.
	if token := rc.token(r.PostForm.Get("AccountSid")); token == "" || !Valid(token, fullURL, r.PostForm, r.Header.Get(Header)) {
		if rc.Logger != nil {
			rc.Logger.Warn("webhook signature rejected", "path", r.URL.Path, "has_signature", r.Header.Get(Header) != "")
		}
		http.Error(w, "invalid "+Header, http.StatusForbidden)
		return false
	}
	return true
}

// token is the key of the signature of a webhook from account accountSID. AccountSid is one of
// the signed fields, so a webhook cannot name another account than the one that signed it
// without knowing that account's token.
func (rc *Receiver) token(accountSID string) string {
	if rc.Tokens != nil && accountSID != "" {
		if t, ok := rc.Tokens(accountSID); ok {
			return t
		}
	}
	return rc.AuthToken
}
