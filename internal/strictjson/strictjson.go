// Package strictjson decodes untrusted JSON request bodies strictly. encoding/json is lenient
// where an attacker (or a careless client) can exploit it: a duplicated key silently wins over
// the first (so two parsers in a chain may disagree on what was sent), field names match in any
// case ("TO" fills "to"), and invalid UTF-8 becomes U+FFFD. Decode refuses all of these, unknown
// fields, lone surrogate escapes and NUL characters, each with a stable error code.
//
// Decoding is the v1 semantics of encoding/json (github.com/go-json-experiment/json, the upstream
// of encoding/json/v2, with its v1 options) with the strict checks switched on.
package strictjson

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Stable codes of the errors Decode returns.
const (
	CodeInvalidJSON    = "invalid_json"    // not JSON, empty, truncated, or more than one value
	CodeDuplicateField = "duplicate_field" // an object names a member twice
	CodeUnknownField   = "unknown_field"   // a member the request does not have (names are case-sensitive)
	CodeInvalidUTF8    = "invalid_utf8"    // bytes that are not UTF-8, or an unpaired surrogate escape
	CodeNULCharacter   = "nul_character"   // a string holds U+0000
	CodeInvalidField   = "invalid_field"   // a member of the wrong JSON type
)

// Error is a refused body: a stable Code and a Detail for the client.
type Error struct {
	Code   string
	Detail string
}

// Error implements error.
func (e *Error) Error() string { return "strictjson: " + e.Code + ": " + e.Detail }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

var options = json.JoinOptions(
	jsonv1.DefaultOptionsV1(),
	json.MatchCaseInsensitiveNames(false),
	jsonv1.MatchCaseSensitiveDelimiter(true),
	json.RejectUnknownMembers(true),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
	jsonv1.ReportErrorsWithLegacySemantics(false),
)

// Decode decodes data, which must be exactly one JSON value, into v. Every refusal is an *Error.
func Decode(data []byte, v any) error {
	if err := checkText(data); err != nil {
		return err
	}
	err := json.Unmarshal(data, v, options)
	if err == nil {
		return nil
	}
	var sem *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName):
		return errorf(CodeDuplicateField, "%s appears twice in one object", memberAt(err))
	case errors.Is(err, json.ErrUnknownName):
		return errorf(CodeUnknownField, "%s is not a field of this request (field names are case-sensitive)", memberAt(err))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errorf(CodeInvalidJSON, "request body is empty or truncated")
	case errors.As(err, &syn):
		return errorf(CodeInvalidJSON, "request body is not valid JSON (at byte %d)", syn.ByteOffset)
	case errors.As(err, &sem):
		field := strings.TrimPrefix(string(sem.JSONPointer), "/")
		if field == "" {
			field = "(the body)"
		}
		if sem.GoType != nil {
			return errorf(CodeInvalidField, "field %q must be a %s", field, kindName(sem.GoType))
		}
		return errorf(CodeInvalidField, "field %q has an invalid value", field)
	}
	return errorf(CodeInvalidJSON, "request body is not valid JSON")
}

// memberAt names the object member an error points at, quoted.
func memberAt(err error) string {
	var p jsontext.Pointer
	var sem *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &sem):
		p = sem.JSONPointer
	case errors.As(err, &syn):
		p = syn.JSONPointer
	}
	if p == "" {
		return "a field"
	}
	return fmt.Sprintf("%q", p.LastToken())
}

// kindName is a JSON-ish name of a Go type for a client.
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		if t.String() == "time.Time" {
			return "RFC 3339 time string"
		}
		return "object"
	}
	return t.String()
}

// checkText refuses bytes that are not UTF-8, and escapes of U+0000 or of an unpaired UTF-16
// surrogate (which a decoder would turn into U+FFFD). A backslash occurs in JSON only inside a
// string, so escapes are found without tracking strings; a stray one is a syntax error the
// decoder reports.
func checkText(data []byte) error {
	if !utf8.Valid(data) {
		return errorf(CodeInvalidUTF8, "request body is not valid UTF-8")
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if i+1 >= len(data) {
			return nil // truncated: the decoder says so
		}
		if data[i+1] != 'u' {
			i++ // \" \\ \/ \b \f \n \r \t (or invalid, which the decoder reports)
			continue
		}
		r, ok := hex4(data[i+2:])
		if !ok {
			return nil // the decoder reports the malformed escape
		}
		i += 5
		switch {
		case r == 0:
			return errorf(CodeNULCharacter, "request body holds a NUL character (\\u0000)")
		case r >= 0xDC00 && r <= 0xDFFF:
			return errorf(CodeInvalidUTF8, "request body holds an unpaired surrogate escape (\\u%04x)", r)
		case r >= 0xD800 && r <= 0xDBFF:
			if len(data) < i+7 || data[i+1] != '\\' || data[i+2] != 'u' {
				return errorf(CodeInvalidUTF8, "request body holds an unpaired surrogate escape (\\u%04x)", r)
			}
			lo, ok := hex4(data[i+3:])
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return errorf(CodeInvalidUTF8, "request body holds an unpaired surrogate escape (\\u%04x)", r)
			}
			i += 6
		}
	}
	return nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}
