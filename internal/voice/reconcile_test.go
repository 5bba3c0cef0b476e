package voice_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// Ways a create may be answered ambiguously.
const (
	createdThen500 = "created, then 500" // the call exists, the answer is a 500
	before500      = "500 before create" // the answer is a 500 and nothing was created
	timeout        = "timeout"           // the call exists, the answer never came
	stopped        = "node stopped"      // the call exists, and the node stops before it hears back
)

// ambiguousProvider answers the first create of each call ambiguously (the way fault says) and
// later ones normally; FindCalls lists what it holds as Twilio would (To, From, creation on its
// own clock with a minute of slack); findErr, when set, is FindCalls' error.
type ambiguousProvider struct {
	clock   func() time.Time
	fault   string
	mu      sync.Mutex
	calls   []*switchboard.ProviderCall
	creates map[string]int
	finds   int
	findErr error
	ended   []string
	// stop, for the stopped fault, ends the placing node's context.
	stop context.CancelFunc
}

func (p *ambiguousProvider) PlaceCall(ctx context.Context, req *switchboard.PlaceCallRequest) (*switchboard.ProviderCall, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.creates[req.CallID]++
	first := p.creates[req.CallID] == 1
	if first && p.fault == before500 {
		return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, HTTPStatus: 500, Code: 20500, Message: "internal server error"}
	}
	pc := &switchboard.ProviderCall{SID: fmt.Sprintf("CA%032d", len(p.calls)+1), To: req.To, From: req.From,
		Status: switchboard.CallQueued, ProviderStatus: "queued", CreatedAt: p.clock()}
	p.calls = append(p.calls, pc)
	switch {
	case first && p.fault == createdThen500:
		return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, HTTPStatus: 500, Code: 20500, Message: "internal server error"}
	case first && p.fault == timeout:
		return nil, context.DeadlineExceeded // not a ProviderError: the service takes it as ambiguous
	case first && p.fault == stopped:
		p.stop()
		return nil, ctx.Err()
	}
	return pc, nil
}

func (p *ambiguousProvider) EndCall(_ context.Context, sid string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = append(p.ended, sid)
	return nil
}

func (p *ambiguousProvider) FetchCall(_ context.Context, sid string) (*switchboard.ProviderCall, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.calls {
		if pc.SID == sid {
			cp := *pc
			return &cp, nil
		}
	}
	return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeFail, HTTPStatus: 404, Code: 20404, Message: "not found"}
}

func (p *ambiguousProvider) FindCalls(_ context.Context, q switchboard.CallQuery) ([]*switchboard.ProviderCall, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finds++
	var out []*switchboard.ProviderCall
	for _, pc := range p.calls {
		if pc.To == q.To && pc.From == q.From && !pc.CreatedAt.Before(q.Since.Add(-time.Minute)) {
			cp := *pc
			out = append(out, &cp)
		}
	}
	if p.findErr != nil {
		return out, p.findErr
	}
	return out, nil
}

// setStatus moves the provider's call sid to st.
func (p *ambiguousProvider) setStatus(sid string, st switchboard.CallStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.calls {
		if pc.SID == sid {
			pc.Status, pc.ProviderStatus = st, string(st)
		}
	}
}

func (p *ambiguousProvider) count(to string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, pc := range p.calls {
		if pc.To == to {
			n++
		}
	}
	return n
}

// reconcileEnv is a voice service on a provider answering ambiguously, with a 5 s
// reconcile_delay and a fallback SMS recorded per call.
func reconcileEnv(t *testing.T, fault string) (*testEnv, *ambiguousProvider, *[]string) {
	t.Helper()
	var fallbacks []string
	var prov *ambiguousProvider
	e := newTestEnvWith(t, 100, func(cfg *voice.Config) {
		prov = &ambiguousProvider{clock: cfg.Clock, fault: fault, creates: map[string]int{}}
		cfg.Provider = prov
		cfg.ReconcileDelay = 5 * time.Second
		cfg.StatusPollAfter = time.Minute
		cfg.Fallback = func(_ context.Context, c *switchboard.Call, _ string) (string, string, error) {
			fallbacks = append(fallbacks, c.ID)
			return "msg_" + c.ID, "", nil
		}
	})
	return e, prov, &fallbacks
}

