// Package dispatch moves messages from the outbox to the provider.
//
// For each sender with due work, a drain loop claims a batch of messages with a lease, spaces
// them to the sender's rate in segments per second, and hands each to a bounded pool of workers.
// A worker records the attempt durably before it calls the provider, so that a crash or a timeout
// mid-call leaves a mark: a message found with an attempt in flight is reconciled with the
// provider (is it there already?) before it is ever sent again. That is how a worker crash, a
// provider timeout or a lost response never becomes a second message on a phone.
//
// The rate is held twice: the Limiter grants each message its time (the sender's budget, shared
// by the cluster on PostgreSQL), and a per-sender Gate right before the provider call keeps this
// node's calls within the same limit even when the steps between grant and call (the policy
// checks, the attempt's commit) take uneven time and would otherwise bunch them.
package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// Config wires a Dispatcher.
type Config struct {
	Store Store
	// Provider sends the messages of every channel not in Providers.
	Provider switchboard.Provider
	// Providers routes channels to other providers (the node builds it from channel_providers):
	// each message's attempts, reconciliation and status polls go to its channel's provider.
	Providers map[switchboard.Channel]switchboard.Provider
	// ProviderFor, when set, may name another provider for a message (a tenant with a Twilio
	// account of its own: internal/tenantcreds); nil keeps its channel's. It is asked at each
	// attempt, reconciliation and status poll, so a change of credentials applies to the next.
	ProviderFor func(m *switchboard.Message) switchboard.Provider
	// Senders are the senders when LiveSenders is nil (a fixed set).
	Senders []switchboard.Sender
	// LiveSenders, when set, holds the current senders: the node replaces them when they change
	// (the API, on any node), and each claim reads its sender's rate and burst anew.
	LiveSenders *switchboard.LiveSenders
	// Limiter spaces each sender's sends; a MemoryLimiter when nil.
	Limiter Limiter
	// Owner names this node in leases; unique per process.
	Owner string
	// Lease is how long claimed work is held before another node may take it over.
	Lease time.Duration
	// Concurrency bounds the provider calls in flight.
	Concurrency     int
	ProviderTimeout time.Duration
	// ReconcileDelay is the wait after an ambiguous attempt before asking the provider about it.
	ReconcileDelay time.Duration
	// ReviewRecheck is how long a message parked for review (reconciliation could not tell
	// whether its attempt reached the provider) waits before it is reconciled again.
	ReviewRecheck time.Duration
	// StatusPollAfter is how long a handed-over message may go without news before its status
	// is fetched from the provider (callbacks get lost).
	StatusPollAfter time.Duration
	// PollInterval is how often due work is looked for without a wake-up.
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the exponential retry backoff.
	MinBackoff, MaxBackoff time.Duration
	// CallbackURL returns the status callback URL of a message.
	CallbackURL func(messageID string) string
	// Check, when set, is asked right before a message is handed over whether policy now stops
	// it (an opt-out that arrived after acceptance...). A non-nil *Block blocks the message.
	Check func(ctx context.Context, m *switchboard.Message) (*Block, error)
	// Hold, when set, is asked right before a message is handed over whether it must wait (quiet
	// hours in the recipient's time zone): a time after now defers the message to then, with note
	// on its timeline.
	Hold func(m *switchboard.Message, now time.Time) (until time.Time, note string)
	// Prepare, when set, is asked right after Check and Hold how the message goes (WhatsApp: free
	// form inside the window, its content template outside it) or whether it must not go at all.
	Prepare func(ctx context.Context, m *switchboard.Message) (*Prepared, error)
	// OnOptOut, when set, records that the provider reported the recipient opted out (the
	// outcome opted_out, class opted_out: Twilio's 21610).
	OnOptOut func(ctx context.Context, m *switchboard.Message, code int) error
	// Pause, when set, is asked before every claim whether this node must not dispatch now (its
	// clock is too far off the cluster's): a non-empty reason stops claiming until it is empty
	// again. Work already claimed finishes; nothing is lost, other nodes take the rest.
	Pause func() string
	// Observer receives measurements (metrics); nil observes nothing.
	Observer Observer
	Clock    switchboard.Clock
	Logger   *slog.Logger

	// Breaker tunes the circuit breaker in front of the provider (see breaker.go).
	Breaker BreakerConfig
}

// Observer receives the dispatcher's measurements.
type Observer interface {
	ProviderRequest(outcome string, code int, d time.Duration)
	MessageFinished(m *switchboard.Message, status switchboard.Status)
	Retry(outcome string)
	// RateLimitWait is how long a message waited for its sender's grant (the Limiter).
	RateLimitWait(sender string, d time.Duration)
	// GateWait is how long a provider call waited at its sender's call-point Gate after its
	// attempt was recorded: nonzero only when the steps between grant and call bunched calls.
	GateWait(sender string, d time.Duration)
	// SegmentsSent counts the segments of a message the provider accepted.
	SegmentsSent(sender string, segments int)
	// NeedsReview counts messages parked because reconciliation could not tell whether an
	// attempt reached the provider.
	NeedsReview()
}

