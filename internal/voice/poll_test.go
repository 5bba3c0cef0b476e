package voice_test

import (
	"context"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// TestPollStaleCalls: a placed call whose status callbacks were all lost is asked of the
// provider once status_poll_after has passed, and the provider's final status is applied as its
// callback would have been (fallback SMS once, call.completed); a call the provider does not
// know ends failed; a call with nothing new is asked again only after another
// status_poll_after; a call heard from recently is not asked at all.
func TestPollStaleCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var fallbacks []string
	e := newTestEnvWith(t, 100, func(cfg *voice.Config) {
		cfg.StatusPollAfter = time.Minute
		cfg.Fallback = func(_ context.Context, c *switchboard.Call, template string) (string, string, error) {
			fallbacks = append(fallbacks, c.ID)
			return "msg_" + c.ID, "", nil
		}
	})
	unanswered, lost, ringing := e.create(t, "+14155550101"), e.create(t, "+14155550102"), e.create(t, "+14155550103")
	for range 3 { // one call per sender slot
		if err := e.svc.PlaceDue(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.add(time.Second)
	}
	e.prov.fetched["CA"+unanswered.ID] = switchboard.CallNoAnswer
	e.prov.fetched["CA"+ringing.ID] = switchboard.CallQueued // nothing new

	e.clock.add(29 * time.Second)
	if err := e.svc.PollStale(ctx); err != nil {
		t.Fatal(err)
	}
	if e.prov.fetches != 0 {
		t.Fatalf("%d fetches before status_poll_after passed, want none", e.prov.fetches)
	}

	e.clock.add(31 * time.Second)
	if err := e.svc.PollStale(ctx); err != nil {
		t.Fatal(err)
	}
	if e.prov.fetches != 3 {
		t.Fatalf("%d fetches, want 3", e.prov.fetches)
	}
	c, err := e.db.GetCall(ctx, unanswered.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := c.Timeline[len(c.Timeline)-1]
	if c.Status != switchboard.CallNoAnswer || c.FallbackMessageID != "msg_"+c.ID || !strings.Contains(last.Detail, "status poll") {
		t.Errorf("unanswered call: status %s fallback %q last %+v; want no-answer from a status poll with its fallback", c.Status, c.FallbackMessageID, last)
	}
	c, err = e.db.GetCall(ctx, lost.ID)
	if err != nil {
		t.Fatal(err)
	}
	last = c.Timeline[len(c.Timeline)-1]
	if c.Status != switchboard.CallFailed || !strings.Contains(last.Detail, "does not know") {
		t.Errorf("call unknown to the provider: status %s last %+v; want failed, saying why", c.Status, last)
	}
	c, err = e.db.GetCall(ctx, ringing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != switchboard.CallQueued {
		t.Errorf("call with nothing new: status %s, want queued", c.Status)
	}
	evs, err := e.db.ListAppEvents(ctx, switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppCallCompleted}, Limit: 100})
	if err != nil || len(evs) != 2 {
		t.Errorf("%d call.completed events (%v), want 2", len(evs), err)
	}

	// Asked again: the finished calls are not, and the untouched one only after another minute.
	if err := e.svc.PollStale(ctx); err != nil {
		t.Fatal(err)
	}
	if e.prov.fetches != 3 {
		t.Errorf("%d fetches after a second poll at once, want still 3", e.prov.fetches)
	}
	e.clock.add(61 * time.Second)
	e.prov.fetched["CA"+ringing.ID] = switchboard.CallBusy
	if err := e.svc.PollStale(ctx); err != nil {
		t.Fatal(err)
	}
	if e.prov.fetches != 4 {
		t.Errorf("%d fetches, want 4 (only the call still live)", e.prov.fetches)
	}
	c, _ = e.db.GetCall(ctx, ringing.ID)
	if c.Status != switchboard.CallBusy || len(fallbacks) != 2 {
		t.Errorf("busy call: status %s, fallbacks %v; want busy and one fallback per ended call", c.Status, fallbacks)
	}
}
