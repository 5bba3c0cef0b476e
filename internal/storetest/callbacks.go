package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var callbackTests = []test{
	{"Applied", testCallbackApplied},
	{"Duplicate", testCallbackDuplicate},
	{"BackwardsIgnored", testCallbackBackwardsIgnored},
	{"ErrorCopied", testCallbackErrorCopied},
	{"Pending", testCallbackPending},
	{"AdoptsMessage", testCallbackAdopts},
	{"NoAdoptionOfAnotherSID", testCallbackNoAdoptionOfAnotherSID},
}

func testCallbackApplied(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	setSending(t, s, m.ID, "SMok", at(time.Second))
	sent := callback("SMok", switchboard.StatusSent, at(2*time.Second))
	r := ingest(t, s, sent)
	wantEqual(t, "sent callback result", switchboard.CallbackResult{Applied: true, MessageID: m.ID, Status: switchboard.StatusSent}, r)
	delivered := callback("SMok", switchboard.StatusDelivered, at(3*time.Second))
	r = ingest(t, s, delivered)
	wantEqual(t, "delivered callback result", switchboard.CallbackResult{Applied: true, MessageID: m.ID, Status: switchboard.StatusDelivered}, r)

	got := get(t, s, m.ID)
	if got.Status != switchboard.StatusDelivered || !got.UpdatedAt.Equal(at(3*time.Second)) {
		t.Fatalf("message %s updated %s, want delivered at +3s", got.Status, got.UpdatedAt)
	}
	wantTimeline(t, got)
	cbs := eventsOf(got, switchboard.EventCallback)
	if len(cbs) != 2 {
		t.Fatalf("%d callback events, want 2", len(cbs))
	}
	for i, want := range []*switchboard.Callback{sent, delivered} {
		e := cbs[i]
		if e.Status != want.Status || !e.At.Equal(want.ReceivedAt) || e.Detail == "" || e.Actor == "" {
			t.Fatalf("callback event %d = %+v, want status %s at %s with actor and detail", i, e, want.Status, want.ReceivedAt)
		}
		wantJSON(t, "callback payload", want.Payload, e.Payload)
	}
}

func testCallbackDuplicate(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	setSending(t, s, m.ID, "SMdup", at(time.Second))
	ingest(t, s, callback("SMdup", switchboard.StatusSent, at(2*time.Second)))
	before := get(t, s, m.ID)

	again := callback("SMdup", switchboard.StatusSent, at(3*time.Second))
	again.Payload = []byte(`{"MessageSid": "SMdup", "MessageStatus": "sent", "retry": "1"}`)
	r := ingest(t, s, again)
	if !r.Duplicate || r.Applied || r.Pending {
		t.Fatalf("duplicate callback result %+v, want duplicate only", r)
	}
	after := get(t, s, m.ID)
	wantMessage(t, before, after)
	wantEqual(t, "timeline after a duplicate", before.Events, after.Events, cmpEmpty)

	// The same SID with another status is not a duplicate.
	if r := ingest(t, s, callback("SMdup", switchboard.StatusDelivered, at(4*time.Second))); r.Duplicate || !r.Applied {
		t.Fatalf("delivered callback result %+v, want applied", r)
	}
}

func testCallbackBackwardsIgnored(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	setSending(t, s, m.ID, "SMlate", at(time.Second))
	ingest(t, s, callback("SMlate", switchboard.StatusDelivered, at(2*time.Second)))
	r := ingest(t, s, callback("SMlate", switchboard.StatusSent, at(3*time.Second)))
	wantEqual(t, "late sent callback result", switchboard.CallbackResult{MessageID: m.ID, Status: switchboard.StatusDelivered}, r)

	got := get(t, s, m.ID)
	if got.Status != switchboard.StatusDelivered || !got.UpdatedAt.Equal(at(2*time.Second)) {
		t.Fatalf("message %s updated %s, want delivered, unchanged since +2s", got.Status, got.UpdatedAt)
	}
	cbs := eventsOf(got, switchboard.EventCallback)
	if len(cbs) != 2 {
		t.Fatalf("%d callback events, want 2 (the ignored one recorded too)", len(cbs))
	}
	ignored := cbs[1]
	if ignored.Status != switchboard.StatusDelivered || !ignored.At.Equal(at(3*time.Second)) || len(ignored.Payload) == 0 {
		t.Fatalf("ignored callback event %+v, want status delivered at +3s with the payload", ignored)
	}
	if d := ignored.Detail; !strings.Contains(d, "ignored") || !strings.Contains(d, "delivered") || !strings.Contains(d, "sent") {
		t.Fatalf("ignored callback detail %q, want e.g. \"ignored: delivered cannot move back to sent\"", d)
	}

	// delivered → read is the one move out of a terminal status; failed is final.
	if r := ingest(t, s, callback("SMlate", switchboard.StatusRead, at(4*time.Second))); !r.Applied || r.Status != switchboard.StatusRead {
		t.Fatalf("read callback result %+v, want applied read", r)
	}
	if r := ingest(t, s, callback("SMlate", switchboard.StatusFailed, at(5*time.Second))); r.Applied || r.Status != switchboard.StatusRead {
		t.Fatalf("failed after read: result %+v, want ignored, read", r)
	}
}

