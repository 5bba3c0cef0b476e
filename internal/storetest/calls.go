package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var callTests = []test{
	{"CreateGetRoundTrip", testCallRoundTrip},
	{"Idempotency", testCallIdempotency},
	{"UpdateFencedByVersion", testCallUpdateFenced},
	{"ClaimDueLeased", testCallClaim},
	{"ListNewestFirst", testCallList},
	{"ListByMetadata", testCallListByMetadata},
	{"Queue", testCallQueue},
	{"StaleCalls", testStaleCalls},
}

// testStaleCalls: the calls handed to the provider and not over (queued with a SID, ringing,
// in-progress) that have not changed since before are listed oldest change first, at most
// limit; a call waiting for an attempt, a finished one, one without a SID or one changed since
// is not.
func testStaleCalls(t *testing.T, s switchboard.Store) {
	ctx := context.Background()
	mk := func(st switchboard.CallStatus, sid string, changed time.Time, due *time.Time) string {
		c := newCall(newID("call"), at(-time.Hour))
		c.Status, c.ProviderSID, c.NextAttemptAt = st, sid, due
		c.AddEvent(switchboard.CallEvent{At: changed, Type: switchboard.CallEventAttempt, Detail: "placed"})
		mustCreateCall(t, s, c)
		return c.ID
	}
	ringing := mk(switchboard.CallRinging, "CA1", at(-20*time.Minute), nil)
	queued := mk(switchboard.CallQueued, "CA2", at(-30*time.Minute), nil)
	inProgress := mk(switchboard.CallInProgress, "CA3", at(-11*time.Minute), nil)
	mk(switchboard.CallInProgress, "CA4", at(-time.Minute), nil)                  // changed since
	mk(switchboard.CallRinging, "", at(-20*time.Minute), ptr(at(time.Minute)))    // a retry waits
	mk(switchboard.CallQueued, "", at(-20*time.Minute), nil)                      // no SID yet
	mk(switchboard.CallCompleted, "CA5", at(-20*time.Minute), nil)                // over
	mk(switchboard.CallNoAnswer, "CA6", at(-40*time.Minute), nil)                 // over
	mk(switchboard.CallQueued, "", at(-40*time.Minute), ptr(at(-40*time.Minute))) // waiting to be placed
	ids := func(limit int) []string {
		t.Helper()
		got, err := s.StaleCalls(ctx, at(-10*time.Minute), limit)
		if err != nil {
			t.Fatalf("StaleCalls: %v", err)
		}
		var out []string
		for _, c := range got {
			out = append(out, c.ID)
		}
		return out
	}
	if got, want := ids(10), []string{queued, ringing, inProgress}; !slices.Equal(got, want) {
		t.Errorf("StaleCalls = %v, want %v (oldest change first)", got, want)
	}
	if got, want := ids(2), []string{queued, ringing}; !slices.Equal(got, want) {
		t.Errorf("StaleCalls limit 2 = %v, want %v", got, want)
	}
}

// testCallQueue: the calls waiting to be placed, ready and deferred, and the oldest ready one's
// due time; calls with nothing due (placed, finished) are not counted.
func testCallQueue(t *testing.T, s switchboard.Store) {
	ctx := context.Background()
	q, err := s.CallQueue(ctx, at(0))
	if err != nil || q.Ready != 0 || q.Deferred != 0 || q.OldestDueAt != nil {
		t.Fatalf("empty queue: %+v %v", q, err)
	}
	mustCreateCall(t, s, newCall(newID("call"), at(-2*time.Minute)))
	mustCreateCall(t, s, newCall(newID("call"), at(-time.Minute)))
	later := newCall(newID("call"), at(0))
	later.NextAttemptAt = ptr(at(time.Hour))
	mustCreateCall(t, s, later)
	placed := newCall(newID("call"), at(-3*time.Minute))
	placed.NextAttemptAt = nil
	mustCreateCall(t, s, placed)
	q, err = s.CallQueue(ctx, at(0))
	if err != nil || q.Ready != 2 || q.Deferred != 1 || q.OldestDueAt == nil || !q.OldestDueAt.Equal(at(-2*time.Minute)) {
		t.Fatalf("queue: %+v (oldest %v) %v; want 2 ready, 1 deferred, oldest due at %v", q, q.OldestDueAt, err, at(-2*time.Minute))
	}
}

func newCall(id string, created time.Time) *switchboard.Call {
	c := &switchboard.Call{ID: id, Status: switchboard.CallQueued, To: "+14155550100", From: "+15005550006", Flow: "appt",
		FlowVersion: 2, Locale: "es-MX", Variables: map[string]string{"clinic": "Northside"}, Metadata: map[string]string{"a": "1"},
		MachineDetection: true, RingTimeout: 20, Token: "tok-" + id, MaxAttempts: 2, RetryDelay: 60,
		NextAttemptAt: ptr(created), CreatedAt: created, UpdatedAt: created, APIKeyID: "key_1", Fails: map[string]int{"menu": 1}}
	c.AddEvent(switchboard.CallEvent{At: created, Type: switchboard.CallEventCreated, Status: switchboard.CallQueued})
	return c
}