type nopObserver struct{}

func (nopObserver) ProviderRequest(string, int, time.Duration)               {}
func (nopObserver) MessageFinished(*switchboard.Message, switchboard.Status) {}
func (nopObserver) Retry(string)                                             {}
func (nopObserver) RateLimitWait(string, time.Duration)                      {}
func (nopObserver) GateWait(string, time.Duration)                           {}
func (nopObserver) SegmentsSent(string, int)                                 {}
func (nopObserver) NeedsReview()                                             {}

// Block is the reason a message is stopped by policy (the root type, named here for the
// dispatcher's hooks).
type Block = switchboard.PolicyBlock

// Prepared is how a message goes, decided right before its attempt (the root type, named here
// for the dispatcher's hooks).
type Prepared = switchboard.SendPlan

// provider is the provider of messages of channel ch.
func (d *Dispatcher) provider(ch switchboard.Channel) switchboard.Provider {
	if p, ok := d.cfg.Providers[ch]; ok {
		return p
	}
	return d.cfg.Provider
}

// providerOf is the provider of m: its tenant's own account when ProviderFor names one, else
// its channel's.
func (d *Dispatcher) providerOf(m *switchboard.Message) switchboard.Provider {
	if d.cfg.ProviderFor != nil {
		if p := d.cfg.ProviderFor(m); p != nil {
			return p
		}
	}
	return d.provider(m.Channel)
}

// block stops m for b.
func (d *Dispatcher) block(ctx context.Context, m *switchboard.Message, b *Block) {
	d.finish(ctx, m, switchboard.StatusBlocked, d.providerOf(m).ErrorCode(b.Class), b.Reason)
}

// Dispatcher sends due messages. Run it once per node.
type Dispatcher struct {
	cfg  Config
	wake chan struct{}
	sem  chan struct{}

	mu     sync.Mutex
	active map[string]bool

	drains  sync.WaitGroup // drain loops
	workers sync.WaitGroup // provider calls

	gate pacer // paces provider calls per sender on this node

	breaker       *Breaker
	circuitEvents chan CircuitChange

	pausedMu sync.Mutex
	pausedBy string // the reason dispatching is paused, as last logged
}

