package dispatch

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

type gateCall struct {
	arrive  time.Duration // after t0
	cost    int
	want    time.Duration // release after t0
	maxWait time.Duration // 0: an hour
	refused bool          // want ok=false (want is then the time it would have gone)
}

func runGate(t *testing.T, g *Gate, s switchboard.Sender, t0 time.Time, calls []gateCall) {
	t.Helper()
	for i, c := range calls {
		maxWait := c.maxWait
		if maxWait == 0 {
			maxWait = time.Hour
		}
		at, ok := g.Reserve(s, c.cost, t0.Add(c.arrive), maxWait)
		if ok == c.refused || at.Sub(t0) != c.want {
			t.Fatalf("call %d (arrives %v, %d segments): released at %v ok=%v, want %v ok=%v",
				i, c.arrive, c.cost, at.Sub(t0), ok, c.want, !c.refused)
		}
	}
}

// conforms reports the first window [at[i], at[j]] whose segments exceed burst + W/interval.
// Times must be in order; the arithmetic is in whole nanoseconds, as GCRA's.
func conforms(at []time.Time, cost []int, burst int, interval time.Duration) (i, j int, ok bool) {
	for i = range at {
		sum := 0
		for j = i; j < len(at); j++ {
			sum += cost[j]
			if time.Duration(sum)*interval > time.Duration(burst)*interval+at[j].Sub(at[i]) {
				return i, j, false
			}
		}
	}
	return 0, 0, true
}

// TestGateReleaseTimes: calls reaching the gate at chosen times (a burst, a two-segment message,
// then late calls bunched together as a slow commit leaves them) go at exactly GCRA's times at
// the sender's rate and burst, in the order they arrived, and the releases never exceed
// burst + rate × window.
func TestGateReleaseTimes(t *testing.T) {
	t.Parallel()
	g := NewGate()
	s := switchboard.Sender{From: "+15005550006", Rate: 10, Burst: 3} // one segment per 100 ms
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	calls := []gateCall{
		{arrive: 0, cost: 1, want: 0}, // the burst
		{arrive: 0, cost: 1, want: 0},
		{arrive: 0, cost: 1, want: 0},
		{arrive: 0, cost: 2, want: 200 * ms},       // two segments wait for two to refill
		{arrive: 50 * ms, cost: 1, want: 300 * ms}, // behind it, in order
		// A second later the bucket is full again; four calls whose grants were spaced arrive
		// together: the burst goes at once, the fourth waits one interval.
		{arrive: 1000 * ms, cost: 1, want: 1000 * ms},
		{arrive: 1000 * ms, cost: 1, want: 1000 * ms},
		{arrive: 1000 * ms, cost: 1, want: 1000 * ms},
		{arrive: 1000 * ms, cost: 1, want: 1100 * ms},
		{arrive: 1010 * ms, cost: 3, want: 1400 * ms}, // three segments need the whole bucket
		{arrive: 1010 * ms, cost: 1, want: 1500 * ms},
		{arrive: 1800 * ms, cost: 1, want: 1800 * ms}, // caught up: no wait
	}
	runGate(t, g, s, t0, calls)
	var at []time.Time
	var cost []int
	for _, c := range calls {
		at = append(at, t0.Add(c.want))
		cost = append(cost, c.cost)
	}
	if i, j, ok := conforms(at, cost, s.Burst, 100*ms); !ok {
		t.Fatalf("calls %d..%d exceed burst + rate × window", i, j)
	}
	// Another sender is not held up by this one.
	if at, ok := g.Reserve(switchboard.Sender{From: "+15005550007", Rate: 10, Burst: 1}, 1, t0.Add(1010*ms), 0); !ok || !at.Equal(t0.Add(1010*ms)) {
		t.Fatalf("an idle sender waited: at %v ok=%v", at.Sub(t0), ok)
	}
}

// TestGateMaxWaitTakesNothing: a call that would wait longer than maxWait is refused with the
// time it would have gone, and takes no budget.
func TestGateMaxWaitTakesNothing(t *testing.T) {
	t.Parallel()
	s := switchboard.Sender{From: "a", Rate: 1, Burst: 1}
	runGate(t, NewGate(), s, time.Unix(0, 0), []gateCall{
		{arrive: 0, cost: 1, want: 0},
		{arrive: 0, cost: 1, want: time.Second, maxWait: 500 * time.Millisecond, refused: true},
		{arrive: 0, cost: 1, want: time.Second},
		{arrive: 0, cost: 1, want: 2 * time.Second},
	})
}

