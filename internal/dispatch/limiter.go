package dispatch

import (
	"context"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Limiter spaces a sender's sends to its rate in segments per second.
type Limiter interface {
	// Reserve reserves cost segments of s's budget at the earliest time not before now. When that
	// time is more than maxWait away it reserves nothing and returns ok=false.
	Reserve(ctx context.Context, s switchboard.Sender, cost int, now time.Time, maxWait time.Duration) (at time.Time, ok bool, err error)
}

// MemoryLimiter is a per-process limiter using the generic cell rate algorithm (GCRA), the
// token bucket expressed as one timestamp per sender: tat, the time at which the sender's bucket
// of Burst segments is full again. A request of n segments may go at
// max(now, tat - (Burst-n)/Rate) and moves tat by n/Rate. Over any window W a sender therefore
// sends at most Burst + Rate*W segments, and a backlog drains at exactly Rate.
//
// The same arithmetic runs in PostgreSQL for a cluster, where the timestamp is a row.
type MemoryLimiter struct {
	mu  sync.Mutex
	tat map[string]time.Time
}

// NewMemoryLimiter returns an empty MemoryLimiter.
func NewMemoryLimiter() *MemoryLimiter { return &MemoryLimiter{tat: map[string]time.Time{}} }

// Reserve implements Limiter.
func (l *MemoryLimiter) Reserve(_ context.Context, s switchboard.Sender, cost int, now time.Time, maxWait time.Duration) (time.Time, bool, error) {
	if s.Rate < 0 {
		return now, true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	at, tat := GCRA(l.tat[s.From], s.Rate, s.Burst, cost, now)
	if at.Sub(now) > maxWait {
		return time.Time{}, false, nil
	}
	l.tat[s.From] = tat
	return at, true, nil
}

// GCRA computes, from a sender's current theoretical arrival time, when a request of cost
// segments may go and the new theoretical arrival time.
func GCRA(tat time.Time, rate float64, burst, cost int, now time.Time) (at, newTAT time.Time) {
	if cost < 1 {
		cost = 1
	}
	if burst < 1 {
		burst = 1
	}
	interval := time.Duration(float64(time.Second) / rate)
	at = tat.Add(-time.Duration(burst-cost) * interval)
	if at.Before(now) {
		at = now
	}
	if tat.Before(at) {
		tat = at
	}
	return at, tat.Add(time.Duration(cost) * interval)
}
