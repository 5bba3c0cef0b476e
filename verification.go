package switchboard

import (
	"context"
	"errors"
	"time"
)

// VerificationStatus is where a one-time-code verification stands. The words are Twilio
// Verify's, so that applications moving between the built-in backend and Twilio Verify see the
// same statuses.
type VerificationStatus string

// Verification statuses.
const (
	VerificationPending            VerificationStatus = "pending"              // a code was sent; waiting for a check
	VerificationApproved           VerificationStatus = "approved"             // a check matched
	VerificationCanceled           VerificationStatus = "canceled"             // canceled by the application
	VerificationMaxAttemptsReached VerificationStatus = "max_attempts_reached" // too many wrong checks
	VerificationExpired            VerificationStatus = "expired"              // the code's lifetime ended
	VerificationFailed             VerificationStatus = "failed"               // the code could not be sent
)

// VerificationStatuses lists every verification status.
var VerificationStatuses = []VerificationStatus{
	VerificationPending, VerificationApproved, VerificationCanceled, VerificationMaxAttemptsReached,
	VerificationExpired, VerificationFailed,
}

// Valid reports whether s is a known status.
func (s VerificationStatus) Valid() bool {
	for _, v := range VerificationStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether the verification is over (every status but pending).
func (s VerificationStatus) Terminal() bool { return s != VerificationPending && s.Valid() }

// VerifyChannel is how a code reaches a person.
type VerifyChannel string

// Verification channels.
const (
	VerifySMS      VerifyChannel = "sms"
	VerifyWhatsApp VerifyChannel = "whatsapp"
	VerifyCall     VerifyChannel = "call"
)

// Valid reports whether c is a known channel.
func (c VerifyChannel) Valid() bool { return c == VerifySMS || c == VerifyWhatsApp || c == VerifyCall }

// Verification is one one-time-code verification of a phone number.
//
// The code itself is never stored in clear: CodeHash is an HMAC-SHA-256 (keyed with a secret
// from the configuration, salted per verification) that checks compare in constant time, and
// CodeSealed is the code encrypted with a key derived from the same secret, kept only so that a
// resend within the lifetime sends the same code (as Twilio Verify does). Neither is ever part of
// the JSON form.
type Verification struct {
	ID string `json:"id"`
	// Tenant is the tenant it belongs to; empty on create means DefaultTenant.
	Tenant  string             `json:"tenant"`
	Status  VerificationStatus `json:"status"`
	To      string             `json:"to"`
	Channel VerifyChannel      `json:"channel"`
	Locale  string             `json:"locale,omitempty"`
	// Country is the ISO 3166-1 alpha-2 region of To ("" when unknown).
	Country  string `json:"country,omitempty"`
	UserRef  string `json:"user_ref,omitempty"`
	ClientIP string `json:"client_ip,omitempty"`
	// Metadata is the application's own references (job_id=1042), set on create and never
	// changed; ListVerifications finds verifications by one pair through an index.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Backend is "builtin" or "twilio" (Twilio Verify v2).
	Backend string `json:"backend"`
	// ProviderSID is Twilio Verify's verification SID (VE…) with the twilio backend.
	ProviderSID string `json:"provider_sid,omitempty"`
	CodeLength  int    `json:"code_length"`
	// Sends and Checks count the codes sent and the checks made; MaxSends and MaxChecks bound them.
	Sends     int `json:"sends"`
	Checks    int `json:"checks"`
	MaxSends  int `json:"max_sends"`
	MaxChecks int `json:"max_checks"`
	// SendAttempts lists every send, oldest first: the channel and the message or call it made.
	SendAttempts []VerificationSend `json:"send_attempts"`
	// FallbackAt is when the fallback worker next looks at the delivery of the last SMS; nil when
	// no fallback is pending.
	FallbackAt *time.Time `json:"fallback_at,omitempty"`
	ExpiresAt  time.Time  `json:"expires_at"`
	APIKeyID   string     `json:"api_key_id,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	// RedactedAt is when retention removed the code material of the finished verification.
	RedactedAt *time.Time `json:"redacted_at,omitempty"`

	CodeHash   string `json:"-"`
	CodeSalt   string `json:"-"`
	CodeSealed string `json:"-"`
	// Version counts the stored changes; UpdateVerification applies only over the version read.
	Version int `json:"-"`
}

// VerificationSend is one code sent on a channel.
type VerificationSend struct {
	Channel VerifyChannel `json:"channel"`
	// MessageID is the outbox message that carried the code (sms, whatsapp, built-in backend).
	MessageID string `json:"message_id,omitempty"`
	// CallID is the call that read the code (call channel).
	CallID string `json:"call_id,omitempty"`
	// Reason says why this send happened: "start", "resend" or "fallback: …".
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Refusal is a verification start that was refused: over a rate limit, to a blocked country or
// prefix, or suspected SMS pumping. Its ID is the support reference the caller is given.
type Refusal struct {
	ID string `json:"id"`
	// Tenant is the tenant whose request was refused; empty on record means DefaultTenant.
	Tenant string `json:"tenant"`
	// Reason is a stable word: rate_limited_phone, rate_limited_client_ip, rate_limited_user_ref,
	// rate_limited_country, country_not_allowed, prefix_blocked, pumping_suspected,
	// max_sends_reached.
	Reason   string `json:"reason"`
	Detail   string `json:"detail"`
	To       string `json:"to"`
	Country  string `json:"country,omitempty"`
	UserRef  string `json:"user_ref,omitempty"`
	ClientIP string `json:"client_ip,omitempty"`
	// VerificationID is the verification the refused request was about, if any.
	VerificationID string `json:"verification_id,omitempty"`
	// RetryAfterSeconds is how long the caller was told to wait (0: not a matter of waiting).
	RetryAfterSeconds int       `json:"retry_after_seconds"`
	At                time.Time `json:"at"`
}

// RefusalFilter selects refusals, newest first.
type RefusalFilter struct {
	// Tenant selects one tenant's; empty selects every tenant's (platform and internal callers).
	Tenant string
	To     string
	Reason string
	Cursor string // the ID of the last refusal of the previous page
	Limit  int
}

// RateHit is one counter a request counts against: Key (such as "phone:+14155550100") in the
// fixed window of length Window that holds now. Limit > 0 refuses the request when the window
// already counts Limit hits; Limit 0 only counts. Peek reads the counter without counting.
type RateHit struct {
	Key    string
	Window time.Duration
	Limit  int
	Peek   bool
}

// RateResult is the outcome of HitRates.
type RateResult struct {
	// Refused is the index of the first hit over its limit, or -1 when none was.
	Refused int
	// RetryAfter is how long until the refused hit's window ends.
	RetryAfter time.Duration
	// Counts are the windows' counts after the hits (before them when refused).
	Counts []int
}

// PrefixBlock blocks verifications to numbers starting with Prefix until Until (SMS pumping). A
// block is the installation's, not a tenant's: it protects the provider account and the bill
// that every tenant without credentials of its own shares, whichever tenant's starts tripped it.
type PrefixBlock struct {
	Prefix string    `json:"prefix"`
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
	At     time.Time `json:"at"`
}

// VerificationStore is the durable state of verifications, shared by every node: verifications,
// the rate-limit counters, blocked prefixes and the record of refusals.
type VerificationStore interface {
	// CreateVerification stores a new verification (its Version 1) with the events that report it.
	// A number has at most one pending verification per tenant: another pending one of v.Tenant
	// for v.To fails with ECONFLICT verification_pending (expired ones count until their status
	// says so), and so does a second pending one with the same ProviderSID (Twilio Verify has one
	// verification per number, whichever tenant asked).
	CreateVerification(ctx context.Context, v *Verification, events []*AppEvent) error
	// GetVerification returns a verification, or ENOTFOUND.
	GetVerification(ctx context.Context, id string) (*Verification, error)
	// PendingVerification returns tenant's pending verification of to if it expires after now (a
	// zero now: whenever it expires), or nil. An empty tenant looks at every tenant's and returns
	// the newest.
	PendingVerification(ctx context.Context, tenant, to string, now time.Time) (*Verification, error)
	// UpdateVerification stores v over the stored version v.Version (ECONFLICT
	// verification_conflict when another change came first) with the events that report the
	// change, and increments v.Version.
	UpdateVerification(ctx context.Context, v *Verification, events []*AppEvent) error
	// DueVerifications returns up to limit pending verifications whose FallbackAt or ExpiresAt
	// is at or before now, oldest first.
	DueVerifications(ctx context.Context, now time.Time, limit int) ([]*Verification, error)
	// HitRates counts one hit on every counter of hits in one transaction, unless one of them is
	// already at its limit: then nothing is counted and RateResult.Refused names it. Counters of
	// ended windows are deleted.
	HitRates(ctx context.Context, hits []RateHit, now time.Time) (RateResult, error)
	// RecordRefusal stores a refusal (its ID set) with the events that report it.
	RecordRefusal(ctx context.Context, r *Refusal, events []*AppEvent) error
	// ListRefusals lists refusals newest first; next is the cursor of the following page.
	ListRefusals(ctx context.Context, f RefusalFilter) (rs []*Refusal, next string, err error)
	// BlockPrefix records (or extends) a blocked prefix with the events that report it.
	BlockPrefix(ctx context.Context, b PrefixBlock, events []*AppEvent) error
	// PrefixBlocked returns the block of prefix in force at now, or nil.
	PrefixBlocked(ctx context.Context, prefix string, now time.Time) (*PrefixBlock, error)
	// ListVerifications returns verifications newest first, filtered by f, and the cursor of
	// the next page ("" on the last).
	ListVerifications(ctx context.Context, f VerificationFilter) (vs []*Verification, next string, err error)
}

// VerificationFilter selects verifications to list.
type VerificationFilter struct {
	// Tenant selects one tenant's; empty selects every tenant's (platform and internal callers).
	Tenant string
	To     string
	Status VerificationStatus
	// Metadata selects the verifications whose metadata has this key with exactly this value.
	// Stores answer it from an index of metadata pairs, not by scanning verifications; To and
	// Status are then checked on the verifications read.
	Metadata *MetadataMatch
	Cursor   string // the ID of the last verification of the previous page
	Limit    int    // default 100, at most 1000
}

// Verification events for applications. Their payloads never hold the code.
const (
	// AppVerificationStarted: a verification started (a first code was sent or handed over).
	AppVerificationStarted AppEventType = "verification.started"
	// AppVerificationApproved: a check matched.
	AppVerificationApproved AppEventType = "verification.approved"
	// AppVerificationFailed: a verification ended without approval (max_attempts_reached,
	// expired, failed, canceled); its status says which.
	AppVerificationFailed AppEventType = "verification.failed"
	// AppVerificationFraudAlert: starts to a prefix looked like SMS pumping and the prefix was
	// blocked.
	AppVerificationFraudAlert AppEventType = "verification.fraud_alert"
)

// VerificationEventData is the payload of the verification.* events.
type VerificationEventData struct {
	VerificationID string             `json:"verification_id"`
	Status         VerificationStatus `json:"status"`
	To             string             `json:"to"`
	Channel        VerifyChannel      `json:"channel"`
	Country        string             `json:"country,omitempty"`
	UserRef        string             `json:"user_ref,omitempty"`
	Backend        string             `json:"backend"`
	Sends          int                `json:"sends"`
	Checks         int                `json:"checks"`
	Metadata       map[string]string  `json:"metadata,omitempty"`
}

// VerificationEvent returns the event typ of v's current state at at.
func VerificationEvent(typ AppEventType, v *Verification, at time.Time) (*AppEvent, error) {
	return ForTenant(v.Tenant)(NewAppEvent(typ, at, VerificationEventData{
		VerificationID: v.ID, Status: v.Status, To: v.To, Channel: v.Channel, Country: v.Country,
		UserRef: v.UserRef, Backend: v.Backend, Sends: v.Sends, Checks: v.Checks, Metadata: v.Metadata,
	}))
}

// FraudAlertData is the payload of verification.fraud_alert.
type FraudAlertData struct {
	Prefix    string    `json:"prefix"`
	Reason    string    `json:"reason"`
	Until     time.Time `json:"until"`
	RefusalID string    `json:"refusal_id"`
}

// RefusedError is an application error of a refused request that carries what the caller needs
// to recover: how long to wait and a support reference to quote. The API writes RetryAfter as a
// Retry-After header and SupportRef into the problem document.
type RefusedError struct {
	Err        *Error
	RetryAfter time.Duration
	SupportRef string
}

// Error implements error.
func (e *RefusedError) Error() string { return e.Err.Error() }

// Unwrap returns the application error, so that ErrorKindOf and ErrorCodeOf see it.
func (e *RefusedError) Unwrap() error { return e.Err }

// RefusalOf returns the *RefusedError in err's chain, or nil.
func RefusalOf(err error) *RefusedError {
	var r *RefusedError
	if errors.As(err, &r) {
		return r
	}
	return nil
}

// VerifyProvider is a hosted verification service (Twilio Verify v2 in internal/twilio), which
// generates, sends and checks the code itself: the twilio backend of internal/verify. A failure
// is a *ProviderError whose Class says what went wrong (ClassInvalidParameter, ClassMaxAttempts,
// ClassMaxSends, ClassBusy, ClassNotFound); its Code is the provider's, kept as detail.
type VerifyProvider interface {
	// StartVerification creates (or, for a pending one to the same number, resends) a
	// verification and returns its SID and status.
	StartVerification(ctx context.Context, to, channel, locale string) (sid, status string, err error)
	// CheckVerification checks code against the verification sid and returns its status.
	CheckVerification(ctx context.Context, sid, code string) (status string, err error)
	// CancelVerification cancels the verification sid and returns its status.
	CancelVerification(ctx context.Context, sid string) (status string, err error)
}
