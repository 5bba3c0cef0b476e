package switchboard

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// CallStatus is a voice call's status, provider-neutral (Twilio's own call statuses, which are
// already neutral words).
type CallStatus string

// Call statuses.
const (
	CallQueued     CallStatus = "queued"
	CallRinging    CallStatus = "ringing"
	CallInProgress CallStatus = "in-progress"
	CallCompleted  CallStatus = "completed"
	CallBusy       CallStatus = "busy"
	CallNoAnswer   CallStatus = "no-answer"
	CallFailed     CallStatus = "failed"
	CallCanceled   CallStatus = "canceled"
	// CallBlocked: Switchboard did not place the call (or its next attempt) because the callee
	// opted out; BlockedReason says why. Never a provider status.
	CallBlocked CallStatus = "blocked"
)

// ParseCallStatus returns the provider call status a word names (blocked is Switchboard's own,
// never a provider's, and is not parsed).
func ParseCallStatus(s string) (CallStatus, bool) {
	switch st := CallStatus(s); st {
	case CallQueued, CallRinging, CallInProgress, CallCompleted, CallBusy, CallNoAnswer, CallFailed, CallCanceled:
		return st, true
	}
	return "", false
}

// Terminal reports whether a call in status s is over.
func (s CallStatus) Terminal() bool { return s.rank() == 3 }

func (s CallStatus) rank() int {
	switch s {
	case CallQueued:
		return 0
	case CallRinging:
		return 1
	case CallInProgress:
		return 2
	}
	return 3
}

// CanMoveTo is the single rule of call statuses: never backwards, and a terminal status is final.
// Retries of a busy or unanswered call do not move its status back: the attempt's outcome goes on
// the timeline and the call stays where it was until its last attempt ends.
func (s CallStatus) CanMoveTo(next CallStatus) bool {
	if s.Terminal() {
		return false
	}
	return next.rank() > s.rank()
}

// CallEventType names an entry of a call's timeline.
type CallEventType string

// Call timeline entries.
const (
	CallEventCreated  CallEventType = "created"
	CallEventStatus   CallEventType = "status"   // the call's status moved
	CallEventAttempt  CallEventType = "attempt"  // the call was handed to the provider, or an attempt ended
	CallEventStep     CallEventType = "step"     // the flow entered a state
	CallEventInput    CallEventType = "input"    // the callee pressed digits, spoke, or said nothing
	CallEventFallback CallEventType = "fallback" // the fallback SMS was created or skipped
	CallEventIgnored  CallEventType = "ignored"  // a provider report that changed nothing, and why
	// CallEventSMS: a flow state's SMS was created or skipped. CallEventRecording: a Record state
	// ended, with its recording or without one.
	CallEventSMS       CallEventType = "sms"
	CallEventRecording CallEventType = "recording"
)

// CallSMS is a text a flow state sent to the callee (State.SMS): MessageID once created, or why
// it was not (Skipped: the person opted out, the template is missing...).
type CallSMS struct {
	State     string    `json:"state"`
	Template  string    `json:"template"`
	MessageID string    `json:"message_id,omitempty"`
	Skipped   string    `json:"skipped,omitempty"`
	At        time.Time `json:"at"`
}

// CallRecording is a recording a Record state made (a voicemail). URL is the provider's (Twilio's
// needs the account's credentials to fetch).
type CallRecording struct {
	State           string    `json:"state"`
	SID             string    `json:"sid,omitempty"`
	URL             string    `json:"url"`
	DurationSeconds int       `json:"duration_seconds"`
	At              time.Time `json:"at"`
}

// CallEvent is one entry of a call's append-only timeline. Seq numbers entries from 1; At never
// decreases along the timeline.
type CallEvent struct {
	Seq    int           `json:"seq"`
	At     time.Time     `json:"at"`
	Type   CallEventType `json:"type"`
	Status CallStatus    `json:"status,omitempty"`
	State  string        `json:"state,omitempty"`
	Digits string        `json:"digits,omitempty"`
	Speech string        `json:"speech,omitempty"`
	Detail string        `json:"detail,omitempty"`
}