// TestGateUnlimited: a sender with a negative rate is never held.
func TestGateUnlimited(t *testing.T) {
	t.Parallel()
	g := NewGate()
	now := time.Unix(0, 0)
	for range 1000 {
		if at, ok := g.Reserve(switchboard.Sender{From: "u", Rate: -1}, 5, now, 0); !ok || !at.Equal(now) {
			t.Fatal("unlimited sender was held")
		}
	}
}

// TestGateRateChange: a changed rate applies from the next call, with the segments already used
// kept used, and a call never overtakes the one before it.
func TestGateRateChange(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	t0 := time.Unix(0, 0)
	// A cut from 10/s to 1/s: the bucket (burst 3) is full at 100 ms, so the next call goes when
	// one segment has refilled at the new rate, a second later, not at once.
	g := NewGate()
	runGate(t, g, switchboard.Sender{From: "a", Rate: 10, Burst: 3}, t0, []gateCall{
		{cost: 1, want: 0}, {cost: 1, want: 0}, {cost: 1, want: 0}, {cost: 1, want: 100 * ms},
	})
	runGate(t, g, switchboard.Sender{From: "a", Rate: 1, Burst: 3}, t0, []gateCall{
		{cost: 1, want: 1100 * ms}, {cost: 1, want: 2100 * ms},
	})
	// A raise from 1/s to 10/s: the call waiting until 1 s is not overtaken; after it, calls go
	// every 100 ms.
	g = NewGate()
	runGate(t, g, switchboard.Sender{From: "b", Rate: 1, Burst: 1}, t0, []gateCall{
		{cost: 1, want: 0}, {cost: 1, want: time.Second},
	})
	runGate(t, g, switchboard.Sender{From: "b", Rate: 10, Burst: 1}, t0, []gateCall{
		{cost: 1, want: 1100 * ms}, {cost: 1, want: 1200 * ms},
	})
}

// TestGateWaitBoundedByJitter is the gate's bound by construction: calls that were granted by a
// GCRA of the same rate and burst and reach the gate at most D after their grant, in any order,
// wait there at most D, and leave within burst + rate × window.
func TestGateWaitBoundedByJitter(t *testing.T) {
	t.Parallel()
	const rate, burst = 50, 5
	interval := time.Second / rate
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Unix(0, 0)
	for run := range 300 {
		jitter := time.Duration(rng.IntN(200)+1) * time.Millisecond
		type call struct {
			granted, arrives time.Time
			cost             int
		}
		var calls []call
		var tat time.Time
		now := t0
		for range 200 {
			// Requests come in clumps and pauses, as a drain loop's claims do.
			now = now.Add(time.Duration(rng.IntN(3)) * time.Duration(rng.IntN(40)) * time.Millisecond)
			cost := 1 + rng.IntN(burst)
			var at time.Time
			at, tat = GCRA(tat, rate, burst, cost, now)
			calls = append(calls, call{granted: at, arrives: at.Add(time.Duration(rng.Int64N(int64(jitter) + 1))), cost: cost})
		}
		slices.SortStableFunc(calls, func(a, b call) int { return a.arrives.Compare(b.arrives) })
		g := NewGate()
		s := switchboard.Sender{From: "s", Rate: rate, Burst: burst}
		var released []time.Time
		var costs []int
		for i, c := range calls {
			at, ok := g.Reserve(s, c.cost, c.arrives, time.Hour)
			if !ok {
				t.Fatal("refused with an hour to spare")
			}
			if wait := at.Sub(c.arrives); wait > jitter {
				t.Fatalf("run %d, call %d: waited %v at the gate, more than the %v jitter", run, i, wait, jitter)
			}
			if i > 0 && at.Before(released[i-1]) {
				t.Fatalf("run %d, call %d overtook the one before it", run, i)
			}
			released = append(released, at)
			costs = append(costs, c.cost)
		}
		if i, j, ok := conforms(released, costs, burst, interval); !ok {
			t.Fatalf("run %d: calls %d..%d exceed burst + rate × window", run, i, j)
		}
	}
}
