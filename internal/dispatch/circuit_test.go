package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// outageProvider is a provider that can be taken down: while down every call fails as a refused
// connection. It counts the calls that reach it and the sends per message.
type outageProvider struct {
	switchboard.ErrorCodes // never asked: nothing here is classified or blocked
	mu                     sync.Mutex
	down                   bool
	calls                  int
	sent                   map[string]int
	bodies                 map[string]string
	downCalls              int
}

func (p *outageProvider) Name() string { return "fake" }

func (p *outageProvider) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

func (p *outageProvider) counts() (calls, downCalls int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, p.downCalls
}

func (p *outageProvider) hit() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.down {
		p.downCalls++
		return &switchboard.ProviderError{Outcome: switchboard.OutcomeRetry, Message: "connection refused", Err: syscall.ECONNREFUSED}
	}
	return nil
}

func (p *outageProvider) Send(_ context.Context, req *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	if err := p.hit(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent[req.MessageID]++
	sid := fmt.Sprintf("SM%032d", len(p.bodies))
	p.bodies[sid] = req.Body
	return &switchboard.ProviderMessage{SID: sid, To: req.To, From: req.From, Body: req.Body, ProviderStatus: "queued", Status: switchboard.StatusQueued}, nil
}

func (p *outageProvider) Fetch(context.Context, string) (*switchboard.ProviderMessage, error) {
	return nil, p.hit()
}

func (p *outageProvider) Find(context.Context, switchboard.FindQuery) ([]*switchboard.ProviderMessage, error) {
	return nil, p.hit()
}

// circuitObserver records the breaker's states and refusals.
type circuitObserver struct {
	mu       sync.Mutex
	states   []dispatch.CircuitState
	rejected int
}

func (o *circuitObserver) ProviderRequest(string, int, time.Duration)               {}
func (o *circuitObserver) MessageFinished(*switchboard.Message, switchboard.Status) {}
func (o *circuitObserver) Retry(string)                                             {}
func (o *circuitObserver) RateLimitWait(string, time.Duration)                      {}
func (o *circuitObserver) GateWait(string, time.Duration)                           {}
func (o *circuitObserver) SegmentsSent(string, int)                                 {}
func (o *circuitObserver) NeedsReview()                                             {}
func (o *circuitObserver) CircuitState(_ string, s dispatch.CircuitState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.states = append(o.states, s)
}
func (o *circuitObserver) CircuitRejected(string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rejected++
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDispatcherWaitsOutAnOutage: with the provider down, the dispatcher opens its circuit after
// Threshold failures and then only probes (the calls it makes are bounded by the probes'
// schedule, not by the backlog); no message fails or expires; when the provider comes back the
// probe closes the circuit, every message is sent exactly once, and the event log holds
// provider.circuit_opened then provider.circuit_closed.
func TestDispatcherWaitsOutAnOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "circuit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const from, total, concurrency = "+15005550006", 40, 4
	now := time.Now().UTC()
	until := now.Add(time.Hour)
	for i := range total {
		body := fmt.Sprintf("outage %d", i)
		m := &switchboard.Message{
			ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
			Category: switchboard.CategoryTransactional, To: fmt.Sprintf("+1415555%04d", i), From: from, Body: body,
			BodyLength: len(body), Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: now, ValidUntil: &until,
			CreatedAt: now, UpdatedAt: now,
		}
		if _, _, err := st.CreateMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	prov := &outageProvider{down: true, sent: map[string]int{}, bodies: map[string]string{}}
	obs := &circuitObserver{}
	const minOpen = 50 * time.Millisecond
	d := dispatch.New(dispatch.Config{
		Store: st, Provider: prov, Senders: []switchboard.Sender{{From: from, Kind: switchboard.SenderShortCode, Rate: -1}},
		Concurrency: concurrency, PollInterval: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		ProviderTimeout: time.Second, Observer: obs,
		Breaker: dispatch.BreakerConfig{Threshold: 3, MinOpen: minOpen, MaxOpen: 4 * minOpen},
	})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()

	waitUntil(t, 10*time.Second, "the circuit to open", func() bool { return d.Breaker().State() != dispatch.CircuitClosed })
	atOpen, _ := prov.counts()
	openedAt := time.Now()
	time.Sleep(600 * time.Millisecond) // the outage goes on; the real time it lasted bounds the probes below
	duringOutage, _ := prov.counts()
	outage := time.Since(openedAt)
	duringOutage -= atOpen
	// Calls already past the breaker when it opened (at most the concurrency) fail late; after
	// that, at most one probe per MinOpen (the interval only grows).
	if limit := concurrency + int(outage/minOpen) + 1; duringOutage > limit {
		t.Fatalf("%d provider calls during a %v outage with the circuit open; the probes allow at most %d", duringOutage, outage, limit)
	}
	if atOpen > 3+concurrency {
		t.Fatalf("%d calls before the circuit opened (threshold 3, concurrency %d)", atOpen, concurrency)
	}
	msgs, _, err := st.ListMessages(ctx, switchboard.MessageFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Status.Terminal() {
			t.Fatalf("message %s ended %s during the outage: it could still be sent within its validity", m.ID, m.Status)
		}
	}
	t.Logf("outage of %v: %d calls to open the circuit, %d calls while open (without the breaker the backlog of %d would retry every 10-40 ms)",
		outage.Round(time.Millisecond), atOpen, duringOutage, total)

	prov.setDown(false)
	waitUntil(t, 20*time.Second, "every message handed over", func() bool {
		prov.mu.Lock()
		defer prov.mu.Unlock()
		return len(prov.sent) == total
	})
	if d.Breaker().State() != dispatch.CircuitClosed {
		t.Fatalf("circuit %s after the provider came back", d.Breaker().State())
	}
	prov.mu.Lock()
	for id, n := range prov.sent {
		if n != 1 {
			t.Errorf("message %s sent %d times", id, n)
		}
	}
	prov.mu.Unlock()
	cancel()
	<-done

	evs, err := st.ListAppEvents(ctx, switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppProviderCircuitOpened, switchboard.AppProviderCircuitClosed}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != switchboard.AppProviderCircuitOpened || evs[1].Type != switchboard.AppProviderCircuitClosed {
		t.Fatalf("circuit events: %+v", evs)
	}
	var closed switchboard.CircuitChangedData
	if err := json.Unmarshal(evs[1].Data, &closed); err != nil || closed.Provider != "fake" || closed.ClosedAt == nil || closed.Probes < 1 || closed.State != "closed" {
		t.Fatalf("provider.circuit_closed payload %s: %v", evs[1].Data, err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.states) != 3 || obs.states[0] != dispatch.CircuitClosed || obs.states[1] != dispatch.CircuitOpen || obs.states[2] != dispatch.CircuitClosed {
		t.Fatalf("observed states %v, want closed, open, closed", obs.states)
	}
}
