package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// slowAttempts is a store whose attempt commits (the UpdateMessage that starts an attempt) take
// a random 0–80 ms more, as they do on a loaded machine.
type slowAttempts struct {
	switchboard.Store
	mu  sync.Mutex
	rng *rand.Rand
}

func (s *slowAttempts) UpdateMessage(ctx context.Context, u switchboard.MessageUpdate) (*switchboard.Message, error) {
	if u.IncAttempts {
		s.mu.Lock()
		d := time.Duration(s.rng.Int64N(int64(80*time.Millisecond) + 1))
		s.mu.Unlock()
		time.Sleep(d) // the commit's latency, not a wait for work
	}
	return s.Store.UpdateMessage(ctx, u)
}

// callTimes is a provider that records when each Send was made and how often per message.
type callTimes struct {
	noCodes
	mu   sync.Mutex
	at   []time.Time
	sent map[string]int
}

func (p *callTimes) Name() string { return "fake" }

func (p *callTimes) Send(_ context.Context, req *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at = append(p.at, now)
	p.sent[req.MessageID]++
	sid := fmt.Sprintf("SM%032d", len(p.at))
	return &switchboard.ProviderMessage{SID: sid, To: req.To, From: req.From, Body: req.Body, ProviderStatus: "queued", Status: switchboard.StatusQueued}, nil
}

func (p *callTimes) Fetch(context.Context, string) (*switchboard.ProviderMessage, error) {
	return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeFail, Message: "not in this test"}
}

func (p *callTimes) Find(context.Context, switchboard.FindQuery) ([]*switchboard.ProviderMessage, error) {
	return nil, nil
}

// gateTimes wraps the dispatcher's gate and records when calls reached it and when it let them go.
type gateTimes struct {
	pacer
	mu                sync.Mutex
	arrived, released []time.Time
	refused           int
}

func (g *gateTimes) Reserve(s switchboard.Sender, cost int, now time.Time, maxWait time.Duration) (time.Time, bool) {
	at, ok := g.pacer.Reserve(s, cost, now, maxWait)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !ok {
		g.refused++
		return at, ok
	}
	g.arrived = append(g.arrived, now)
	g.released = append(g.released, at)
	return at, ok
}