// CallInput is what the callee answered in one state of the flow.
type CallInput struct {
	State  string `json:"state"`
	Digits string `json:"digits,omitempty"`
	Speech string `json:"speech,omitempty"`
	// Result is "matched", "no_match" or "timeout".
	Result string `json:"result"`
}

// Call is an outbound voice call driven by a flow (an IVR state machine). Its whole state lives
// in the store, so any node can answer the next request of a call in progress.
type Call struct {
	ID string `json:"id"`
	// Tenant is the tenant it belongs to; empty on create means DefaultTenant.
	Tenant      string            `json:"tenant"`
	Status      CallStatus        `json:"status"`
	To          string            `json:"to"`
	From        string            `json:"from"`
	Flow        string            `json:"flow"`
	FlowVersion int               `json:"flow_version"`
	Locale      string            `json:"locale,omitempty"`
	Variables   map[string]string `json:"-"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// MachineDetection asks the provider to tell people from answering machines.
	MachineDetection bool `json:"machine_detection"`
	// RingTimeout is how long the phone rings before the call is no-answer (seconds).
	RingTimeout int    `json:"ring_timeout"`
	AnsweredBy  string `json:"answered_by,omitempty"`
	ProviderSID string `json:"provider_sid,omitempty"`
	// Token is the opaque key of the call in webhook URLs: it carries no personal data.
	Token string `json:"-"`

	// The flow's progress.
	State string         `json:"state,omitempty"`
	Step  int            `json:"step"`
	Fails map[string]int `json:"-"`
	// DialIndex is which of the current Dial state's numbers is being tried.
	DialIndex int `json:"-"`
	// Path lists the states entered, in order.
	Path   []string    `json:"path,omitempty"`
	Inputs []CallInput `json:"inputs,omitempty"`
	// Outcome is the last state entered when the call ended, or "machine" when a machine
	// answered, "flow_not_run" when no step of the flow was served, "interrupted" when the call
	// ended while the flow waited for input at a Gather (see voice.OutcomeInterrupted).
	Outcome string `json:"outcome,omitempty"`
	// SMS are the texts the flow's states sent (or skipped); Recordings the voicemails recorded.
	SMS        []CallSMS       `json:"sms,omitempty"`
	Recordings []CallRecording `json:"recordings,omitempty"`
	// LastTwiML answers a repeated request of the last step identically.
	LastTwiML string `json:"-"`

	// Attempts and retries of busy and unanswered calls.
	Attempts    int `json:"attempts"`
	MaxAttempts int `json:"max_attempts"`
	// RetryDelay is the wait before another attempt (seconds).
	RetryDelay int `json:"retry_delay"`
	// NextAttemptAt is set while the call waits to be placed.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// SendAt is when the call was asked to be placed (none: at once); Timezone the callee's IANA
	// zone for quiet hours (empty: the zones of the number).
	SendAt   *time.Time `json:"send_at,omitempty"`
	Timezone string     `json:"timezone,omitempty"`
	// BlockedReason says why a blocked call was not placed.
	BlockedReason string `json:"blocked_reason,omitempty"`
	// Placing is set while an attempt is handed to the provider and its SID not yet known: from
	// just before the provider is asked until its answer names the call, and, after an ambiguous
	// answer (a 5xx, a timeout), until reconciliation finds the call at the provider or proves it
	// absent. PlacingSince is when that attempt started (this node's clock); PastSIDs are the SIDs
	// of the call's earlier attempts, which reconciliation must not take for this one; and
	// CancelPending records a cancel asked while the attempt's SID was unknown, carried out once
	// it is known (or the attempt proved absent).
	Placing       bool       `json:"-"`
	PlacingSince  *time.Time `json:"-"`
	PastSIDs      []string   `json:"-"`
	CancelPending bool       `json:"-"`

	// FallbackTemplate names the SMS template sent when the call is busy, unanswered or reaches
	// a machine (if the recipient's consent allows); FallbackMessageID is the message created.
	FallbackTemplate  string `json:"fallback_template,omitempty"`
	FallbackMessageID string `json:"fallback_message_id,omitempty"`

	APIKeyID  string      `json:"-"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	Timeline  []CallEvent `json:"timeline"`

	// RedactedAt is when retention removed the call's variables, spoken and keyed inputs and
	// last TwiML (see Redact); nil while they are kept.
	RedactedAt *time.Time `json:"redacted_at,omitempty"`

	// Version fences updates: UpdateCall applies only to the version it read.
	Version int `json:"-"`
}

