package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var updateTests = []test{
	{"NotFound", testUpdateNotFound},
	{"Fields", testUpdateFields},
	{"Events", testUpdateEvents},
	{"BackwardsSkipped", testUpdateBackwardsSkipped},
	{"TerminalStatuses", testUpdateTerminal},
	{"LeaseFence", testUpdateLeaseFence},
	{"LeaseTakenOver", testUpdateLeaseTakenOver},
	{"RequireStatus", testUpdateRequireStatus},
	{"RequireNoAttemptInFlight", testUpdateRequireNoAttemptInFlight},
	{"ReleaseLease", testUpdateReleaseLease},
	{"AppliesPendingCallbacks", testUpdateAppliesPendingCallbacks},
	{"PendingCallbacksOutOfOrder", testUpdatePendingOutOfOrder},
	{"PendingCallbackError", testUpdatePendingError},
}

func testUpdateNotFound(t *testing.T, s switchboard.Store) {
	_, err := s.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: "msg_nope", Status: switchboard.StatusSending, At: at(0)})
	wantErr(t, err, switchboard.ENOTFOUND, "")
}

func testUpdateFields(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	want := *m

	got := update(t, s, switchboard.MessageUpdate{
		ID:               m.ID,
		Status:           switchboard.StatusSending,
		AttemptInFlight:  ptr(true),
		AttemptStartedAt: ptr(at(time.Minute)),
		IncAttempts:      true,
		At:               at(time.Minute),
	})
	want.Status = switchboard.StatusSending
	want.AttemptInFlight = true
	want.AttemptStartedAt = ptr(at(time.Minute))
	want.Attempts = 1
	want.UpdatedAt = at(time.Minute)
	wantMessage(t, &want, got)
	wantMessage(t, &want, get(t, s, m.ID))

	// A retryable provider error: the dispatcher records the error and the next attempt.
	got = update(t, s, switchboard.MessageUpdate{
		ID:              m.ID,
		ErrorCode:       ptr(20429),
		ErrorMessage:    ptr("Too Many Requests"),
		NextAttemptAt:   ptr(at(2 * time.Minute)),
		AttemptInFlight: ptr(false),
		IncAttempts:     true,
		At:              at(90 * time.Second),
	})
	want.ErrorCode = 20429
	want.ErrorMessage = "Too Many Requests"
	want.NextAttemptAt = at(2 * time.Minute)
	want.AttemptInFlight = false
	want.Attempts = 2
	want.UpdatedAt = at(90 * time.Second)
	wantMessage(t, &want, got)
	wantMessage(t, &want, get(t, s, m.ID))

	got = update(t, s, switchboard.MessageUpdate{ID: m.ID, ProviderSID: ptr("SMfields"), ErrorCode: ptr(0), ErrorMessage: ptr(""), At: at(3 * time.Minute)})
	want.ProviderSID = "SMfields"
	want.ErrorCode = 0
	want.ErrorMessage = ""
	want.UpdatedAt = at(3 * time.Minute)
	wantMessage(t, &want, got)
	wantMessage(t, &want, get(t, s, m.ID))

	// An update that sets nothing but the time keeps every field.
	got = update(t, s, switchboard.MessageUpdate{ID: m.ID, At: at(4 * time.Minute)})
	want.UpdatedAt = at(4 * time.Minute)
	wantMessage(t, &want, got)
}

