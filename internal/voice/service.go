package voice

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
)

// Config wires a Service.
type Config struct {
	Store    Store
	Provider switchboard.CallProvider
	// ProviderFor, when set, may name another provider for a call (a tenant with a Twilio
	// account of its own: internal/tenantcreds); nil keeps Provider. It is asked when the call
	// is placed, polled and ended.
	ProviderFor func(c *switchboard.Call) switchboard.CallProvider
	// Flows returns the current flow catalog.
	Flows func() *Catalog
	// PublicURL is the base URL Twilio reaches this node at; AuthToken checks X-Twilio-Signature.
	PublicURL string
	AuthToken string
	// Tokens, when set, names the token that signs the webhooks of a tenant's own account, by
	// the webhook's AccountSid (see twiliosig.Receiver.Tokens).
	Tokens func(accountSID string) (token string, ok bool)
	// CallsPerSecond limits how fast calls are placed from one sender (default 1, Twilio's
	// default CPS). Rates maps senders to their own limits.
	CallsPerSecond float64
	Rates          map[string]float64
	// Lease is how long a claimed call is held while it is placed (default 30 s).
	Lease time.Duration
	// Poll is how often due calls are looked for without a Notify (default 200 ms).
	Poll time.Duration
	// StatusPollAfter is how long a placed call may go without news (its status callbacks
	// lost) before its status is fetched from the provider (default 10 minutes; the setting
	// status_poll_after, shared with messages).
	StatusPollAfter time.Duration
	// ReconcileDelay is the wait after an attempt whose outcome is unknown (a 5xx or a timeout
	// from the provider) before the provider is asked whether it created the call (default 5 s;
	// the setting reconcile_delay, shared with messages). See reconcile.
	ReconcileDelay time.Duration
	// Fallback sends the fallback SMS of a call (see Fallback) and returns the message ID, or ""
	// and why not; nil sends none.
	Fallback func(ctx context.Context, c *switchboard.Call, template string) (messageID, skipped string, err error)
	// SendSMS texts the callee a template for a flow state (State.SMS), created once per key
	// (an idempotency key), and returns the message ID, or "" and why not; nil sends none and
	// says so on the call.
	SendSMS func(ctx context.Context, c *switchboard.Call, template, key string) (messageID, skipped string, err error)
	// Blocks returns why a call's callee must not be called now (an opt-out), or ""; it is asked
	// when a call is created and before every attempt, retries included. nil blocks nothing.
	Blocks func(ctx context.Context, c *switchboard.Call) (reason string, err error)
	// Hold returns when a call due at at may be placed (quiet hours in the callee's time zone)
	// and why it waits; until <= at places it now. It is asked before every attempt. nil holds
	// nothing.
	Hold   func(c *switchboard.Call, at time.Time) (until time.Time, note string)
	Clock  switchboard.Clock
	Logger *slog.Logger
	// Owner names this node in leases.
	Owner string
	// DialAllowSIP and DialAllowPremium let flows dial sip: URIs and premium-rate numbers
	// (refused by default; see checkInput).
	DialAllowSIP, DialAllowPremium bool
	// OnFinished, when set, is told of each call that ended (once, by the node that ended it);
	// OnStep of the server time of each webhook this node answered.
	OnFinished func(c *switchboard.Call)
	OnStep     func(d time.Duration)
}