// excess is the most by which a window of (sorted) times holds more than burst + rate × (its
// width + slack) calls of one segment.
func excess(ts []time.Time, burst int, interval, slack time.Duration) int {
	worst := 0
	for i := range ts {
		for j := i; j < len(ts); j++ {
			allowed := burst + int((ts[j].Sub(ts[i])+slack)/interval)
			worst = max(worst, j-i+1-allowed)
		}
	}
	return worst
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// TestDispatcherPacesCallsBehindSlowCommits: attempt commits take a random 0–80 ms each, so calls
// reach the provider call point bunched although their grants are spaced. The gate's release
// times never exceed burst + rate × window; no call is made before its release; so the provider
// calls never exceed burst + rate × (window + L), L the measured lateness of the calls behind
// their releases (goroutine wake-up, under a millisecond on a quiet machine: the scheduler's, not
// the gate's). Every message is sent exactly once, in one attempt: the gate only delays calls.
//
// The sender goes at 200/s with a burst of 5, so that 80 ms span 16 of its intervals. (At 50/s
// the same delays span 4, less than the slack the burst leaves once it is spent: the calls exceed
// the limit by 1–2, and in a simulation of these delays one run in five not at all, too often for
// a test that must fail without the gate.)
func TestDispatcherPacesCallsBehindSlowCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const from, total, rate, burst = "+15005550006", 200, 200, 5
	interval := time.Second / rate
	now := time.Now().UTC()
	for i := range total {
		body := fmt.Sprintf("paced %d", i)
		m := &switchboard.Message{
			ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
			Category: switchboard.CategoryTransactional, To: fmt.Sprintf("+1415555%04d", i), From: from, Body: body,
			BodyLength: len(body), Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: now,
			CreatedAt: now, UpdatedAt: now,
		}
		if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	prov := &callTimes{sent: map[string]int{}}
	d := New(Config{
		Store: &slowAttempts{Store: db, rng: rand.New(rand.NewPCG(7, 11))}, Provider: prov,
		Senders:      []switchboard.Sender{{From: from, Kind: switchboard.SenderShortCode, Rate: rate, Burst: burst}},
		PollInterval: 10 * time.Millisecond, ProviderTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	gate := &gateTimes{pacer: d.gate}
	d.gate = gate
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(15 * time.Second)
	for {
		prov.mu.Lock()
		n := len(prov.sent)
		prov.mu.Unlock()
		if n == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages sent after 15 s", n, total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done

	prov.mu.Lock()
	calls := slices.Clone(prov.at)
	for id, n := range prov.sent {
		if n != 1 {
			t.Errorf("message %s sent %d times", id, n)
		}
	}
	prov.mu.Unlock()
	gate.mu.Lock()
	arrived, released, refused := slices.Clone(gate.arrived), slices.Clone(gate.released), gate.refused
	gate.mu.Unlock()
	if len(calls) != total || len(released) != total || refused != 0 {
		t.Fatalf("%d calls, %d releases, %d refused by the gate for %d messages", len(calls), len(released), refused, total)
	}
	msgs, _, err := db.ListMessages(ctx, switchboard.MessageFilter{Limit: 2 * total})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Attempts != 1 || m.Status != switchboard.StatusSending {
			t.Errorf("message %s: %s after %d attempts, want sending after 1", m.ID, m.Status, m.Attempts)
		}
	}

	for _, ts := range [][]time.Time{arrived, released, calls} {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	}
	// Without the gate the calls would have gone as they arrived: bunched (else this test
	// proves nothing).
	bunched := excess(arrived, burst, interval, 0)
	if bunched <= 0 {
		t.Fatalf("the slow commits did not bunch the calls (arrivals within the limit): the scenario is not reproduced")
	}
	overReleased := excess(released, burst, interval, 0)
	if overReleased > 0 {
		t.Errorf("the gate released %d calls beyond burst + rate × window (arrivals were %d beyond)", overReleased, bunched)
	}
	// Each call follows its own release, so the k-th call in time follows the k-th release.
	var late time.Duration
	for k := range calls {
		if calls[k].Before(released[k]) {
			t.Fatalf("call %d made %v before the gate let it go", k, released[k].Sub(calls[k]))
		}
		late = max(late, calls[k].Sub(released[k]))
	}
	if e := excess(calls, burst, interval, late); e > 0 {
		t.Errorf("provider calls %d beyond burst + rate × (window + %v)", e, late)
	}
	t.Logf("arrivals at the gate up to %d calls beyond burst + rate × window, releases %d; calls at most %v behind their releases, %d beyond the limit without that allowance",
		bunched, overReleased, late, excess(calls, burst, interval, 0))
}

// refuseOnce is a gate that holds each message's first call longer than the attempt's lease
// allows (as after a commit that took most of a lease), then lets calls go from that time on.
type refuseOnce struct {
	mu    sync.Mutex
	until time.Time
}

func (g *refuseOnce) Reserve(_ switchboard.Sender, _ int, now time.Time, maxWait time.Duration) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.until.IsZero() {
		g.until = now.Add(maxWait + 300*time.Millisecond)
	}
	if g.until.Sub(now) > maxWait {
		return g.until, false
	}
	return now, true
}

// TestDispatcherUndoesAnAttemptPacedPastItsLease: when the gate would hold a call past what the
// attempt's lease allows, the call is not made, the attempt is undone (not in flight, lease
// released, a note on the timeline) and the message goes once the gate's time has come, in a
// second attempt that needs no reconciliation.
func TestDispatcherUndoesAnAttemptPacedPastItsLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "refuse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const from = "+15005550006"
	now := time.Now().UTC()
	m := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: "+14155550100", From: from, Body: "paced",
		BodyLength: 5, Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	prov := &callTimes{sent: map[string]int{}}
	d := New(Config{
		Store: db, Provider: prov, Senders: []switchboard.Sender{{From: from, Rate: 10, Burst: 1}},
		PollInterval: 10 * time.Millisecond, Lease: 2 * time.Second, ProviderTimeout: time.Second,
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	gate := &refuseOnce{}
	d.gate = gate
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		prov.mu.Lock()
		n := len(prov.at)
		prov.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message was not sent after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	prov.mu.Lock()
	defer prov.mu.Unlock()
	gate.mu.Lock()
	until := gate.until
	gate.mu.Unlock()
	if len(prov.at) != 1 || prov.sent[m.ID] != 1 {
		t.Fatalf("%d calls for %v", len(prov.at), prov.sent)
	}
	if prov.at[0].Before(until) {
		t.Fatalf("sent %v before the gate's time", until.Sub(prov.at[0]))
	}
	got, err := db.GetMessage(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Attempts != 2 || got.AttemptInFlight || got.ProviderSID == "" {
		t.Fatalf("attempts %d, in flight %v, sid %q: want 2 attempts, the second handed over", got.Attempts, got.AttemptInFlight, got.ProviderSID)
	}
	var notes, reconciles int
	for _, e := range got.Events {
		switch e.Type {
		case switchboard.EventNote:
			if strings.Contains(e.Detail, "attempt 1 not made") && strings.Contains(e.Detail, "nothing was sent") {
				notes++
			}
		case switchboard.EventReconcile:
			reconciles++
		}
	}
	if notes != 1 || reconciles != 0 {
		t.Fatalf("timeline has %d notes of the attempt not made and %d reconciliations, want 1 and 0", notes, reconciles)
	}
}
