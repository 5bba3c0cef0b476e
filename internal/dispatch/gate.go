package dispatch

import (
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Gate paces a node's provider calls per sender at the call point: a call passes it right before
// the provider is called, after its attempt is recorded.
//
// The Limiter's grant (cluster-wide on PostgreSQL) is where a sender's budget is allocated: its
// grants never exceed Burst + Rate × W segments in any window W, across all nodes. But between
// the grant and the call the dispatcher checks policy and commits the attempt, and on a loaded
// machine those steps take from milliseconds to hundreds of milliseconds: a message held up
// behind a slow commit reaches the provider right next to the one after it, and the calls bunch
// above the limit although the grants never do. The gate runs the same GCRA (same Rate and Burst,
// a message costs max(1, Segments)) on the calls themselves, in the order they reach it, so that
// this node's calls for a sender never exceed Burst + Rate × W in any window W either.
//
// It only delays calls, and by construction not for long. Every call reaching the gate was
// granted, and the grants conform to the limit. If no call reaches the gate more than D after
// its grant, then everything granted by t has reached the gate by t + D, and a GCRA of the same
// rate and burst has let all of it go by t + D: no call waits at the gate longer than D, the
// unevenness it absorbs — in practice about a message's cost / Rate for each late call it lets
// in ahead. Across nodes each node's calls hold the limit, and all of them together hold
// Burst + Rate × (W + D), as they would without the gate (the calls in a window were granted in
// that window widened by D); the exact limit at the provider holds for work sent from one node.
//
// The Sender comes with each call, so a changed rate or burst applies from the next call. The
// state is a mutex and a few numbers per sender, kept in memory; senders are independent. The
// dispatcher passes monotonic readings (time.Now) as now: the gate spaces real calls in real time.
type Gate struct {
	mu      sync.Mutex
	senders map[string]gateState
}

// gateState is one sender's gate: tat is the GCRA's theoretical arrival time at the sender's
// interval (1/Rate) when it was last used, last the release time of the sender's latest call.
type gateState struct {
	tat, last time.Time
	interval  time.Duration
}

// NewGate returns a Gate with no history.
func NewGate() *Gate { return &Gate{senders: map[string]gateState{}} }

// Reserve returns the time at which a call of cost segments from sender s that reaches the gate
// at now may be made, and takes that budget: the earliest time not before now, nor before the
// sender's previous call (calls pass in the order they arrive), at which the sender's calls stay
// within Burst + Rate × W over every window W. When that time is more than maxWait after now it
// takes nothing and returns it with ok=false. A negative rate is unlimited: now, at once.
func (g *Gate) Reserve(s switchboard.Sender, cost int, now time.Time, maxWait time.Duration) (at time.Time, ok bool) {
	if s.Rate < 0 {
		return now, true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.senders[s.From]
	// Not before the previous call: with unchanged settings GCRA's times never go backwards,
	// but after a rate change a small message could otherwise overtake a waiting one.
	from := laterOf(now, st.last)
	interval := time.Duration(float64(time.Second) / s.Rate)
	if st.interval != 0 && interval != st.interval && st.tat.After(from) {
		// The rate changed: the segments already used stay used, at the new rate's refill time
		// (a rate cut must not let the old rate's slack through).
		used := float64(st.tat.Sub(from)) / float64(st.interval)
		st.tat = from.Add(time.Duration(used * float64(interval)))
	}
	at, tat := GCRA(st.tat, s.Rate, s.Burst, cost, from)
	if at.Sub(now) > maxWait {
		return at, false
	}
	g.senders[s.From] = gateState{tat: tat, last: at, interval: interval}
	return at, true
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
