package node_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func TestQuietHoursEndToEnd(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	clock := newFakeClock(time.Date(2026, 6, 1, 23, 30, 0, 0, ny))
	n := startNode(t, nodeOpts{clock: clock.Now})
	ctx := context.Background()
	const nyPhone = "+12125550100" // a New York number: its zone comes from the number
	if _, err := n.client.SetConsent(ctx, nyPhone, client.ConsentChange{State: switchboard.ConsentOptedIn, Evidence: "signup form"}); err != nil {
		t.Fatal(err)
	}
	promo, err := n.client.Send(ctx, &client.SendRequest{To: nyPhone, Body: "Summer sale", Category: switchboard.CategoryMarketing})
	if err != nil {
		t.Fatal(err)
	}
	morning := time.Date(2026, 6, 2, 8, 0, 0, 0, ny)
	if promo.Status != switchboard.StatusScheduled || !promo.NextAttemptAt.Equal(morning) || !strings.Contains(promo.Events[0].Detail, "quiet hours") {
		t.Fatalf("marketing at 23:30 local: %s next %v detail %q", promo.Status, promo.NextAttemptAt, promo.Events[0].Detail)
	}
	// Validity ending inside the quiet hours: it will expire, never go late.
	short, err := n.client.Send(ctx, &client.SendRequest{To: nyPhone, Body: "Flash sale, 1 hour", Category: switchboard.CategoryMarketing, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// The request's timezone wins over the number's: 23:30 in New York is 20:30 in Los Angeles.
	la, err := n.client.Send(ctx, &client.SendRequest{To: nyPhone, Body: "Sale (LA)", Category: switchboard.CategoryMarketing, Timezone: "America/Los_Angeles"})
	if err != nil {
		t.Fatal(err)
	}
	if la.Status != switchboard.StatusQueued {
		t.Fatalf("marketing at 20:30 in the request's zone held: %s", la.Status)
	}
	// Transactional and otp messages are not held by default.
	tx, _ := n.client.Send(ctx, &client.SendRequest{To: nyPhone, Body: "Your technician is on the way"})
	otp, _ := n.client.Send(ctx, &client.SendRequest{To: nyPhone, Body: "Code 123456", Category: switchboard.CategoryOTP})
	for _, m := range []*switchboard.Message{la, tx, otp} {
		n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
	}
	if got, _ := n.client.Get(ctx, promo.ID); got.Status != switchboard.StatusScheduled {
		t.Fatalf("held message moved to %s during the night", got.Status)
	}
	// After the validity of the short one, before the morning: it expires unsent.
	clock.Set(time.Date(2026, 6, 2, 0, 31, 0, 0, ny))
	exp := n.waitStatus(t, short.ID, 10*time.Second, switchboard.StatusExpired, switchboard.StatusDelivered)
	if exp.Status != switchboard.StatusExpired || exp.Attempts != 0 {
		t.Fatalf("message whose validity ends in quiet hours: %s after %d attempts", exp.Status, exp.Attempts)
	}
	clock.Set(morning.Add(time.Minute))
	n.waitStatus(t, promo.ID, 10*time.Second, switchboard.StatusDelivered)
	for _, s := range n.simMessages(t) {
		if s.Body == "Flash sale, 1 hour" {
			t.Fatal("the expired message was sent")
		}
	}
}

// TestQuietHoursHeldAgainAtDispatch: a message accepted in the daytime but still queued at night
// (a backlog, a provider outage) is held again right before it would be sent.
func TestQuietHoursHeldAgainAtDispatch(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	// Across the spring-forward night: 2026-03-07 20:59 EST.
	clock := newFakeClock(time.Date(2026, 3, 7, 20, 59, 0, 0, ny))
	n := startNode(t, nodeOpts{clock: clock.Now, env: map[string]string{"SWITCHBOARD_OPT_IN_REQUIRED": "none"}})
	ctx := context.Background()
	// Accepted at 20:59 (not held), but Twilio answers 429 so it is still queued at night.
	n.simControl(t, "POST", "/sim/v1/faults", map[string]any{"status_429_ratio": 1.0})
	m, err := n.client.Send(ctx, &client.SendRequest{To: "+12125550101", Body: "Weekend offer", Category: switchboard.CategoryMarketing, Validity: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != switchboard.StatusQueued {
		t.Fatalf("accepted at 20:59 as %s, want queued", m.Status)
	}
	waitFor(t, 10*time.Second, "a refused attempt", func() bool {
		got, err := n.client.Get(ctx, m.ID)
		return err == nil && got.Attempts >= 1 && !got.AttemptInFlight
	})
	n.simControl(t, "POST", "/sim/v1/faults", map[string]any{"status_429_ratio": 0.0})
	clock.Set(time.Date(2026, 3, 7, 21, 31, 0, 0, ny))
	// 08:00 EDT on the short night is 12:00 UTC, not 13:00.
	want := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
	waitFor(t, 10*time.Second, "the dispatcher to hold it", func() bool {
		got, err := n.client.Get(ctx, m.ID)
		return err == nil && got.NextAttemptAt.Equal(want) && strings.Contains(got.Events[len(got.Events)-1].Detail, "quiet hours")
	})
	got, _ := n.client.Get(ctx, m.ID)
	if got.Status != switchboard.StatusScheduled || len(n.simMessages(t)) != 0 {
		t.Fatalf("held at dispatch: %s, %d at the simulator", got.Status, len(n.simMessages(t)))
	}
}
