package events_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/events"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type rig struct {
	store *sqlite.DB
	clock *fakeClock
	ep    *switchboard.Endpoint
}

func newRig(t *testing.T, url string, patterns ...string) *rig {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &fakeClock{now: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)}
	ep := &switchboard.Endpoint{ID: "ep_test", URL: url, EventTypes: patterns, Source: switchboard.EndpointFromAPI,
		Secrets: []switchboard.EndpointSecret{{Secret: events.NewSecret()}}, CreatedAt: clk.Now(), UpdatedAt: clk.Now()}
	if err := db.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	return &rig{store: db, clock: clk, ep: ep}
}

// event writes a consent.changed event.
func (r *rig) event(t *testing.T) {
	t.Helper()
	err := r.store.RecordConsent(context.Background(), &switchboard.ConsentRecord{Phone: "+14155550100", Scope: "*",
		State: switchboard.ConsentOptedIn, Source: switchboard.ConsentFromAPI, Actor: "test", At: r.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
}

func (r *rig) step(w *events.Worker) {
	w.Step(context.Background())
	w.Wait()
}

func (r *rig) deliveries(t *testing.T, status switchboard.DeliveryStatus) []*switchboard.Delivery {
	t.Helper()
	ds, _, err := r.store.ListDeliveries(context.Background(), switchboard.DeliveryFilter{EndpointID: r.ep.ID, Status: status})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestDeliveryRefusesPrivateAddressesWhenConnecting: an endpoint whose host resolves to a
// loopback address after it was registered (DNS rebinding) is refused when the worker connects,
// and nothing reaches it.
func TestDeliveryRefusesPrivateAddressesWhenConnecting(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	r := newRig(t, srv.URL+"/hooks", "*")
	r.event(t)
	w := events.New(events.Config{Store: r.store, Clock: r.clock.Now, Timeout: 2 * time.Second, Jitter: -1})
	r.step(w)
	ds := r.deliveries(t, switchboard.DeliveryPending)
	if len(ds) != 1 || ds[0].Attempts != 1 || !strings.Contains(ds[0].LastError, "refused") || !strings.Contains(ds[0].LastError, "loopback") {
		t.Fatalf("deliveries %+v, want one refused attempt", ds)
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback receiver got %d requests", hits.Load())
	}
}

// TestDeliveryScheduleAndDeadLetter follows a delivery through its schedule with the clock.
func TestDeliveryScheduleAndDeadLetter(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		times []time.Time
	)
	r := (*rig)(nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		times = append(times, r.clock.Now())
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	r = newRig(t, srv.URL, "consent.*")
	start := r.clock.Now()
	r.event(t)
	w := events.New(events.Config{Store: r.store, Clock: r.clock.Now, AllowPrivate: true, Jitter: -1,
		Schedule: []time.Duration{5 * time.Second, time.Minute}})
	r.step(w) // attempt 1 at once
	r.clock.Add(4 * time.Second)
	r.step(w) // not due
	r.clock.Add(time.Second)
	r.step(w) // attempt 2 at +5 s
	r.clock.Add(59 * time.Second)
	r.step(w) // not due
	r.clock.Add(time.Second)
	r.step(w) // attempt 3 at +65 s, the last
	r.clock.Add(time.Hour)
	r.step(w) // dead: nothing more
	want := []time.Duration{0, 5 * time.Second, 65 * time.Second}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != len(want) {
		t.Fatalf("%d attempts, want %d", len(times), len(want))
	}
	for i, at := range times {
		if got := at.Sub(start); got != want[i] {
			t.Errorf("attempt %d at +%s, want +%s", i+1, got, want[i])
		}
	}
	dead := r.deliveries(t, switchboard.DeliveryDead)
	if len(dead) != 1 || dead[0].Attempts != 3 || dead[0].LastStatusCode != 503 || dead[0].LastError != "HTTP 503" {
		t.Fatalf("dead letters %+v", dead)
	}
}

// TestDeliveryJitter: retries are spread over up to Jitter of the wait, never earlier.
func TestDeliveryJitter(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	r := newRig(t, srv.URL, "*")
	for range 20 {
		r.event(t)
	}
	w := events.New(events.Config{Store: r.store, Clock: r.clock.Now, AllowPrivate: true, Jitter: 0.5, Concurrency: 32, Schedule: []time.Duration{time.Minute}})
	r.step(w)
	seen := map[time.Time]bool{}
	for _, d := range r.deliveries(t, switchboard.DeliveryPending) {
		wait := d.NextAttemptAt.Sub(r.clock.Now())
		if wait < time.Minute || wait > 90*time.Second {
			t.Fatalf("retry in %s, want within [1m, 1m30s]", wait)
		}
		seen[d.NextAttemptAt] = true
	}
	if len(seen) < 10 {
		t.Fatalf("20 retries share %d times: no jitter", len(seen))
	}
}

type fakeBus struct {
	mu   sync.Mutex
	got  []string
	fail bool
}

func (b *fakeBus) Publish(_ context.Context, ev *switchboard.AppEvent, body []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail {
		return errors.New("nats: no responders available for request")
	}
	b.got = append(b.got, ev.ID+" "+string(body[:1]))
	return nil
}

// TestBusEndpointPublishes: the bus endpoint's deliveries go to the Publisher, retry when it
// fails, and never disable the bus.
func TestBusEndpointPublishes(t *testing.T) {
	t.Parallel()
	r := newRig(t, "https://unused.example", "message.*")
	bus := &fakeBus{fail: true}
	err := r.store.SyncEndpoints(context.Background(), []*switchboard.Endpoint{{ID: events.BusEndpointID, URL: "nats://127.0.0.1:4222",
		EventTypes: []string{"*"}, Source: switchboard.EndpointFromConfig}}, r.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	r.event(t)
	w := events.New(events.Config{Store: r.store, Clock: r.clock.Now, Bus: bus, Jitter: -1, DisableAfter: time.Second,
		Schedule: []time.Duration{time.Second, time.Second, time.Second}})
	r.step(w)
	r.clock.Add(time.Hour)
	r.step(w)
	bus.mu.Lock()
	bus.fail = false
	bus.mu.Unlock()
	r.clock.Add(time.Hour)
	r.step(w)
	ep, err := r.store.GetEndpoint(context.Background(), events.BusEndpointID)
	if err != nil || ep.DisabledAt != nil {
		t.Fatalf("bus endpoint %+v %v: disabled", ep, err)
	}
	evs, _ := r.store.ListAppEvents(context.Background(), switchboard.AppEventFilter{})
	if len(bus.got) != 1 || bus.got[0] != evs[0].ID+" {" {
		t.Fatalf("published %v", bus.got)
	}
}
