package content

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
)

// SetBody gives m its body and everything derived from it: the SHA-256 and length that outlive
// the body's redaction (retention), and the segments and encoding. Every place that builds a
// message uses it, so that none is stored without them (issue 15: keyword replies and
// auto-replies had no body_sha256 or body_length).
func SetBody(m *switchboard.Message, body string) {
	sum := sha256.Sum256([]byte(body))
	m.Body, m.BodySHA256, m.BodyLength = body, hex.EncodeToString(sum[:]), utf8.RuneCountInString(body)
	m.Segments, m.Encoding = Segments(body)
}