func testUpdateEvents(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	payload := json.RawMessage(`{"sid": "SMev", "status": "queued", "nested": {"a": [1, 2]}}`)
	update(t, s, switchboard.MessageUpdate{
		ID:     m.ID,
		Status: switchboard.StatusSending,
		Events: []*switchboard.Event{
			{Type: switchboard.EventAttempt, Actor: "dispatcher:node-1", Detail: "attempt 1"},
			{Type: switchboard.EventNote, Actor: "dispatcher:node-1", Detail: "explicit time", At: at(30 * time.Second)},
		},
		At: at(time.Minute),
	})
	update(t, s, switchboard.MessageUpdate{
		ID:          m.ID,
		Status:      switchboard.StatusFailed,
		ProviderSID: ptr("SMev"),
		Events: []*switchboard.Event{{
			Type: switchboard.EventProviderError, Actor: "provider", ErrorCode: 21211,
			Detail: "invalid 'To' phone number", Payload: payload,
		}},
		At: at(2 * time.Minute),
	})
	got := get(t, s, m.ID)
	types := wantTimeline(t, got)
	// Append order: the note keeps its own (earlier) time but stays after the attempt appended
	// before it.
	wantEqual(t, "event types", []switchboard.EventType{
		switchboard.EventCreated, switchboard.EventAttempt, switchboard.EventNote, switchboard.EventProviderError,
	}, types)
	e := got.Events
	if !e[2].At.Equal(at(30*time.Second)) || e[2].Status != switchboard.StatusSending || e[2].Detail != "explicit time" {
		t.Fatalf("note event = %+v, want its own time and status sending", e[2])
	}
	if e[1].Status != switchboard.StatusSending || !e[1].At.Equal(at(time.Minute)) || e[1].Actor != "dispatcher:node-1" || e[1].Detail != "attempt 1" {
		t.Fatalf("attempt event = %+v, want status sending at +1m (the update's time) with actor and detail", e[1])
	}
	if e[3].Status != switchboard.StatusFailed || e[3].ErrorCode != 21211 || !e[3].At.Equal(at(2*time.Minute)) {
		t.Fatalf("provider error event = %+v, want status failed, code 21211, at +2m", e[3])
	}
	wantJSON(t, "event payload", payload, e[3].Payload)
}

func testUpdateBackwardsSkipped(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	setSending(t, s, m.ID, "SMback", at(time.Minute))
	update(t, s, switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSent, At: at(2 * time.Minute)})

	got := update(t, s, switchboard.MessageUpdate{
		ID:           m.ID,
		Status:       switchboard.StatusQueued,
		ErrorMessage: ptr("late retry bookkeeping"),
		Events:       []*switchboard.Event{{Type: switchboard.EventNote, Actor: "test", Detail: "tried to go back"}},
		At:           at(3 * time.Minute),
	})
	if got.Status != switchboard.StatusSent || got.ErrorMessage != "late retry bookkeeping" || !got.UpdatedAt.Equal(at(3*time.Minute)) {
		t.Fatalf("after a backwards update: status %s, error message %q, updated %s; want sent, the message, +3m",
			got.Status, got.ErrorMessage, got.UpdatedAt)
	}
	got = get(t, s, m.ID)
	notes := eventsOf(got, switchboard.EventNote)
	if got.Status != switchboard.StatusSent || len(notes) != 1 || notes[0].Status != switchboard.StatusSent {
		t.Fatalf("stored: status %s, notes %+v; want sent and one note with status sent", got.Status, notes)
	}
	// Queued and scheduled may alternate: a deferral is not progress.
	q := create(t, s, newMessage(at(0)))
	got = update(t, s, switchboard.MessageUpdate{ID: q.ID, Status: switchboard.StatusScheduled, At: at(time.Minute)})
	if got.Status != switchboard.StatusScheduled {
		t.Fatalf("queued → scheduled: status %s", got.Status)
	}
	got = update(t, s, switchboard.MessageUpdate{ID: q.ID, Status: switchboard.StatusQueued, At: at(2 * time.Minute)})
	if got.Status != switchboard.StatusQueued {
		t.Fatalf("scheduled → queued: status %s", got.Status)
	}
}