func mustGet(t *testing.T, e *testEnv, id string) *switchboard.Call {
	t.Helper()
	c, err := e.db.GetCall(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func timelineHas(c *switchboard.Call, text string) bool {
	for _, ev := range c.Timeline {
		if strings.Contains(ev.Detail, text) {
			return true
		}
	}
	return false
}

// TestAmbiguousCreateIsReconciled: a call whose create was answered ambiguously is not placed
// again before reconcile_delay; then the provider is asked: a call it created (a 500 after the
// create, a timeout) is adopted, never placed twice; a call it never created (a 500 before the
// create) is placed again, once. Each then ends (its status polled, as its callbacks are lost
// here) with its fallback SMS for no-answer. A service started afresh on the same store between
// the ambiguous answer and the reconciliation (a node restart) does the reconciling.
func TestAmbiguousCreateIsReconciled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fault   string
		restart bool
		creates int // creates at the provider for the call, in all
	}{
		{createdThen500, false, 1}, {timeout, false, 1}, {before500, false, 2},
		{createdThen500, true, 1}, {before500, true, 2},
	} {
		t.Run(fmt.Sprintf("%s restart=%v", tc.fault, tc.restart), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e, prov, fallbacks := reconcileEnv(t, tc.fault)
			to := "+14155550161"
			c := e.create(t, to)
			if err := e.svc.PlaceDue(ctx); err != nil {
				t.Fatal(err)
			}
			got := mustGet(t, e, c.ID)
			if got.Status != switchboard.CallQueued || got.ProviderSID != "" || got.NextAttemptAt == nil || !timelineHas(got, "outcome unknown") {
				t.Fatalf("after the ambiguous answer: status %s sid %q next %v, want queued, no SID, a reconciliation due; timeline %+v",
					got.Status, got.ProviderSID, got.NextAttemptAt, got.Timeline)
			}
			svc := e.svc
			if tc.restart {
				svc = voice.New(e.cfg) // another node, or this one restarted: only the store carries over
			}
			e.clock.add(4 * time.Second)
			if err := svc.PlaceDue(ctx); err != nil {
				t.Fatal(err)
			}
			if prov.finds != 0 || prov.creates[c.ID] != 1 {
				t.Fatalf("before reconcile_delay: %d finds, %d creates; want none asked, one create", prov.finds, prov.creates[c.ID])
			}
			e.clock.add(2 * time.Second)
			if err := svc.PlaceDue(ctx); err != nil {
				t.Fatal(err)
			}
			if prov.finds != 1 || prov.creates[c.ID] != tc.creates || prov.count(to) != 1 {
				t.Fatalf("after reconcile_delay: %d finds, %d creates, %d calls at the provider; want 1 find, %d creates, 1 call",
					prov.finds, prov.creates[c.ID], prov.count(to), tc.creates)
			}
			got = mustGet(t, e, c.ID)
			want := "did reach the provider"
			if tc.fault == before500 {
				want = "so it is placed again"
			}
			if got.ProviderSID == "" || got.NextAttemptAt != nil || got.Attempts != 1 || !timelineHas(got, want) {
				t.Fatalf("reconciled: sid %q next %v attempts %d, want a SID, nothing due, 1 attempt and %q; timeline %+v",
					got.ProviderSID, got.NextAttemptAt, got.Attempts, want, got.Timeline)
			}
			// More polls place nothing; the call's callbacks are lost, so the status poll ends it.
			for range 3 {
				e.clock.add(10 * time.Second)
				if err := svc.PlaceDue(ctx); err != nil {
					t.Fatal(err)
				}
			}
			prov.setStatus(got.ProviderSID, switchboard.CallNoAnswer)
			e.clock.add(time.Minute)
			if err := svc.PollStale(ctx); err != nil {
				t.Fatal(err)
			}
			got = mustGet(t, e, c.ID)
			if got.Status != switchboard.CallNoAnswer || got.FallbackMessageID != "msg_"+c.ID || len(*fallbacks) != 1 || prov.count(to) != 1 {
				t.Errorf("end: status %s fallback %q (%d sent), %d calls at the provider; want no-answer, one fallback, one call",
					got.Status, got.FallbackMessageID, len(*fallbacks), prov.count(to))
			}
		})
	}
}

// TestReconcileUnsureAsksAgain: while the provider cannot be asked, or its list is cut short
// with nothing in it, the call is asked about again later and never placed; once the answer is
// complete and shows nothing, it is placed again, once.
func TestReconcileUnsureAsksAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, prov, _ := reconcileEnv(t, before500)
	c := e.create(t, "+14155550162")
	if err := e.svc.PlaceDue(ctx); err != nil {
		t.Fatal(err)
	}
	prov.findErr = &switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, HTTPStatus: 503, Message: "unavailable"}
	e.clock.add(6 * time.Second)
	if err := e.svc.PlaceDue(ctx); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, e, c.ID)
	if prov.creates[c.ID] != 1 || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(e.clock.now().Add(5*time.Second)) || !timelineHas(got, "could not ask the provider") {
		t.Fatalf("provider unavailable: %d creates, next %v; want 1 create, asked again after reconcile_delay; timeline %+v", prov.creates[c.ID], got.NextAttemptAt, got.Timeline)
	}
	prov.findErr = switchboard.Errorf(switchboard.EUNAVAILABLE, switchboard.CodeFindIncomplete, "list cut short")
	e.clock.add(6 * time.Second)
	if err := e.svc.PlaceDue(ctx); err != nil {
		t.Fatal(err)
	}
	got = mustGet(t, e, c.ID)
	if prov.creates[c.ID] != 1 || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(e.clock.now().Add(time.Minute)) || !timelineHas(got, "cut short") {
		t.Fatalf("list cut short: %d creates, next %v; want 1 create, asked again after status_poll_after; timeline %+v", prov.creates[c.ID], got.NextAttemptAt, got.Timeline)
	}
	prov.findErr = nil
	e.clock.add(time.Minute)
	if err := e.svc.PlaceDue(ctx); err != nil {
		t.Fatal(err)
	}
	if got = mustGet(t, e, c.ID); prov.creates[c.ID] != 2 || got.ProviderSID == "" || prov.finds != 3 {
		t.Fatalf("complete answer: %d creates, sid %q, %d finds; want placed again once", prov.creates[c.ID], got.ProviderSID, prov.finds)
	}
}