// Service runs calls: it places them, answers their TwiML requests and applies their status
// callbacks.
type Service struct {
	cfg  Config
	wake chan struct{}

	mu   sync.Mutex
	next map[string]time.Time // sender -> earliest time of its next call
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CallsPerSecond <= 0 {
		cfg.CallsPerSecond = 1
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.StatusPollAfter <= 0 {
		cfg.StatusPollAfter = 10 * time.Minute
	}
	if cfg.ReconcileDelay <= 0 {
		cfg.ReconcileDelay = 5 * time.Second
	}
	if cfg.Owner == "" {
		cfg.Owner = switchboard.NewID("node")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Service{cfg: cfg, wake: make(chan struct{}, 1), next: map[string]time.Time{}}
}

// Notify wakes the placer: a call was created.
func (s *Service) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// newToken returns an opaque, unguessable webhook token.
func newToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// CreateRequest is a new call.
type CreateRequest struct {
	To               string            `json:"to"`
	From             string            `json:"from,omitempty"`
	Flow             string            `json:"flow"`
	FlowVersion      int               `json:"flow_version,omitempty"`
	Locale           string            `json:"locale,omitempty"`
	Variables        map[string]string `json:"variables,omitempty"`
	MachineDetection bool              `json:"machine_detection,omitempty"`
	RingTimeout      int               `json:"ring_timeout,omitempty"`
	MaxAttempts      int               `json:"max_attempts,omitempty"`
	RetryDelay       int               `json:"retry_delay,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
	// SendAt places the call at this time (at most switchboard.MaxScheduleAhead ahead); Timezone
	// is the callee's IANA zone for quiet hours (default: the zones of the number).
	SendAt   *time.Time `json:"send_at,omitempty"`
	Timezone string     `json:"timezone,omitempty"`
}

func invalid(code, format string, args ...any) error {
	return switchboard.Errorf(switchboard.EINVALID, code, format, args...)
}

// Build validates a request and returns the new call; it changes nothing.
func (s *Service) Build(req *CreateRequest, from string, now time.Time) (*switchboard.Call, error) {
	to, err := content.NormalizePhone(req.To)
	if err != nil {
		if req.To == "" {
			return nil, invalid("missing_to", "to is required: the number to call in E.164, such as +14155550100")
		}
		return nil, err
	}
	if req.Flow == "" {
		return nil, invalid("missing_flow", "flow is required: the name of a flow in the flows directory")
	}
	f := s.cfg.Flows().Get(req.Flow, req.FlowVersion)
	if f == nil {
		return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, "flow_not_found", "no flow %s (version %d) is loaded", req.Flow, req.FlowVersion)
	}
	var missing []string
	for _, v := range f.UsedVariables() {
		if _, ok := req.Variables[v]; !ok {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		return nil, invalid("missing_variables", "flow %s needs variables %s", f.Name, strings.Join(missing, ", "))
	}
	for k := range req.Variables {
		if _, ok := f.Variables[k]; !ok {
			return nil, invalid("unknown_variable", "flow %s declares no variable %q", f.Name, k)
		}
	}
	if err := s.checkInput(req, f); err != nil {
		return nil, err
	}
	if req.RingTimeout == 0 {
		req.RingTimeout = 30
	}
	if req.RingTimeout < 5 || req.RingTimeout > 600 {
		return nil, invalid("invalid_ring_timeout", "ring_timeout must be 5-600 seconds")
	}
	if req.MaxAttempts == 0 {
		req.MaxAttempts = 1
	}
	if req.MaxAttempts < 1 || req.MaxAttempts > 5 {
		return nil, invalid("invalid_max_attempts", "max_attempts must be 1-5")
	}
	if req.RetryDelay == 0 {
		req.RetryDelay = 300
	}
	if req.RetryDelay < 1 || req.RetryDelay > 86400 {
		return nil, invalid("invalid_retry_delay", "retry_delay must be 1-86400 seconds")
	}
	if from == to {
		return nil, invalid("to_is_sender", "to is the caller's own number")
	}
	if err := switchboard.CheckSendAt(req.SendAt, now); err != nil {
		return nil, err
	}
	if req.Timezone != "" {
		if _, err := time.LoadLocation(req.Timezone); err != nil || req.Timezone == "Local" {
			return nil, invalid("invalid_timezone", "timezone %q is not an IANA time zone such as America/New_York", req.Timezone)
		}
	}
	due := now
	var sendAt *time.Time
	if req.SendAt != nil && req.SendAt.After(now) {
		at := req.SendAt.UTC()
		due, sendAt = at, &at
	}
	c := &switchboard.Call{
		ID: switchboard.NewID("call"), Status: switchboard.CallQueued, To: to, From: from, Flow: f.Name,
		FlowVersion: f.Version, Locale: req.Locale, Variables: req.Variables, Metadata: req.Metadata,
		MachineDetection: req.MachineDetection, RingTimeout: req.RingTimeout, Token: newToken(),
		MaxAttempts: req.MaxAttempts, RetryDelay: req.RetryDelay, NextAttemptAt: &due, SendAt: sendAt, Timezone: req.Timezone,
		CreatedAt: now, UpdatedAt: now,
	}
	if f.Fallback != nil {
		c.FallbackTemplate = f.Fallback.SMSTemplate
	}
	detail := fmt.Sprintf("flow %s version %d", f.Name, f.Version)
	if sendAt != nil {
		detail += ", scheduled for " + sendAt.Format(time.RFC3339)
	}
	c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventCreated, Status: switchboard.CallQueued, Detail: detail})
	return c, nil
}

// Admit applies the rules that protect people to a call Build made, before it is stored: a callee
// who opted out is refused (EUNPROCESSABLE/recipient_opted_out, as a message would be), and a
// call due inside quiet hours waits for their end, said on its timeline. Both are asked again
// before every attempt (see place).
func (s *Service) Admit(ctx context.Context, c *switchboard.Call) error {
	if s.cfg.Blocks != nil {
		why, err := s.cfg.Blocks(ctx, c)
		if err != nil {
			return err
		}
		if why != "" {
			return switchboard.Errorf(switchboard.EUNPROCESSABLE, "recipient_opted_out", "%s; they must text START before they can be called again", why)
		}
	}
	if c.NextAttemptAt != nil {
		s.hold(c, *c.NextAttemptAt)
	}
	return nil
}

// hold moves a call's next attempt, due at due, past quiet hours and reports whether it did; the
// wait is said once on the timeline.
func (s *Service) hold(c *switchboard.Call, due time.Time) bool {
	if s.cfg.Hold == nil || c.NextAttemptAt == nil {
		return false
	}
	until, note := s.cfg.Hold(c, due)
	if !until.After(due) {
		return false
	}
	c.NextAttemptAt = &until
	if n := len(c.Timeline); n == 0 || c.Timeline[n-1].Detail != note {
		c.AddEvent(switchboard.CallEvent{At: s.cfg.Clock(), Type: switchboard.CallEventAttempt, Detail: note})
	}
	return true
}

// update loads a call, applies fn and stores it, again from a fresh read when another node
// changed it meanwhile. fn returns the events to write with the change.
func (s *Service) update(ctx context.Context, load func() (*switchboard.Call, error), fn func(c *switchboard.Call) ([]*switchboard.AppEvent, error)) (*switchboard.Call, error) {
	for range 20 {
		c, err := load()
		if err != nil {
			return nil, err
		}
		evs, err := fn(c)
		if err != nil {
			return c, err
		}
		err = s.cfg.Store.UpdateCall(ctx, c, evs)
		if switchboard.ErrorCodeOf(err) == "call_changed" {
			continue
		}
		if err == nil && s.cfg.OnFinished != nil && slices.ContainsFunc(evs, func(e *switchboard.AppEvent) bool { return e.Type == switchboard.AppCallCompleted }) {
			s.cfg.OnFinished(c)
		}
		return c, err
	}
	return nil, fmt.Errorf("voice: call kept changing under concurrent updates")
}

// moveStatus moves c's status and returns the events that report it (with call.completed when
// the call is over).
func moveStatus(c *switchboard.Call, st switchboard.CallStatus, at time.Time, detail string) ([]*switchboard.AppEvent, error) {
	old := c.Status
	if !c.SetStatus(st, at, detail) {
		return nil, nil
	}
	ev, err := switchboard.NewAppEvent(switchboard.AppCallStatusChanged, at, switchboard.CallStatusChangedData{
		CallID: c.ID, OldStatus: old, Status: st, ProviderSID: c.ProviderSID, Flow: c.Flow, Attempts: c.Attempts, Metadata: c.Metadata,
	})
	if err != nil {
		return nil, err
	}
	evs := []*switchboard.AppEvent{ev}
	if st.Terminal() {
		done, err := switchboard.NewAppEvent(switchboard.AppCallCompleted, at, switchboard.CallCompletedData{
			CallID: c.ID, Status: st, Flow: c.Flow, FlowVersion: c.FlowVersion, AnsweredBy: c.AnsweredBy,
			Outcome: c.Outcome, Path: nonNil(c.Path), Inputs: nonNilInputs(c.Inputs), Attempts: c.Attempts,
			FallbackMessageID: c.FallbackMessageID, SMS: c.SMS, Recordings: c.Recordings, BlockedReason: c.BlockedReason, Metadata: c.Metadata,
		})
		if err != nil {
			return nil, err
		}
		evs = append(evs, done)
	}
	return evs, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilInputs(s []switchboard.CallInput) []switchboard.CallInput {
	if s == nil {
		return []switchboard.CallInput{}
	}
	return s
}

// Cancel ends a call: one waiting to be placed is canceled at once; one placed is canceled or
// hung up at the provider, and its status follows from the provider's callback.
func (s *Service) Cancel(ctx context.Context, id string) (*switchboard.Call, error) {
	var (
		sid  string
		prov switchboard.CallProvider
	)
	c, err := s.update(ctx, func() (*switchboard.Call, error) { return s.cfg.Store.GetCall(ctx, id) }, func(c *switchboard.Call) ([]*switchboard.AppEvent, error) {
		sid, prov = "", s.providerOf(c)
		if c.Status.Terminal() {
			return nil, switchboard.Errorf(switchboard.ECONFLICT, "call_finished", "call %s is already %s", c.ID, c.Status)
		}
		now := s.cfg.Clock()
		if c.ProviderSID == "" && !c.Placing {
			c.NextAttemptAt = nil
			return moveStatus(c, switchboard.CallCanceled, now, "canceled through the API before it was placed")
		}
		sid = c.ProviderSID
		c.MaxAttempts = c.Attempts // no retries after a cancel
		detail := cancelRequested
		if sid == "" {
			// The attempt's SID is not known yet (being placed, or its outcome unknown): the
			// cancel is carried out when it is (see endPending), or the attempt proves absent.
			c.CancelPending = true
			detail += "; carried out once the provider's call is known"
		}
		c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventAttempt, Detail: detail})
		return nil, nil
	})
	if err != nil {
		return c, err
	}
	if sid != "" {
		if err := prov.EndCall(ctx, sid); err != nil {
			return c, fmt.Errorf("voice: ending call %s at the provider: %w", id, err)
		}
	}
	return c, nil
}

// providerOf is the provider of call c: its tenant's own account when ProviderFor names one.
func (s *Service) providerOf(c *switchboard.Call) switchboard.CallProvider {
	if s.cfg.ProviderFor != nil {
		if p := s.cfg.ProviderFor(c); p != nil {
			return p
		}
	}
	return s.cfg.Provider
}

// Run places due calls until ctx ends, and asks the provider the status of calls whose
// callbacks have not come for StatusPollAfter.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	poll := time.NewTicker(min(s.cfg.StatusPollAfter/2, time.Minute))
	defer poll.Stop()
	for {
		if err := s.PlaceDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("placing calls", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		case <-poll.C:
			if err := s.PollStale(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("polling call statuses", "err", err)
			}
		}
	}
}

// PollStale fetches from the provider the status of the calls placed that have heard nothing
// for StatusPollAfter (their status callbacks lost, e.g. while this node restarted) and applies
// a new one as its callback would have been; a call the provider does not know ends failed.
// A call with nothing new is touched, so that it is asked again only after another
// StatusPollAfter.
func (s *Service) PollStale(ctx context.Context) error {
	calls, err := s.cfg.Store.StaleCalls(ctx, s.cfg.Clock().Add(-s.cfg.StatusPollAfter), 100)
	if err != nil {
		return err
	}
	for _, c := range calls {
		// Shutting down fails the rest fast, unlogged: the next start polls them.
		if err := s.pollCall(ctx, c); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("polling call status", "call_id", c.ID, "provider_sid", c.ProviderSID, "err", err)
		}
	}
	return nil
}

func (s *Service) pollCall(ctx context.Context, c *switchboard.Call) error {
	sid := c.ProviderSID
	load := func() (*switchboard.Call, error) { return s.cfg.Store.GetCall(ctx, c.ID) }
	pc, err := s.providerOf(c).FetchCall(ctx, sid)
	var pe *switchboard.ProviderError
	if errors.As(err, &pe) && pe.HTTPStatus == http.StatusNotFound {
		return s.applyStatus(ctx, load, sid, switchboard.CallFailed, "",
			"status poll: the provider does not know call "+sid+" (HTTP 404); ended as failed")
	}
	if err != nil {
		return err
	}
	retry := (pc.Status == switchboard.CallBusy || pc.Status == switchboard.CallNoAnswer) && c.Attempts < c.MaxAttempts
	if pc.Status == "" || (!retry && !c.Status.CanMoveTo(pc.Status)) {
		// Nothing new (the same status, or one the call is past): touch it.
		_, err := s.update(ctx, load, func(cur *switchboard.Call) ([]*switchboard.AppEvent, error) {
			if cur.LastChange().After(c.LastChange()) {
				return nil, nil // it changed meanwhile: it is no longer stale
			}
			cur.UpdatedAt = s.cfg.Clock()
			return nil, nil
		})
		return err
	}
	return s.applyStatus(ctx, load, sid, pc.Status, pc.AnsweredBy, "status poll: the provider reports "+pc.ProviderStatus)
}

// PlaceDue claims the calls due now and places them, each sender no faster than its rate.
func (s *Service) PlaceDue(ctx context.Context) error {
	now := s.cfg.Clock()
	calls, err := s.cfg.Store.ClaimCalls(ctx, s.cfg.Owner, now, now.Add(s.cfg.Lease), 32)
	if err != nil {
		return err
	}
	for _, c := range calls {
		if err := s.place(ctx, c); err != nil {
			s.cfg.Logger.Error("placing call", "call_id", c.ID, "err", err)
		}
		_ = s.cfg.Store.ReleaseCall(context.WithoutCancel(ctx), c.ID, s.cfg.Owner)
	}
	return nil
}

// slot takes the sender's call slot now and reports true, or, when the sender's last call was
// placed less than 1/rate ago, takes nothing and returns the time its next slot opens. Only a
// call that is placed takes a slot: a call deferred reserves nothing, or every poll would push
// the sender's next slot (and so the deferred call) one interval further, for ever.
func (s *Service) slot(from string, now time.Time) (time.Time, bool) {
	rate := s.cfg.CallsPerSecond
	if r, ok := s.cfg.Rates[from]; ok && r > 0 {
		rate = r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if at := s.next[from]; at.After(now) {
		return at, false
	}
	s.next[from] = now.Add(time.Duration(float64(time.Second) / rate))
	return now, true
}

// slotWait is the timeline entry of a call waiting for its sender's call slot.
const slotWait = "waiting for the sender's call slot (calls_per_second)"

func (s *Service) place(ctx context.Context, c *switchboard.Call) error {
	now := s.cfg.Clock()
	if c.Status.Terminal() || c.NextAttemptAt == nil {
		return nil
	}
	if c.Placing {
		// An attempt whose outcome is unknown (an ambiguous answer, or a node that stopped while
		// placing it): ask the provider before anything is placed again.
		again, err := s.reconcile(ctx, c, now)
		if err != nil || !again {
			return err
		}
		now = s.cfg.Clock()
	}
	// Quiet hours first: a held call does not take the sender's slot.
	if s.hold(c, now) {
		s.cfg.Logger.Info("call held by quiet hours", "call_id", c.ID, "until", *c.NextAttemptAt)
		return s.cfg.Store.UpdateCall(ctx, c, nil)
	}
	if at, ok := s.slot(c.From, now); !ok {
		// Said once per wait, on the timeline and in the log, so that a queue behind a
		// sender's rate is visible without a line per poll.
		if n := len(c.Timeline); n == 0 || c.Timeline[n-1].Detail != slotWait {
			c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventAttempt, Detail: slotWait})
			s.cfg.Logger.Info("call deferred for its sender's call slot", "call_id", c.ID, "from", content.MaskPhone(c.From),
				"until", at, "queued_for", now.Sub(c.CreatedAt).Round(time.Millisecond))
		}
		c.NextAttemptAt = &at
		return s.cfg.Store.UpdateCall(ctx, c, nil)
	}
	// Consent, right before every attempt (an opt-out may have come since the call was created
	// or its last attempt ended); asked only of the call that got the slot, so that a queue
	// behind the sender's rate costs no consent read per poll.
	if s.cfg.Blocks != nil {
		why, err := s.cfg.Blocks(ctx, c)
		if err != nil {
			return err
		}
		if why != "" {
			c.NextAttemptAt, c.BlockedReason = nil, why+"; the call was not placed"
			evs, err := moveStatus(c, switchboard.CallBlocked, now, c.BlockedReason)
			if err != nil {
				return err
			}
			s.cfg.Logger.Info("call blocked: the callee opted out", "call_id", c.ID, "to", content.MaskPhone(c.To), "attempts", c.Attempts)
			if err := s.cfg.Store.UpdateCall(ctx, c, evs); err != nil {
				return err
			}
			if s.cfg.OnFinished != nil {
				s.cfg.OnFinished(c)
			}
			return nil
		}
	}
	// Record the attempt before the provider hears of it: a crash now leaves Placing set, and
	// the call is not placed twice. Its next "attempt" is the reconciliation of this one, due
	// once the lease has run out (no answer can come later than that): a node that stops
	// while placing it leaves a call another node reconciles.
	c.Attempts++
	c.PastSIDs = pastSIDs(c)
	checkpoint := now.Add(s.cfg.Lease + s.cfg.ReconcileDelay)
	c.Placing, c.PlacingSince, c.NextAttemptAt, c.ProviderSID = true, &now, &checkpoint, ""
	c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventAttempt, Detail: fmt.Sprintf("attempt %d of %d", c.Attempts, c.MaxAttempts)})
	if err := s.cfg.Store.UpdateCall(ctx, c, nil); err != nil {
		return err
	}
	base := s.cfg.PublicURL + WebhookPath + c.Token
	pc, err := s.providerOf(c).PlaceCall(ctx, &switchboard.PlaceCallRequest{
		CallID: c.ID, To: c.To, From: c.From, URL: base + "/" + KindAnswer + "?s=0", StatusCallback: base + "/status",
		MachineDetection: c.MachineDetection, RingTimeout: c.RingTimeout,
	})
	pending := false
	_, uerr := s.update(ctx, func() (*switchboard.Call, error) { return s.cfg.Store.GetCall(ctx, c.ID) }, func(c *switchboard.Call) ([]*switchboard.AppEvent, error) {
		at := s.cfg.Clock()
		pending = c.CancelPending
		if err == nil {
			// adopt also drops the reconciliation due while the attempt was unanswered; a
			// callback may have adopted the SID first (and scheduled a retry: kept).
			adopt(c, pc.SID)
			c.AddEvent(switchboard.CallEvent{At: at, Type: switchboard.CallEventAttempt, Detail: "placed: " + pc.SID})
			return nil, nil
		}
		var pe *switchboard.ProviderError
		if !errors.As(err, &pe) {
			pe = &switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, Message: err.Error()}
		}
		switch pe.Outcome {
		case switchboard.OutcomeRetry, switchboard.OutcomeRetrySlow:
			c.Placing, c.PlacingSince = false, nil
			c.Attempts--
			next := at.Add(time.Duration(min(c.Attempts+1, 6)) * 5 * time.Second)
			c.NextAttemptAt = &next
			c.AddEvent(switchboard.CallEvent{At: at, Type: switchboard.CallEventAttempt, Detail: "provider busy, trying again: " + pe.Message})
			return nil, nil
		case switchboard.OutcomeAmbiguous:
			if !c.Placing || c.ProviderSID != "" {
				return nil, nil // a callback has already adopted the call's SID
			}
			// The call may exist: its callbacks (whose URL carries the token) adopt its SID;
			// otherwise reconciliation asks the provider after ReconcileDelay.
			next := at.Add(s.cfg.ReconcileDelay)
			c.NextAttemptAt = &next
			c.AddEvent(switchboard.CallEvent{At: at, Type: switchboard.CallEventAttempt, Detail: fmt.Sprintf(
				"outcome unknown (%s): not placed again until the provider is asked whether it created the call, at %s",
				pe.Message, next.Format(time.RFC3339))})
			return nil, nil
		}
		if c.Placing {
			c.Placing, c.PlacingSince, c.NextAttemptAt = false, nil, nil
		}
		c.AddEvent(switchboard.CallEvent{At: at, Type: switchboard.CallEventAttempt, Detail: fmt.Sprintf("refused by the provider (%d): %s", pe.Code, pe.Message)})
		return moveStatus(c, switchboard.CallFailed, at, pe.Explanation)
	})
	if err == nil {
		s.cfg.Logger.Info("call placed", "call_id", c.ID, "provider_sid", pc.SID, "to", content.MaskPhone(c.To), "attempt", c.Attempts)
	}
	if uerr != nil || !pending {
		return uerr
	}
	return s.endPending(ctx, c.ID)
}

// Handler serves the voice webhooks under WebhookPath: POST WebhookPath{token}/status and
// POST WebhookPath{token}/{kind} (a TwiML request), as ServeMux method patterns, so another
// method answers 405 with Allow and any other path 404.
func (s *Service) Handler() http.Handler {
	sig := &twiliosig.Receiver{AuthToken: s.cfg.AuthToken, Tokens: s.cfg.Tokens, PublicURL: s.cfg.PublicURL, MaxBytes: MaxFormBytes, Logger: s.cfg.Logger}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+WebhookPath+"{token}/status", s.webhook(sig, func(w http.ResponseWriter, r *http.Request) error {
		if err := s.status(r.Context(), r.PathValue("token"), r.PostForm); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mux.HandleFunc("POST "+WebhookPath+"{token}/{kind}", s.webhook(sig, func(w http.ResponseWriter, r *http.Request) error {
		doc, err := s.TwiML(r.Context(), r.PathValue("token"), r.PathValue("kind"), r.URL.Query().Get("s"), r.PostForm)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(doc)
		return nil
	}))
	return mux
}

// MaxFormBytes caps a webhook body.
const MaxFormBytes = 64 << 10

// webhook checks a voice webhook's signature, makes its form storable text and answers the
// error next returns with its kind's status (switchboard.HTTPStatusOf).
func (s *Service) webhook(sig *twiliosig.Receiver, next func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.OnStep != nil {
			start := time.Now()
			defer func() { s.cfg.OnStep(time.Since(start)) }()
		}
		if !sig.Check(w, r) {
			return
		}
		// Speech, digits and call parameters are stored: make them text both engines keep.
		r.PostForm, _ = switchboard.SafeForm(r.PostForm)
		if err := next(w, r); err != nil {
			status := switchboard.HTTPStatusOf(err)
			if status >= http.StatusInternalServerError {
				s.cfg.Logger.Error("voice webhook", "path", r.URL.Path, "err", err)
			} else {
				s.cfg.Logger.Warn("voice webhook refused", "path", r.URL.Path, "status", status, "err", err)
			}
			http.Error(w, switchboard.ErrorMessage(err), status)
		}
	}
}

// adopt takes the provider SID of a request for a call whose attempt's answer was lost, and
// reports whether the request belongs to the call's current attempt.
func adopt(c *switchboard.Call, sid string) bool {
	if c.ProviderSID == "" && c.Placing && sid != "" {
		// The next attempt time of a call being placed is its reconciliation: no longer needed.
		c.ProviderSID, c.Placing, c.PlacingSince, c.NextAttemptAt = sid, false, nil, nil
	}
	return sid == c.ProviderSID
}

// TwiML answers one TwiML request of the call with token.
func (s *Service) TwiML(ctx context.Context, token, kind, step string, form map[string][]string) ([]byte, error) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	n, err := strconv.Atoi(step)
	if err != nil || n < 0 {
		return nil, invalid("invalid_step", "the step of the request is missing")
	}
	in := Input{Kind: kind, Step: n, CallSID: get("CallSid"), AnsweredBy: get("AnsweredBy"), Digits: get("Digits"),
		Speech: get("SpeechResult"), DialStatus: get("DialCallStatus"),
		RecordingSID: get("RecordingSid"), RecordingURL: get("RecordingUrl"), RecordingDuration: get("RecordingDuration")}
	var doc []byte
	_, err = s.update(ctx, func() (*switchboard.Call, error) { return s.cfg.Store.GetCallByToken(ctx, token) }, func(c *switchboard.Call) ([]*switchboard.AppEvent, error) {
		if !adopt(c, in.CallSID) {
			return nil, switchboard.Errorf(switchboard.ECONFLICT, "other_attempt", "the request is not about the call's current attempt")
		}
		f := s.cfg.Flows().Get(c.Flow, c.FlowVersion)
		if f == nil {
			return nil, fmt.Errorf("voice: flow %s version %d is no longer loaded", c.Flow, c.FlowVersion)
		}
		in.At = s.cfg.Clock()
		var evs []*switchboard.AppEvent
		if kind == KindAnswer {
			// The answer is also a status: in progress, even if its callback is late or lost.
			if evs, err = moveStatus(c, switchboard.CallInProgress, in.At, "answered"); err != nil {
				return nil, err
			}
		}
		doc, err = Advance(f, c, in, s.cfg.PublicURL+WebhookPath+c.Token)
		if err != nil {
			return evs, err
		}
		return evs, s.sendTexts(ctx, c, in.At)
	})
	return doc, err
}

// sendTexts creates the SMS the flow's states asked for and not yet sent, each once per call and
// template (the idempotency key), so that a request retried after a failed write makes none twice.
func (s *Service) sendTexts(ctx context.Context, c *switchboard.Call, at time.Time) error {
	for i := range c.SMS {
		t := &c.SMS[i]
		if t.MessageID != "" || t.Skipped != "" {
			continue
		}
		if s.cfg.SendSMS == nil {
			t.Skipped = "this node sends no SMS from calls"
		} else {
			id, skipped, err := s.cfg.SendSMS(ctx, c, t.Template, "call-sms:"+c.ID+":"+t.Template)
			if err != nil {
				return fmt.Errorf("voice: SMS %s of call %s: %w", t.Template, c.ID, err)
			}
			t.MessageID, t.Skipped = id, skipped
		}
		if t.MessageID != "" {
			c.AddEvent(switchboard.CallEvent{At: at, Type: switchboard.CallEventSMS, State: t.State, Detail: "SMS " + t.MessageID + " from template " + t.Template})
		} else {
			c.AddEvent(switchboard.CallEvent{At: at, Type: switchboard.CallEventSMS, State: t.State, Detail: "SMS from template " + t.Template + " not sent: " + t.Skipped})
		}
	}
	return nil
}

// status applies a call status callback.
func (s *Service) status(ctx context.Context, token string, form map[string][]string) error {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	st, ok := switchboard.ParseCallStatus(get("CallStatus"))
	if !ok && get("CallStatus") == "initiated" {
		// The initiated event reports itself as CallStatus=initiated: Twilio is dialing, which is
		// still queued in the call's own statuses (nothing moves).
		st, ok = switchboard.CallQueued, true
	}
	if !ok {
		return invalid("invalid_call_status", "CallStatus %q is not a call status", get("CallStatus"))
	}
	return s.applyStatus(ctx, func() (*switchboard.Call, error) { return s.cfg.Store.GetCallByToken(ctx, token) },
		get("CallSid"), st, get("AnsweredBy"), "provider callback")
}

// applyStatus applies a provider status st of the call's attempt sid (a status callback, or a
// status poll's answer), said as detail on the timeline: a busy or unanswered attempt is retried
// while attempts remain, an ending call gets its fallback SMS when its flow asks for one.
func (s *Service) applyStatus(ctx context.Context, load func() (*switchboard.Call, error), sid string, st switchboard.CallStatus, answeredBy, detail string) error {
	var fallback bool
	c, err := s.update(ctx, load, func(c *switchboard.Call) ([]*switchboard.AppEvent, error) {
		fallback = false
		now := s.cfg.Clock()
		if !adopt(c, sid) {
			c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventIgnored, Status: st, Detail: "callback of an earlier attempt " + sid})
			return nil, nil
		}
		if answeredBy != "" {
			c.AnsweredBy = answeredBy
		}
		if (st == switchboard.CallBusy || st == switchboard.CallNoAnswer) && c.Attempts < c.MaxAttempts && !c.Status.Terminal() {
			next := now.Add(time.Duration(c.RetryDelay) * time.Second)
			c.PastSIDs = pastSIDs(c)
			c.NextAttemptAt, c.ProviderSID = &next, ""
			c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventAttempt, Status: st,
				Detail: fmt.Sprintf("attempt %d ended %s (%s); next attempt at %s", c.Attempts, st, detail, next.Format(time.RFC3339))})
			return nil, nil
		}
		if c.Status.CanMoveTo(st) {
			if st == switchboard.CallCompleted {
				s.endedEarly(c, now)
			}
			fallback = st.Terminal() && s.wantsFallback(c, st)
			if fallback && c.FallbackMessageID == "" {
				if err := s.fallback(ctx, c, now); err != nil {
					return nil, err
				}
			}
		} else if st != c.Status {
			c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventIgnored, Status: st,
				Detail: fmt.Sprintf("%s cannot move back to %s", c.Status, st)})
			return nil, nil
		}
		return moveStatus(c, st, now, detail)
	})
	if err == nil && c != nil && c.Status.Terminal() {
		s.cfg.Logger.Info("call ended", "call_id", c.ID, "status", c.Status, "outcome", c.Outcome, "fallback", fallback)
	}
	if err == nil && c != nil && c.CancelPending && c.ProviderSID != "" {
		// A callback adopted the SID of an attempt a cancel was asked for.
		return s.endPending(ctx, c.ID)
	}
	return err
}

// endedEarly gives a call that ended completed before its flow did the outcome that says so:
//   - flow_not_run when no step of the flow was ever served (the answer request reached no node
//     that answered, e.g. during a restart): the person heard the provider's error and nothing
//     of ours; it counts as no-answer for the fallback. This comes first: a call interrupted
//     before its first step is this.
//   - interrupted when the flow waits at a Gather state: a Gather is never the end of a flow
//     (its TwiML ends with a Redirect that brings the silence back), so the call ended there
//     only because the callee hung up at the menu, or because the Gather's action (or that
//     Redirect) reached no node that answered and the provider ended the call, as Twilio does
//     after an application error. Twilio requests a Gather's action only when there is input
//     (or with actionOnEmptyResult), so a hang-up at the menu brings no request but the final
//     status. A call canceled through the API is not interrupted: its outcome stays the state.
//
// Dial, Enqueue and Record states are left as they are: their verb ran (the callee reached the
// desk, the queue, the recorder).
func (s *Service) endedEarly(c *switchboard.Call, now time.Time) {
	if len(c.Path) == 0 && c.Outcome == "" {
		c.Outcome = OutcomeFlowNotRun
		c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventAttempt, Status: switchboard.CallCompleted,
			Detail: "answered, but the flow never ran (its first step was not served): handled as no-answer"})
		return
	}
	if c.State == "" || c.Outcome != c.State || canceledByAPI(c) {
		return
	}
	f := s.cfg.Flows().Get(c.Flow, c.FlowVersion)
	if f == nil || f.States[c.State] == nil || f.States[c.State].Gather == nil {
		return
	}
	c.Outcome = OutcomeInterrupted
	c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventAttempt, Status: switchboard.CallCompleted, State: c.State,
		Detail: fmt.Sprintf("interrupted at %s: the call ended while the flow waited for input there "+
			"(the callee hung up, or the gather's answer reached no node that answered)", c.State)})
}

// cancelRequested begins the timeline note of a cancel asked through the API.
const cancelRequested = "cancel requested through the API"

// canceledByAPI reports whether a cancel was asked for the call through the API.
func canceledByAPI(c *switchboard.Call) bool {
	return slices.ContainsFunc(c.Timeline, func(e switchboard.CallEvent) bool {
		return e.Type == switchboard.CallEventAttempt && strings.HasPrefix(e.Detail, cancelRequested)
	})
}

// wantsFallback reports whether the flow's fallback applies to a call ending in st.
func (s *Service) wantsFallback(c *switchboard.Call, st switchboard.CallStatus) bool {
	if c.FallbackTemplate == "" || s.cfg.Fallback == nil {
		return false
	}
	outcome := string(st)
	if st == switchboard.CallCompleted {
		switch c.Outcome {
		case OutcomeMachine, OutcomeInterrupted:
			outcome = c.Outcome
		case OutcomeFlowNotRun:
			outcome = string(switchboard.CallNoAnswer)
		default:
			return false
		}
	}
	f := s.cfg.Flows().Get(c.Flow, c.FlowVersion)
	if f == nil || f.Fallback == nil {
		return false
	}
	for _, o := range f.Fallback.On {
		if o == outcome {
			return true
		}
	}
	return false
}

func (s *Service) fallback(ctx context.Context, c *switchboard.Call, now time.Time) error {
	id, skipped, err := s.cfg.Fallback(ctx, c, c.FallbackTemplate)
	if err != nil {
		return fmt.Errorf("voice: fallback SMS of call %s: %w", c.ID, err)
	}
	if id != "" {
		c.FallbackMessageID = id
		c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventFallback, Detail: "fallback SMS " + id + " from template " + c.FallbackTemplate})
	} else {
		c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventFallback, Detail: "fallback SMS not sent: " + skipped})
	}
	return nil
}