// New returns a Dispatcher with defaults filled in.
func New(cfg Config) *Dispatcher {
	if cfg.Limiter == nil {
		cfg.Limiter = NewMemoryLimiter()
	}
	if cfg.LiveSenders == nil {
		cfg.LiveSenders = switchboard.NewLiveSenders(cfg.Senders)
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.ProviderTimeout <= 0 {
		cfg.ProviderTimeout = 10 * time.Second
	}
	if cfg.ReconcileDelay <= 0 {
		cfg.ReconcileDelay = 5 * time.Second
	}
	if cfg.ReviewRecheck <= 0 {
		cfg.ReviewRecheck = 15 * time.Minute
	}
	if cfg.StatusPollAfter <= 0 {
		cfg.StatusPollAfter = 10 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Owner == "" {
		cfg.Owner = switchboard.NewID("node")
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	d := &Dispatcher{
		cfg:    cfg,
		wake:   make(chan struct{}, 1),
		sem:    make(chan struct{}, cfg.Concurrency),
		active: map[string]bool{},
		gate:   NewGate(),
	}
	d.breaker = d.newBreaker()
	return d
}

// Notify tells the dispatcher that work may be due now.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run sends due messages until ctx ends. Then it stops claiming, lets the provider calls in
// flight finish and be recorded, and releases the leases of claimed messages it did not start.
func (d *Dispatcher) Run(ctx context.Context) error {
	tick := time.NewTicker(d.cfg.PollInterval)
	defer tick.Stop()
	pollEvery := min(d.cfg.StatusPollAfter/2, time.Minute)
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	rctx, stopReport := context.WithCancel(context.WithoutCancel(ctx))
	reported := make(chan struct{})
	go d.reportCircuit(rctx, reported)
	defer func() { stopReport(); <-reported }()
	for {
		d.scan(ctx)
		select {
		case <-ctx.Done():
			d.drains.Wait()
			d.workers.Wait()
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			n, err := d.cfg.Store.ReleaseLeases(rctx, d.cfg.Owner)
			cancel()
			d.cfg.Logger.Info("dispatcher stopped", "released_leases", n, "err", err)
			return nil
		case <-d.wake:
		case <-tick.C:
		case <-poll.C:
			d.pollStale(ctx)
			d.FetchPrices(ctx)
		}
	}
}

// scan starts a drain loop for every sender with due work that has none running.
func (d *Dispatcher) scan(ctx context.Context) {
	if ctx.Err() != nil || d.paused() {
		return
	}
	froms, err := d.cfg.Store.DueSenders(ctx, d.cfg.Clock())
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.Error("looking for due senders", "err", err)
		}
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, from := range froms {
		if d.active[from] {
			continue
		}
		d.active[from] = true
		d.drains.Add(1)
		go func() {
			defer d.drains.Done()
			defer func() {
				d.mu.Lock()
				delete(d.active, from)
				d.mu.Unlock()
			}()
			d.drain(ctx, from)
		}()
	}
}

// paused reports whether Pause stops dispatching now, logging when that changes.
func (d *Dispatcher) paused() bool {
	if d.cfg.Pause == nil {
		return false
	}
	why := d.cfg.Pause()
	d.pausedMu.Lock()
	defer d.pausedMu.Unlock()
	if why != d.pausedBy {
		if why != "" {
			d.cfg.Logger.Error("dispatching paused", "reason", why)
		} else {
			d.cfg.Logger.Info("dispatching resumed", "was", d.pausedBy)
		}
		d.pausedBy = why
	}
	return why != ""
}

// sender is the current configuration of a sender. The senders change at run time (the API):
// callers ask per claim or per message, not per process, and the limiter and the gate take the
// Sender with each call, so a changed rate or burst applies from the next reservation.
func (d *Dispatcher) sender(from string) switchboard.Sender {
	if s, ok := d.cfg.LiveSenders.Load().Get(from); ok {
		return s
	}
	// A sender removed (from the configuration, or through the API while a message was being
	// accepted on another node) that still has queued messages: send them at
	// the most conservative default rather than strand them.
	return switchboard.Sender{From: from, Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1}
}

// batchSize is how many messages one claim takes for a sender: about half a second of its
// rate plus its burst, so that a claimed batch is sent well within its lease.
func batchSize(s switchboard.Sender) int {
	if s.Rate < 0 {
		return 256
	}
	return max(1, min(256, int(s.Rate/2)+s.Burst))
}

// drain claims and sends one sender's due messages until there are none or ctx ends.
func (d *Dispatcher) drain(ctx context.Context, from string) {
	for ctx.Err() == nil {
		snd := d.sender(from) // per batch: a rate changed meanwhile applies to the next claim
		// While the provider's circuit is open nothing is claimed; then one message, the probe.
		limit, ok := d.waitCircuit(ctx, batchSize(snd))
		if !ok || d.paused() {
			return
		}
		now := d.cfg.Clock()
		leaseUntil := now.Add(d.cfg.Lease)
		msgs, err := d.cfg.Store.ClaimMessages(ctx, switchboard.ClaimParams{
			From: from, Owner: d.cfg.Owner, Now: now, LeaseUntil: leaseUntil, Limit: limit,
		})
		if err != nil {
			if ctx.Err() == nil {
				d.cfg.Logger.Error("claiming messages", "from", content.MaskPhone(from), "err", err)
			}
			return
		}
		if len(msgs) == 0 {
			return
		}
		// A send must start (its attempt, which extends the lease for the provider call, must be
		// recorded) while the claim's lease still holds, with a margin.
		startBy := leaseUntil.Add(-d.cfg.Lease / 4)
		for i, m := range msgs {
			now := d.cfg.Clock()
			snd = d.sender(from) // a rate changed mid-batch applies to the next message
			at, ok, err := d.cfg.Limiter.Reserve(ctx, snd, max(1, m.Segments), now, startBy.Sub(now))
			if ok {
				d.cfg.Observer.RateLimitWait(from, max(0, at.Sub(now)))
			}
			if err != nil || !ok || !d.sleepUntil(ctx, at) || !d.acquire(ctx) {
				if err != nil && ctx.Err() == nil {
					d.cfg.Logger.Error("rate limiter", "from", content.MaskPhone(from), "err", err)
				}
				d.release(msgs[i:])
				if ctx.Err() != nil || err != nil {
					return
				}
				if i == 0 {
					// Not even one message fits in this lease (the sender's budget is spoken for
					// well ahead, e.g. by other nodes): wait before claiming again rather than
					// claiming and releasing in a loop.
					if !d.sleepUntil(ctx, now.Add(min(d.cfg.Lease/4, time.Second))) {
						return
					}
				}
				break // claim again when the budget allows
			}
			d.workers.Add(1)
			go func() {
				defer d.workers.Done()
				defer func() { <-d.sem }()
				d.process(m)
			}()
		}
	}
}

func (d *Dispatcher) sleepUntil(ctx context.Context, at time.Time) bool {
	return sleepFor(ctx, at.Sub(d.cfg.Clock()))
}

// sleepFor waits for wait or until ctx ends, and reports whether ctx is still live.
func sleepFor(ctx context.Context, wait time.Duration) bool {
	if wait <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (d *Dispatcher) acquire(ctx context.Context) bool {
	select {
	case d.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// release gives back the leases of claimed messages that were not started.
func (d *Dispatcher) release(msgs []*switchboard.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, m := range msgs {
		_, err := d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
			ID: m.ID, LeaseOwner: d.cfg.Owner, ReleaseLease: true, At: d.cfg.Clock(),
		})
		if err != nil && !switchboard.IsKind(err, switchboard.ECONFLICT) {
			d.cfg.Logger.Error("releasing lease", "message_id", m.ID, "err", err)
		}
	}
}

func (d *Dispatcher) actor() string { return "dispatcher:" + d.cfg.Owner }

// process takes one claimed message through reconciliation (if needed), the policy checks and
// one attempt. It uses its own context: a shutdown lets a provider call finish and be recorded.
func (d *Dispatcher) process(m *switchboard.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*d.cfg.ProviderTimeout+10*time.Second)
	defer cancel()
	log := d.cfg.Logger.With("message_id", m.ID)
	tk := d.allowCall(m)
	if tk == nil {
		return // the provider's circuit is open: the message waits, untouched
	}
	defer tk.Cancel() // a probe that made no call lets the next call probe
	if m.AttemptInFlight {
		resolved, next, err := d.reconcile(ctx, m, tk)
		if err != nil {
			log.Error("reconciling", "err", err)
			return
		}
		if resolved {
			return
		}
		m = next
	}
	now := d.cfg.Clock()
	if m.ValidUntil != nil && !now.Before(*m.ValidUntil) {
		d.finish(ctx, m, switchboard.StatusExpired, 0,
			fmt.Sprintf("validity ended at %s before the message could be sent; it was not sent", m.ValidUntil.Format(time.RFC3339)))
		return
	}
	if d.cfg.Check != nil {
		b, err := d.cfg.Check(ctx, m)
		if err != nil {
			log.Error("policy check", "err", err)
			d.release([]*switchboard.Message{m})
			return
		}
		if b != nil {
			d.block(ctx, m, b)
			return
		}
	}

	if d.cfg.Hold != nil {
		if until, note := d.cfg.Hold(m, now); until.After(now) {
			d.defer_(ctx, m, until, note)
			return
		}
	}

	if tk.done {
		// The ticket went to the reconciliation's call: the send needs one of its own.
		if tk = d.allowCall(m); tk == nil {
			return
		}
		defer tk.Cancel()
	}
	var prep Prepared
	if d.cfg.Prepare != nil {
		p, err := d.cfg.Prepare(ctx, m)
		if err != nil {
			log.Error("preparing the send", "err", err)
			d.release([]*switchboard.Message{m})
			return
		}
		if p != nil {
			prep = *p
		}
		if prep.Block != nil {
			d.block(ctx, m, prep.Block)
			return
		}
	}
	detail := fmt.Sprintf("attempt %d: handing the message to %s", m.Attempts+1, d.providerOf(m).Name())
	if prep.Note != "" {
		detail += "; " + prep.Note
	}

	inFlight, leaseUntil := true, now.Add(d.cfg.Lease)
	m, err := d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
		ID: m.ID, LeaseOwner: d.cfg.Owner,
		RequireStatus:            []switchboard.Status{switchboard.StatusQueued, switchboard.StatusScheduled},
		RequireNoAttemptInFlight: true,
		AttemptInFlight:          &inFlight, AttemptStartedAt: &now, IncAttempts: true, LeaseUntil: &leaseUntil, At: now,
		Events: []*switchboard.Event{{
			Type: switchboard.EventAttempt, Actor: d.actor(), At: now, Detail: detail,
		}},
	})
	if err != nil {
		if switchboard.IsKind(err, switchboard.ECONFLICT) {
			log.Debug("message changed before its attempt; skipped", "reason", switchboard.ErrorCodeOf(err))
		} else {
			log.Error("recording attempt", "err", err)
		}
		return
	}

	req := &switchboard.SendRequest{
		MessageID: m.ID, To: m.To, From: m.From, Body: m.Body, MediaURLs: m.MediaURLs, Channel: m.Channel,
		ContentSID: prep.ContentSID, ContentVariables: prep.ContentVariables,
	}
	if d.cfg.CallbackURL != nil {
		req.StatusCallback = d.cfg.CallbackURL(m.ID)
	}
	if m.ValidUntil != nil {
		req.ValidityPeriod = m.ValidUntil.Sub(now)
	}
	if !d.pace(ctx, m, leaseUntil) {
		return
	}
	pctx, pcancel := context.WithTimeout(ctx, d.cfg.ProviderTimeout)
	start := time.Now()
	pm, err := d.providerOf(m).Send(pctx, req)
	took := time.Since(start)
	pcancel()
	tk.Done(err)
	if err == nil {
		d.cfg.Observer.ProviderRequest("ok", 0, took)
		d.cfg.Observer.SegmentsSent(m.From, m.Segments)
		d.accepted(ctx, m, pm)
		return
	}
	var pe *switchboard.ProviderError
	if !errors.As(err, &pe) {
		pe = &switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, Message: "unexpected provider error", Err: err}
	}
	d.cfg.Observer.ProviderRequest(pe.Outcome.String(), pe.Code, took)
	d.failed(ctx, m, pe)
}

