package switchboard

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// Switchboard's input policy for text (docs/security.md): text from API clients must be valid
// UTF-8 without NUL, or it is refused (400 invalid_utf8 / nul_character); text from the provider
// (signed webhooks), which must never be refused with a 500 that Twilio retries until it gives up,
// is made storable with SafeText, its raw bytes kept percent-encoded beside it. Both engines then
// store the same text: PostgreSQL refuses NUL and invalid UTF-8 in text columns, SQLite would keep
// them.

// SafeText returns s as text every store keeps: each invalid UTF-8 sequence and each NUL becomes
// U+FFFD.
func SafeText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// SafeForm returns form with every key and value made SafeText, and whether anything changed (then
// the result is a copy; keys that become equal are merged in order).
func SafeForm(form url.Values) (url.Values, bool) {
	changed := false
	for k, vs := range form {
		if SafeText(k) != k {
			changed = true
			break
		}
		for _, v := range vs {
			if SafeText(v) != v {
				changed = true
				break
			}
		}
	}
	if !changed {
		return form, false
	}
	out := make(url.Values, len(form))
	for k, vs := range form {
		sk := SafeText(k)
		for _, v := range vs {
			out[sk] = append(out[sk], SafeText(v))
		}
	}
	return out, true
}

// TextProblem says what makes s unacceptable as API input: "invalid_utf8", "nul_character", or ""
// when s is fine.
func TextProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "invalid_utf8"
	case strings.IndexByte(s, 0) >= 0:
		return "nul_character"
	}
	return ""
}