func mustCreateCall(t *testing.T, s switchboard.Store, c *switchboard.Call) *switchboard.Call {
	t.Helper()
	got, replayed, err := s.CreateCall(context.Background(), c, nil)
	if err != nil || replayed {
		t.Fatalf("CreateCall: %v (replayed %v)", err, replayed)
	}
	return got
}

func sameCall(t *testing.T, want, got *switchboard.Call) {
	t.Helper()
	a, _ := switchboard.EncodeCall(want)
	b, _ := switchboard.EncodeCall(got)
	var x, y any
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	wa, _ := json.Marshal(x)
	gb, _ := json.Marshal(y)
	if string(wa) != string(gb) || want.Version != got.Version {
		t.Fatalf("call differs:\nwant v%d %s\n got v%d %s", want.Version, wa, got.Version, gb)
	}
}

func testCallRoundTrip(t *testing.T, s switchboard.Store) {
	ctx := context.Background()
	c := mustCreateCall(t, s, newCall(newID("call"), at(0)))
	got, err := s.GetCall(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameCall(t, c, got)
	if got.Token != c.Token || got.Variables["clinic"] != "Northside" || got.Fails["menu"] != 1 || got.APIKeyID != "key_1" {
		t.Fatalf("hidden fields lost: %+v", got)
	}
	byTok, err := s.GetCallByToken(ctx, c.Token)
	if err != nil || byTok.ID != c.ID {
		t.Fatalf("GetCallByToken: %v %v", byTok, err)
	}
	if _, err := s.GetCall(ctx, "call_nope"); !switchboard.IsKind(err, switchboard.ENOTFOUND) {
		t.Fatalf("missing call: %v", err)
	}
	if _, err := s.GetCallByToken(ctx, "nope"); !switchboard.IsKind(err, switchboard.ENOTFOUND) {
		t.Fatalf("missing token: %v", err)
	}
	if _, _, err := s.CreateCall(ctx, newCall(c.ID, at(0)), nil); !switchboard.IsKind(err, switchboard.ECONFLICT) {
		t.Fatalf("duplicate ID: %v", err)
	}
	if _, _, err := s.CreateCall(ctx, &switchboard.Call{ID: "x"}, nil); !switchboard.IsKind(err, switchboard.EINVALID) {
		t.Fatalf("invalid call: %v", err)
	}
}

func testCallIdempotency(t *testing.T, s switchboard.Store) {
	ctx := context.Background()
	idem := &switchboard.Idempotency{APIKeyID: "key_1", Key: "k", RequestHash: "h1"}
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := s.CreateCall(ctx, newCall(newID("call"), at(0)), idem)
			if err != nil {
				t.Errorf("CreateCall: %v", err)
				return
			}
			ids[i] = c.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one key made several calls: %v", ids)
		}
	}
	_, replayed, err := s.CreateCall(ctx, newCall(newID("call"), at(0)), idem)
	if err != nil || !replayed {
		t.Fatalf("replay: %v %v", replayed, err)
	}
	_, _, err = s.CreateCall(ctx, newCall(newID("call"), at(0)), &switchboard.Idempotency{APIKeyID: "key_1", Key: "k", RequestHash: "h2"})
	if switchboard.ErrorCodeOf(err) != "idempotency_key_reused" {
		t.Fatalf("reuse: %v", err)
	}
	calls, err := s.ListCalls(ctx, switchboard.CallFilter{Before: "", Limit: 100})
	if err != nil || len(calls) != 1 {
		t.Fatalf("calls: %d %v", len(calls), err)
	}
}

