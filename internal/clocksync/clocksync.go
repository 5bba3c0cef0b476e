// Package clocksync gives the nodes of a cluster one clock for the decisions they share.
//
// On PostgreSQL every shared decision — whether a lease has ended, whether a message is due,
// where a sender's rate bucket stands, when a schedule fires, the times on a timeline — compares
// times written by different nodes. A node whose clock is off would take work others hold, send
// early or stall the cluster. A Clock is a node's clock corrected to a reference, the database's
// clock: it measures the offset (reference − node) and adds it to the node's own reading, so that
// every node stamps and compares times on the database's time scale whatever its own clock says.
// The offset is measured at start and then periodically (Run); a measurement takes the answer
// with the shortest round trip of a few and assumes the reference read its clock half-way.
package clocksync

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Reference reads the reference clock (the database's now).
type Reference func(ctx context.Context) (time.Time, error)

// samples is how many round trips one measurement makes; the shortest wins.
const samples = 3

// Clock is a node's clock corrected to a reference clock. It is safe for concurrent use.
type Clock struct {
	base switchboard.Clock
	ref  Reference

	offset atomic.Int64 // nanoseconds: reference − base
	mu     sync.Mutex
	last   Measurement
}

// Measurement is the outcome of one measurement.
type Measurement struct {
	// Offset is the reference's clock minus the node's own.
	Offset time.Duration
	// RTT is the round trip of the sample used; the offset is known within ±RTT/2.
	RTT time.Duration
	// At is when it was taken, on the node's own clock.
	At time.Time
	// Err is why the last measurement failed (the offset then stays the previous one).
	Err error
}

// New returns a Clock that reads base and corrects it to ref once measured (Measure, Run).
// Until the first measurement it reads base unchanged.
func New(base switchboard.Clock, ref Reference) *Clock {
	if base == nil {
		base = switchboard.SystemClock
	}
	return &Clock{base: base, ref: ref}
}

// Now is the node's clock corrected to the reference: the cluster's time.
func (c *Clock) Now() time.Time { return c.base().Add(time.Duration(c.offset.Load())) }

// Offset is the offset in use (reference − node): the last measured one, or 0 when that was
// within its own uncertainty (see MinCorrection).
func (c *Clock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// Last returns the last measurement and whether one was ever made.
func (c *Clock) Last() (Measurement, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, !c.last.At.IsZero()
}

// Measure reads the reference a few times, keeps the sample with the shortest round trip and
// makes its offset the one in use.
func (c *Clock) Measure(ctx context.Context) (Measurement, error) {
	best := Measurement{RTT: -1}
	var err error
	for range samples {
		t0 := c.base()
		r, rerr := c.ref(ctx)
		t1 := c.base()
		if rerr != nil {
			err = rerr
			continue
		}
		rtt := t1.Sub(t0)
		if best.RTT < 0 || rtt < best.RTT {
			best = Measurement{Offset: r.Sub(t0.Add(rtt / 2)), RTT: rtt, At: t1}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if best.RTT < 0 {
		c.last.Err = err
		if c.last.At.IsZero() {
			c.last.At = c.base()
		}
		return c.last, err
	}
	// An offset within the measurement's own uncertainty (the round trip, at least MinCorrection)
	// cannot be told from zero: applying it would only give each node a different error of up to
	// half its round trip, and nodes whose clocks agree (NTP) would stop agreeing.
	applied := best.Offset
	if best.Offset.Abs() <= max(best.RTT, MinCorrection) {
		applied = 0
	}
	c.offset.Store(int64(applied))
	c.last = best
	return best, nil
}

// MinCorrection is the smallest offset a Clock corrects: below it (or below the measurement's
// round trip, when longer) the node's clock is taken to agree with the reference. NTP keeps
// hosts within a few milliseconds; what matters to shared decisions (leases of seconds, rate
// buckets of tens of milliseconds per message) is a clock that is really off.
const MinCorrection = 20 * time.Millisecond

// Run measures every interval until ctx ends, calling report after each measurement.
func (c *Clock) Run(ctx context.Context, interval time.Duration, report func(Measurement, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := c.Measure(mctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if report != nil {
			report(m, err)
		}
	}
}