// pacer is the call-point gate as the dispatcher uses it: a *Gate (tests wrap it to see its
// release times).
type pacer interface {
	Reserve(s switchboard.Sender, cost int, now time.Time, maxWait time.Duration) (time.Time, bool)
}

// pace holds an attempt's provider call at its sender's Gate, right before the call, so that
// this node's calls for the sender stay within its rate and burst even when the steps since the
// grant (policy checks, the attempt's commit) took uneven time. It reports whether to call.
//
// The wait is bounded by construction (see Gate: at most the longest delay between a grant and
// its call reaching the gate, normally zero). It is also capped, so that the call still starts
// well inside the attempt's lease and can end within it (the configuration requires Lease >
// ProviderTimeout): past that, another node could take the message over while the call is in
// flight. A call the gate would hold longer — reached only when the steps since the grant took
// about that long themselves — is not made: the attempt is undone (nothing reached the
// provider, so the attempt need not be reconciled) and the message is due again when the gate
// would have let it go. Calling late in the lease or above the rate are both worse.
func (d *Dispatcher) pace(ctx context.Context, m *switchboard.Message, leaseUntil time.Time) bool {
	// The gate keeps the monotonic clock, not the injected one: it spaces real calls in real
	// time, as its waits are slept, and a step of the wall clock must neither hold nor bunch them.
	// The lease is the store's, in the injected clock's time.
	start := time.Now()
	maxWait := max(0, min(d.cfg.Lease/4, leaseUntil.Sub(d.cfg.Clock())-d.cfg.ProviderTimeout))
	at, ok := d.gate.Reserve(d.sender(m.From), max(1, m.Segments), start, maxWait)
	wait := at.Sub(start)
	if ok {
		d.cfg.Observer.GateWait(m.From, max(0, wait))
		if sleepFor(ctx, wait) {
			return true
		}
	}
	reason := fmt.Sprintf("the sender's pacing would have held the provider call %s, too long for the attempt's lease", wait.Round(time.Millisecond))
	if ok {
		reason = "the attempt's time ran out while the provider call waited for the sender's pacing"
	}
	d.cfg.Logger.Warn("attempt not made: paced past its lease", "message_id", m.ID, "wait", wait, "max_wait", maxWait)
	now := d.cfg.Clock()
	next := now.Add(max(0, time.Until(at)))
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	notInFlight := false
	_, err := d.cfg.Store.UpdateMessage(uctx, switchboard.MessageUpdate{
		ID: m.ID, LeaseOwner: d.cfg.Owner, AttemptInFlight: &notInFlight, NextAttemptAt: &next, ReleaseLease: true, At: now,
		Events: []*switchboard.Event{{
			Type: switchboard.EventNote, Actor: d.actor(), At: now,
			Detail: fmt.Sprintf("attempt %d not made: %s; nothing was sent, it is due again at %s", m.Attempts, reason, next.Format(time.RFC3339Nano)),
		}},
	})
	if err != nil {
		// The attempt stays in flight: whoever claims the message next reconciles first.
		d.cfg.Logger.Error("undoing an attempt not made", "message_id", m.ID, "err", err)
	}
	return false
}