func testCallUpdateFenced(t *testing.T, s switchboard.Store) {
	ctx := context.Background()
	c := mustCreateCall(t, s, newCall(newID("call"), at(0)))
	a, _ := s.GetCall(ctx, c.ID)
	b, _ := s.GetCall(ctx, c.ID)
	a.SetStatus(switchboard.CallRinging, at(time.Second), "")
	a.ProviderSID, a.NextAttemptAt = "CA1", nil
	ev, err := switchboard.NewAppEvent(switchboard.AppCallStatusChanged, at(time.Second), switchboard.CallStatusChangedData{CallID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateCall(ctx, a, []*switchboard.AppEvent{ev}); err != nil {
		t.Fatal(err)
	}
	b.State = "other"
	if err := s.UpdateCall(ctx, b, nil); switchboard.ErrorCodeOf(err) != "call_changed" {
		t.Fatalf("stale update: %v", err)
	}
	got, _ := s.GetCall(ctx, c.ID)
	sameCall(t, a, got)
	if got.State == "other" || got.Status != switchboard.CallRinging {
		t.Fatalf("stale update applied: %+v", got)
	}
	evs, err := s.ListAppEvents(ctx, switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppCallStatusChanged}, Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].ID != ev.ID {
		t.Fatalf("events: %v %v", evs, err)
	}
}

func testCallClaim(t *testing.T, s switchboard.Store) {
	ctx := context.Background()
	due := mustCreateCall(t, s, newCall(newID("call"), at(0)))
	later := newCall(newID("call"), at(0))
	later.NextAttemptAt = ptr(at(time.Hour))
	mustCreateCall(t, s, later)
	placed := newCall(newID("call"), at(0))
	placed.NextAttemptAt = nil
	mustCreateCall(t, s, placed)

	got, err := s.ClaimCalls(ctx, "a", at(time.Second), at(time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].ID != due.ID || got[0].Version != due.Version+1 {
		t.Fatalf("claim: %v %v", got, err)
	}
	if again, _ := s.ClaimCalls(ctx, "b", at(2*time.Second), at(time.Minute), 10); len(again) != 0 {
		t.Fatalf("claimed under a live lease: %v", again)
	}
	// The claim moved the version: an update from before it is refused.
	if err := s.UpdateCall(ctx, due, nil); switchboard.ErrorCodeOf(err) != "call_changed" {
		t.Fatalf("update across a claim: %v", err)
	}
	if err := s.ReleaseCall(ctx, due.ID, "b"); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.ClaimCalls(ctx, "b", at(2*time.Second), at(time.Minute), 10); len(again) != 0 {
		t.Fatalf("another owner's release dropped the lease: %v", again)
	}
	if err := s.ReleaseCall(ctx, due.ID, "a"); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.ClaimCalls(ctx, "b", at(2*time.Second), at(time.Minute), 10); len(again) != 1 {
		t.Fatalf("after release: %v", again)
	}
	// An expired lease is taken over, and later work becomes due.
	got, err = s.ClaimCalls(ctx, "c", at(2*time.Hour), at(3*time.Hour), 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("takeover: %v %v", got, err)
	}
}

func testCallList(t *testing.T, s switchboard.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		ids = append(ids, mustCreateCall(t, s, newCall(newID("call"), at(time.Duration(i)*time.Second))).ID)
	}
	page, err := s.ListCalls(ctx, switchboard.CallFilter{Before: "", Limit: 2})
	if err != nil || len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] {
		t.Fatalf("page 1: %v %v", page, err)
	}
	page, err = s.ListCalls(ctx, switchboard.CallFilter{Before: page[1].ID, Limit: 2})
	if err != nil || len(page) != 1 || page[0].ID != ids[0] {
		t.Fatalf("page 2: %v %v", page, err)
	}
}

// testCallListByMetadata: ListCallsByMetadata finds the calls with one metadata pair exactly,
// newest first and paged; an idempotent replay indexes nothing more.
func testCallListByMetadata(t *testing.T, s switchboard.Store) {
	ctx := context.Background()
	mk := func(i int, meta map[string]string) *switchboard.Call {
		c := newCall(newID("call"), at(time.Duration(i)*time.Second))
		c.Metadata = meta
		return mustCreateCall(t, s, c)
	}
	c0 := mk(0, map[string]string{"job_id": "1042", "tech": "ana"})
	mk(1, map[string]string{"job_id": "1043"})
	c2 := mk(2, map[string]string{"job_id": "1042"})
	mk(3, nil)
	c4 := newCall(newID("call"), at(4*time.Second))
	c4.Metadata = map[string]string{"job_id": "1042"}
	key := &switchboard.Idempotency{APIKeyID: "key_1", Key: "call-meta", RequestHash: "h"}
	if _, replayed, err := s.CreateCall(ctx, c4, key); err != nil || replayed {
		t.Fatalf("CreateCall: replayed %v, %v", replayed, err)
	}
	retry := newCall(newID("call"), at(5*time.Second))
	retry.Metadata = map[string]string{"job_id": "1042"}
	if got, replayed, err := s.CreateCall(ctx, retry, key); err != nil || !replayed || got.ID != c4.ID {
		t.Fatalf("replay: %v, replayed %v, %v", got, replayed, err)
	}
	list := func(k, v, before string, limit int) []string {
		t.Helper()
		calls, err := s.ListCalls(ctx, switchboard.CallFilter{Metadata: &switchboard.MetadataMatch{Key: k, Value: v}, Before: before, Limit: limit})
		if err != nil {
			t.Fatalf("ListCallsByMetadata(%s=%s): %v", k, v, err)
		}
		var out []string
		for _, c := range calls {
			out = append(out, c.ID)
		}
		return out
	}
	wantEqual(t, "job_id=1042", []string{c4.ID, c2.ID, c0.ID}, list("job_id", "1042", "", 10), cmpEmpty)
	wantEqual(t, "job_id=1042, first page", []string{c4.ID, c2.ID}, list("job_id", "1042", "", 2), cmpEmpty)
	wantEqual(t, "job_id=1042, next page", []string{c0.ID}, list("job_id", "1042", c2.ID, 2), cmpEmpty)
	wantEqual(t, "tech=ana", []string{c0.ID}, list("tech", "ana", "", 10), cmpEmpty)
	wantEqual(t, "job_id=104", []string(nil), list("job_id", "104", "", 10), cmpEmpty)
	wantEqual(t, "Job_ID=1042", []string(nil), list("Job_ID", "1042", "", 10), cmpEmpty)
}