// TestReconcileSkipsEarlierAttempts: the first attempt was busy and a retry's create was
// answered 500 before anything was created: the first attempt's call, still on the provider's
// list, is not taken for the retry's, which is placed again.
func TestReconcileSkipsEarlierAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, prov, _ := reconcileEnv(t, "")
	c := e.create(t, "+14155550163")
	c.MaxAttempts, c.RetryDelay = 2, 30
	if err := e.db.UpdateCall(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.PlaceDue(ctx); err != nil {
		t.Fatal(err)
	}
	first := mustGet(t, e, c.ID).ProviderSID
	prov.setStatus(first, switchboard.CallBusy)
	e.clock.add(2 * time.Minute)
	if err := e.svc.PollStale(ctx); err != nil { // the busy status, polled: a retry is due
		t.Fatal(err)
	}
	prov.mu.Lock()
	prov.fault, prov.creates[c.ID] = before500, 0
	prov.mu.Unlock()
	e.clock.add(30 * time.Second)
	if err := e.svc.PlaceDue(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.add(6 * time.Second)
	if err := e.svc.PlaceDue(ctx); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, e, c.ID)
	if got.ProviderSID == "" || got.ProviderSID == first || prov.creates[c.ID] != 2 || got.Attempts != 2 {
		t.Fatalf("retry: sid %q (first %s), %d creates, attempts %d; want a new call placed, attempt 2; timeline %+v",
			got.ProviderSID, first, prov.creates[c.ID], got.Attempts, got.Timeline)
	}
}

// TestCancelWhileUnknown: a cancel asked while the attempt's outcome is unknown is carried out
// when reconciliation settles it: the call found is ended at the provider; a call never created
// ends canceled without being placed.
func TestCancelWhileUnknown(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{createdThen500, before500} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e, prov, _ := reconcileEnv(t, fault)
			c := e.create(t, "+14155550164")
			if err := e.svc.PlaceDue(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Cancel(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			e.clock.add(6 * time.Second)
			if err := e.svc.PlaceDue(ctx); err != nil {
				t.Fatal(err)
			}
			got := mustGet(t, e, c.ID)
			if fault == before500 {
				if got.Status != switchboard.CallCanceled || prov.creates[c.ID] != 1 {
					t.Errorf("never created: status %s, %d creates; want canceled, not placed again", got.Status, prov.creates[c.ID])
				}
				return
			}
			if len(prov.ended) != 1 || prov.ended[0] != got.ProviderSID || got.CancelPending {
				t.Errorf("created: ended %v, sid %q, pending %v; want the adopted call ended at the provider", prov.ended, got.ProviderSID, got.CancelPending)
			}
		})
	}
}

// TestStoppedWhilePlacingIsReconciled: a node stops while the provider creates a call (nothing
// after the attempt's record is written); the call is left for reconciliation once the lease has
// run out, and a service started afresh on the store adopts the call, never placing it again.
func TestStoppedWhilePlacingIsReconciled(t *testing.T) {
	t.Parallel()
	e, prov, _ := reconcileEnv(t, stopped)
	c := e.create(t, "+14155550165")
	ctx, cancel := context.WithCancel(context.Background())
	prov.stop = cancel
	_ = e.svc.PlaceDue(ctx)
	got := mustGet(t, e, c.ID)
	if !got.Placing || got.ProviderSID != "" || got.NextAttemptAt == nil || prov.creates[c.ID] != 1 {
		t.Fatalf("after the stop: placing %v sid %q next %v, %d creates; want the attempt recorded, a reconciliation due", got.Placing, got.ProviderSID, got.NextAttemptAt, prov.creates[c.ID])
	}
	svc := voice.New(e.cfg)
	e.clock.add(30 * time.Second) // the lease (30 s): a slow answer could still come
	if err := svc.PlaceDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if prov.finds != 0 || prov.creates[c.ID] != 1 {
		t.Fatalf("within lease + reconcile_delay: %d finds, %d creates; want nothing", prov.finds, prov.creates[c.ID])
	}
	e.clock.add(6 * time.Second)
	if err := svc.PlaceDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	got = mustGet(t, e, c.ID)
	if prov.finds != 1 || prov.creates[c.ID] != 1 || got.ProviderSID == "" || got.Placing || !timelineHas(got, "did reach the provider") {
		t.Fatalf("reconciled: %d finds, %d creates, sid %q, placing %v; want the call adopted; timeline %+v", prov.finds, prov.creates[c.ID], got.ProviderSID, got.Placing, got.Timeline)
	}
}
