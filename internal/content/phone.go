package content

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	switchboard "github.com/switchboard-gw/switchboard"
)

// CodeInvalidPhoneNumber is the stable error code (kind EINVALID) of a phone number that
// NormalizePhone refuses.
const CodeInvalidPhoneNumber = "invalid_phone_number"

const (
	// maxPhoneInput bounds the input in bytes before any parsing: room for a 15-digit number
	// with generous formatting, far below anything that could make parsing slow.
	maxPhoneInput = 64
	// maxE164Digits is E.164's limit on the digits of a number, country code included.
	maxE164Digits = 15
	e164Example   = "+14155550100"
)

func invalidPhone(format string, args ...any) error {
	return switchboard.Errorf(switchboard.EINVALID, CodeInvalidPhoneNumber, format, args...)
}

// NormalizePhone checks that s is a valid phone number written in international (E.164) form and
// returns it in E.164: "+" and at most 15 digits, e.g. "+14155550100".
//
// The input must start with "+" and the country code. For readability it may contain spaces,
// dashes, dots and parentheses, and surrounding white space is ignored; anything else — letters
// (no vanity numbers), extensions, "00" or other dialling prefixes, non-ASCII digits — is refused.
// A national trunk prefix written after the country code, as in "+44 (0)20 7183 8750", is dropped
// as libphonenumber does.
//
// The number must be valid according to libphonenumber's metadata (phonenumbers.IsValidNumber),
// not merely well-formed: +1 555 555 0100 is refused because NPA 555 is not assigned, while the
// NANP fictional range NXX-555-0100…0199, e.g. +14155550100, is valid. Twilio's magic test numbers
// +15005550001…+15005550009 are valid as they are (NPA 500 is assigned to personal communication
// services), so they need no special case.
//
// Errors are *switchboard.Error with kind EINVALID and code CodeInvalidPhoneNumber; their message
// says what is wrong and quotes nothing but pieces of s.
func NormalizePhone(s string) (string, error) {
	info, err := lookupPhone(s)
	if err != nil {
		return "", err
	}
	return info.e164, nil
}

// PhoneRegion returns the ISO 3166-1 alpha-2 region of a phone number in international form, e.g.
// "US" for +14155550100 and "GB" for +442071838750. It returns "" when the number is not valid
// (see NormalizePhone) and for numbers of non-geographic services such as +800 freephone.
func PhoneRegion(e164 string) string {
	info, err := lookupPhone(e164)
	if err != nil {
		return ""
	}
	return info.region
}

// lookupPhone applies NormalizePhone's rules, answering from the cache when the same digits
// were valid before.
func lookupPhone(s string) (phoneInfo, error) {
	var buf [1 + maxPhoneInput]byte
	digits, err := phoneInput(s, buf[:0])
	if err != nil {
		return phoneInfo{}, err
	}
	if info, ok := phoneCache.get(digits); ok {
		return info, nil
	}
	n, err := parsePhone(digits)
	if err != nil {
		return phoneInfo{}, err
	}
	info := phoneInfo{e164: phonenumbers.Format(n, phonenumbers.E164), region: phonenumbers.GetRegionCodeForNumber(n),
		zones: numberTimezones(n)}
	if len(info.region) != 2 || info.region == phonenumbers.UNKNOWN_REGION {
		info.region = "" // "001" stands for non-geographic entities
	}
	phoneCache.put(digits, info)
	return info, nil
}

// phoneInput checks the form of s (a "+", then digits and the separators NormalizePhone allows,
// at most 15 digits) and appends "+" and its digits to buf.
func phoneInput(s string, buf []byte) ([]byte, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, invalidPhone("phone number is empty; expected E.164 format, e.g. %s", e164Example)
	case len(s) > maxPhoneInput:
		return nil, invalidPhone("phone number is too long (%d characters); expected E.164 format, e.g. %s", utf8.RuneCountInString(s), e164Example)
	case s[0] != '+':
		return nil, invalidPhone("phone number must start with + and the country code (E.164 format), e.g. %s", e164Example)
	}

	digits := append(buf, '+')
	for i, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return nil, invalidPhone("phone number contains %q at character %d; after the + only digits, spaces, dashes, dots and parentheses are allowed",
				r, utf8.RuneCountInString(s[:1+i])+1)
		}
	}
	switch nd := len(digits) - 1; {
	case nd == 0:
		return nil, invalidPhone("phone number has no digits after the +; expected E.164 format, e.g. %s", e164Example)
	case nd > maxE164Digits:
		return nil, invalidPhone("phone number has %d digits; E.164 allows at most %d, country code included", nd, maxE164Digits)
	}
	return digits, nil
}