func testCallbackErrorCopied(t *testing.T, s switchboard.Store) {
	for _, status := range []switchboard.Status{switchboard.StatusFailed, switchboard.StatusUndelivered} {
		m := create(t, s, newMessage(at(0)))
		sid := "SMerr" + string(status)
		setSending(t, s, m.ID, sid, at(time.Second))
		cb := callback(sid, status, at(2*time.Second))
		cb.ErrorCode, cb.ErrorMessage = 30006, "Landline or unreachable carrier"
		r := ingest(t, s, cb)
		if !r.Applied || r.Status != status {
			t.Fatalf("%s callback result %+v", status, r)
		}
		got := get(t, s, m.ID)
		if got.Status != status || got.ErrorCode != 30006 || got.ErrorMessage != "Landline or unreachable carrier" {
			t.Fatalf("after %s callback: %s %d %q", status, got.Status, got.ErrorCode, got.ErrorMessage)
		}
		cbs := eventsOf(got, switchboard.EventCallback)
		if len(cbs) != 1 || cbs[0].ErrorCode != 30006 {
			t.Fatalf("callback events %+v, want one with error code 30006", cbs)
		}
	}
}

func testCallbackPending(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	r := ingest(t, s, callback("SMnobody", switchboard.StatusSent, at(time.Second)))
	wantEqual(t, "pending result", switchboard.CallbackResult{Pending: true}, r)
	r = ingest(t, s, callback("SMnobody", switchboard.StatusSent, at(2*time.Second)))
	if !r.Duplicate || r.Applied {
		t.Fatalf("duplicate of a pending callback: %+v, want duplicate", r)
	}
	// A MessageID that names no message leaves it pending too.
	cb := callback("SMnobody2", switchboard.StatusSent, at(3*time.Second))
	cb.MessageID = "msg_unknown"
	if r := ingest(t, s, cb); !r.Pending || r.Applied {
		t.Fatalf("callback naming an unknown message: %+v, want pending", r)
	}
	if got := get(t, s, m.ID); got.Status != switchboard.StatusQueued || len(got.Events) != 1 {
		t.Fatalf("an unrelated message changed: %s, %d events", got.Status, len(got.Events))
	}
	_, err := s.GetMessageByProviderSID(t.Context(), "SMnobody")
	wantErr(t, err, switchboard.ENOTFOUND, "")
}

func testCallbackAdopts(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	claim(t, s, switchboard.ClaimParams{From: fromA, Owner: "node-a", Now: at(time.Second), LeaseUntil: at(time.Minute), Limit: 1})
	// The dispatcher marked the attempt and called the provider; the answer was lost.
	update(t, s, switchboard.MessageUpdate{
		ID: m.ID, LeaseOwner: "node-a", Status: switchboard.StatusSending, AttemptInFlight: ptr(true),
		AttemptStartedAt: ptr(at(2 * time.Second)), IncAttempts: true, At: at(2 * time.Second),
	})
	cb := callback("SMadopt", switchboard.StatusSent, at(3*time.Second))
	cb.MessageID = m.ID
	r := ingest(t, s, cb)
	wantEqual(t, "adopting callback result", switchboard.CallbackResult{Applied: true, MessageID: m.ID, Status: switchboard.StatusSent}, r)

	got := get(t, s, m.ID)
	if got.ProviderSID != "SMadopt" || got.AttemptInFlight || got.Status != switchboard.StatusSent {
		t.Fatalf("adopted message: sid %q, in flight %v, status %s; want SMadopt, false, sent", got.ProviderSID, got.AttemptInFlight, got.Status)
	}
	if got.Attempts != 1 || got.LeaseOwner != "node-a" {
		t.Fatalf("adoption changed attempts (%d) or lease (%q)", got.Attempts, got.LeaseOwner)
	}
	cbs := eventsOf(got, switchboard.EventCallback)
	if len(cbs) != 1 || cbs[0].Status != switchboard.StatusSent {
		t.Fatalf("callback events %+v, want one with status sent", cbs)
	}
	bySID, err := s.GetMessageByProviderSID(t.Context(), "SMadopt")
	if err != nil || bySID.ID != m.ID {
		t.Fatalf("GetMessageByProviderSID after adoption: %v, %v", bySID, err)
	}
	// Later callbacks find it by SID.
	if r := ingest(t, s, callback("SMadopt", switchboard.StatusDelivered, at(4*time.Second))); !r.Applied || r.MessageID != m.ID {
		t.Fatalf("delivered after adoption: %+v", r)
	}
	// The dispatcher's late write of the same SID is harmless and cannot move the status back.
	got = update(t, s, switchboard.MessageUpdate{ID: m.ID, LeaseOwner: "node-a", Status: switchboard.StatusSending,
		ProviderSID: ptr("SMadopt"), AttemptInFlight: ptr(false), ReleaseLease: true, At: at(5 * time.Second)})
	if got.Status != switchboard.StatusDelivered {
		t.Fatalf("status after the dispatcher's late write: %s, want delivered", got.Status)
	}
}

func testCallbackNoAdoptionOfAnotherSID(t *testing.T, s switchboard.Store) {
	m := create(t, s, newMessage(at(0)))
	setSending(t, s, m.ID, "SMmine", at(time.Second))
	cb := callback("SMother", switchboard.StatusDelivered, at(2*time.Second))
	cb.MessageID = m.ID
	r := ingest(t, s, cb)
	if !r.Pending || r.Applied {
		t.Fatalf("callback naming a message that has another SID: %+v, want pending", r)
	}
	got := get(t, s, m.ID)
	if got.ProviderSID != "SMmine" || got.Status != switchboard.StatusSending || len(eventsOf(got, switchboard.EventCallback)) != 0 {
		t.Fatalf("message changed: %s %s", got.ProviderSID, got.Status)
	}
}
