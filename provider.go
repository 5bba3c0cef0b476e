package switchboard

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Provider hands messages to a messaging provider (Twilio, or the built-in simulator speaking
// Twilio's API). It is the only way the rest of the system reaches a provider for messages;
// CallProvider (call.go) and VerifyProvider (verification.go) are the same for calls and hosted
// verifications. The contracts live here, in the domain, rather than in each consumer: one
// implementation (internal/twilio) satisfies all three, a second provider is written against
// them, and the node routes each channel to one of them by configuration (channel_providers).
type Provider interface {
	// Name identifies the provider in logs and timelines.
	Name() string
	// ErrorCodes maps the provider's error codes to Switchboard's error classes.
	ErrorCodes
	// Send hands one message to the provider. A failure is a *ProviderError whose Outcome tells
	// the dispatcher what to do.
	Send(ctx context.Context, req *SendRequest) (*ProviderMessage, error)
	// Fetch returns the provider's view of one message by its SID.
	Fetch(ctx context.Context, sid string) (*ProviderMessage, error)
	// Find lists the provider's messages from q.From to q.To created at or after q.Since, for
	// reconciling an attempt whose outcome is unknown.
	Find(ctx context.Context, q FindQuery) ([]*ProviderMessage, error)
}

// SendRequest is what the provider needs to send one message.
type SendRequest struct {
	MessageID      string
	To             string
	From           string
	Body           string
	MediaURLs      []string
	StatusCallback string
	// ValidityPeriod, when positive, is passed on so the provider also drops the message late.
	ValidityPeriod time.Duration
	// Channel is the message's channel; To and From are plain numbers whatever it is, and the
	// provider adds its own channel addressing (Twilio's "whatsapp:" prefix).
	Channel Channel
	// ContentSID and ContentVariables, when ContentSID is set, send a content template instead
	// of Body and MediaURLs (WhatsApp outside the customer-service window).
	ContentSID       string
	ContentVariables string
}

// ProviderMessage is the provider's view of a message.
type ProviderMessage struct {
	SID            string
	To             string
	From           string
	Body           string
	ProviderStatus string
	Status         Status
	ErrorCode      int
	ErrorMessage   string
	CreatedAt      time.Time
	// Price is what the provider charged for the message, nil while it has not said (Twilio
	// prices a message some time after it is sent).
	Price *Price
	Raw   json.RawMessage
}

// CodeFindIncomplete is the code of the error Find returns, with what it found, when the
// provider's list may not hold every matching message (it reached its size bound): "not found"
// cannot be concluded from such an answer.
const CodeFindIncomplete = "find_incomplete"

// FindQuery selects provider messages for reconciliation.
type FindQuery struct {
	To   string
	From string
	// Since bounds the provider's creation time, on the provider's clock. It must be a bound no
	// clock difference can cross: a message missed by the window is sent twice.
	Since time.Time
	// Channel addresses To and From on the provider (WhatsApp's prefix).
	Channel Channel
}

// Outcome is what the dispatcher does after a failed attempt.
type Outcome int

// Outcomes of a failed attempt.
const (
	// OutcomeRetry: the request was certainly not processed (HTTP 429/20429, connection refused);
	// try again after an exponential backoff with jitter.
	OutcomeRetry Outcome = iota
	// OutcomeRetrySlow: the sender's queue at the provider is full (21611, 30001); try much later.
	OutcomeRetrySlow
	// OutcomeAmbiguous: the request may have reached the provider (timeout, 5xx, connection reset
	// after sending). Never resend before reconciling.
	OutcomeAmbiguous
	// OutcomeFail: a permanent error (invalid number, unroutable...); the message fails at once.
	OutcomeFail
	// OutcomeOptedOut: the recipient opted out at the provider (21610); the message is blocked and
	// the opt-out is recorded.
	OutcomeOptedOut
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case OutcomeRetry:
		return "retry"
	case OutcomeRetrySlow:
		return "retry_slow"
	case OutcomeAmbiguous:
		return "ambiguous"
	case OutcomeFail:
		return "fail"
	case OutcomeOptedOut:
		return "opted_out"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// ErrorClass is Switchboard's own name for why a provider refused or failed a message, a call or
// a verification. A provider maps its codes into classes at its edge (ProviderError.Class,
// ErrorCodes); the rest of the system decides on classes and keeps the provider's code only as
// detail (the message's error_code, the timeline, the dashboard's explanation). The values are
// also the error_class label of the metrics: few, so that each stays one series.
type ErrorClass string

// Error classes.
const (
	ClassNone             ErrorClass = "none"              // no error (code 0)
	ClassOptedOut         ErrorClass = "opted_out"         // the recipient opted out at the provider or the carrier
	ClassInvalidRecipient ErrorClass = "invalid_recipient" // not a number, not a mobile, an unreachable country or a landline
	ClassUnreachable      ErrorClass = "unreachable"       // the handset is off or out of range, or the carrier's error is unknown
	ClassCarrierFiltered  ErrorClass = "carrier_filtered"  // the carrier filtered the message (spam)
	ClassThroughput       ErrorClass = "throughput"        // rate limits and full sender queues: later may work
	ClassWhatsAppWindow   ErrorClass = "whatsapp_window"   // free-form WhatsApp outside the 24-hour window, or no WhatsApp account
	ClassMediaTooLarge    ErrorClass = "media_too_large"   // the media is over the carrier's size limit
	ClassCarrierOther     ErrorClass = "carrier_other"     // another carrier error
	ClassInvalidParameter ErrorClass = "invalid_parameter" // the provider refused a parameter of the request
	ClassMaxAttempts      ErrorClass = "max_attempts"      // a verification was checked the most times allowed
	ClassMaxSends         ErrorClass = "max_sends"         // a verification's code was sent the most times allowed
	ClassBusy             ErrorClass = "busy"              // too many concurrent requests for the same resource
	ClassNotFound         ErrorClass = "not_found"         // the provider has no such resource (finished, expired, another account)
	ClassOther            ErrorClass = "other"             // anything else
)

// ErrorCodes maps between a provider's numeric error codes and Switchboard's error classes.
type ErrorCodes interface {
	// ErrorClass is the class of one of the provider's codes: ClassNone for 0, ClassOther for a
	// code it does not know.
	ErrorClass(code int) ErrorClass
	// ErrorCode is the provider's code for class, 0 if it has none: Switchboard records it as the
	// detail of a message it stops itself for that reason (an opt-out, the WhatsApp window, media
	// over the limit), so the dashboard shows it beside the provider's own refusals.
	ErrorCode(class ErrorClass) int
}

// ProviderError is a failed provider call, classified.
type ProviderError struct {
	Outcome    Outcome
	HTTPStatus int // 0 for network errors
	// Class is Switchboard's class of Code, set by the provider (ClassNone without a code: a
	// network failure or an HTTP status alone, told apart by Outcome). The
	// consumers decide on it, never on Code.
	Class   ErrorClass
	Code    int    // the provider's error code, 0 if none: detail
	Message string // the provider's message
	// Explanation says in plain words what the code means and what to do.
	Explanation string
	Raw         json.RawMessage
	Err         error // the underlying error for network failures
}

// Error implements error.
func (e *ProviderError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("provider: %s (%s): %v", e.Message, e.Outcome, e.Err)
	}
	return fmt.Sprintf("provider: http %d code %d: %s (%s)", e.HTTPStatus, e.Code, e.Message, e.Outcome)
}

// Unwrap returns the underlying error.
func (e *ProviderError) Unwrap() error { return e.Err }
