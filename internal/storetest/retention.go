package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var retentionTests = []test{
	{"CallsVerificationsEvents", testRetentionCallsVerifications},
	{"Refusals", testRetentionRefusals},
}

// testRetentionRefusals: PruneRefusals deletes the verification refusals recorded before the
// cutoff (they hold a person's number and IP address), in batches of at most limit, oldest
// first; a newer refusal stays listed.
func testRetentionRefusals(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	var old []*switchboard.Refusal
	for i := range 3 {
		r := &switchboard.Refusal{ID: newID("ref"), Reason: "rate_limited_phone", To: "+14155550131", ClientIP: "203.0.113.9",
			At: at(-48*time.Hour + time.Duration(i)*time.Minute)}
		if err := s.RecordRefusal(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		old = append(old, r)
	}
	recent := &switchboard.Refusal{ID: newID("ref"), Reason: "rate_limited_phone", To: "+14155550131", At: at(-time.Hour)}
	if err := s.RecordRefusal(ctx, recent, nil); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{2, 1, 0} {
		if n, err := s.PruneRefusals(ctx, at(-24*time.Hour), 2); err != nil || n != want {
			t.Fatalf("PruneRefusals %d: %d, %v; want %d deleted", i+1, n, err, want)
		}
	}
	got, _, err := s.ListRefusals(ctx, switchboard.RefusalFilter{To: "+14155550131"})
	if err != nil || len(got) != 1 || got[0].ID != recent.ID {
		t.Fatalf("refusals after retention: %+v %v; want only %s (deleted: %s, %s, %s)", got, err, recent.ID, old[0].ID, old[1].ID, old[2].ID)
	}
}

// testRetentionCallsVerifications: Redact covers what calls and verifications hold of a person,
// with the same cutoff and audit (RedactedAt) as message bodies: a finished call's variables
// (sensitive ones too), keyed and spoken inputs, last TwiML and its call.completed event's
// inputs; a finished verification's code material. A call in progress, a pending verification
// and anything newer than the cutoff keep everything.
func testRetentionCallsVerifications(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	finish := func(c *switchboard.Call, when time.Time) {
		t.Helper()
		c.Status, c.NextAttemptAt = switchboard.CallCompleted, nil
		c.Variables["patient_name"] = "Ana Secret"
		c.LastTwiML = "<Response><Say>Hello Ana Secret</Say></Response>"
		c.Inputs = []switchboard.CallInput{{State: "menu", Digits: "7#7#", Result: "matched"}, {State: "why", Speech: "my diagnosis", Result: "no_match"}}
		c.AddEvent(switchboard.CallEvent{At: when, Type: switchboard.CallEventInput, State: "menu", Digits: "7#7#"})
		c.AddEvent(switchboard.CallEvent{At: when, Type: switchboard.CallEventInput, State: "why", Speech: "my diagnosis"})
		ev, err := switchboard.NewAppEvent(switchboard.AppCallCompleted, when, switchboard.CallCompletedData{CallID: c.ID,
			Status: c.Status, Flow: c.Flow, Inputs: c.Inputs, Path: []string{"menu", "why"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateCall(ctx, c, []*switchboard.AppEvent{ev}); err != nil {
			t.Fatal(err)
		}
	}
	old := mustCreateCall(t, s, newCall(newID("call"), at(-48*time.Hour)))
	finish(old, at(-47*time.Hour))
	recent := mustCreateCall(t, s, newCall(newID("call"), at(-time.Hour)))
	finish(recent, at(-time.Hour))
	live := mustCreateCall(t, s, newCall(newID("call"), at(-48*time.Hour)))
	live.Status, live.NextAttemptAt = switchboard.CallInProgress, nil
	live.Inputs = []switchboard.CallInput{{State: "menu", Digits: "9", Result: "matched"}}
	if err := s.UpdateCall(ctx, live, nil); err != nil {
		t.Fatal(err)
	}

	done := newVerification("+14155550101", at(-48*time.Hour))
	pending := newVerification("+14155550102", at(-48*time.Hour))
	for _, v := range []*switchboard.Verification{done, pending} {
		if err := s.CreateVerification(ctx, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	done.Status = switchboard.VerificationApproved
	if err := s.UpdateVerification(ctx, done, nil); err != nil {
		t.Fatal(err)
	}

	n, err := s.Redact(ctx, at(-24*time.Hour), at(0), 100)
	if err != nil || n != 1 {
		t.Fatalf("Redact: %d calls, %v; want 1", n, err)
	}
	got, err := s.GetCall(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := switchboard.EncodeCall(got)
	for _, secret := range []string{"Ana Secret", "Northside", "7#7#", "my diagnosis"} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("finished call still holds %q: %s", secret, raw)
		}
	}
	if got.RedactedAt == nil || !got.RedactedAt.Equal(at(0)) || len(got.Inputs) != 2 || got.Inputs[0].Result != "matched" ||
		got.Status != switchboard.CallCompleted || got.Metadata["a"] != "1" || got.Version != old.Version+1 {
		t.Fatalf("redacted call lost its facts or audit: %+v", got)
	}
	for _, keep := range []*switchboard.Call{recent, live} {
		c, err := s.GetCall(ctx, keep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.RedactedAt != nil || len(c.Variables) == 0 || c.Inputs[0].Digits == "" {
			t.Fatalf("call %s (%s) redacted too early: %+v", c.ID, c.Status, c)
		}
	}

	evs, err := s.ListAppEvents(ctx, switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppCallCompleted}, Limit: 10})
	if err != nil || len(evs) != 2 {
		t.Fatalf("call.completed events: %d %v", len(evs), err)
	}
	for _, ev := range evs {
		var d switchboard.CallCompletedData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.CallID == old.ID && (len(d.Inputs) != 0 || strings.Contains(string(ev.Data), "my diagnosis") || len(d.Path) != 2) {
			t.Fatalf("old call.completed keeps its inputs: %s", ev.Data)
		}
		if d.CallID == recent.ID && len(d.Inputs) != 2 {
			t.Fatalf("recent call.completed redacted: %s", ev.Data)
		}
	}

	gv, err := s.GetVerification(ctx, done.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gv.CodeHash != "" || gv.CodeSalt != "" || gv.CodeSealed != "" || gv.Status != switchboard.VerificationApproved || gv.To != done.To ||
		gv.RedactedAt == nil || !gv.RedactedAt.Equal(at(0)) {
		t.Fatalf("finished verification keeps its code: %+v", gv)
	}
	pv, err := s.GetVerification(ctx, pending.ID)
	if err != nil || pv.CodeHash != "hash" || pv.CodeSealed != "sealed" || pv.RedactedAt != nil {
		t.Fatalf("pending verification redacted: %+v %v", pv, err)
	}
	// Idempotent: nothing left to do.
	if n, err := s.Redact(ctx, at(-24*time.Hour), at(time.Minute), 100); err != nil || n != 0 {
		t.Fatalf("second Redact: %d %v", n, err)
	}
	if c, _ := s.GetCall(ctx, old.ID); c == nil || !c.RedactedAt.Equal(at(0)) {
		t.Fatalf("second Redact moved RedactedAt: %+v", c)
	}
}