// parsePhone checks "+" and digits against libphonenumber's metadata and returns the parsed,
// valid number.
func parsePhone(digits []byte) (*phonenumbers.PhoneNumber, error) {
	n, err := phonenumbers.Parse(string(digits), phonenumbers.UNKNOWN_REGION)
	if err != nil {
		if errors.Is(err, phonenumbers.ErrInvalidCountryCode) {
			return nil, invalidPhone("phone number does not start with a country code in use after the +")
		}
		return nil, invalidPhone("phone number is not a valid number (%s)", err)
	}
	if phonenumbers.IsValidNumber(n) {
		return n, nil
	}
	cc := n.GetCountryCode()
	switch phonenumbers.IsPossibleNumberWithReason(n) {
	case phonenumbers.INVALID_COUNTRY_CODE:
		return nil, invalidPhone("phone number does not start with a country code in use after the +")
	case phonenumbers.TOO_SHORT:
		return nil, invalidPhone("phone number is too short for country code +%d", cc)
	case phonenumbers.TOO_LONG:
		return nil, invalidPhone("phone number is too long for country code +%d", cc)
	case phonenumbers.INVALID_LENGTH:
		return nil, invalidPhone("phone number has the wrong number of digits for country code +%d", cc)
	}
	return nil, invalidPhone("phone number is not in use under country code +%d: its area code or prefix is not assigned", cc)
}

// MaskPhone masks a phone number for logs: it keeps the "+", the first digits (the country code
// and, for longer numbers, the start of the area code) and the last 2 digits, and replaces the
// rest by one "*" per digit, so "+14155550100" becomes "+1415*****00". At least 5 digits are
// always masked: shorter numbers keep fewer digits, and numbers of 5 digits or fewer keep none.
// Formatting is dropped ("+1 (415) 555-0100" masks like "+14155550100").
//
// A channel prefix such as "whatsapp:" or "tel:" is kept. A Twilio SID (e.g. a Messaging Service
// "MG…" used as a sender) is an identifier, not personal data, and is returned unchanged.
// Anything else that is not a phone number has every digit replaced by "*" and is cut to 64
// bytes. MaskPhone never fails or panics.
func MaskPhone(s string) string {
	prefix, rest := splitChannelPrefix(s)
	if digits, plus, ok := phoneDigits(rest); ok {
		return prefix + maskDigits(digits, plus)
	}
	if isTwilioSID(rest) {
		return s
	}
	return prefix + maskGarbage(rest)
}

// splitChannelPrefix splits a leading "scheme:" made of up to 16 ASCII letters off s.
func splitChannelPrefix(s string) (prefix, rest string) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || i > 16 {
		return "", s
	}
	for j := 0; j < i; j++ {
		if c := s[j] | 0x20; c < 'a' || c > 'z' {
			return "", s
		}
	}
	return s[:i+1], s[i+1:]
}

// phoneDigits returns the ASCII digits of s when s looks like a phone number: an optional "+",
// then digits and the separators NormalizePhone allows, with at least one digit.
func phoneDigits(s string) (digits string, plus, ok bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "+") {
		plus, s = true, s[1:]
	}
	if s == "" || len(s) > maxPhoneInput {
		return "", false, false
	}
	var buf [maxPhoneInput]byte
	d := buf[:0]
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			d = append(d, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false, false
		}
	}
	if len(d) == 0 {
		return "", false, false
	}
	return string(d), plus, true
}

// maskDigits keeps up to 4 leading and 2 trailing digits, always masking at least 5.
func maskDigits(digits string, plus bool) string {
	const minMasked = 5
	n := len(digits)
	tail := min(2, max(0, n-minMasked))
	head := min(4, max(0, n-tail-minMasked))
	var b strings.Builder
	b.Grow(n + 1)
	if plus {
		b.WriteByte('+')
	}
	b.WriteString(digits[:head])
	b.WriteString(strings.Repeat("*", n-head-tail))
	b.WriteString(digits[n-tail:])
	return b.String()
}

// isTwilioSID reports whether s is a Twilio SID: two upper-case letters and 32 lower-case hex
// digits.
func isTwilioSID(s string) bool {
	if len(s) != 34 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// maskGarbage replaces every digit of s (in any script) by "*" and cuts the result to 64 bytes
// on a character boundary, marking the cut with "…".
func maskGarbage(s string) string {
	const limit = 64
	var b strings.Builder
	for _, r := range s {
		if unicode.IsDigit(r) {
			r = '*'
		}
		if b.Len()+utf8.RuneLen(r) > limit {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
