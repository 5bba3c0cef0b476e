package switchboard

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// AppEventType names a normalized event that applications hear about: through their webhook
// endpoints and, when configured, on a NATS JetStream subject. Types are "noun.verb", lower case.
type AppEventType string

// Event types for applications. verification.* and call.* follow the same shape.
const (
	// AppMessageStatusChanged: an outbound message's status moved (every move, oldest first).
	AppMessageStatusChanged AppEventType = "message.status_changed"
	// AppMessageReceived: a person sent a message to one of our numbers.
	AppMessageReceived AppEventType = "message.received"
	// AppConsentChanged: a recipient's consent was recorded (opt-out, opt-in, cleared).
	AppConsentChanged AppEventType = "consent.changed"
	// AppEndpointDisabled: an endpoint failed for too long and no longer receives deliveries.
	AppEndpointDisabled AppEventType = "endpoint.disabled"
)

// AppEventVersion is the version of the payloads this build writes. A payload changes
// incompatibly only with a new version.
const AppEventVersion = 1

// AppEvent is one entry of the event log: the transactional outbox of events to applications. A
// store writes it in the same transaction as the change it reports, so an event exists if and
// only if its change committed.
type AppEvent struct {
	// ID is stable (evt_…): the same event keeps its ID on every delivery and retry, so that
	// applications deduplicate on it (it is the webhook-id header).
	ID   string       `json:"id"`
	Type AppEventType `json:"type"`
	// Tenant is the tenant whose change it reports; it goes only to that tenant's endpoints.
	// Empty when written means DefaultTenant.
	Tenant  string `json:"tenant"`
	Version int    `json:"version"`
	// At is when the change happened.
	At time.Time `json:"timestamp"`
	// Data is the payload, one of the *Data types of this file, as JSON.
	Data json.RawMessage `json:"data"`
	// Seq is the event's position in the log, set by the store.
	Seq int64 `json:"-"`
	// Targets, when set, are the IDs of the only endpoints the event goes to, whatever the
	// endpoints' event types (an inbound routing rule's endpoints); nil lets the types decide.
	Targets []string `json:"-"`
}

// DeliversTo reports whether an event of type typ with targets goes to endpoint ep.
func DeliversTo(typ AppEventType, targets []string, ep *Endpoint) bool {
	if targets != nil {
		return slices.Contains(targets, ep.ID)
	}
	return EventTypeMatches(ep.EventTypes, typ)
}

// AppEventPayloads maps every event type Switchboard sends to a zero value of its payload type.
// It is the one list of event types: NewAppEvent refuses a type it does not name or a payload of
// another type, and /openapi.json describes each entry under its webhooks key, generated from
// these Go types (internal/api TestOpenAPIEvents).
var AppEventPayloads = map[AppEventType]any{
	AppMessageStatusChanged:       MessageStatusChangedData{},
	AppMessageReceived:            MessageReceivedData{},
	AppConsentChanged:             ConsentChangedData{},
	AppEndpointDisabled:           EndpointDisabledData{},
	AppCallStatusChanged:          CallStatusChangedData{},
	AppCallCompleted:              CallCompletedData{},
	AppAlertDeliveryRateLow:       DeliveryRateAlertData{},
	AppAlertDeliveryRateRecovered: DeliveryRateAlertData{},
	AppProviderCircuitOpened:      CircuitChangedData{},
	AppProviderCircuitClosed:      CircuitChangedData{},
	AppConversationWindowClosing:  WindowClosingData{},
	AppMediaStored:                MediaData{},
	AppMediaRejected:              MediaData{},
	AppVerificationStarted:        VerificationEventData{},
	AppVerificationApproved:       VerificationEventData{},
	AppVerificationFailed:         VerificationEventData{},
	AppVerificationFraudAlert:     FraudAlertData{},
}

// NewAppEvent returns an event of type typ at at with data as its payload. typ must be listed in
// AppEventPayloads with data's type (or a pointer to it), so that every event sent is one the
// API document describes.
func NewAppEvent(typ AppEventType, at time.Time, data any) (*AppEvent, error) {
	want, ok := AppEventPayloads[typ]
	if !ok {
		return nil, fmt.Errorf("event %s: not a registered event type (add it to AppEventPayloads)", typ)
	}
	got := reflect.TypeOf(data)
	if got != nil && got.Kind() == reflect.Pointer {
		got = got.Elem()
	}
	if got != reflect.TypeOf(want) {
		return nil, fmt.Errorf("event %s: payload is %T, want %T", typ, data, want)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("event %s: encoding payload: %w", typ, err)
	}
	return &AppEvent{ID: NewID("evt"), Type: typ, Version: AppEventVersion, At: at.UTC(), Data: raw}, nil
}