// AddEvent appends an entry to the timeline, numbered, and never earlier than the one before.
func (c *Call) AddEvent(e CallEvent) {
	e.Seq = len(c.Timeline) + 1
	if n := len(c.Timeline); n > 0 && e.At.Before(c.Timeline[n-1].At) {
		e.At = c.Timeline[n-1].At
	}
	c.Timeline = append(c.Timeline, e)
}

// LastChange is when the call last changed: its UpdatedAt or its last timeline entry, whichever
// is later.
func (c *Call) LastChange() time.Time {
	at := c.UpdatedAt
	if n := len(c.Timeline); n > 0 && c.Timeline[n-1].At.After(at) {
		at = c.Timeline[n-1].At
	}
	return at
}

// HasSMS reports whether the call has already sent (or tried) template by SMS.
func (c *Call) HasSMS(template string) bool {
	for _, t := range c.SMS {
		if t.Template == template {
			return true
		}
	}
	return false
}

// SetStatus moves the call's status forward at at, with a timeline entry, and reports whether it
// moved. A move the rule refuses changes nothing.
func (c *Call) SetStatus(s CallStatus, at time.Time, detail string) bool {
	if !c.Status.CanMoveTo(s) {
		return false
	}
	c.Status = s
	c.UpdatedAt = at
	c.AddEvent(CallEvent{At: at, Type: CallEventStatus, Status: s, Detail: detail})
	return true
}

// CallStore keeps calls. Every method runs in one transaction.
type CallStore interface {
	// CreateCall stores a new call. With idem set, a second request with the same API key and
	// idempotency key returns the first call and replayed=true when the request hash matches,
	// and fails with EUNPROCESSABLE/idempotency_key_reused when it does not.
	CreateCall(ctx context.Context, c *Call, idem *Idempotency) (stored *Call, replayed bool, err error)
	// GetCall returns a call, or ENOTFOUND.
	GetCall(ctx context.Context, id string) (*Call, error)
	// GetCallByToken returns the call with this webhook token, or ENOTFOUND.
	GetCallByToken(ctx context.Context, token string) (*Call, error)
	// ListCalls lists the calls f selects, newest first, at most f.Limit (a limit of 0 or less
	// lists up to 50, and at most 1000 are listed), with IDs below f.Before when it is set. With
	// f.Metadata it lists from an index of metadata pairs, not a scan.
	ListCalls(ctx context.Context, f CallFilter) ([]*Call, error)
	// UpdateCall stores c when the stored version is still c.Version (else ECONFLICT/
	// call_changed, and nothing changes), with evs appended to the event log in the same
	// transaction; c.Version is then the new version.
	UpdateCall(ctx context.Context, c *Call, evs []*AppEvent) error
	// ClaimCalls leases up to limit calls due to be placed (NextAttemptAt <= now, no live lease)
	// to owner until until, oldest due first; each claim moves the call's version.
	ClaimCalls(ctx context.Context, owner string, now, until time.Time, limit int) ([]*Call, error)
	// ReleaseCall drops owner's lease on a call.
	ReleaseCall(ctx context.Context, id, owner string) error
	// StaleCalls lists up to limit calls handed to the provider and not over (queued, ringing
	// or in-progress, with a ProviderSID and no attempt waiting) whose LastChange is before
	// before, oldest first: the calls whose status callbacks may have been lost.
	StaleCalls(ctx context.Context, before time.Time, limit int) ([]*Call, error)
	// CallQueue counts the calls waiting to be placed at now: ready (due) and deferred (send_at,
	// quiet hours, a retry's delay, the sender's call slot), and when the oldest ready one
	// became due.
	CallQueue(ctx context.Context, now time.Time) (CallQueueStats, error)
}

