package whatsapp_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/whatsapp"
)

var t0 = time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)

func setup(t *testing.T) (*sqlite.DB, *whatsapp.Service, *time.Time) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := t0
	svc := whatsapp.New(whatsapp.Config{Store: db, Clock: func() time.Time { return now }, ErrorCodes: &twilio.Provider{}})
	return db, svc, &now
}

func waMessage(t *testing.T, db *sqlite.DB, to string, after int, edit func(*switchboard.Message)) *switchboard.Message {
	t.Helper()
	m := &switchboard.Message{ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelWhatsApp,
		Category: switchboard.CategoryTransactional, To: to, From: "+15005550006", Body: "Your order shipped",
		Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0,
		WhatsApp: &switchboard.WhatsAppOptions{Fallback: switchboard.FallbackSMS, FallbackAfterSeconds: after}}
	if edit != nil {
		edit(m)
	}
	got, _, err := db.CreateMessage(context.Background(), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func finish(t *testing.T, db *sqlite.DB, id string, st switchboard.Status, code int) {
	t.Helper()
	if _, err := db.UpdateMessage(context.Background(), switchboard.MessageUpdate{ID: id, Status: st, ErrorCode: &code, At: t0}); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, db *sqlite.DB, id string) *switchboard.Message {
	t.Helper()
	m, err := db.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFallbackDecisions: which WhatsApp outcomes get an SMS leg, and that a leg is made once
// however many scans run at once.
func TestFallbackDecisions(t *testing.T) {
	t.Parallel()
	db, svc, now := setup(t)
	ctx := context.Background()
	failed := waMessage(t, db, "+14155550101", 0, nil)
	finish(t, db, failed.ID, switchboard.StatusFailed, 63018)
	window := waMessage(t, db, "+14155550102", 0, nil)
	finish(t, db, window.ID, switchboard.StatusBlocked, twilio.Code(switchboard.ClassWhatsAppWindow))
	optedOut := waMessage(t, db, "+14155550103", 0, nil)
	finish(t, db, optedOut.ID, switchboard.StatusBlocked, 21610)
	expired := waMessage(t, db, "+14155550104", 0, nil)
	finish(t, db, expired.ID, switchboard.StatusExpired, 0)
	delivered := waMessage(t, db, "+14155550105", 0, nil)
	finish(t, db, delivered.ID, switchboard.StatusDelivered, 0)
	late := waMessage(t, db, "+14155550106", 60, nil) // still queued at its fallback time
	inFlight := waMessage(t, db, "+14155550107", 60, nil)
	if _, err := db.UpdateMessage(ctx, switchboard.MessageUpdate{ID: inFlight.ID, Status: switchboard.StatusSent, At: t0}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	legs := make(chan int, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := svc.FallbackTick(ctx)
			if err != nil {
				t.Error(err)
			}
			legs <- n
		}()
	}
	wg.Wait()
	close(legs)
	total := 0
	for n := range legs {
		total += n
	}
	if total != 2 {
		t.Fatalf("%d legs before the fallback time, want 2 (failed, window)", total)
	}
	for _, tc := range []struct {
		m    *switchboard.Message
		want bool
	}{{failed, true}, {window, true}, {optedOut, false}, {expired, false}, {delivered, false}} {
		got := get(t, db, tc.m.ID)
		if (got.WhatsApp.FallbackMessageID != "") != tc.want {
			t.Errorf("%s (%s/%d): leg %q, want one: %v", tc.m.To, got.Status, got.ErrorCode, got.WhatsApp.FallbackMessageID, tc.want)
		}
	}
	// Past the fallback time: the queued one is withdrawn, then replaced; the one already sent
	// gets its leg too.
	*now = t0.Add(61 * time.Second)
	if n, err := svc.FallbackTick(ctx); err != nil || n != 2 {
		t.Fatalf("after the fallback time: %d legs, %v; want 2", n, err)
	}
	if got := get(t, db, late.ID); got.Status != switchboard.StatusCanceled || got.WhatsApp.FallbackMessageID == "" {
		t.Fatalf("late queued message: %s, leg %q", got.Status, got.WhatsApp.FallbackMessageID)
	}
	leg := get(t, db, get(t, db, inFlight.ID).WhatsApp.FallbackMessageID)
	if leg.Channel != switchboard.ChannelSMS || leg.WhatsApp.FallbackOf != inFlight.ID || leg.Status != switchboard.StatusQueued {
		t.Fatalf("leg: %+v", leg)
	}
	if n, _ := svc.FallbackTick(ctx); n != 0 {
		t.Fatalf("a later scan made %d more legs", n)
	}
	// Which leg reached the person.
	finish(t, db, leg.ID, switchboard.StatusDelivered, 0)
	orig := get(t, db, inFlight.ID)
	if err := svc.Annotate(ctx, orig); err != nil || orig.WhatsApp.ReachedBy != "sms" {
		t.Fatalf("reached_by = %q, %v", orig.WhatsApp.ReachedBy, err)
	}
	finish(t, db, inFlight.ID, switchboard.StatusDelivered, 0)
	orig = get(t, db, inFlight.ID)
	if err := svc.Annotate(ctx, orig); err != nil || orig.WhatsApp.ReachedBy != "both" {
		t.Fatalf("reached_by = %q, %v; want both", orig.WhatsApp.ReachedBy, err)
	}
}

// TestAcceptRules: the window at acceptance, for free form, templates and the fallback.
func TestAcceptRules(t *testing.T) {
	t.Parallel()
	db, svc, _ := setup(t)
	ctx := context.Background()
	msg := func() *switchboard.Message {
		return &switchboard.Message{Channel: switchboard.ChannelWhatsApp, To: "+14155550110", From: "+15005550006", Body: "x"}
	}
	if _, err := svc.Accept(ctx, msg(), whatsapp.Request{}); switchboard.ErrorCodeOf(err) != "whatsapp_window_closed" {
		t.Fatalf("free form, no window: %v", err)
	}
	if _, err := svc.Accept(ctx, msg(), whatsapp.Request{Fallback: "email"}); switchboard.ErrorCodeOf(err) != "invalid_fallback" {
		t.Fatalf("bad policy: %v", err)
	}
	if _, err := svc.Accept(ctx, msg(), whatsapp.Request{FallbackAfterSeconds: 10}); switchboard.ErrorCodeOf(err) != "invalid_fallback" {
		t.Fatalf("fallback time without fallback: %v", err)
	}
	m := msg()
	if note, err := svc.Accept(ctx, m, whatsapp.Request{Fallback: switchboard.FallbackSMS}); err != nil || m.WhatsApp.Fallback != switchboard.FallbackSMS || note == "" {
		t.Fatalf("with fallback: %q, %v", note, err)
	}
	// The person writes: the window is open for 24 hours, not for a message scheduled later.
	in := &switchboard.InboundMessage{ID: "in1", ProviderSID: "SMx", Channel: switchboard.ChannelWhatsApp, From: "+14155550110",
		To: "+15005550006", Body: "hi", ReceivedAt: t0.Add(-time.Hour)}
	if _, err := db.CreateInbound(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Accept(ctx, msg(), whatsapp.Request{}); err != nil {
		t.Fatalf("inside the window: %v", err)
	}
	late := msg()
	at := t0.Add(24 * time.Hour)
	late.SendAt = &at
	if _, err := svc.Accept(ctx, late, whatsapp.Request{}); switchboard.ErrorCodeOf(err) != "whatsapp_window_closed" {
		t.Fatalf("scheduled after the window closes: %v", err)
	}
	// At dispatch: blocked with 63016's code once the window closed, the template otherwise.
	p, err := svc.Prepare(ctx, msg())
	if err != nil || p.Block != nil || p.ContentSID != "" {
		t.Fatalf("prepare inside the window: %+v, %v", p, err)
	}
}
