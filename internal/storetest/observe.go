package storetest

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard"
)

var observeTests = []test{
	{"QueueStatsReadyDeferredOldest", testQueueStats},
	{"QueueStatsLimit", testQueueStatsLimit},
	{"DeliveryOutcomesWindow", testDeliveryOutcomes},
	{"AlertTransitionCompareAndSet", testAlertTransition},
	{"AlertTransitionConcurrentOnce", testAlertTransitionConcurrent},
	{"AlertTransitionInvalid", testAlertTransitionInvalid},
	{"MessageAppEventsWithDeliveries", testMessageAppEvents},
}

func testQueueStats(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	got, err := s.QueueStats(ctx, at(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("QueueStats of an empty store = %+v", got)
	}
	// fromA: two due (the oldest due at -5m), one in retry backoff, one scheduled, one sending,
	// one delivered; fromB: one scheduled only.
	createAt(t, s, at(-10*time.Minute), func(m *switchboard.Message) { m.NextAttemptAt = at(-5 * time.Minute) })
	createAt(t, s, at(-time.Minute), nil)
	createAt(t, s, at(-time.Minute), func(m *switchboard.Message) { m.NextAttemptAt = at(30 * time.Second) })
	createAt(t, s, at(-time.Minute), func(m *switchboard.Message) {
		m.Status, m.SendAt, m.NextAttemptAt = switchboard.StatusScheduled, ptr(at(time.Hour)), at(time.Hour)
	})
	sending := createAt(t, s, at(-20*time.Minute), func(m *switchboard.Message) { m.NextAttemptAt = at(-20 * time.Minute) })
	setSending(t, s, sending.ID, "SMobs1", at(-19*time.Minute))
	done := createAt(t, s, at(-30*time.Minute), func(m *switchboard.Message) { m.NextAttemptAt = at(-30 * time.Minute) })
	update(t, s, switchboard.MessageUpdate{ID: done.ID, Status: switchboard.StatusDelivered, At: at(-29 * time.Minute)})
	createAt(t, s, at(-time.Minute), func(m *switchboard.Message) {
		m.From, m.Status, m.SendAt, m.NextAttemptAt = fromB, switchboard.StatusScheduled, ptr(at(time.Hour)), at(time.Hour)
	})

	got, err = s.QueueStats(ctx, at(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []switchboard.SenderQueue{
		{Sender: fromA, Ready: 2, Deferred: 2, OldestDueAt: ptr(at(-5 * time.Minute))},
		{Sender: fromB, Ready: 0, Deferred: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("QueueStats at 0 (-want +got):\n%s", diff)
	}
	// An hour later everything waiting is due.
	got, err = s.QueueStats(ctx, at(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	want = []switchboard.SenderQueue{
		{Sender: fromA, Ready: 4, OldestDueAt: ptr(at(-5 * time.Minute))},
		{Sender: fromB, Ready: 1, OldestDueAt: ptr(at(time.Hour))},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("QueueStats at +1h (-want +got):\n%s", diff)
	}
}

// testQueueStatsLimit: a limit caps each count and flags it; a count at the limit is exact, not
// capped; the oldest due stays exact; limit 0 counts everything.
func testQueueStatsLimit(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	// fromA: 4 ready (the oldest due at -9m) and 3 deferred; fromB: 2 ready and 2 deferred.
	for i := range 4 {
		createAt(t, s, at(-10*time.Minute), func(m *switchboard.Message) { m.NextAttemptAt = at(time.Duration(i-9) * time.Minute) })
	}
	for i := range 3 {
		createAt(t, s, at(-10*time.Minute), func(m *switchboard.Message) { m.NextAttemptAt = at(time.Duration(i+1) * time.Minute) })
	}
	for i := range 4 {
		createAt(t, s, at(-10*time.Minute), func(m *switchboard.Message) {
			m.From, m.NextAttemptAt = fromB, at(time.Duration(2*i-3)*time.Minute)
		})
	}
	for _, tc := range []struct {
		limit int64
		want  []switchboard.SenderQueue
	}{
		{0, []switchboard.SenderQueue{
			{Sender: fromA, Ready: 4, Deferred: 3, OldestDueAt: ptr(at(-9 * time.Minute))},
			{Sender: fromB, Ready: 2, Deferred: 2, OldestDueAt: ptr(at(-3 * time.Minute))},
		}},
		{3, []switchboard.SenderQueue{
			{Sender: fromA, Ready: 3, ReadyCapped: true, Deferred: 3, OldestDueAt: ptr(at(-9 * time.Minute))},
			{Sender: fromB, Ready: 2, Deferred: 2, OldestDueAt: ptr(at(-3 * time.Minute))},
		}},
		{1, []switchboard.SenderQueue{
			{Sender: fromA, Ready: 1, ReadyCapped: true, Deferred: 1, DeferredCapped: true, OldestDueAt: ptr(at(-9 * time.Minute))},
			{Sender: fromB, Ready: 1, ReadyCapped: true, Deferred: 1, DeferredCapped: true, OldestDueAt: ptr(at(-3 * time.Minute))},
		}},
	} {
		got, err := s.QueueStats(ctx, at(0), tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("QueueStats limit %d (-want +got):\n%s", tc.limit, diff)
		}
	}
}

func testDeliveryOutcomes(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	finish := func(from string, st switchboard.Status, when time.Time) {
		m := createAt(t, s, when.Add(-time.Minute), func(m *switchboard.Message) { m.From = from })
		update(t, s, switchboard.MessageUpdate{ID: m.ID, Status: st, At: when})
	}
	// Inside (0, 10m]: fromA 3 delivered (one then read), 1 undelivered, 1 failed, 1 blocked
	// (not an outcome); fromB 1 failed. Outside: fromA failures at the start and after the end.
	finish(fromA, switchboard.StatusDelivered, at(10*time.Minute))
	finish(fromA, switchboard.StatusDelivered, at(time.Minute))
	read := createAt(t, s, at(0), nil)
	update(t, s, switchboard.MessageUpdate{ID: read.ID, Status: switchboard.StatusDelivered, At: at(2 * time.Minute)})
	update(t, s, switchboard.MessageUpdate{ID: read.ID, Status: switchboard.StatusRead, At: at(3 * time.Minute)})
	finish(fromA, switchboard.StatusUndelivered, at(4*time.Minute))
	finish(fromA, switchboard.StatusFailed, at(5*time.Minute))
	finish(fromA, switchboard.StatusBlocked, at(5*time.Minute))
	finish(fromB, switchboard.StatusFailed, at(6*time.Minute))
	finish(fromA, switchboard.StatusFailed, at(0))
	finish(fromA, switchboard.StatusFailed, at(10*time.Minute+time.Microsecond))
	sending := createAt(t, s, at(0), nil)
	setSending(t, s, sending.ID, "SMobs2", at(time.Minute))

	got, err := s.DeliveryOutcomes(ctx, at(0), at(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []switchboard.SenderOutcomes{{Sender: fromA, Delivered: 3, Failed: 2}, {Sender: fromB, Failed: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DeliveryOutcomes (-want +got):\n%s", diff)
	}
	if r := got[0].Rate(); r != 0.6 {
		t.Errorf("rate of %+v = %v, want 0.6", got[0], r)
	}
	got, err = s.DeliveryOutcomes(ctx, at(time.Hour), at(2*time.Hour))
	if err != nil || len(got) != 0 {
		t.Errorf("DeliveryOutcomes of an empty window = %+v, %v", got, err)
	}
}

func alertEvent(t *testing.T, typ switchboard.AppEventType, when time.Time) *switchboard.AppEvent {
	t.Helper()
	ev, err := switchboard.NewAppEvent(typ, when, switchboard.DeliveryRateAlertData{Sender: fromA, Rate: 0.5, Threshold: 0.9, Delivered: 5, Failed: 5})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func transition(t *testing.T, s switchboard.Store, key string, from, to switchboard.AlertState, typ switchboard.AppEventType, when time.Time) bool {
	t.Helper()
	ok, err := s.TransitionAlert(t.Context(), switchboard.AlertTransition{Key: key, From: from, To: to, At: when, Event: alertEvent(t, typ, when)})
	if err != nil {
		t.Fatalf("TransitionAlert(%s %s→%s): %v", key, from, to, err)
	}
	return ok
}

func testAlertTransition(t *testing.T, s switchboard.Store) {
	const key = "delivery_rate_low/" + fromA
	low, rec := switchboard.AppAlertDeliveryRateLow, switchboard.AppAlertDeliveryRateRecovered
	// An alert never recorded is ok: it cannot recover.
	if transition(t, s, key, switchboard.AlertFired, switchboard.AlertOK, rec, at(0)) {
		t.Fatal("an unrecorded alert recovered")
	}
	steps := []struct {
		from, to switchboard.AlertState
		typ      switchboard.AppEventType
		want     bool
	}{
		{switchboard.AlertOK, switchboard.AlertFired, low, true},
		{switchboard.AlertOK, switchboard.AlertFired, low, false}, // already firing
		{switchboard.AlertFired, switchboard.AlertOK, rec, true},
		{switchboard.AlertFired, switchboard.AlertOK, rec, false}, // already ok
		{switchboard.AlertOK, switchboard.AlertFired, low, true},  // fires again
	}
	for i, st := range steps {
		if got := transition(t, s, key, st.from, st.to, st.typ, at(time.Duration(i+1)*time.Minute)); got != st.want {
			t.Fatalf("step %d %s→%s applied = %v, want %v", i, st.from, st.to, got, st.want)
		}
	}
	evs := events(t, s, low, rec)
	var types []switchboard.AppEventType
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if diff := cmp.Diff([]switchboard.AppEventType{low, rec, low}, types); diff != "" {
		t.Errorf("events written (-want +got):\n%s", diff)
	}
	var d switchboard.DeliveryRateAlertData
	if err := json.Unmarshal(evs[0].Data, &d); err != nil || d.Sender != fromA || d.Threshold != 0.9 {
		t.Errorf("alert payload = %s (%v)", evs[0].Data, err)
	}
	states, err := s.AlertStates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]switchboard.AlertState{key: switchboard.AlertFired}, states); diff != "" {
		t.Errorf("AlertStates (-want +got):\n%s", diff)
	}
	// Another alert is independent.
	if !transition(t, s, "delivery_rate_low/"+fromB, switchboard.AlertOK, switchboard.AlertFired, low, at(time.Hour)) {
		t.Error("a second alert did not fire")
	}
}

func testAlertTransitionConcurrent(t *testing.T, s switchboard.Store) {
	const key = "delivery_rate_low/" + fromC
	var applied atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			when := at(time.Duration(i) * time.Millisecond)
			ok, err := s.TransitionAlert(t.Context(), switchboard.AlertTransition{Key: key, From: switchboard.AlertOK,
				To: switchboard.AlertFired, At: when, Event: alertEvent(t, switchboard.AppAlertDeliveryRateLow, when)})
			if err != nil {
				t.Errorf("TransitionAlert: %v", err)
			}
			if ok {
				applied.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := applied.Load(); n != 1 {
		t.Errorf("%d concurrent transitions applied, want 1", n)
	}
	if evs := events(t, s, switchboard.AppAlertDeliveryRateLow); len(evs) != 1 {
		t.Errorf("%d alert events written, want 1", len(evs))
	}
}

func testAlertTransitionInvalid(t *testing.T, s switchboard.Store) {
	for _, tr := range []switchboard.AlertTransition{
		{From: switchboard.AlertOK, To: switchboard.AlertFired, At: at(0)},
		{Key: "k", From: switchboard.AlertOK, To: switchboard.AlertOK, At: at(0)},
		{Key: "k", From: "maybe", To: switchboard.AlertFired, At: at(0)},
		{Key: "k", From: switchboard.AlertOK, To: switchboard.AlertFired},
	} {
		ok, err := s.TransitionAlert(t.Context(), tr)
		var e *switchboard.Error
		if ok || !errors.As(err, &e) || e.Kind != switchboard.EINVALID {
			t.Errorf("TransitionAlert(%+v) = %v, %v; want EINVALID", tr, ok, err)
		}
	}
	if states, err := s.AlertStates(t.Context()); err != nil || len(states) != 0 {
		t.Errorf("AlertStates after refused transitions = %v, %v", states, err)
	}
}

func testMessageAppEvents(t *testing.T, s switchboard.Store) {
	ep := createEndpoint(t, s, newEndpoint(at(-time.Hour), "message.*"))
	// Noise before, around and after: other messages' events, a consent event.
	other := createAt(t, s, at(-2*time.Hour), nil)
	setSending(t, s, other.ID, "SMobs3", at(-2*time.Hour))
	m := createAt(t, s, at(0), nil)
	setSending(t, s, m.ID, "SMobs4", at(time.Second))
	ingest(t, s, callback("SMobs3", switchboard.StatusDelivered, at(2*time.Second)))
	ingest(t, s, callback("SMobs4", switchboard.StatusSent, at(3*time.Second)))
	ingest(t, s, callback("SMobs4", switchboard.StatusDelivered, at(4*time.Second)))
	record(t, s, consent(toB, "default", switchboard.ConsentOptedOut, at(5*time.Second)))
	late := createAt(t, s, at(3*time.Hour), nil)
	setSending(t, s, late.ID, "SMobs5", at(3*time.Hour))
	if n := fanOut(t, s, at(10*time.Second)); n == 0 {
		t.Fatal("nothing fanned out")
	}
	ds := claimDeliveries(t, s, "w1", at(10*time.Second), 100)
	for _, d := range ds {
		finish(t, s, switchboard.DeliveryResult{ID: d.ID, Owner: "w1", At: at(11 * time.Second), Delivered: true, StatusCode: 204})
	}

	got, truncated, err := s.MessageAppEvents(t.Context(), get(t, s, m.ID))
	if err != nil {
		t.Fatal(err)
	}
	if truncated {
		t.Error("truncated")
	}
	var moves []string
	for _, me := range got {
		var d switchboard.MessageStatusChangedData
		if err := json.Unmarshal(me.Event.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.MessageID != m.ID {
			t.Errorf("event of message %s in the trace of %s", d.MessageID, m.ID)
		}
		moves = append(moves, string(d.OldStatus)+"→"+string(d.Status))
		if len(me.Deliveries) != 1 {
			t.Errorf("event %s has %d deliveries, want 1", me.Event.ID, len(me.Deliveries))
			continue
		}
		dl := me.Deliveries[0]
		if dl.EndpointID != ep.ID || dl.EventID != me.Event.ID || dl.Status != switchboard.DeliveryDelivered || dl.LastStatusCode != 204 || dl.Attempts != 1 {
			t.Errorf("delivery = %+v", dl)
		}
	}
	if diff := cmp.Diff([]string{"queued→sending", "sending→sent", "sent→delivered"}, moves); diff != "" {
		t.Errorf("moves (-want +got):\n%s", diff)
	}
	// A message with no events of its own.
	quiet := createAt(t, s, at(time.Hour), nil)
	if got, _, err := s.MessageAppEvents(t.Context(), get(t, s, quiet.ID)); err != nil || len(got) != 0 {
		t.Errorf("MessageAppEvents of a quiet message = %v, %v", got, err)
	}
}