// CallFilter selects calls, newest first.
type CallFilter struct {
	// Tenant selects one tenant's; empty selects every tenant's (platform and internal callers).
	Tenant string
	// Metadata selects the calls whose metadata has this key with exactly this value.
	Metadata *MetadataMatch
	// Before continues a listing: the ID of the last call of the previous page.
	Before string
	Limit  int
}

// CallQueueStats is the queue of calls waiting to be placed.
type CallQueueStats struct {
	Ready, Deferred int64
	// OldestDueAt is when the longest-waiting ready call became due; nil when none is ready.
	OldestDueAt *time.Time
}

// PlaceCallRequest is what a provider needs to place a call.
type PlaceCallRequest struct {
	CallID string
	To     string
	From   string
	// URL is fetched for the call's TwiML when it is answered; TwiML, when set, is used instead.
	URL   string
	TwiML string
	// StatusCallback receives the call's status moves.
	StatusCallback   string
	MachineDetection bool
	RingTimeout      int
}

// ProviderCall is the provider's view of a call.
type ProviderCall struct {
	SID            string
	ProviderStatus string
	Status         CallStatus
	// AnsweredBy is the provider's answering-machine verdict, when it has one.
	AnsweredBy string
	// To, From and CreatedAt (the provider's clock) are set by FindCalls.
	To, From  string
	CreatedAt time.Time
}

// CallQuery selects provider calls for reconciling an attempt whose outcome is unknown.
type CallQuery struct {
	To   string
	From string
	// Since bounds the provider's creation time, on the provider's clock: a call the window
	// misses is placed twice, so callers pass a bound no clock difference crosses.
	Since time.Time
}

// CallProvider places and controls calls. A failure is a *ProviderError.
type CallProvider interface {
	PlaceCall(ctx context.Context, req *PlaceCallRequest) (*ProviderCall, error)
	// EndCall cancels a call not yet answered or hangs up one in progress.
	EndCall(ctx context.Context, sid string) error
	// FetchCall returns the provider's current view of a call, for calls whose status callbacks
	// were lost; a failure is a *ProviderError, with HTTPStatus 404 when the provider does not
	// know the call.
	FetchCall(ctx context.Context, sid string) (*ProviderCall, error)
	// FindCalls lists the provider's calls from q.From to q.To created at or after q.Since, for
	// reconciling an attempt whose outcome is unknown. When the provider's list may not hold
	// every matching call, what was found comes with an error coded CodeFindIncomplete: "not
	// there" cannot be concluded from it.
	FindCalls(ctx context.Context, q CallQuery) ([]*ProviderCall, error)
}

// App events of calls.
const (
	// AppCallStatusChanged: a call's status moved.
	AppCallStatusChanged AppEventType = "call.status_changed"
	// AppCallCompleted: a call ended, with the path its flow took and the input received.
	AppCallCompleted AppEventType = "call.completed"
)