// defer_ puts a message back as scheduled until a policy lets it go; past its validity it is
// scheduled for the end of its validity, when it expires unsent.
func (d *Dispatcher) defer_(ctx context.Context, m *switchboard.Message, until time.Time, note string) {
	now := d.cfg.Clock()
	if m.ValidUntil != nil && !until.Before(*m.ValidUntil) {
		until = *m.ValidUntil
		note += "; its validity ends before then, so it will expire unsent"
	}
	_, err := d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
		ID: m.ID, LeaseOwner: d.cfg.Owner, Status: switchboard.StatusScheduled, NextAttemptAt: &until, ReleaseLease: true, At: now,
		RequireStatus: []switchboard.Status{switchboard.StatusQueued, switchboard.StatusScheduled},
		Events:        []*switchboard.Event{{Type: switchboard.EventNote, Actor: d.actor(), At: now, Detail: note}},
	})
	if err != nil && !switchboard.IsKind(err, switchboard.ECONFLICT) {
		d.cfg.Logger.Error("deferring message", "message_id", m.ID, "err", err)
		return
	}
	d.cfg.Logger.Info("message held by policy", "message_id", m.ID, "until", until)
}

// accepted records that the provider took the message.
func (d *Dispatcher) accepted(ctx context.Context, m *switchboard.Message, pm *switchboard.ProviderMessage) {
	now := d.cfg.Clock()
	notInFlight := false
	status := pm.Status
	if status == "" || status == switchboard.StatusQueued {
		status = switchboard.StatusSending
	}
	_, err := d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
		ID: m.ID, Status: status, ProviderSID: &pm.SID, AttemptInFlight: &notInFlight, ReleaseLease: true, At: now,
		Events: []*switchboard.Event{{
			Type: switchboard.EventStatusChanged, Status: status, Actor: d.actor(), At: now, Payload: payloadOf(m, pm.Raw),
			Detail: fmt.Sprintf("handed to %s as %s (provider status %q)", d.providerOf(m).Name(), pm.SID, pm.ProviderStatus),
		}},
	})
	if err != nil {
		// The attempt stays in flight; whoever claims the message next reconciles and finds pm.SID.
		d.cfg.Logger.Error("recording provider acceptance", "message_id", m.ID, "provider_sid", pm.SID, "err", err)
		return
	}
	d.cfg.Logger.Info("message handed to provider", "message_id", m.ID, "provider_sid", pm.SID, "attempt", m.Attempts)
}

