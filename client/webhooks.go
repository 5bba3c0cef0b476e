package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Switchboard signs every event it delivers to an application's endpoint as the Standard
// Webhooks specification says (https://www.standardwebhooks.com): the headers webhook-id (the
// event's ID, the same on every retry: deduplicate on it), webhook-timestamp (Unix seconds of the
// attempt) and webhook-signature ("v1,<base64 HMAC-SHA256>" of "id.timestamp.body", one per
// active secret, space-separated while a secret is being rotated). Any Standard Webhooks library
// verifies them; VerifyWebhook does it without one:
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//		ev, err := client.ParseWebhook(os.Getenv("SWITCHBOARD_WEBHOOK_SECRET"), r.Header, body)
//		if err != nil {
//			http.Error(w, "bad signature", http.StatusUnauthorized)
//			return
//		}
//		// ev.Type is "message.status_changed", "message.received", …; ev.Data its payload.
//		w.WriteHeader(http.StatusNoContent)
//	}
//
// Verify the body exactly as received, before decoding it.

// WebhookTolerance is how far a delivery's timestamp may be from the receiver's clock before
// VerifyWebhook refuses it as a possible replay.
const WebhookTolerance = 5 * time.Minute

// Reasons VerifyWebhook refuses a delivery; test them with errors.Is.
var (
	ErrWebhookHeaders   = errors.New("switchboard: webhook: missing or malformed webhook-id, webhook-timestamp or webhook-signature header")
	ErrWebhookTimestamp = errors.New("switchboard: webhook: timestamp outside the tolerance (a replay, or a clock far off)")
	ErrWebhookSignature = errors.New("switchboard: webhook: no signature matches the secret")
	ErrWebhookSecret    = errors.New("switchboard: webhook: the secret is not whsec_ followed by base64")
)

// WebhookEvent is an event as Switchboard delivers it.
type WebhookEvent struct {
	// ID identifies the event; it is also the webhook-id header. Deduplicate on it: delivery is
	// at least once.
	ID string `json:"id"`
	// Type is such as "message.status_changed", "message.received", "consent.changed",
	// "endpoint.disabled".
	Type string `json:"type"`
	// Version is the version of Data's shape.
	Version   int             `json:"version"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// VerifyWebhook checks that body and headers are a delivery Switchboard signed with secret
// ("whsec_…", the endpoint's secret) within WebhookTolerance of the local clock.
func VerifyWebhook(secret string, headers http.Header, body []byte) error {
	return VerifyWebhookAt(secret, headers, body, time.Now())
}

// VerifyWebhookAt is VerifyWebhook with the receiver's clock reading now.
func VerifyWebhookAt(secret string, headers http.Header, body []byte, now time.Time) error {
	key, err := webhookKey(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := headers.Get("webhook-id"), headers.Get("webhook-timestamp"), headers.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" || len(tsText) > 12 {
		return ErrWebhookHeaders
	}
	for _, c := range tsText {
		if c < '0' || c > '9' {
			return ErrWebhookHeaders
		}
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrWebhookHeaders
	}
	if d := now.Sub(time.Unix(ts, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return ErrWebhookTimestamp
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(tsText))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	// The HMAC is computed once; each signature costs a decode and a comparison, so the header's
	// size (bounded by the HTTP server) bounds the work.
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrWebhookSignature
}

// ParseWebhook verifies a delivery (see VerifyWebhook) and decodes its event.
func ParseWebhook(secret string, headers http.Header, body []byte) (*WebhookEvent, error) {
	if err := VerifyWebhook(secret, headers, body); err != nil {
		return nil, err
	}
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, errors.New("switchboard: webhook: the body is not an event: " + err.Error())
	}
	if ev.ID != headers.Get("webhook-id") {
		return nil, errors.New("switchboard: webhook: the body's id differs from the webhook-id header")
	}
	return &ev, nil
}

// webhookKey decodes a secret: "whsec_" and base64 (the prefix may be left out).
func webhookKey(secret string) ([]byte, error) {
	b64 := strings.TrimPrefix(strings.TrimSpace(secret), "whsec_")
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(key) == 0 {
		return nil, ErrWebhookSecret
	}
	return key, nil
}
