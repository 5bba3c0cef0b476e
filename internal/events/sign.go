package events

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// NewSecret returns a new endpoint secret: "whsec_" and the base64 of 32 random bytes.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("events: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return switchboard.SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// Body is what a delivery of ev carries: the event as JSON, {"id", "type", "version",
// "timestamp", "data"}.
func Body(ev *switchboard.AppEvent) ([]byte, error) {
	return json.Marshal(ev)
}

// Sign returns the webhook-signature header of a delivery: "v1,<base64 HMAC-SHA256>" of
// "id.timestamp.body" under each secret, separated by spaces (several during a rotation). A
// secret that does not decode is skipped; with none left it returns "".
func Sign(secrets []string, id string, ts time.Time, body []byte) string {
	signed := make([]byte, 0, len(id)+len(body)+24)
	signed = append(signed, id...)
	signed = append(signed, '.')
	signed = strconv.AppendInt(signed, ts.Unix(), 10)
	signed = append(signed, '.')
	signed = append(signed, body...)
	var sigs []string
	for _, s := range secrets {
		key, err := switchboard.DecodeSecret(s)
		if err != nil {
			continue
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(signed)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}