// failed acts on a failed attempt according to its outcome.
func (d *Dispatcher) failed(ctx context.Context, m *switchboard.Message, pe *switchboard.ProviderError) {
	now := d.cfg.Clock()
	log := d.cfg.Logger.With("message_id", m.ID, "attempt", m.Attempts, "outcome", pe.Outcome.String(), "code", pe.Code, "http_status", pe.HTTPStatus)
	errEvent := &switchboard.Event{
		Type: switchboard.EventProviderError, Actor: d.actor(), At: now, ErrorCode: pe.Code, Payload: pe.Raw,
		Detail: providerDetail(pe),
	}
	notInFlight := false
	switch pe.Outcome {
	case switchboard.OutcomeFail:
		log.Warn("provider refused the message")
		d.finishWith(ctx, m, switchboard.StatusFailed, pe.Code, pe.Message, errEvent)
	case switchboard.OutcomeOptedOut:
		log.Warn("recipient opted out at the provider")
		if d.cfg.OnOptOut != nil {
			if err := d.cfg.OnOptOut(ctx, m, pe.Code); err != nil {
				log.Error("recording opt-out", "err", err)
			}
		}
		d.finishWith(ctx, m, switchboard.StatusBlocked, pe.Code, "the recipient has opted out (replied STOP); recorded as opted out", errEvent)
	case switchboard.OutcomeAmbiguous:
		d.cfg.Observer.Retry(pe.Outcome.String())
		// The message may be at the provider: keep the attempt in flight and reconcile later.
		next := now.Add(d.cfg.ReconcileDelay)
		log.Warn("attempt outcome unknown; will reconcile before any resend", "err", pe.Err)
		_, err := d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
			ID: m.ID, NextAttemptAt: &next, ReleaseLease: true, At: now,
			Events: []*switchboard.Event{errEvent, {
				Type: switchboard.EventRetry, Actor: d.actor(), At: now,
				Detail: fmt.Sprintf("the provider may have received it: it will be looked up at the provider at %s and sent again only if it is not there", next.Format(time.RFC3339)),
			}},
		})
		if err != nil {
			log.Error("recording ambiguous attempt", "err", err)
		}
	default: // OutcomeRetry, OutcomeRetrySlow
		backoff := d.backoff(m.Attempts, pe.Outcome == switchboard.OutcomeRetrySlow)
		next := now.Add(backoff)
		if m.ValidUntil != nil && !next.Before(*m.ValidUntil) {
			log.Warn("no retry possible within the message's validity")
			d.finishWith(ctx, m, switchboard.StatusExpired, pe.Code,
				"the provider could not take the message and its validity ends before another attempt; it was not sent", errEvent)
			return
		}
		log.Info("attempt failed; retry scheduled", "backoff", backoff)
		d.cfg.Observer.Retry(pe.Outcome.String())
		_, err := d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
			ID: m.ID, NextAttemptAt: &next, AttemptInFlight: &notInFlight, ReleaseLease: true, At: now,
			Events: []*switchboard.Event{errEvent, {
				Type: switchboard.EventRetry, Actor: d.actor(), At: now,
				Detail: fmt.Sprintf("the provider did not take it; next attempt at %s (backoff %s)", next.Format(time.RFC3339), backoff.Round(time.Millisecond)),
			}},
		})
		if err != nil {
			log.Error("recording retry", "err", err)
		}
	}
}

func providerDetail(pe *switchboard.ProviderError) string {
	s := pe.Message
	if pe.HTTPStatus != 0 {
		s = fmt.Sprintf("HTTP %d: %s", pe.HTTPStatus, s)
	}
	if pe.Explanation != "" {
		s += " — " + pe.Explanation
	}
	return s
}

// backoff is exponential with full jitter in its upper half; slow retries (the sender's queue
// at the provider is full) start at a minute.
func (d *Dispatcher) backoff(attempts int, slow bool) time.Duration {
	base := d.cfg.MinBackoff
	if slow {
		base = max(base, time.Minute)
	}
	b := base << min(max(attempts-1, 0), 20)
	if b > d.cfg.MaxBackoff || b <= 0 {
		b = d.cfg.MaxBackoff
	}
	return b/2 + rand.N(b/2+1)
}

// finish moves a message to a terminal status before any attempt.
func (d *Dispatcher) finish(ctx context.Context, m *switchboard.Message, status switchboard.Status, code int, reason string) {
	d.finishWith(ctx, m, status, code, reason, nil)
}

