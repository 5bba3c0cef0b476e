package client

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is an error answer from the gateway, decoded from its RFC 9457 application/problem+json
// document. Code is the stable, machine-readable code to switch on (such as "message_not_found",
// "not_cancelable", "idempotency_key_reused"); Title and Detail are for people.
//
// An error answer that is not a problem document (from a proxy or load balancer in front of the
// gateway, say) still becomes an *Error: Status and Title come from the HTTP status line, Code is
// empty and Detail holds the start of a plain-text body.
type Error struct {
	// Status is the HTTP status code of the answer.
	Status int
	// Code is the gateway's stable error code; empty when the answer was not a problem document.
	Code string
	// Title is a short summary of the kind of problem, such as "Not Found".
	Title string
	// Detail explains this occurrence of the problem.
	Detail string
	// Type is the URI reference naming the problem type.
	Type string
	// RetryAfter is the wait the gateway asked for in a Retry-After header (on 429 and 503
	// answers), zero when it asked for none.
	RetryAfter time.Duration
	// Fields lists the request fields that were wrong, when the gateway said which.
	Fields []FieldError
	// SupportReference names the recorded refusal of a refused verification: quote it to support.
	SupportReference string
}

// FieldError says what is wrong with one field of a request.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Error implements the error interface, for example
// "switchboard: 409 Conflict (not_cancelable): message msg_x was already handed to the provider".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("switchboard: ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Title != "" {
		b.WriteString(" " + e.Title)
	}
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(" [")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field + ": " + f.Detail)
		if i == len(e.Fields)-1 {
			b.WriteString("]")
		}
	}
	return b.String()
}

// IsNotFound reports whether err is, or wraps, an *Error with status 404: no such message (or,
// with code "route_not_found", no such API route, which usually means a wrong base URL).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsCode reports whether err is, or wraps, an *Error with the given stable error code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// maxErrorBodyBytes bounds how much of an error answer's body is read.
const maxErrorBodyBytes = 64 << 10

// maxFallbackDetail bounds how much of a non-problem error body ends up in Detail.
const maxFallbackDetail = 200

// problem is the wire form of an application/problem+json document.
type problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail"`
	Code   string       `json:"code"`
	Errors []FieldError `json:"errors"`
	// SupportReference is set on refused verifications.
	SupportReference string `json:"support_reference"`
}

// parseError turns a non-2xx answer into an *Error. now is the time Retry-After dates count from.
func parseError(resp *http.Response, now time.Time) *Error {
	e := &Error{
		Status:     resp.StatusCode,
		Title:      http.StatusText(resp.StatusCode),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		var p problem
		if json.Unmarshal(body, &p) == nil {
			// The status line is authoritative: a proxy may rewrite it, never the document.
			e.Code, e.Detail, e.Type, e.Fields = p.Code, p.Detail, p.Type, p.Errors
			e.SupportReference = p.SupportReference
			if p.Title != "" {
				e.Title = p.Title
			}
			return e
		}
	}
	if mt == "" || strings.HasPrefix(mt, "text/plain") {
		e.Detail = fallbackDetail(body)
	}
	return e
}

// fallbackDetail returns the first line of a plain-text error body, shortened, or "" when the
// body does not look like readable text (an HTML error page has nothing useful at its start).
func fallbackDetail(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || !utf8.ValidString(s) || strings.HasPrefix(s, "<") {
		return ""
	}
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > maxFallbackDetail {
		cut := maxFallbackDetail
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// parseRetryAfter reads a Retry-After header value: a number of seconds or an HTTP date
// (RFC 9110 §10.2.3). A missing, malformed or past value means no wait.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
