package switchboard

import (
	"encoding/json"
	"time"
)

// Status is a message's status, Switchboard's own and provider-neutral.
//
// Statuses only move forward (see CanMoveTo): a late or duplicated provider callback can never make
// a delivered message look merely sent again.
type Status string

// Message statuses.
const (
	StatusQueued      Status = "queued"      // accepted and durable, waiting for its turn
	StatusScheduled   Status = "scheduled"   // accepted, deferred until send_at (or out of quiet hours)
	StatusSending     Status = "sending"     // handed to the provider, not yet accepted by a carrier
	StatusSent        Status = "sent"        // accepted by the carrier
	StatusDelivered   Status = "delivered"   // delivery receipt from the handset
	StatusRead        Status = "read"        // read receipt (WhatsApp)
	StatusUndelivered Status = "undelivered" // the carrier could not deliver it
	StatusFailed      Status = "failed"      // the provider refused or failed it
	StatusCanceled    Status = "canceled"    // canceled before it was handed to the provider
	StatusBlocked     Status = "blocked"     // stopped by policy before sending (opt-out, window rules)
	StatusExpired     Status = "expired"     // its validity ended before it could be sent
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{
	StatusQueued, StatusScheduled, StatusSending, StatusSent, StatusDelivered, StatusRead,
	StatusUndelivered, StatusFailed, StatusCanceled, StatusBlocked, StatusExpired,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether no further progress is expected. Of the terminal statuses only
// delivered may still change, to read.
func (s Status) Terminal() bool {
	switch s {
	case StatusDelivered, StatusRead, StatusUndelivered, StatusFailed, StatusCanceled, StatusBlocked, StatusExpired:
		return true
	}
	return false
}

// rank orders the non-terminal statuses; a status may only move to a higher rank.
func (s Status) rank() int {
	switch s {
	case StatusQueued, StatusScheduled:
		return 0
	case StatusSending:
		return 1
	case StatusSent:
		return 2
	}
	return 3 // terminal
}

// CanMoveTo reports whether a message in status s may move to status t. The rules:
// a status never moves backwards; any terminal status is reachable from any non-terminal one;
// a terminal status changes only from delivered to read; queued and scheduled may alternate,
// since a deferral (send_at, quiet hours) is not progress.
func (s Status) CanMoveTo(t Status) bool {
	if s == t || !t.Valid() {
		return false
	}
	if s.Terminal() {
		return s == StatusDelivered && t == StatusRead
	}
	return t.rank() >= s.rank()
}

// Channel is the medium a message travels on.
type Channel string

// Channels.
const (
	ChannelSMS      Channel = "sms"
	ChannelMMS      Channel = "mms"
	ChannelWhatsApp Channel = "whatsapp"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	return c == ChannelSMS || c == ChannelMMS || c == ChannelWhatsApp
}

// Category is why a message is sent; consent and quiet-hour rules depend on it.
type Category string

// Categories.
const (
	CategoryTransactional Category = "transactional"
	CategoryMarketing     Category = "marketing"
	CategoryOTP           Category = "otp"
)

// Valid reports whether c is a known category.
func (c Category) Valid() bool {
	return c == CategoryTransactional || c == CategoryMarketing || c == CategoryOTP
}

// Encoding is the character set a text body is sent in.
type Encoding string

// Encodings.
const (
	EncodingGSM7 Encoding = "GSM-7"
	EncodingUCS2 Encoding = "UCS-2"
)

// MaxScheduleAhead bounds send_at, of messages and calls: at most a year ahead. Reminders and
// renewals fit; a far date (year 9999) is almost always a typo, and is refused rather than stored
// as a time nothing can show.
const MaxScheduleAhead = 365 * 24 * time.Hour

// CheckSendAt refuses a send_at more than MaxScheduleAhead after now (EINVALID/send_at_too_far).
// A time in the past is fine: it means now.
func CheckSendAt(at *time.Time, now time.Time) error {
	if at != nil && at.After(now.Add(MaxScheduleAhead)) {
		return Errorf(EINVALID, "send_at_too_far", "send_at %s is more than a year ahead (the latest is %s)",
			at.UTC().Format(time.RFC3339), now.Add(MaxScheduleAhead).UTC().Format(time.RFC3339))
	}
	return nil
}

// Message is one outbound message. The messages table is Switchboard's outbox: a message is
// claimed from it with a lease, sent, and then follows provider callbacks to a terminal status.
type Message struct {
	ID string `json:"id"`
	// Tenant is the tenant it belongs to; empty on create means DefaultTenant.
	Tenant      string            `json:"tenant"`
	Status      Status            `json:"status"`
	Channel     Channel           `json:"channel"`
	Category    Category          `json:"category"`
	To          string            `json:"to"`
	From        string            `json:"from"`
	Pool        string            `json:"pool,omitempty"`
	Body        string            `json:"body"`
	MediaURLs   []string          `json:"media_urls,omitempty"`
	Segments    int               `json:"segments"`
	Encoding    Encoding          `json:"encoding"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	SendAt      *time.Time        `json:"send_at,omitempty"`
	ValidUntil  *time.Time        `json:"valid_until,omitempty"`
	ProviderSID string            `json:"provider_sid,omitempty"`
	// ErrorCode is the provider's error code (Twilio's numeric codes), 0 when there is none.
	ErrorCode    int    `json:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	Attempts     int    `json:"attempts"`
	// NextAttemptAt is when the message is next due for the dispatcher.
	NextAttemptAt time.Time `json:"next_attempt_at"`
	// AttemptInFlight is set durably before the provider is called and cleared when the outcome is
	// known. A message found with it set may already be at the provider and is reconciled before
	// any new attempt.
	AttemptInFlight  bool       `json:"attempt_in_flight,omitempty"`
	AttemptStartedAt *time.Time `json:"attempt_started_at,omitempty"`
	LeaseOwner       string     `json:"-"`
	LeaseUntil       *time.Time `json:"-"`
	APIKeyID         string     `json:"api_key_id,omitempty"`
	// Timezone is the recipient's IANA time zone given with the request, for quiet hours; empty
	// means the zones of the number.
	Timezone string `json:"timezone,omitempty"`
	// Template and TemplateVersion name the catalog template the body was rendered from.
	Template        string `json:"template,omitempty"`
	TemplateVersion int    `json:"template_version,omitempty"`
	// BodySHA256 (hex) and BodyLength (characters) describe the body and outlive its redaction.
	BodySHA256 string `json:"body_sha256,omitempty"`
	BodyLength int    `json:"body_length"`
	// RedactedAt is when retention removed the body (and the raw provider payloads).
	RedactedAt *time.Time `json:"redacted_at,omitempty"`
	// Price is what the provider charged for the message, as it reported it (Twilio shows
	// charges negative: "-0.00790"), and PriceUnit its currency: empty until Switchboard fetched
	// it after the message finished (status callbacks carry no price; see UsageStore).
	Price     string `json:"price,omitempty"`
	PriceUnit string `json:"price_unit,omitempty"`
	// WhatsApp holds a WhatsApp message's content template and fallback policy, and an SMS
	// leg's link to the WhatsApp message it stands in for (see WhatsAppOptions).
	WhatsApp  *WhatsAppOptions `json:"whatsapp,omitempty"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
	// Events is the message's timeline, oldest first, filled in when a single message is read.
	Events []*Event `json:"events,omitempty"`
}

// EventType says what kind of thing happened to a message.
type EventType string

// Event types on a message's timeline.
const (
	EventCreated       EventType = "created"        // accepted through the API
	EventStatusChanged EventType = "status_changed" // the status moved
	EventAttempt       EventType = "attempt"        // an attempt to hand the message to the provider began
	EventProviderError EventType = "provider_error" // the provider answered an attempt with an error
	EventRetry         EventType = "retry_scheduled"
	EventCallback      EventType = "callback"  // a provider status callback, with its raw payload
	EventReconcile     EventType = "reconcile" // the provider was asked whether an ambiguous attempt arrived
	EventNote          EventType = "note"
	// EventNeedsReview: reconciliation could not tell whether an attempt reached the provider;
	// the message is parked (not sent again) until a callback or a later reconciliation tells,
	// and an operator should look (see docs/production.md).
	EventNeedsReview EventType = "needs_review"
)

// Event is one entry of a message's append-only timeline: who or what changed it, when, with the
// raw provider payload, error code and a human explanation.
type Event struct {
	ID        int64           `json:"id"`
	MessageID string          `json:"message_id"`
	Type      EventType       `json:"type"`
	Status    Status          `json:"status,omitempty"` // the message's status after the event
	Actor     string          `json:"actor"`
	ErrorCode int             `json:"error_code,omitempty"`
	Detail    string          `json:"detail,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	At        time.Time       `json:"at"`
}

// MessageFilter selects messages for listing. Zero fields do not filter.
type MessageFilter struct {
	// Tenant selects one tenant's; empty selects every tenant's (platform and internal callers).
	Tenant        string
	Statuses      []Status
	To            string
	From          string
	CreatedAfter  *time.Time // inclusive
	CreatedBefore *time.Time // exclusive
	// Metadata selects the messages whose metadata has this key with exactly this value (both
	// compared byte for byte). Nil does not filter. Stores answer it from an index of metadata
	// pairs, not by scanning messages.
	Metadata *MetadataMatch
	// Cursor continues a listing: the ID of the last message of the previous page. Messages are
	// listed newest first; IDs are time-ordered.
	Cursor string
	Limit  int
}

// MetadataMatch is one metadata key and value a listing looks for: job_id=1042.
type MetadataMatch struct {
	Key   string
	Value string
}

// Idempotency identifies a create request that an application may retry.
type Idempotency struct {
	// Tenant is the tenant whose key it is: the store sets it to the tenant of what is created,
	// so that two tenants may use one key (and one APIKeyID, such as "system") independently.
	Tenant   string
	APIKeyID string
	Key      string
	// RequestHash is a hash of the normalized request; the same key with a different hash is refused.
	RequestHash string
}

// MessageUpdate is one atomic change to a message: an optional status move, field updates and the
// timeline events that explain it. A status that would move backwards is skipped, not an error.
type MessageUpdate struct {
	ID string
	// LeaseOwner fences the update: when set, it applies only while that owner holds the lease,
	// and fails with ECONFLICT/lease_lost otherwise.
	LeaseOwner string
	// RequireStatus, when not empty, is a precondition: the update fails with
	// ECONFLICT/status_conflict unless the message is in one of these statuses.
	RequireStatus []Status
	// RequireNoAttemptInFlight is a precondition: fails with ECONFLICT/attempt_in_flight otherwise.
	RequireNoAttemptInFlight bool

	Status           Status
	ProviderSID      *string
	ErrorCode        *int
	ErrorMessage     *string
	NextAttemptAt    *time.Time
	AttemptInFlight  *bool
	AttemptStartedAt *time.Time
	IncAttempts      bool
	// LeaseUntil extends the caller's lease (with LeaseOwner set), e.g. for the length of a
	// provider call, so that no other node claims the message while it is in flight.
	LeaseUntil   *time.Time
	ReleaseLease bool
	Events       []*Event
	At           time.Time
}

// ClaimParams asks for due messages of one sender.
type ClaimParams struct {
	From       string
	Owner      string
	Now        time.Time
	LeaseUntil time.Time
	Limit      int
}

// InboundMessage is a message a person sent to one of our numbers.
type InboundMessage struct {
	ID string `json:"id"`
	// Tenant is the tenant it belongs to, which the store attributes (see CreateInbound).
	Tenant      string   `json:"tenant"`
	ProviderSID string   `json:"provider_sid"`
	Channel     Channel  `json:"channel"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	Body        string   `json:"body"`
	NumMedia    int      `json:"num_media"`
	MediaURLs   []string `json:"media_urls,omitempty"`
	// MediaContentTypes are the MIME types of MediaURLs, in order, as the provider reported them.
	// They travel in the message.received event and are not stored with the inbound message.
	MediaContentTypes []string `json:"media_content_types,omitempty"`
	// Route and RouteEndpoints are the inbound routing rule the message matched and the
	// endpoints it sends the message.received event to. Like MediaContentTypes they travel in
	// the event and are not stored with the inbound message.
	Route          string          `json:"-"`
	RouteEndpoints []string        `json:"-"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	ReceivedAt     time.Time       `json:"received_at"`
}

// InboundFilter selects inbound messages, newest first.
type InboundFilter struct {
	// Tenant selects one tenant's; empty selects every tenant's (platform and internal callers).
	Tenant string
	From   string
	To     string
	Cursor string
	Limit  int
}

// Callback is a provider status callback, normalized.
type Callback struct {
	ProviderSID    string
	ProviderStatus string // the provider's own status word, e.g. Twilio's "sent"
	Status         Status // mapped to ours
	ErrorCode      int
	ErrorMessage   string // a human explanation of ErrorCode
	// MessageID is our message ID when the callback URL carried it; it lets a callback adopt a
	// message whose create response was lost.
	MessageID  string
	Payload    json.RawMessage // the raw form, minus the signature
	ReceivedAt time.Time
}

// DedupeKey identifies a callback for deduplication: the same SID may legitimately report
// several statuses, so the status is part of the key.
func (c *Callback) DedupeKey() string {
	return c.ProviderSID + "/" + c.ProviderStatus
}

// CallbackResult says what became of an ingested callback.
type CallbackResult struct {
	Duplicate bool   // seen before; nothing changed
	Pending   bool   // no message has this SID yet; kept and applied when one does
	Applied   bool   // the message's status moved
	MessageID string // the message it belongs to, when known
	Status    Status // the message's status afterwards, when known
	ErrorCode int    // the message's error code afterwards, when known
}