func testUpdateTerminal(t *testing.T, s switchboard.Store) {
	step := func(id string, to switchboard.Status, want switchboard.Status, d time.Duration) {
		t.Helper()
		got := update(t, s, switchboard.MessageUpdate{ID: id, Status: to, At: at(d)})
		if got.Status != want {
			t.Fatalf("update to %s: status %s, want %s", to, got.Status, want)
		}
		if stored := get(t, s, id); stored.Status != want {
			t.Fatalf("update to %s: stored status %s, want %s", to, stored.Status, want)
		}
	}
	a := create(t, s, newMessage(at(0)))
	step(a.ID, switchboard.StatusDelivered, switchboard.StatusDelivered, time.Minute)
	step(a.ID, switchboard.StatusFailed, switchboard.StatusDelivered, 2*time.Minute)
	step(a.ID, switchboard.StatusSent, switchboard.StatusDelivered, 3*time.Minute)
	step(a.ID, switchboard.StatusRead, switchboard.StatusRead, 4*time.Minute)
	step(a.ID, switchboard.StatusDelivered, switchboard.StatusRead, 5*time.Minute)

	b := create(t, s, newMessage(at(0)))
	step(b.ID, switchboard.StatusCanceled, switchboard.StatusCanceled, time.Minute)
	step(b.ID, switchboard.StatusQueued, switchboard.StatusCanceled, 2*time.Minute)
	step(b.ID, switchboard.StatusSending, switchboard.StatusCanceled, 3*time.Minute)
	step(b.ID, switchboard.StatusDelivered, switchboard.StatusCanceled, 4*time.Minute)
}

func testUpdateLeaseFence(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	// No lease at all.
	_, err := s.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, LeaseOwner: "node-a", Status: switchboard.StatusSending, At: at(time.Second)})
	wantErr(t, err, switchboard.ECONFLICT, "lease_lost")

	claimed := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-a", Now: at(time.Second), LeaseUntil: at(time.Minute), Limit: 10})
	if len(claimed) != 1 {
		t.Fatalf("claimed %d, want 1", len(claimed))
	}
	before := get(t, s, m.ID)
	_, err = s.UpdateMessage(t.Context(), switchboard.MessageUpdate{
		ID: m.ID, LeaseOwner: "node-b", Status: switchboard.StatusSending, IncAttempts: true,
		Events: []*switchboard.Event{{Type: switchboard.EventAttempt, Actor: "node-b"}}, At: at(2 * time.Second),
	})
	wantErr(t, err, switchboard.ECONFLICT, "lease_lost")
	after := get(t, s, m.ID)
	wantMessage(t, before, after)
	if len(after.Events) != len(before.Events) {
		t.Fatalf("a refused update appended %d events", len(after.Events)-len(before.Events))
	}

	got := update(t, s, switchboard.MessageUpdate{ID: m.ID, LeaseOwner: "node-a", Status: switchboard.StatusSending, At: at(3 * time.Second)})
	if got.Status != switchboard.StatusSending || got.LeaseOwner != "node-a" {
		t.Fatalf("lease holder's update: status %s, lease owner %q; want sending, node-a kept", got.Status, got.LeaseOwner)
	}
}

func testUpdateLeaseTakenOver(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-a", Now: at(time.Second), LeaseUntil: at(time.Minute), Limit: 1})
	// node-a stalls past its lease; node-b takes the message over.
	taken := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-b", Now: at(2 * time.Minute), LeaseUntil: at(3 * time.Minute), Limit: 1})
	if len(taken) != 1 || taken[0].LeaseOwner != "node-b" {
		t.Fatalf("take-over claimed %v", ids(taken))
	}
	_, err := s.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, LeaseOwner: "node-a", Status: switchboard.StatusSending, At: at(2*time.Minute + time.Second)})
	wantErr(t, err, switchboard.ECONFLICT, "lease_lost")
	update(t, s, switchboard.MessageUpdate{ID: m.ID, LeaseOwner: "node-b", Status: switchboard.StatusSending, At: at(2*time.Minute + 2*time.Second)})
}

func testUpdateRequireStatus(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	before := get(t, s, m.ID)
	_, err := s.UpdateMessage(t.Context(), switchboard.MessageUpdate{
		ID: m.ID, RequireStatus: []switchboard.Status{switchboard.StatusSending, switchboard.StatusSent},
		Status: switchboard.StatusDelivered, Events: []*switchboard.Event{{Type: switchboard.EventNote}}, At: at(time.Second),
	})
	wantErr(t, err, switchboard.ECONFLICT, "status_conflict")
	after := get(t, s, m.ID)
	wantMessage(t, before, after)
	if len(after.Events) != len(before.Events) {
		t.Fatal("a refused update appended events")
	}
	// Cancel: allowed only before the message reaches the provider.
	got := update(t, s, switchboard.MessageUpdate{
		ID: m.ID, RequireStatus: []switchboard.Status{switchboard.StatusQueued, switchboard.StatusScheduled},
		Status: switchboard.StatusCanceled, At: at(2 * time.Second),
	})
	if got.Status != switchboard.StatusCanceled {
		t.Fatalf("status %s, want canceled", got.Status)
	}
}