// MessageStatusChangedData is the payload of message.status_changed.
type MessageStatusChangedData struct {
	MessageID    string            `json:"message_id"`
	OldStatus    Status            `json:"old_status"`
	Status       Status            `json:"status"`
	ProviderSID  string            `json:"provider_sid,omitempty"`
	ErrorCode    int               `json:"error_code,omitempty"`
	ErrorMessage string            `json:"error_message,omitempty"`
	To           string            `json:"to"`
	From         string            `json:"from"`
	Channel      Channel           `json:"channel"`
	Attempts     int               `json:"attempts"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// StatusChangedEvent returns the message.status_changed event of m having moved from old to its
// current status at at.
func StatusChangedEvent(m *Message, old Status, at time.Time) (*AppEvent, error) {
	return NewAppEvent(AppMessageStatusChanged, at, MessageStatusChangedData{
		MessageID: m.ID, OldStatus: old, Status: m.Status, ProviderSID: m.ProviderSID, ErrorCode: m.ErrorCode,
		ErrorMessage: m.ErrorMessage, To: m.To, From: m.From, Channel: m.Channel, Attempts: m.Attempts,
		Metadata: m.Metadata,
	})
}

// MediaItem describes one attachment of an inbound message.
type MediaItem struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type,omitempty"`
}

// MessageReceivedData is the payload of message.received.
type MessageReceivedData struct {
	InboundID   string      `json:"inbound_id"`
	ProviderSID string      `json:"provider_sid"`
	Channel     Channel     `json:"channel"`
	From        string      `json:"from"`
	To          string      `json:"to"`
	Body        string      `json:"body"`
	NumMedia    int         `json:"num_media"`
	Media       []MediaItem `json:"media"`
	ReceivedAt  time.Time   `json:"received_at"`
	// Route names the inbound routing rule the message matched, if any.
	Route string `json:"route,omitempty"`
}

// ReceivedEvent returns the message.received event of an inbound message.
func ReceivedEvent(in *InboundMessage) (*AppEvent, error) {
	d := MessageReceivedData{
		InboundID: in.ID, ProviderSID: in.ProviderSID, Channel: in.Channel, From: in.From, To: in.To,
		Body: in.Body, NumMedia: in.NumMedia, Media: []MediaItem{}, ReceivedAt: in.ReceivedAt.UTC(), Route: in.Route,
	}
	for i, u := range in.MediaURLs {
		item := MediaItem{URL: u}
		if i < len(in.MediaContentTypes) {
			item.ContentType = in.MediaContentTypes[i]
		}
		d.Media = append(d.Media, item)
	}
	ev, err := NewAppEvent(AppMessageReceived, in.ReceivedAt, d)
	if err != nil {
		return nil, err
	}
	ev.Tenant = TenantOr(in.Tenant)
	if len(in.RouteEndpoints) > 0 {
		ev.Targets = slices.Clone(in.RouteEndpoints)
	}
	return ev, nil
}

// ConsentChangedData is the payload of consent.changed.
type ConsentChangedData struct {
	RecordID int64         `json:"record_id"`
	Phone    string        `json:"phone"`
	Scope    string        `json:"scope"`
	State    ConsentState  `json:"state"`
	Source   ConsentSource `json:"source"`
	Evidence string        `json:"evidence,omitempty"`
	Actor    string        `json:"actor"`
}

// ConsentEvent returns the consent.changed event of a recorded consent change (its ID set).
func ConsentEvent(c *ConsentRecord) (*AppEvent, error) {
	return NewAppEvent(AppConsentChanged, c.At, ConsentChangedData{
		RecordID: c.ID, Phone: c.Phone, Scope: c.Scope, State: c.State, Source: c.Source, Evidence: c.Evidence, Actor: c.Actor,
	})
}

// EndpointDisabledData is the payload of endpoint.disabled.
type EndpointDisabledData struct {
	EndpointID   string    `json:"endpoint_id"`
	URL          string    `json:"url"`
	FailingSince time.Time `json:"failing_since"`
	LastError    string    `json:"last_error,omitempty"`
}

