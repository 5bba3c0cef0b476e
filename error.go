package switchboard

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an application error. Each kind maps to one HTTP status in exactly one
// place, HTTPStatus, which the API, the dashboard and the webhooks all use; everything else only
// picks a kind.
type ErrorKind string

// Error kinds.
const (
	EINVALID       ErrorKind = "invalid"       // the request is malformed or a field is wrong (400)
	EUNAUTHORIZED  ErrorKind = "unauthorized"  // no or unknown credentials (401)
	EFORBIDDEN     ErrorKind = "forbidden"     // credentials known, action not allowed (403)
	ENOTFOUND      ErrorKind = "not_found"     // no such resource (404)
	ECONFLICT      ErrorKind = "conflict"      // the resource's state does not allow it (409)
	ETOOLARGE      ErrorKind = "too_large"     // the request body is over the limit (413)
	EMEDIATYPE     ErrorKind = "media_type"    // the request body is of a type the route does not read (415)
	EUNPROCESSABLE ErrorKind = "unprocessable" // well-formed but refused, e.g. a reused idempotency key (422)
	ERATELIMITED   ErrorKind = "rate_limited"  // too many requests (429)
	EUNAVAILABLE   ErrorKind = "unavailable"   // temporarily unable, e.g. draining (503)
	EINTERNAL      ErrorKind = "internal"      // a bug or an infrastructure failure (500)
)

// HTTPStatus is the HTTP status an error of kind k is answered with: the one place this mapping
// lives (internal/api, internal/web, internal/webhook and internal/voice all call it). An unknown
// kind is a bug and answers 500, like EINTERNAL. The numbers are written out so that the domain
// package need not import net/http; TestHTTPStatusOfEveryKind checks them against its names.
func (k ErrorKind) HTTPStatus() int {
	switch k {
	case EINVALID:
		return 400
	case EUNAUTHORIZED:
		return 401
	case EFORBIDDEN:
		return 403
	case ENOTFOUND:
		return 404
	case ECONFLICT:
		return 409
	case ETOOLARGE:
		return 413
	case EMEDIATYPE:
		return 415
	case EUNPROCESSABLE:
		return 422
	case ERATELIMITED:
		return 429
	case EUNAVAILABLE:
		return 503
	}
	return 500
}

// HTTPStatusOf is the HTTP status of err: its kind's for an application error, 500 for any other.
func HTTPStatusOf(err error) int { return ErrorKindOf(err).HTTPStatus() }

// Error is Switchboard's application error: a kind, a stable machine-readable code (documented in
// the README; clients may switch on it) and a human message safe to show to the caller.
type Error struct {
	Kind    ErrorKind
	Code    string
	Message string
	// Err is the underlying failure, for logs (never shown to a caller); nil for most errors.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("switchboard error: kind=%s code=%s message=%s: %v", e.Kind, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("switchboard error: kind=%s code=%s message=%s", e.Kind, e.Code, e.Message)
}

// Unwrap returns the underlying failure.
func (e *Error) Unwrap() error { return e.Err }

// Stable codes of infrastructure failures: temporary, answered 503 with Retry-After.
const (
	// CodeStoreUnavailable: the database does not answer (down, restarting, unreachable).
	CodeStoreUnavailable = "store_unavailable"
	// CodeDiskFull: the database's disk is full; nothing was written.
	CodeDiskFull = "disk_full"
)

// Unavailable returns an EUNAVAILABLE error with code (CodeStoreUnavailable, CodeDiskFull)
// caused by err: a temporary failure of the infrastructure, not a bug.
func Unavailable(code string, err error) *Error {
	msg := "the database is not available right now; nothing was written, try again shortly"
	if code == CodeDiskFull {
		msg = "the database's disk is full; nothing was written, try again once space is freed"
	}
	return &Error{Kind: EUNAVAILABLE, Code: code, Message: msg, Err: err}
}

// Errorf returns an application error with a formatted message.
func Errorf(kind ErrorKind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorKindOf returns the kind of an application error, or EINTERNAL for any other error.
func ErrorKindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return EINTERNAL
}

// ErrorCodeOf returns the stable code of an application error, or "internal_error".
func ErrorCodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal_error"
}

// ErrorMessage returns the message of an application error, or "internal error" for any other
// error, whose details belong in the logs and never in a response.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsKind reports whether err is an application error of the given kind.
func IsKind(err error, kind ErrorKind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}