func (d *Dispatcher) finishWith(ctx context.Context, m *switchboard.Message, status switchboard.Status, code int, reason string, first *switchboard.Event) {
	now := d.cfg.Clock()
	notInFlight := false
	events := []*switchboard.Event{}
	if first != nil {
		events = append(events, first)
	}
	events = append(events, &switchboard.Event{
		Type: switchboard.EventStatusChanged, Status: status, Actor: d.actor(), At: now, ErrorCode: code, Detail: reason,
	})
	u := switchboard.MessageUpdate{
		ID: m.ID, Status: status, AttemptInFlight: &notInFlight, ReleaseLease: true, At: now, Events: events,
		ErrorMessage: &reason,
	}
	if code != 0 {
		u.ErrorCode = &code
	}
	if _, err := d.cfg.Store.UpdateMessage(ctx, u); err != nil {
		d.cfg.Logger.Error("finishing message", "message_id", m.ID, "status", status, "err", err)
		return
	}
	if code != 0 {
		m.ErrorCode = code // for the observer's error class
	}
	d.cfg.Observer.MessageFinished(m, status)
	d.cfg.Logger.Info("message finished", "message_id", m.ID, "status", status, "code", code)
}

// reconcile asks the provider whether an attempt whose outcome is unknown reached it. resolved
// means the message needs nothing more now (found and adopted, or rescheduled); otherwise next
// is the message, cleared to be sent.
func (d *Dispatcher) reconcile(ctx context.Context, m *switchboard.Message, tk *Ticket) (resolved bool, next *switchboard.Message, err error) {
	now := d.cfg.Clock()
	// The window is bounded by the message's creation, widened by reconcileWindow, never by the
	// attempt's time: the provider compares it with its own clock, and a node whose clock runs
	// ahead would otherwise look past the very message it sent and send it again.
	since := m.CreatedAt.Add(-reconcileWindow)
	pctx, cancel := context.WithTimeout(ctx, d.cfg.ProviderTimeout)
	found, ferr := d.providerOf(m).Find(pctx, switchboard.FindQuery{To: m.To, From: m.From, Since: since, Channel: m.Channel})
	cancel()
	incomplete := ferr != nil && switchboard.ErrorCodeOf(ferr) == switchboard.CodeFindIncomplete
	if incomplete {
		tk.Done(nil) // the provider answered
	} else {
		tk.Done(ferr)
	}
	if ferr != nil && !incomplete {
		later := now.Add(d.cfg.ReconcileDelay)
		_, err := d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
			ID: m.ID, LeaseOwner: d.cfg.Owner, NextAttemptAt: &later, ReleaseLease: true, At: now,
			Events: []*switchboard.Event{{
				Type: switchboard.EventReconcile, Actor: d.actor(), At: now,
				Detail: fmt.Sprintf("could not ask the provider whether the last attempt arrived (%v); asking again at %s, nothing resent", ferr, later.Format(time.RFC3339)),
			}},
		})
		return true, nil, err
	}
	// A content template's text at the provider is the provider's own rendering, not our body:
	// a WhatsApp message that may have gone as a template matches a message of the pair that no
	// other message owns, if there is exactly one; more cannot be told apart and park it.
	template := m.WhatsApp != nil && m.WhatsApp.ContentSID != ""
	if !template && m.Body == "" && m.BodySHA256 == "" && len(m.MediaURLs) == 0 {
		return d.park(ctx, m, now, "its body is gone (redacted) and no digest of it was kept, so the provider's messages cannot be compared with it")
	}
	var candidates []*switchboard.ProviderMessage
	for _, pm := range found {
		if !template && !sameContent(m, pm) {
			continue
		}
		other, err := d.cfg.Store.GetMessageByProviderSID(ctx, pm.SID)
		if err == nil && other.ID != m.ID {
			continue // that one is another message with the same text
		}
		if err != nil && !switchboard.IsKind(err, switchboard.ENOTFOUND) {
			return false, nil, err
		}
		candidates = append(candidates, pm)
	}
	if template && len(candidates) > 1 {
		// Nothing tells which of them (if any) is this attempt: the search window reaches an hour
		// back, and a template's text is the provider's rendering.
		return d.park(ctx, m, now, fmt.Sprintf("%d messages from this sender to this recipient that no other message owns could be its content template; none can be told to be this attempt", len(candidates)))
	}
	if len(candidates) > 0 {
		pm := candidates[0]
		notInFlight := false
		status := pm.Status
		if status == "" || status == switchboard.StatusQueued {
			status = switchboard.StatusSending
		}
		_, err = d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
			ID: m.ID, ProviderSID: &pm.SID, Status: status, AttemptInFlight: &notInFlight, ReleaseLease: true, At: now,
			Events: []*switchboard.Event{{
				Type: switchboard.EventReconcile, Status: status, Actor: d.actor(), At: now, Payload: payloadOf(m, pm.Raw),
				Detail: fmt.Sprintf("the last attempt did reach the provider as %s; adopted it, nothing resent", pm.SID),
			}},
		})
		d.cfg.Logger.Info("reconciled: attempt had reached the provider", "message_id", m.ID, "provider_sid", pm.SID)
		return true, nil, err
	}
	if incomplete {
		return d.park(ctx, m, now, fmt.Sprintf("the provider's list of messages from this sender to this recipient was cut short (%s), so the attempt may be in the part not listed", switchboard.ErrorMessage(ferr)))
	}
	notInFlight := false
	next, err = d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
		ID: m.ID, LeaseOwner: d.cfg.Owner, AttemptInFlight: &notInFlight, At: now,
		Events: []*switchboard.Event{{
			Type: switchboard.EventReconcile, Actor: d.actor(), At: now,
			Detail: "the last attempt is not at the provider; it is safe to send again",
		}},
	})
	if err != nil {
		if switchboard.IsKind(err, switchboard.ECONFLICT) {
			return true, nil, nil
		}
		return false, nil, err
	}
	d.cfg.Logger.Info("reconciled: attempt had not reached the provider", "message_id", m.ID)
	return false, next, nil
}