// ValidEventPattern reports whether p is a pattern of event types an endpoint may subscribe to:
// "*" (every type), a prefix ending in ".*" such as "message.*", or a type such as
// "message.received". Names are lower-case letters, digits and underscores.
func ValidEventPattern(p string) bool {
	if p == "*" {
		return true
	}
	p = strings.TrimSuffix(p, ".*")
	if p == "" || len(p) > 100 {
		return false
	}
	for _, part := range strings.Split(p, ".") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
				return false
			}
		}
	}
	return true
}

// EventTypeMatches reports whether typ matches one of patterns (see ValidEventPattern).
func EventTypeMatches(patterns []string, typ AppEventType) bool {
	for _, p := range patterns {
		switch {
		case p == "*", p == string(typ):
			return true
		case strings.HasSuffix(p, ".*") && strings.HasPrefix(string(typ), p[:len(p)-1]):
			return true
		}
	}
	return false
}

// Endpoint sources.
const (
	EndpointFromAPI    = "api"    // registered through POST /v1/endpoints
	EndpointFromConfig = "config" // listed in the configuration file; the file is its source of truth
)

// Endpoint is where an application receives events: an HTTPS URL that gets signed POSTs
// (Standard Webhooks), or the NATS JetStream bus.
type Endpoint struct {
	ID string `json:"id"`
	// Tenant is the tenant it belongs to; empty on create means DefaultTenant.
	Tenant      string `json:"tenant"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// EventTypes are the patterns of the event types it receives (see ValidEventPattern).
	EventTypes []string `json:"event_types"`
	// Secrets sign its deliveries; during a rotation the previous secret stays active until it
	// expires and every delivery carries a signature per active secret.
	Secrets []EndpointSecret `json:"-"`
	Source  string           `json:"source"`
	// FailingSince is when its deliveries began to fail without a success since.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	// DisabledAt is when it was disabled for failing too long; replaying its dead letters
	// enables it again.
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// EndpointSecret is one signing secret of an endpoint, "whsec_" and base64 (Standard Webhooks).
type EndpointSecret struct {
	Secret string `json:"secret"`
	// ExpiresAt, when set, ends the secret's use (the previous secret after a rotation).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// ActiveSecrets returns the secrets that sign deliveries at now, newest first.
func (e *Endpoint) ActiveSecrets(now time.Time) []string {
	var out []string
	for i := len(e.Secrets) - 1; i >= 0; i-- {
		s := e.Secrets[i]
		if s.ExpiresAt == nil || now.Before(*s.ExpiresAt) {
			out = append(out, s.Secret)
		}
	}
	return out
}

// DeliveryStatus is where a delivery of an event to an endpoint stands.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"   // due at NextAttemptAt (first attempt or a retry)
	DeliveryDelivered DeliveryStatus = "delivered" // the endpoint answered 2xx
	DeliveryDead      DeliveryStatus = "dead"      // a dead letter: the retry schedule ran out, or the endpoint is disabled
)

// Delivery is one event on its way to one endpoint. Deliveries are claimed with leases, like
// messages from the outbox.
type Delivery struct {
	ID             string         `json:"id"`
	EventID        string         `json:"event_id"`
	EndpointID     string         `json:"endpoint_id"`
	Status         DeliveryStatus `json:"status"`
	Attempts       int            `json:"attempts"`
	NextAttemptAt  time.Time      `json:"next_attempt_at"`
	LastAttemptAt  *time.Time     `json:"last_attempt_at,omitempty"`
	LastStatusCode int            `json:"last_status_code,omitempty"`
	LastError      string         `json:"last_error,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	LeaseOwner     string         `json:"-"`
	LeaseUntil     *time.Time     `json:"-"`
	// Event is the event delivered (set by ClaimDeliveries and ListDeliveries).
	Event *AppEvent `json:"event,omitempty"`
	// Endpoint is where it goes (set by ClaimDeliveries).
	Endpoint *Endpoint `json:"-"`
}

// AppEventFilter selects events of the log, in log order.
type AppEventFilter struct {
	// Tenant selects one tenant's; empty selects every tenant's (platform and internal callers).
	Tenant   string
	AfterSeq int64
	Types    []AppEventType
	Limit    int
}

// DeliveryFilter selects deliveries of an endpoint, newest first.
type DeliveryFilter struct {
	// Tenant, when set, lists nothing unless the endpoint belongs to it.
	Tenant     string
	EndpointID string
	Status     DeliveryStatus // "" = any
	Cursor     string         // the ID of the last delivery of the previous page
	Limit      int
}

