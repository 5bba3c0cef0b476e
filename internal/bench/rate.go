package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
)

// rateSenders are the senders of the rate bench: long codes of the fictional 555-01xx range with
// different rates (segments per second) and bursts.
var rateSenders = []struct {
	from  string
	rate  float64
	burst int
}{
	{"+12025550140", 5, 2},
	{"+12025550141", 20, 5},
	{"+12025550142", 50, 10},
}

func isRateSender(number string) bool {
	for _, s := range rateSenders {
		if s.from == number {
			return true
		}
	}
	return false
}

// rateTolerance is the bar: each sender's achieved rate within ±3% of its configured rate.
const rateTolerance = 0.03

// SenderRate is what the rate bench measured for one sender.
type SenderRate struct {
	From  string  `json:"from"`
	Rate  float64 `json:"rate"` // configured, segments per second
	Burst int     `json:"burst"`
	Sent  int     `json:"sent"`
	// Achieved is the rate after the burst: (Sent − Burst) over the time from the first send to
	// the last, in segments (all the bench's messages are one segment) per second.
	Achieved float64 `json:"achieved"`
	// Deviation is Achieved / Rate − 1.
	Deviation float64 `json:"deviation"`
	// MaxExcess is the largest number of sends in any window beyond burst + rate × window
	// (0 when the limit always held).
	MaxExcess float64 `json:"max_excess"`
	// Reserved* are the same figures for the times the rate limiter granted (when the dispatcher
	// was allowed to start each message), which tells the limiter's own accuracy from the delays
	// between a reservation and its provider call.
	ReservedAchieved  float64 `json:"reserved_achieved"`
	ReservedDeviation float64 `json:"reserved_deviation"`
	ReservedMaxExcess float64 `json:"reserved_max_excess"`
}

// reservations records the times the dispatcher's rate limiter grants, per sender.
type reservations struct {
	dispatch.Limiter
	mu sync.Mutex
	at map[string][]time.Time
}

// Reserve passes the call on and records a granted time.
func (r *reservations) Reserve(ctx context.Context, s switchboard.Sender, cost int, now time.Time, maxWait time.Duration) (time.Time, bool, error) {
	at, ok, err := r.Limiter.Reserve(ctx, s, cost, now, maxWait)
	if ok && err == nil {
		r.mu.Lock()
		r.at[s.From] = append(r.at[s.From], at)
		r.mu.Unlock()
	}
	return at, ok, err
}

// sendTimes records when the dispatcher called the provider for each sender.
type sendTimes struct {
	switchboard.Provider
	mu sync.Mutex
	at map[string][]time.Time
}

// Send records the call's start and passes it on.
func (s *sendTimes) Send(ctx context.Context, req *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	t := time.Now()
	pm, err := s.Provider.Send(ctx, req)
	if err == nil {
		s.mu.Lock()
		s.at[req.From] = append(s.at[req.From], t)
		s.mu.Unlock()
	}
	return pm, err
}