func testUpdateRequireNoAttemptInFlight(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	update(t, s, switchboard.MessageUpdate{ID: m.ID, AttemptInFlight: ptr(true), AttemptStartedAt: ptr(at(time.Second)), At: at(time.Second)})
	before := get(t, s, m.ID)
	_, err := s.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, RequireNoAttemptInFlight: true, Status: switchboard.StatusCanceled, At: at(2 * time.Second)})
	wantErr(t, err, switchboard.ECONFLICT, "attempt_in_flight")
	wantMessage(t, before, get(t, s, m.ID))

	update(t, s, switchboard.MessageUpdate{ID: m.ID, AttemptInFlight: ptr(false), At: at(3 * time.Second)})
	got := update(t, s, switchboard.MessageUpdate{ID: m.ID, RequireNoAttemptInFlight: true, Status: switchboard.StatusCanceled, At: at(4 * time.Second)})
	if got.Status != switchboard.StatusCanceled {
		t.Fatalf("status %s, want canceled", got.Status)
	}
}

func testUpdateReleaseLease(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	claimed := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-a", Now: at(time.Second), LeaseUntil: at(time.Hour), Limit: 1})
	if len(claimed) != 1 || claimed[0].LeaseOwner != "node-a" || claimed[0].LeaseUntil == nil || !claimed[0].LeaseUntil.Equal(at(time.Hour)) {
		t.Fatalf("claim = %+v", claimed)
	}
	got := update(t, s, switchboard.MessageUpdate{ID: m.ID, LeaseOwner: "node-a", ReleaseLease: true, NextAttemptAt: ptr(at(time.Minute)), At: at(2 * time.Second)})
	if got.LeaseOwner != "" || got.LeaseUntil != nil {
		t.Fatalf("after ReleaseLease: owner %q until %v", got.LeaseOwner, got.LeaseUntil)
	}
	stored := get(t, s, m.ID)
	if stored.LeaseOwner != "" || stored.LeaseUntil != nil {
		t.Fatalf("stored after ReleaseLease: owner %q until %v", stored.LeaseOwner, stored.LeaseUntil)
	}
	// Due again at +1m, long before the old lease would have ended, for anyone.
	again := claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-b", Now: at(time.Minute), LeaseUntil: at(2 * time.Minute), Limit: 1})
	if len(again) != 1 {
		t.Fatalf("released message not claimable: got %d", len(again))
	}
	_, err := s.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, LeaseOwner: "node-a", Status: switchboard.StatusSending, At: at(time.Minute + time.Second)})
	wantErr(t, err, switchboard.ECONFLICT, "lease_lost")
}

