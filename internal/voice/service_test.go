package voice_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// recordingProvider places every call at once and records when (by the injected clock).
type recordingProvider struct {
	clock  func() time.Time
	mu     sync.Mutex
	placed map[string]time.Time
	// fetched is what FetchCall answers for a SID; fetches counts its calls.
	fetched map[string]switchboard.CallStatus
	fetches int
}

func (p *recordingProvider) PlaceCall(_ context.Context, req *switchboard.PlaceCallRequest) (*switchboard.ProviderCall, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.placed[req.CallID]; dup {
		return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeFail, Message: "placed twice"}
	}
	p.placed[req.CallID] = p.clock()
	return &switchboard.ProviderCall{SID: "CA" + req.CallID, Status: switchboard.CallQueued}, nil
}

func (p *recordingProvider) EndCall(context.Context, string) error { return nil }

// FetchCall answers the status set in fetched for a SID, or 404 when none is set.
func (p *recordingProvider) FetchCall(_ context.Context, sid string) (*switchboard.ProviderCall, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetches++
	st, ok := p.fetched[sid]
	if !ok {
		return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeFail, HTTPStatus: 404, Code: 20404, Message: "not found"}
	}
	return &switchboard.ProviderCall{SID: sid, ProviderStatus: string(st), Status: st}, nil
}

// FindCalls finds nothing: no answer of this provider is ambiguous.
func (p *recordingProvider) FindCalls(_ context.Context, q switchboard.CallQuery) ([]*switchboard.ProviderCall, error) {
	return nil, nil
}

// fakeClock is a test clock moved by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testEnv struct {
	cfg   voice.Config // the service's configuration, for another service on the same store
	db    *sqlite.DB
	svc   *voice.Service
	prov  *recordingProvider
	clock *fakeClock
}

func newTestEnv(t *testing.T, cps float64) *testEnv {
	t.Helper()
	return newTestEnvWith(t, cps, nil)
}

// newTestEnvWith is newTestEnv with edit applied to the service's configuration.
func newTestEnvWith(t *testing.T, cps float64, edit func(*voice.Config)) *testEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "voice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	flows, err := voice.Load(filepath.Join("..", "..", "examples", "flows"))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)}
	prov := &recordingProvider{clock: clock.now, placed: map[string]time.Time{}, fetched: map[string]switchboard.CallStatus{}}
	cfg := voice.Config{Store: db, Provider: prov, Flows: func() *voice.Catalog { return flows },
		PublicURL: "https://sb.example.com", AuthToken: "token", CallsPerSecond: cps, Clock: clock.now,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)), Poll: 200 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	svc := voice.New(cfg)
	return &testEnv{cfg: cfg, db: db, svc: svc, prov: prov, clock: clock}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func (e *testEnv) create(t *testing.T, to string) *switchboard.Call {
	t.Helper()
	c, err := e.svc.Build(&voice.CreateRequest{To: to, Flow: "appointment_confirmation",
		Variables: map[string]string{"clinic": "Northside", "date": "Tuesday", "front_desk": "+15005550020", "patient_name": "Ana"}},
		"+15005550006", e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	stored, _, err := e.db.CreateCall(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// TestQueuedCallsArePlacedAtTheSenderRate queues 30 calls from one number at once and polls as
// the placer does (every 200 ms of the injected clock): every call is placed once, no two within
// 1/calls_per_second of each other, and the last one about 29 s after the first (issue 15: only
// the first call of a sender was ever placed; the others' slots moved ahead at each poll).
func TestQueuedCallsArePlacedAtTheSenderRate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEnv(t, 1)
	start := e.clock.now()
	var ids []string
	for i := range 30 {
		ids = append(ids, e.create(t, "+1415555"+string(rune('1'+i/10))+string(rune('0'+i%10))+"00").ID)
	}
	for range 60 * 5 { // a minute of polls: twice what 30 calls at 1/s need
		if err := e.svc.PlaceDue(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.add(200 * time.Millisecond)
	}
	var times []time.Time
	for _, id := range ids {
		at, ok := e.prov.placed[id]
		if !ok {
			c, _ := e.db.GetCall(ctx, id)
			t.Fatalf("call %s never placed: status %s attempts %d next %v", id, c.Status, c.Attempts, c.NextAttemptAt)
		}
		c, err := e.db.GetCall(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Attempts != 1 || c.ProviderSID == "" {
			t.Errorf("call %s: attempts %d sid %q", id, c.Attempts, c.ProviderSID)
		}
		times = append(times, at)
	}
	slicesSortTimes(times)
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < time.Second {
			t.Errorf("calls %d and %d placed %v apart, faster than 1 per second", i-1, i, gap)
		}
	}
	if last := times[len(times)-1].Sub(start); last > 29*time.Second+time.Second {
		t.Errorf("the 30th call was placed %v after the first was queued, want about 29 s at 1 call/s", last)
	}
	// The wait is on the timeline of a deferred call, once.
	c, err := e.db.GetCall(ctx, ids[len(ids)-1])
	if err != nil {
		t.Fatal(err)
	}
	waits := 0
	for _, ev := range c.Timeline {
		if ev.Type == switchboard.CallEventAttempt && ev.Detail != "" && len(ev.Detail) > 7 && ev.Detail[:7] == "waiting" {
			waits++
		}
	}
	if waits != 1 {
		t.Errorf("the last call's timeline says %d times that it waited for its slot, want 1: %+v", waits, c.Timeline)
	}
}

func slicesSortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}