// Rate measures the per-sender rate limit: three senders of different rates each get a backlog
// larger than they can send in cfg.Duration; the dispatcher sends for cfg.Duration; the times of
// its provider calls give each sender's achieved rate after its burst (bar: within ±3% of the
// configured rate) and the largest excess over burst + rate × window in any window (bar: none).
// On PostgreSQL the limit is the database's shared bucket, as in a cluster.
func Rate(ctx context.Context, cfg Config) (_ *Result, err error) {
	cfg = cfg.withDefaults()
	var yaml strings.Builder
	yaml.WriteString("senders:\n")
	for _, s := range rateSenders {
		fmt.Fprintf(&yaml, "  - from: %q\n    kind: long_code\n    rate: %g\n    burst: %d\n", s.from, s.rate, s.burst)
	}
	st := &sendTimes{at: map[string][]time.Time{}}
	rv := &reservations{at: map[string][]time.Time{}}
	n, err := startNode(ctx, cfg, nodeSetup{
		yaml: yaml.String(),
		dispatch: func(dc *dispatch.Config) {
			st.Provider = dc.Provider
			dc.Provider = st
			if dc.Limiter == nil {
				dc.Limiter = dispatch.NewMemoryLimiter()
			}
			rv.Limiter = dc.Limiter
			dc.Limiter = rv
		},
	})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, n.close()) }()
	if err := refuseDueWork(ctx, n.Store()); err != nil {
		return nil, err
	}
	res := newResult("rate", cfg, n.engine)
	res.LatencyOf = "not measured (the figure is each sender's achieved rate)"

	run := newRunID()
	now := time.Now().UTC()
	var i int64
	for _, s := range rateSenders {
		backlog := int64(s.rate*cfg.Duration.Seconds()*1.5) + int64(s.burst) + 10
		cfg.progress("rate: queueing %d messages for %s (%g/s, burst %d)", backlog, s.from, s.rate, s.burst)
		for range backlog {
			m := newMessage(run, i, n.rawKeyID, now)
			for isRateSender(m.To) { // a number cannot text itself (21266)
				i++
				m = newMessage(run, i, n.rawKeyID, now)
			}
			m.From = s.from
			if m.Segments != 1 {
				return nil, fmt.Errorf("bench message of %d segments", m.Segments)
			}
			if _, _, err := n.Store().CreateMessage(ctx, m, nil); err != nil {
				return nil, err
			}
			i++
		}
	}

	cfg.progress("rate: dispatching (%s)", cfg.Duration)
	p := &phase{}
	u, err := measure(cfg.CPUProfile, func() {
		start := time.Now()
		n.openGate()
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		p.elapsed = time.Since(start)
	})
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	at := make(map[string][]time.Time, len(st.at))
	for from, ts := range st.at {
		at[from] = slices.Clone(ts)
	}
	st.mu.Unlock()
	rv.mu.Lock()
	reserved := make(map[string][]time.Time, len(rv.at))
	for from, ts := range rv.at {
		reserved[from] = slices.Clone(ts)
	}
	rv.mu.Unlock()

	res.Verified = true
	var checks []string
	for _, s := range rateSenders {
		r := senderRate(s.from, s.rate, s.burst, at[s.from])
		if len(reserved[s.from]) > len(at[s.from]) {
			// Reservations of messages not yet handed over when the time was up.
			reserved[s.from] = reserved[s.from][:len(at[s.from])]
		}
		g := senderRate(s.from, s.rate, s.burst, reserved[s.from])
		r.ReservedAchieved, r.ReservedDeviation, r.ReservedMaxExcess = g.Achieved, g.Deviation, g.MaxExcess
		res.Rates = append(res.Rates, r)
		p.ops += int64(r.Sent)
		ok := math.Abs(r.Deviation) <= rateTolerance && r.MaxExcess <= 0
		res.Verified = res.Verified && ok
		checks = append(checks, fmt.Sprintf("%s %g/s: %.2f/s (%+.1f%%), max excess %.1f [limiter granted %.2f/s (%+.1f%%), max excess %.1f]",
			s.from, s.rate, r.Achieved, 100*r.Deviation, r.MaxExcess, r.ReservedAchieved, 100*r.ReservedDeviation, r.ReservedMaxExcess))
	}
	res.finish(p, u)
	res.Check = "achieved rate within ±3% after the burst and never above burst + rate × window: " + strings.Join(checks, "; ")
	if !res.Verified {
		res.Check = "FAILED: " + res.Check
	}
	res.Notes = append(res.Notes, "times are the dispatcher's provider calls; every message is one segment")
	return res, nil
}

// senderRate computes one sender's figures from the times of its sends.
func senderRate(from string, rate float64, burst int, ts []time.Time) SenderRate {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	r := SenderRate{From: from, Rate: rate, Burst: burst, Sent: len(ts)}
	if len(ts) > burst+1 {
		span := ts[len(ts)-1].Sub(ts[0]).Seconds()
		if span > 0 {
			r.Achieved = float64(len(ts)-burst) / span
			r.Deviation = r.Achieved/rate - 1
		}
	}
	// Any window [ts[i], ts[j]] holds j−i+1 sends; the limiter allows burst + rate × width (the
	// +1 allows for the send at the window's very end).
	for i := range ts {
		for j := i; j < len(ts); j++ {
			allowed := float64(burst) + rate*ts[j].Sub(ts[i]).Seconds() + 1
			if excess := float64(j-i+1) - allowed; excess > r.MaxExcess {
				r.MaxExcess = excess
			}
		}
	}
	return r
}
