package voice_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// statusCallback posts a signed status callback of call c to the service.
func (e *testEnv) statusCallback(t *testing.T, c *switchboard.Call, status string) {
	t.Helper()
	form := url.Values{"CallSid": {c.ProviderSID}, "CallStatus": {status}}
	path := voice.WebhookPath + c.Token + "/status"
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twiliosig.Header, twiliosig.Sign("token", "https://sb.example.com"+path, form))
	rec := httptest.NewRecorder()
	e.svc.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status callback %s: %d %s", status, rec.Code, rec.Body)
	}
}

func (e *testEnv) call(t *testing.T, id string) *switchboard.Call {
	t.Helper()
	c, err := e.db.GetCall(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *testEnv) placeDue(t *testing.T) {
	t.Helper()
	if err := e.svc.PlaceDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestOptedOutCalleeIsNotCalled (issue 16): a callee who opted out is refused when the call is
// created (recipient_opted_out), and a call whose callee opts out before an attempt — the first
// or a retry — ends blocked with the reason, without reaching the provider again.
func TestOptedOutCalleeIsNotCalled(t *testing.T) {
	t.Parallel()
	var optedOut atomic.Bool
	e := newTestEnvWith(t, 100, func(c *voice.Config) {
		c.Blocks = func(_ context.Context, call *switchboard.Call) (string, error) {
			if optedOut.Load() && call.To == "+14155550100" {
				return "the recipient opted out (keyword STOP) for pool default", nil
			}
			return "", nil
		}
	})
	// At creation.
	optedOut.Store(true)
	c, err := e.svc.Build(&voice.CreateRequest{To: "+14155550100", Flow: "appointment_confirmation",
		Variables: map[string]string{"clinic": "N", "date": "Tuesday", "front_desk": "+15005550020", "patient_name": "Ana"}}, "+15005550006", e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Admit(context.Background(), c); switchboard.ErrorCodeOf(err) != "recipient_opted_out" {
		t.Fatalf("Admit of an opted-out callee: %v", err)
	}

	// Before the first attempt.
	first := e.create(t, "+14155550100")
	e.placeDue(t)
	got := e.call(t, first.ID)
	if got.Status != switchboard.CallBlocked || got.Attempts != 0 || got.NextAttemptAt != nil || !strings.Contains(got.BlockedReason, "opted out") {
		t.Fatalf("first attempt of an opted-out callee: %s attempts %d reason %q", got.Status, got.Attempts, got.BlockedReason)
	}
	// Before a retry: placed, busy, then the callee opts out before the retry is due.
	optedOut.Store(false)
	retried, err := e.svc.Build(&voice.CreateRequest{To: "+14155550100", Flow: "appointment_confirmation", MaxAttempts: 2, RetryDelay: 60,
		Variables: map[string]string{"clinic": "N", "date": "Tuesday", "front_desk": "+15005550020", "patient_name": "Ana"}}, "+15005550006", e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.db.CreateCall(context.Background(), retried, nil); err != nil {
		t.Fatal(err)
	}
	e.clock.add(time.Second) // the sender's next call slot
	e.placeDue(t)
	got = e.call(t, retried.ID)
	if got.Attempts != 1 || got.ProviderSID == "" {
		t.Fatalf("not placed: %+v", got)
	}
	e.statusCallback(t, got, "busy")
	optedOut.Store(true)
	e.clock.add(61 * time.Second)
	e.placeDue(t)
	got = e.call(t, retried.ID)
	if got.Status != switchboard.CallBlocked || got.Attempts != 1 || !strings.Contains(got.BlockedReason, "opted out") {
		t.Fatalf("retry of an opted-out callee: %s attempts %d reason %q", got.Status, got.Attempts, got.BlockedReason)
	}
	if len(e.prov.placed) != 1 {
		t.Fatalf("%d calls reached the provider, want 1", len(e.prov.placed))
	}
}

// TestQuietHoursHoldCalls (issue 16): in the callee's time zone, no call is placed inside the
// window, neither the first attempt nor a retry; send_at schedules a call; each hold is said on
// the timeline.
func TestQuietHoursHoldCalls(t *testing.T) {
	t.Parallel()
	window, err := consent.ParseWindow("21:00-08:00")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	e := newTestEnvWith(t, 100, func(c *voice.Config) {
		c.Hold = func(call *switchboard.Call, at time.Time) (time.Time, string) {
			zone := ny
			if call.Timezone != "" {
				zone, _ = time.LoadLocation(call.Timezone)
			}
			d := window.Next(at, "call", []*time.Location{zone})
			return d.At, d.Note
		}
	})
	vars := map[string]string{"clinic": "N", "date": "Tuesday", "front_desk": "+15005550020", "patient_name": "Ana"}
	create := func(req voice.CreateRequest) *switchboard.Call {
		t.Helper()
		req.Flow, req.Variables = "appointment_confirmation", vars
		c, err := e.svc.Build(&req, "+15005550006", e.clock.now())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Admit(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.db.CreateCall(context.Background(), c, nil); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// 22:30 in New York: held until 08:00 there.
	e.clock.t = time.Date(2026, 3, 4, 22, 30, 0, 0, ny).UTC()
	night := create(voice.CreateRequest{To: "+12125550100"})
	morning := time.Date(2026, 3, 5, 8, 0, 0, 0, ny).UTC()
	if night.NextAttemptAt == nil || !night.NextAttemptAt.Equal(morning) || !strings.Contains(night.Timeline[len(night.Timeline)-1].Detail, "held by call quiet hours") {
		t.Fatalf("a call at 22:30 is due %v, want %v; timeline %+v", night.NextAttemptAt, morning, night.Timeline)
	}
	// The same moment is 19:30 in Los Angeles: placed at once.
	west := create(voice.CreateRequest{To: "+12125550101", Timezone: "America/Los_Angeles"})
	e.placeDue(t)
	if e.call(t, west.ID).Attempts != 1 || e.call(t, night.ID).Attempts != 0 {
		t.Fatalf("attempts: west %d (want 1), night %d (want 0)", e.call(t, west.ID).Attempts, e.call(t, night.ID).Attempts)
	}
	e.clock.t = morning
	e.placeDue(t)
	if got := e.call(t, night.ID); got.Attempts != 1 || !e.prov.placed[night.ID].Equal(morning) {
		t.Fatalf("the held call at 08:00: attempts %d placed %v", got.Attempts, e.prov.placed[night.ID])
	}

	// A retry due inside the window waits for its end too: attempt at 20:55, busy, retry 10 min.
	e.clock.t = time.Date(2026, 3, 5, 20, 55, 0, 0, ny).UTC()
	r := create(voice.CreateRequest{To: "+12125550102", MaxAttempts: 2, RetryDelay: 600})
	e.placeDue(t)
	e.statusCallback(t, e.call(t, r.ID), "busy")
	e.clock.add(10 * time.Minute)
	e.placeDue(t)
	got := e.call(t, r.ID)
	next := time.Date(2026, 3, 6, 8, 0, 0, 0, ny).UTC()
	if got.Attempts != 1 || got.NextAttemptAt == nil || !got.NextAttemptAt.Equal(next) {
		t.Fatalf("a retry due at 21:05: attempts %d next %v, want 1 and %v", got.Attempts, got.NextAttemptAt, next)
	}

	// send_at: not placed before it; a send_at more than a year ahead is refused.
	e.clock.t = time.Date(2026, 3, 6, 10, 0, 0, 0, ny).UTC()
	at := e.clock.now().Add(time.Hour)
	later := create(voice.CreateRequest{To: "+12125550103", SendAt: &at})
	e.placeDue(t)
	if c := e.call(t, later.ID); c.Attempts != 0 || c.SendAt == nil || !c.SendAt.Equal(at) {
		t.Fatalf("a call for an hour later was placed or lost its send_at: %+v", c)
	}
	e.clock.add(time.Hour)
	e.placeDue(t)
	if e.call(t, later.ID).Attempts != 1 {
		t.Fatal("the scheduled call was not placed at its send_at")
	}
	far := e.clock.now().Add(366 * 24 * time.Hour)
	if _, err := e.svc.Build(&voice.CreateRequest{To: "+12125550104", Flow: "appointment_confirmation", Variables: vars, SendAt: &far}, "+15005550006", e.clock.now()); switchboard.ErrorCodeOf(err) != "send_at_too_far" {
		t.Fatalf("send_at a year and a day ahead: %v", err)
	}
	if _, err := e.svc.Build(&voice.CreateRequest{To: "+12125550104", Flow: "appointment_confirmation", Variables: vars, Timezone: "Mars/Olympus"}, "+15005550006", e.clock.now()); switchboard.ErrorCodeOf(err) != "invalid_timezone" {
		t.Fatalf("a bad timezone: %v", err)
	}
}