// DeliveryClaim asks for due deliveries.
type DeliveryClaim struct {
	Owner      string
	Now        time.Time
	LeaseUntil time.Time
	Limit      int
}

// DeliveryResult is the outcome of one delivery attempt.
type DeliveryResult struct {
	ID    string
	Owner string // fences the write: it applies only while Owner holds the lease
	At    time.Time
	// Delivered is true when the endpoint answered 2xx.
	Delivered  bool
	StatusCode int
	Error      string
	// NextAttemptAt is when a failed delivery is tried again; nil makes it a dead letter (the
	// schedule ran out).
	NextAttemptAt *time.Time
	// DisableAfter, when positive, disables the endpoint on a failure once it has been failing
	// for at least this long: its pending deliveries become dead letters and an endpoint.disabled
	// event is written.
	DisableAfter time.Duration
}

// RotateSecrets returns secrets with secret added as the newest. The secrets that are active at
// now stay active until oldUntil at the latest; expired ones are dropped.
func RotateSecrets(secrets []EndpointSecret, secret string, oldUntil, now time.Time) []EndpointSecret {
	out := make([]EndpointSecret, 0, len(secrets)+1)
	until := oldUntil.UTC()
	for _, s := range secrets {
		if s.ExpiresAt != nil && !now.Before(*s.ExpiresAt) {
			continue
		}
		if s.ExpiresAt == nil || s.ExpiresAt.After(until) {
			s.ExpiresAt = &until
		}
		out = append(out, s)
	}
	return append(out, EndpointSecret{Secret: secret})
}

// DeliveryPlan is what the outcome of a delivery attempt changes beyond the delivery itself.
type DeliveryPlan struct {
	// FailingChanged says that the endpoint's FailingSince becomes FailingSince.
	FailingChanged bool
	FailingSince   *time.Time
	// Disable, when not nil, disables the endpoint: its pending deliveries become dead letters
	// and this endpoint.disabled event is written.
	Disable *AppEvent
}

// ApplyDeliveryResult applies the outcome r of an attempt to d (attempts, status, next attempt,
// last outcome; its lease released) and returns what it changes for the endpoint e: a success
// ends its failing streak, a first failure starts one, and a failure once the streak has lasted
// r.DisableAfter disables it. Both stores apply the rule through this function.
func ApplyDeliveryResult(d *Delivery, e *Endpoint, r DeliveryResult) (DeliveryPlan, error) {
	at := r.At.UTC()
	d.Attempts++
	d.LastAttemptAt = &at
	d.LastStatusCode, d.LastError = r.StatusCode, r.Error
	d.LeaseOwner, d.LeaseUntil = "", nil
	d.UpdatedAt = at
	var p DeliveryPlan
	if r.Delivered {
		d.Status = DeliveryDelivered
		p.FailingChanged = e.FailingSince != nil
		return p, nil
	}
	if r.NextAttemptAt != nil {
		d.Status, d.NextAttemptAt = DeliveryPending, r.NextAttemptAt.UTC()
	} else {
		d.Status = DeliveryDead
	}
	if e.FailingSince == nil {
		p.FailingChanged, p.FailingSince = true, &at
		return p, nil
	}
	p.FailingSince = e.FailingSince
	if r.DisableAfter > 0 && e.DisabledAt == nil && !at.Before(e.FailingSince.Add(r.DisableAfter)) {
		ev, err := NewAppEvent(AppEndpointDisabled, at, EndpointDisabledData{
			EndpointID: e.ID, URL: e.URL, FailingSince: e.FailingSince.UTC(), LastError: r.Error,
		})
		if err != nil {
			return p, err
		}
		p.Disable = ev
	}
	return p, nil
}

// SecretPrefix starts every endpoint secret: "whsec_" and the base64 of 24 to 64 random bytes,
// as the Standard Webhooks specification has it.
const SecretPrefix = "whsec_"

// DecodeSecret returns the HMAC key of an endpoint secret: the bytes its base64 encodes.
func DecodeSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, Errorf(EINVALID, "invalid_secret", "a secret must start with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil {
		return nil, Errorf(EINVALID, "invalid_secret", "a secret must be %q followed by base64", SecretPrefix)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, Errorf(EINVALID, "invalid_secret", "a secret must encode 24 to 64 bytes, not %d", len(key))
	}
	return key, nil
}
