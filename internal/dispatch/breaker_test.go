package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// manualClock is an injected clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var (
	errRefused = &switchboard.ProviderError{Outcome: switchboard.OutcomeRetry, Message: "connection refused", Err: syscall.ECONNREFUSED}
	err503     = &switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, HTTPStatus: 503, Message: "Service Unavailable"}
	err429     = &switchboard.ProviderError{Outcome: switchboard.OutcomeRetry, HTTPStatus: 429, Code: 20429, Message: "Too Many Requests"}
	err400     = &switchboard.ProviderError{Outcome: switchboard.OutcomeFail, HTTPStatus: 400, Code: 21211, Message: "Invalid To"}
)

type changeLog struct {
	mu      sync.Mutex
	changes []CircuitChange
}

func (l *changeLog) add(c CircuitChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
}

func (l *changeLog) get() []CircuitChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]CircuitChange(nil), l.changes...)
}

func call(t *testing.T, b *Breaker, err error) {
	t.Helper()
	tk := b.Allow()
	if tk == nil {
		t.Fatalf("breaker refused a call in state %s", b.State())
	}
	tk.Done(err)
}

func TestIsOutage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errRefused, true},
		{err503, true},
		{&switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, Message: "request timed out", Err: context.DeadlineExceeded}, true},
		{&switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, HTTPStatus: 500, Code: 20500}, true},
		{fmt.Errorf("wrapped: %w", err503), true},
		{errors.New("unclassified"), true},
		{err429, false},
		{err400, false},
		{&switchboard.ProviderError{Outcome: switchboard.OutcomeFail, HTTPStatus: http.StatusUnauthorized, Code: 20003}, false},
	} {
		if got := IsOutage(c.err); got != c.want {
			t.Errorf("IsOutage(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestBreakerOpensOnConsecutiveFailures: only failures in a row count; answers that show a
// working provider (429, 400, success) reset the count.
func TestBreakerOpensOnConsecutiveFailures(t *testing.T) {
	t.Parallel()
	clk := newManualClock()
	var log changeLog
	b := NewBreaker("twilio", BreakerConfig{Threshold: 3, MinOpen: time.Second, MaxOpen: 8 * time.Second}, clk.Now, log.add)
	for _, reset := range []error{nil, err429, err400} {
		call(t, b, errRefused)
		call(t, b, err503)
		call(t, b, reset)
	}
	if b.State() != CircuitClosed || len(log.get()) != 0 {
		t.Fatalf("two failures then an answer opened the circuit: %s %+v", b.State(), log.get())
	}
	call(t, b, errRefused)
	call(t, b, err503)
	if blocked, _, _ := b.Blocked(); blocked {
		t.Fatal("blocked before the threshold")
	}
	call(t, b, errRefused)
	if b.State() != CircuitOpen {
		t.Fatalf("state %s after 3 failures in a row", b.State())
	}
	ch := log.get()
	if len(ch) != 1 || ch[0].State != CircuitOpen || ch[0].ConsecutiveFailures != 3 || !ch[0].At.Equal(clk.Now()) ||
		ch[0].LastError != errRefused.Error() || ch[0].Provider != "twilio" {
		t.Fatalf("open reported as %+v", ch)
	}
	for range 10 {
		if b.Allow() != nil {
			t.Fatal("an open circuit allowed a call before its probe time")
		}
	}
	blocked, until, _ := b.Blocked()
	if !blocked || !until.Equal(clk.Now().Add(time.Second)) {
		t.Fatalf("Blocked() = %v until %v, want until +1s", blocked, until.Sub(clk.Now()))
	}
}

// TestBreakerProbesWithBackoffAndCloses: while open, one probe per interval, the interval
// doubling with each failed probe up to MaxOpen; calls between probes are refused without a
// request; a successful probe closes the circuit and reports the outage.
func TestBreakerProbesWithBackoffAndCloses(t *testing.T) {
	t.Parallel()
	clk := newManualClock()
	var log changeLog
	b := NewBreaker("twilio", BreakerConfig{Threshold: 2, MinOpen: time.Second, MaxOpen: 5 * time.Second}, clk.Now, log.add)
	opened := clk.Now()
	call(t, b, errRefused)
	call(t, b, errRefused)
	rejected := 0
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		clk.Advance(wait - time.Millisecond)
		if b.Allow() != nil {
			t.Fatalf("probe %d allowed 1ms early", i)
		}
		rejected++
		clk.Advance(time.Millisecond)
		if blocked, _, _ := b.Blocked(); blocked {
			t.Fatalf("probe %d: still blocked at its time", i)
		}
		tk := b.Allow()
		if !tk.Probe() || b.State() != CircuitHalfOpen {
			t.Fatalf("probe %d: ticket %+v state %s", i, tk, b.State())
		}
		if b.Allow() != nil {
			t.Fatalf("a second call allowed while probe %d is in flight", i)
		}
		rejected++
		if blocked, _, _ := b.Blocked(); !blocked {
			t.Fatalf("not blocked while probe %d is in flight", i)
		}
		tk.Done(err503)
		tk.Done(nil) // a second report of one ticket changes nothing
		if b.State() != CircuitOpen {
			t.Fatalf("probe %d failed but state is %s", i, b.State())
		}
	}
	clk.Advance(5 * time.Second)
	tk := b.Allow()
	if !tk.Probe() {
		t.Fatal("no probe after MaxOpen")
	}
	tk.Done(err429) // the provider answers: it is up
	if b.State() != CircuitClosed {
		t.Fatalf("state %s after a probe the provider answered", b.State())
	}
	ch := log.get()
	if len(ch) != 2 || ch[1].State != CircuitClosed || !ch[1].OpenedAt.Equal(opened) || !ch[1].At.Equal(clk.Now()) ||
		ch[1].Probes != 6 || ch[1].Rejected != int64(rejected) {
		t.Fatalf("close reported as %+v (want 6 probes, %d rejected)", ch, rejected)
	}
	call(t, b, nil)
	call(t, b, errRefused) // one failure after closing does not reopen
	if b.State() != CircuitClosed {
		t.Fatal("reopened on one failure")
	}
}

// TestBreakerProbeCanceledOrLost: a probe given back unused lets the next call probe at once; a
// probe that never reports is presumed lost after ProbeTimeout.
func TestBreakerProbeCanceledOrLost(t *testing.T) {
	t.Parallel()
	clk := newManualClock()
	b := NewBreaker("twilio", BreakerConfig{Threshold: 1, MinOpen: time.Second, ProbeTimeout: 10 * time.Second}, clk.Now, nil)
	call(t, b, errRefused)
	clk.Advance(time.Second)
	tk := b.Allow()
	tk.Cancel()
	tk.Done(err503) // after Cancel: ignored
	if b.State() != CircuitOpen {
		t.Fatalf("state %s after a canceled probe", b.State())
	}
	tk = b.Allow()
	if !tk.Probe() {
		t.Fatal("no probe right after a canceled one")
	}
	clk.Advance(10*time.Second - time.Millisecond)
	if b.Allow() != nil {
		t.Fatal("second probe before the first timed out")
	}
	clk.Advance(time.Millisecond)
	lost := tk
	tk = b.Allow()
	if !tk.Probe() {
		t.Fatal("no new probe after ProbeTimeout")
	}
	tk.Done(nil)
	if b.State() != CircuitClosed {
		t.Fatal("not closed by the new probe")
	}
	lost.Done(errRefused) // the lost probe fails late: an ordinary failure of the closed state
	if b.State() != CircuitOpen {
		t.Fatalf("threshold 1: a failure in the closed state opens; state %s", b.State())
	}
}

// TestBreakerLateFailuresDoNotExtend: calls made before the circuit opened that fail afterwards
// (they were in flight) neither reopen nor push back the probe.
func TestBreakerLateFailuresDoNotExtend(t *testing.T) {
	t.Parallel()
	clk := newManualClock()
	b := NewBreaker("twilio", BreakerConfig{Threshold: 2, MinOpen: time.Second}, clk.Now, nil)
	inflight := []*Ticket{b.Allow(), b.Allow(), b.Allow(), b.Allow()}
	inflight[0].Done(errRefused)
	inflight[1].Done(errRefused)
	clk.Advance(900 * time.Millisecond)
	inflight[2].Done(errRefused)
	_, until, changed := b.Blocked()
	if !until.Equal(clk.Now().Add(100 * time.Millisecond)) {
		t.Fatalf("probe pushed back to +%v by a late failure", until.Sub(clk.Now()))
	}
	inflight[3].Done(nil) // a late success: the provider answered, so it is up
	select {
	case <-changed:
	default:
		t.Fatal("waiters not woken by the change of state")
	}
	if b.State() != CircuitClosed {
		t.Fatalf("state %s after a late success", b.State())
	}
}

// TestBreakerConcurrent: many goroutines calling through the breaker never get more than one
// probe at a time (run with -race).
func TestBreakerConcurrent(t *testing.T) {
	t.Parallel()
	clk := newManualClock()
	b := NewBreaker("twilio", BreakerConfig{Threshold: 3, MinOpen: time.Millisecond}, clk.Now, nil)
	var mu sync.Mutex
	inProbe, maxInProbe := 0, 0
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				clk.Advance(time.Millisecond / 4)
				tk := b.Allow()
				if tk == nil {
					continue
				}
				if tk.Probe() {
					mu.Lock()
					inProbe++
					maxInProbe = max(maxInProbe, inProbe)
					mu.Unlock()
				}
				var err error
				if (g+i)%5 != 0 {
					err = errRefused
				}
				if tk.Probe() {
					mu.Lock()
					inProbe--
					mu.Unlock()
				}
				tk.Done(err)
			}
		}()
	}
	wg.Wait()
	if maxInProbe > 1 {
		t.Fatalf("%d probes in flight at once", maxInProbe)
	}
}
