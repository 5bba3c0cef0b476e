package dispatch

import (
	"errors"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// CircuitState is the state of a Breaker.
type CircuitState int

// Circuit states.
const (
	// CircuitClosed: calls go to the provider.
	CircuitClosed CircuitState = iota
	// CircuitOpen: the provider failed too often in a row; no call goes until the next probe.
	CircuitOpen
	// CircuitHalfOpen: one probe call is in flight; every other call waits for its outcome.
	CircuitHalfOpen
)

// String names the state as metrics and events do.
func (s CircuitState) String() string {
	switch s {
	case CircuitClosed:
		return "closed"
	case CircuitOpen:
		return "open"
	case CircuitHalfOpen:
		return "half_open"
	}
	return "unknown"
}

// BreakerConfig tunes a Breaker.
type BreakerConfig struct {
	// Threshold is how many provider calls in a row must fail (connection errors, 5xx, timeouts)
	// to open the circuit (default 5).
	Threshold int
	// MinOpen is how long the circuit stays open before the first probe; each failed probe
	// doubles the wait, up to MaxOpen (defaults 1 s and 30 s).
	MinOpen, MaxOpen time.Duration
	// ProbeTimeout is how long a probe may go without an outcome before it is presumed lost and
	// another is allowed (default 1 minute).
	ProbeTimeout time.Duration
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.Threshold <= 0 {
		c.Threshold = 5
	}
	if c.MinOpen <= 0 {
		c.MinOpen = time.Second
	}
	if c.MaxOpen < c.MinOpen {
		c.MaxOpen = max(c.MinOpen, 30*time.Second)
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = time.Minute
	}
	return c
}

// CircuitChange is a transition of a Breaker between closed and open, as reported to OnChange.
type CircuitChange struct {
	Provider string
	// State is CircuitOpen or CircuitClosed (half-open is not reported: it is a probe).
	State               CircuitState
	At                  time.Time
	OpenedAt            time.Time
	ConsecutiveFailures int
	LastError           string
	Probes, Rejected    int64
}

// Breaker is a circuit breaker in front of one provider. Calls in a row that fail because the
// provider is unreachable or broken (connection errors, 5xx, timeouts) open it; while it is
// open no call is made, except one probe after a wait that doubles with each failed probe; any
// answer from the provider (a success, or an error answer such as 400 or 429 that shows it is
// up) closes it. It is safe for concurrent use.
//
// A breaker changes no message: the dispatcher leaves messages queued while it is open, so that
// nothing fails or burns its retries during an outage, and sends them at the senders' rates
// when it closes.
type Breaker struct {
	cfg      BreakerConfig
	provider string
	clock    switchboard.Clock
	onChange func(CircuitChange)

	// report orders the calls of onChange: it is taken before mu is released.
	report       sync.Mutex
	mu           sync.Mutex
	state        CircuitState
	failures     int
	wait         time.Duration // the current open interval
	probeAt      time.Time     // when open: the earliest probe
	probeStarted time.Time     // when half-open: the probe's start
	openedAt     time.Time
	lastErr      string
	probes       int64
	rejected     int64 // while this outage lasts
	changed      chan struct{}
}

// NewBreaker returns a closed breaker for provider. onChange, when set, is called (outside the
// breaker's lock, in order) on every open and close.
func NewBreaker(provider string, cfg BreakerConfig, clock switchboard.Clock, onChange func(CircuitChange)) *Breaker {
	if clock == nil {
		clock = switchboard.SystemClock
	}
	return &Breaker{cfg: cfg.withDefaults(), provider: provider, clock: clock, onChange: onChange, changed: make(chan struct{})}
}

// Ticket is the permission for one provider call. Report its outcome with Done, or give it back
// with Cancel when the call is not made after all; either may be called more than once.
type Ticket struct {
	b     *Breaker
	probe bool
	done  bool
}

// Probe reports whether the ticket is the probe of an open circuit.
func (t *Ticket) Probe() bool { return t != nil && t.probe }

// Allow returns a ticket for a call now, or nil when the circuit refuses calls (the refusal is
// counted).
func (b *Breaker) Allow() *Ticket {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	switch b.state {
	case CircuitClosed:
		return &Ticket{b: b}
	case CircuitOpen:
		if !now.Before(b.probeAt) {
			b.setState(CircuitHalfOpen)
			b.probeStarted = now
			b.probes++
			return &Ticket{b: b, probe: true}
		}
	case CircuitHalfOpen:
		if now.Sub(b.probeStarted) >= b.cfg.ProbeTimeout {
			b.probeStarted = now // the last probe was lost: this call probes instead
			b.probes++
			return &Ticket{b: b, probe: true}
		}
	}
	b.rejected++
	return nil
}

// Done records the outcome of the ticket's call: err is what the provider call returned.
func (t *Ticket) Done(err error) {
	if t == nil || t.done {
		return
	}
	t.done = true
	t.b.record(t.probe, err)
}

// Cancel gives the ticket back unused: a probe that was not made lets the next call probe.
func (t *Ticket) Cancel() {
	if t == nil || t.done {
		return
	}
	t.done = true
	if !t.probe {
		return
	}
	b := t.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == CircuitHalfOpen {
		b.probeAt = b.clock()
		b.setState(CircuitOpen)
	}
}

// State returns the current state.
func (b *Breaker) State() CircuitState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// Blocked reports whether a caller should wait before it takes work for the provider, and if so
// until when at the latest and a channel closed at the next change of state. A caller that is
// not blocked while the circuit is open may take one item: it will be the probe.
func (b *Breaker) Blocked() (blocked bool, until time.Time, changed <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	switch b.state {
	case CircuitOpen:
		if now.Before(b.probeAt) {
			return true, b.probeAt, b.changed
		}
	case CircuitHalfOpen:
		if until := b.probeStarted.Add(b.cfg.ProbeTimeout); now.Before(until) {
			return true, until, b.changed
		}
	}
	return false, time.Time{}, b.changed
}

// IsOutage reports whether err shows the provider unreachable or broken: a network failure, a
// timeout, a 5xx answer, or an error that is not a classified provider error at all. An error
// answer below 500 (a bad number, 429) shows a provider that works.
func IsOutage(err error) bool {
	if err == nil {
		return false
	}
	var pe *switchboard.ProviderError
	if !errors.As(err, &pe) {
		return true
	}
	return pe.HTTPStatus == 0 || pe.HTTPStatus >= 500
}

func (b *Breaker) record(probe bool, err error) {
	outage := IsOutage(err)
	var change *CircuitChange
	b.mu.Lock()
	now := b.clock()
	if outage {
		b.lastErr = err.Error()
		switch {
		case b.state == CircuitClosed:
			b.failures++
			if b.failures >= b.cfg.Threshold {
				b.openedAt, b.wait, b.probes, b.rejected = now, b.cfg.MinOpen, 0, 0
				b.probeAt = now.Add(b.wait)
				b.setState(CircuitOpen)
				change = b.changeLocked(CircuitOpen, now)
			}
		case probe && b.state == CircuitHalfOpen:
			b.failures++
			b.wait = min(2*b.wait, b.cfg.MaxOpen)
			b.probeAt = now.Add(b.wait)
			b.setState(CircuitOpen)
		}
		// A call made before the circuit opened that fails afterwards changes nothing.
	} else {
		if b.state != CircuitClosed {
			b.setState(CircuitClosed)
			change = b.changeLocked(CircuitClosed, now)
		}
		b.failures = 0
	}
	if change == nil || b.onChange == nil {
		b.mu.Unlock()
		return
	}
	b.report.Lock()
	b.mu.Unlock()
	defer b.report.Unlock()
	b.onChange(*change)
}

// setState moves to s and wakes the waiters of Blocked.
func (b *Breaker) setState(s CircuitState) {
	b.state = s
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *Breaker) changeLocked(s CircuitState, now time.Time) *CircuitChange {
	return &CircuitChange{
		Provider: b.provider, State: s, At: now, OpenedAt: b.openedAt, ConsecutiveFailures: b.failures,
		LastError: b.lastErr, Probes: b.probes, Rejected: b.rejected,
	}
}