// CallStatusChangedData is the payload of call.status_changed.
type CallStatusChangedData struct {
	CallID      string            `json:"call_id"`
	OldStatus   CallStatus        `json:"old_status"`
	Status      CallStatus        `json:"status"`
	ProviderSID string            `json:"provider_sid,omitempty"`
	Flow        string            `json:"flow"`
	Attempts    int               `json:"attempts"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// CallCompletedData is the payload of call.completed.
type CallCompletedData struct {
	CallID            string      `json:"call_id"`
	Status            CallStatus  `json:"status"`
	Flow              string      `json:"flow"`
	FlowVersion       int         `json:"flow_version"`
	AnsweredBy        string      `json:"answered_by,omitempty"`
	Outcome           string      `json:"outcome,omitempty"`
	Path              []string    `json:"path"`
	Inputs            []CallInput `json:"inputs"`
	Attempts          int         `json:"attempts"`
	FallbackMessageID string      `json:"fallback_message_id,omitempty"`
	// SMS are the texts the flow's states sent; Recordings the voicemails recorded.
	SMS        []CallSMS       `json:"sms,omitempty"`
	Recordings []CallRecording `json:"recordings,omitempty"`
	// BlockedReason says why a blocked call was not placed.
	BlockedReason string            `json:"blocked_reason,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

// callAlias has Call's fields without its methods, so that callRecord can embed it.
type callAlias Call

// callRecord is how stores keep a call: every field, including those the API never shows.
// Its own fields shadow the embedded ones of the same name.
type callRecord struct {
	*callAlias
	Variables map[string]string `json:"variables,omitempty"`
	Token     string            `json:"token"`
	Fails     map[string]int    `json:"fails,omitempty"`
	DialIndex int               `json:"dial_index,omitempty"`
	LastTwiML string            `json:"last_twiml,omitempty"`
	Placing   bool              `json:"placing,omitempty"`
	APIKeyID  string            `json:"api_key_id,omitempty"`
	// PlacingSince, PastSIDs and CancelPending: see Call.Placing.
	PlacingSince  *time.Time `json:"placing_since,omitempty"`
	PastSIDs      []string   `json:"past_sids,omitempty"`
	CancelPending bool       `json:"cancel_pending,omitempty"`
}

// EncodeCall returns the stored form of a call (JSON, every field but Version).
func EncodeCall(c *Call) ([]byte, error) {
	return json.Marshal(callRecord{callAlias: (*callAlias)(c), Variables: c.Variables, Token: c.Token, Fails: c.Fails,
		DialIndex: c.DialIndex, LastTwiML: c.LastTwiML, Placing: c.Placing, APIKeyID: c.APIKeyID,
		PlacingSince: c.PlacingSince, PastSIDs: c.PastSIDs, CancelPending: c.CancelPending})
}

// DecodeCall reads a call's stored form.
func DecodeCall(b []byte, version int) (*Call, error) {
	c := &Call{}
	r := callRecord{callAlias: (*callAlias)(c)}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding call: %w", err)
	}
	c.Variables, c.Token, c.Fails, c.DialIndex, c.LastTwiML, c.Placing, c.APIKeyID =
		r.Variables, r.Token, r.Fails, r.DialIndex, r.LastTwiML, r.Placing, r.APIKeyID
	c.PlacingSince, c.PastSIDs, c.CancelPending = r.PlacingSince, r.PastSIDs, r.CancelPending
	c.Version = version
	c.Tenant = TenantOr(c.Tenant) // a call stored before tenants is the default tenant's
	return c, nil
}

// CallNotFound is the error of a lookup that found no call.
func CallNotFound(id string) error {
	return Errorf(ENOTFOUND, "call_not_found", "no call %s", id)
}

// CallChanged is the error of an update that lost a race with another one.
func CallChanged(id string) error {
	return Errorf(ECONFLICT, "call_changed", "call %s changed since it was read", id)
}

// Redact removes what a finished call holds of a person beyond its routing facts: the variables
// (sensitive ones included), the digits and speech of every input and timeline entry, and the
// last TwiML (which spoke the variables). The path, outcomes, statuses and metadata stay, as a
// message keeps its hash, length and segments. RedactedAt records when.
func (c *Call) Redact(at time.Time) {
	c.Variables, c.LastTwiML = nil, ""
	for i := range c.Inputs {
		c.Inputs[i].Digits, c.Inputs[i].Speech = "", ""
	}
	for i := range c.Timeline {
		c.Timeline[i].Digits, c.Timeline[i].Speech = "", ""
	}
	at = at.UTC()
	c.RedactedAt = &at
}