func testUpdateAppliesPendingCallbacks(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	other := create(t, s, newMessage(at(0)))
	setSending(t, s, other.ID, "SMother", at(time.Second))

	// The provider's callbacks outrun the dispatcher's write of the SID.
	sent := callback("SMfast", switchboard.StatusSent, at(2*time.Second))
	delivered := callback("SMfast", switchboard.StatusDelivered, at(3*time.Second))
	for _, cb := range []*switchboard.Callback{sent, delivered} {
		r := ingest(t, s, cb)
		if !r.Pending || r.Applied || r.Duplicate || r.MessageID != "" {
			t.Fatalf("callback for an unknown SID: %+v, want pending only", r)
		}
	}
	if got := get(t, s, other.ID); got.Status != switchboard.StatusSending || len(eventsOf(got, switchboard.EventCallback)) != 0 {
		t.Fatal("a pending callback touched another message")
	}

	got := update(t, s, switchboard.MessageUpdate{
		ID: m.ID, Status: switchboard.StatusSending, ProviderSID: ptr("SMfast"), AttemptInFlight: ptr(false),
		Events: []*switchboard.Event{{Type: switchboard.EventAttempt, Actor: "dispatcher"}},
		At:     at(4 * time.Second),
	})
	if got.Status != switchboard.StatusDelivered {
		t.Fatalf("UpdateMessage returned status %s, want delivered (the pending callbacks applied)", got.Status)
	}
	stored := get(t, s, m.ID)
	types := wantTimeline(t, stored)
	wantEqual(t, "event types", []switchboard.EventType{
		switchboard.EventCreated, switchboard.EventAttempt, switchboard.EventCallback, switchboard.EventCallback,
	}, types)
	cbs := eventsOf(stored, switchboard.EventCallback)
	if cbs[0].Status != switchboard.StatusSent || cbs[1].Status != switchboard.StatusDelivered {
		t.Fatalf("callback events have statuses %s, %s; want sent, delivered", cbs[0].Status, cbs[1].Status)
	}
	wantJSON(t, "first callback payload", sent.Payload, cbs[0].Payload)
	wantJSON(t, "second callback payload", delivered.Payload, cbs[1].Payload)
	if stored.Status != switchboard.StatusDelivered || stored.ProviderSID != "SMfast" {
		t.Fatalf("stored: %s %s, want delivered SMfast", stored.Status, stored.ProviderSID)
	}
	// Applied once: they are now duplicates, and a new status applies directly.
	if r := ingest(t, s, callback("SMfast", switchboard.StatusSent, at(5*time.Second))); !r.Duplicate {
		t.Fatalf("re-sent pending callback: %+v, want duplicate", r)
	}
	if r := ingest(t, s, callback("SMfast", switchboard.StatusRead, at(6*time.Second))); !r.Applied || r.Status != switchboard.StatusRead || r.MessageID != m.ID {
		t.Fatalf("read callback: %+v, want applied, read, %s", r, m.ID)
	}
	// Setting the SID again applies nothing twice.
	update(t, s, switchboard.MessageUpdate{ID: m.ID, ProviderSID: ptr("SMfast"), At: at(7 * time.Second)})
	if n := len(eventsOf(get(t, s, m.ID), switchboard.EventCallback)); n != 3 {
		t.Fatalf("%d callback events, want 3", n)
	}
}

func testUpdatePendingOutOfOrder(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	ingest(t, s, callback("SMooo", switchboard.StatusDelivered, at(time.Second)))
	ingest(t, s, callback("SMooo", switchboard.StatusSent, at(2*time.Second)))
	got := setSending(t, s, m.ID, "SMooo", at(3*time.Second))
	if got.Status != switchboard.StatusDelivered {
		t.Fatalf("status %s, want delivered", got.Status)
	}
	cbs := eventsOf(get(t, s, m.ID), switchboard.EventCallback)
	if len(cbs) != 2 {
		t.Fatalf("%d callback events, want 2 (the ignored one recorded too)", len(cbs))
	}
	if cbs[0].Status != switchboard.StatusDelivered || cbs[1].Status != switchboard.StatusDelivered {
		t.Fatalf("callback event statuses %s, %s; want delivered, delivered", cbs[0].Status, cbs[1].Status)
	}
	if d := cbs[1].Detail; !strings.Contains(d, "ignored") || !strings.Contains(d, "delivered") || !strings.Contains(d, "sent") {
		t.Fatalf("ignored callback detail %q, want it to say ignored, delivered, sent", d)
	}
}

func testUpdatePendingError(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	cb := callback("SMerr", switchboard.StatusUndelivered, at(time.Second))
	cb.ErrorCode, cb.ErrorMessage = 30003, "Unreachable destination handset"
	ingest(t, s, cb)
	got := setSending(t, s, m.ID, "SMerr", at(2*time.Second))
	if got.Status != switchboard.StatusUndelivered || got.ErrorCode != 30003 || got.ErrorMessage != "Unreachable destination handset" {
		t.Fatalf("got %s %d %q, want undelivered 30003 and the message", got.Status, got.ErrorCode, got.ErrorMessage)
	}
	cbs := eventsOf(get(t, s, m.ID), switchboard.EventCallback)
	if len(cbs) != 1 || cbs[0].ErrorCode != 30003 {
		t.Fatalf("callback events %+v, want one with error code 30003", cbs)
	}
}