// reconcileWindow is how far before a message's creation reconciliation looks for it at the
// provider. A message cannot reach the provider before it was accepted, so only a difference
// between the clock that stamped its creation and the provider's clock can put it earlier; an
// hour is far beyond any difference a node tolerates (see clock_skew_max), and the window only
// widens the search — candidates still have to match the message's content and belong to no
// other message.
const reconcileWindow = time.Hour

// sameContent reports whether a provider message carries m's body: the body itself, or, when
// retention has removed it, its SHA-256 digest.
func sameContent(m *switchboard.Message, pm *switchboard.ProviderMessage) bool {
	if m.Body != "" || m.BodySHA256 == "" {
		return pm.Body == m.Body
	}
	sum := sha256.Sum256([]byte(pm.Body))
	return hex.EncodeToString(sum[:]) == m.BodySHA256
}

// park leaves a message whose last attempt may or may not have reached the provider as it is,
// attempt in flight, and does not send it again: a "needs_review" event and the message's
// error_message say why. A status callback naming the message (its callback URL carries its
// ID) adopts the provider's message whenever it arrives; otherwise it is reconciled again after
// ReviewRecheck, and sent again only on a certain "not there". Its status stays what it was
// (queued or scheduled): no status says "maybe sent", and statuses never move backwards.
func (d *Dispatcher) park(ctx context.Context, m *switchboard.Message, now time.Time, why string) (bool, *switchboard.Message, error) {
	later := now.Add(d.cfg.ReviewRecheck)
	reason := "needs review: it is not known whether the last attempt reached the provider: " + why +
		"; it is not sent again unless a later check shows it is not there"
	_, err := d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
		ID: m.ID, LeaseOwner: d.cfg.Owner, NextAttemptAt: &later, ReleaseLease: true, ErrorMessage: &reason, At: now,
		Events: []*switchboard.Event{{
			Type: switchboard.EventNeedsReview, Actor: d.actor(), At: now,
			Detail: fmt.Sprintf("%s; checked again at %s", reason, later.Format(time.RFC3339)),
		}},
	})
	if err != nil && switchboard.IsKind(err, switchboard.ECONFLICT) {
		return true, nil, nil
	}
	d.cfg.Logger.Warn("message needs review: attempt outcome unknown, not resent", "message_id", m.ID)
	d.cfg.Observer.NeedsReview()
	return true, nil, err
}

// pollStale fetches the provider's status of messages that were handed over but have heard
// nothing for StatusPollAfter, and applies it like a callback (deduplicated the same way).
func (d *Dispatcher) pollStale(ctx context.Context) {
	now := d.cfg.Clock()
	msgs, err := d.cfg.Store.StaleSending(ctx, now.Add(-d.cfg.StatusPollAfter), 100)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.Error("listing stale messages", "err", err)
		}
		return
	}
	for _, m := range msgs {
		if ctx.Err() != nil {
			return
		}
		tk := d.breaker.Allow()
		if tk == nil {
			return // the provider's circuit is open: ask again later
		}
		pctx, cancel := context.WithTimeout(ctx, d.cfg.ProviderTimeout)
		pm, err := d.providerOf(m).Fetch(pctx, m.ProviderSID)
		cancel()
		tk.Done(err)
		if err != nil {
			d.cfg.Logger.Warn("fetching status from provider", "message_id", m.ID, "provider_sid", m.ProviderSID, "err", err)
			continue
		}
		res, err := d.cfg.Store.IngestCallback(ctx, &switchboard.Callback{
			ProviderSID: pm.SID, ProviderStatus: pm.ProviderStatus, Status: pm.Status, ErrorCode: pm.ErrorCode,
			ErrorMessage: pm.ErrorMessage, MessageID: m.ID, Payload: payloadOf(m, pm.Raw), ReceivedAt: now,
		})
		if err == nil && pm.Price != nil && pm.Status.Terminal() {
			d.recordPrice(ctx, m, pm, now) // the fetch that found the final status found its price too
		}
		if err == nil && !res.Applied {
			// Nothing new: touch it so it is asked again only after another StatusPollAfter.
			_, err = d.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{ID: m.ID, At: now})
		}
		if err != nil {
			d.cfg.Logger.Error("applying polled status", "message_id", m.ID, "err", err)
		}
	}
}
