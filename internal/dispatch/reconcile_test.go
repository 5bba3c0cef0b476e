package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// remoteProvider is a provider with its own clock: the first Send of each message is created
// but its answer is lost (a timeout); Find answers as Twilio does, filtering on its own clock
// with a minute of slack, and can claim its list was cut short.
type remoteProvider struct {
	noCodes
	mu        sync.Mutex
	clock     func() time.Time
	msgs      []*switchboard.ProviderMessage
	sends     map[string]int
	truncated bool
	finds     []switchboard.FindQuery
}

func (p *remoteProvider) Name() string { return "remote" }

func (p *remoteProvider) Send(_ context.Context, req *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sends[req.MessageID]++
	pm := &switchboard.ProviderMessage{
		SID: fmt.Sprintf("SM%032d", len(p.msgs)+1), To: req.To, From: req.From, Body: req.Body,
		ProviderStatus: "queued", Status: switchboard.StatusQueued, CreatedAt: p.clock(),
	}
	p.msgs = append(p.msgs, pm)
	if p.sends[req.MessageID] == 1 {
		return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, Message: "timeout", Err: context.DeadlineExceeded}
	}
	return pm, nil
}

func (p *remoteProvider) Fetch(context.Context, string) (*switchboard.ProviderMessage, error) {
	return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeFail, Message: "not in this test"}
}

func (p *remoteProvider) Find(_ context.Context, q switchboard.FindQuery) ([]*switchboard.ProviderMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finds = append(p.finds, q)
	if p.truncated {
		return nil, switchboard.Errorf(switchboard.EUNAVAILABLE, switchboard.CodeFindIncomplete, "list cut short")
	}
	var out []*switchboard.ProviderMessage
	for _, pm := range p.msgs {
		if pm.To == q.To && pm.From == q.From && !pm.CreatedAt.Before(q.Since.Add(-time.Minute)) {
			out = append(out, pm)
		}
	}
	return out, nil
}

func (p *remoteProvider) sent(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sends[id]
}

// reconcileRun queues one message (its body redacted when redact is set) and runs a dispatcher
// whose clock is skew off the provider's until the message leaves its first attempt's
// reconciliation; it returns the message as stored then.
func reconcileRun(t *testing.T, skew time.Duration, prov *remoteProvider, redact bool, edit ...func(*switchboard.Message)) *switchboard.Message {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "reconcile.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := func() time.Time { return time.Now().UTC().Add(skew) }
	prov.clock = func() time.Time { return time.Now().UTC() }
	now := clock()
	body := "your technician is on the way"
	sum := sha256.Sum256([]byte(body))
	m := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: "+14155550123", From: "+15005550006", Body: body,
		BodySHA256: hex.EncodeToString(sum[:]), BodyLength: len(body), Segments: 1, Encoding: switchboard.EncodingGSM7,
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
	for _, e := range edit {
		e(m)
	}
	if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	store := switchboard.Store(db)
	if redact {
		store = redactedStore{db}
	}
	d := New(Config{
		Store: store, Provider: prov, Clock: clock, PollInterval: 5 * time.Millisecond,
		Senders:        []switchboard.Sender{{From: m.From, Kind: switchboard.SenderShortCode, Rate: -1}},
		ReconcileDelay: time.Millisecond, ProviderTimeout: time.Second, Lease: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := db.GetMessage(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		reconciled := false
		for _, e := range got.Events {
			reconciled = reconciled || e.Type == switchboard.EventReconcile || e.Type == switchboard.EventNeedsReview
		}
		if reconciled && !got.AttemptInFlight || got.ProviderSID != "" || hasEvent(got, switchboard.EventNeedsReview) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s not reconciled: %+v", m.ID, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func hasEvent(m *switchboard.Message, typ switchboard.EventType) bool {
	for _, e := range m.Events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// redactedStore hands out messages whose body retention removed while an attempt was in flight.
type redactedStore struct{ switchboard.Store }

func (s redactedStore) ClaimMessages(ctx context.Context, p switchboard.ClaimParams) ([]*switchboard.Message, error) {
	msgs, err := s.Store.ClaimMessages(ctx, p)
	for _, m := range msgs {
		m.Body = ""
	}
	return msgs, err
}

// TestReconcileWhateverTheClocks: an attempt whose answer was lost did reach the provider. The
// dispatcher finds and adopts it, and sends nothing again, whether its clock runs 5 minutes
// ahead of the provider's, 5 minutes behind, or agrees. (Before the fix, the node ahead asked
// for messages created since its own attempt time less a minute: on the provider's clock that
// excluded the very message, and it was sent again.)
func TestReconcileWhateverTheClocks(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{5 * time.Minute, -5 * time.Minute, 0} {
		t.Run(skew.String(), func(t *testing.T) {
			t.Parallel()
			prov := &remoteProvider{sends: map[string]int{}}
			m := reconcileRun(t, skew, prov, false)
			if n := prov.sent(m.ID); n != 1 {
				t.Fatalf("clock %s off the provider's: the message was sent %d times", skew, n)
			}
			if m.ProviderSID == "" || m.AttemptInFlight || !hasEvent(m, switchboard.EventReconcile) {
				t.Fatalf("the attempt was not adopted: sid %q, in flight %v", m.ProviderSID, m.AttemptInFlight)
			}
		})
	}
}

// TestReconcileByDigestWhenRedacted: retention removed the body while the attempt was in flight;
// the provider's message is recognised by the body's digest and adopted.
func TestReconcileByDigestWhenRedacted(t *testing.T) {
	t.Parallel()
	prov := &remoteProvider{sends: map[string]int{}}
	m := reconcileRun(t, 0, prov, true)
	if n := prov.sent(m.ID); n != 1 || m.ProviderSID == "" {
		t.Fatalf("sent %d times, sid %q: the redacted message was not recognised by its digest", n, m.ProviderSID)
	}
}

// TestReconcileUncertainParks: the provider's list was cut short, so "not found" is not
// certain: the message is not sent again but parked with a needs_review event and reason, its
// attempt still in flight and its status unchanged.
func TestReconcileUncertainParks(t *testing.T) {
	t.Parallel()
	prov := &remoteProvider{sends: map[string]int{}, truncated: true}
	m := reconcileRun(t, 0, prov, false)
	if n := prov.sent(m.ID); n != 1 {
		t.Fatalf("sent %d times on an uncertain reconciliation", n)
	}
	if !hasEvent(m, switchboard.EventNeedsReview) || !m.AttemptInFlight || m.Status != switchboard.StatusQueued {
		t.Fatalf("not parked: events %v, in flight %v, status %s", m.Events, m.AttemptInFlight, m.Status)
	}
	if m.ErrorMessage == "" || m.NextAttemptAt.Before(time.Now().Add(10*time.Minute)) {
		t.Fatalf("parked without a reason or due again at once: %q, next %s", m.ErrorMessage, m.NextAttemptAt)
	}
}

// claimCounter counts claims.
type claimCounter struct {
	switchboard.Store
	mu     sync.Mutex
	claims int
}

func (s *claimCounter) ClaimMessages(ctx context.Context, p switchboard.ClaimParams) ([]*switchboard.Message, error) {
	s.mu.Lock()
	s.claims++
	s.mu.Unlock()
	return s.Store.ClaimMessages(ctx, p)
}

// TestPauseStopsClaiming: while Pause gives a reason (the node's clock is too far off), the
// dispatcher claims nothing, through many scans; once it gives none, the message goes.
func TestPauseStopsClaiming(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pause.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	m := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: "+14155550123", From: "+15005550006", Body: "hello",
		BodyLength: 5, Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		asked  int
		reason = "clock off"
	)
	store := &claimCounter{Store: db}
	prov := &callTimes{sent: map[string]int{}}
	d := New(Config{
		Store: store, Provider: prov, PollInterval: time.Millisecond,
		Senders: []switchboard.Sender{{From: m.From, Kind: switchboard.SenderShortCode, Rate: -1}},
		Pause: func() string {
			mu.Lock()
			defer mu.Unlock()
			asked++
			return reason
		},
	})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, "many scans while paused", func() bool { mu.Lock(); defer mu.Unlock(); return asked >= 50 })
	store.mu.Lock()
	claims := store.claims
	store.mu.Unlock()
	if claims != 0 {
		t.Fatalf("%d claims while paused", claims)
	}
	mu.Lock()
	reason = ""
	mu.Unlock()
	waitUntil(t, "the message sent after the pause", func() bool { prov.mu.Lock(); defer prov.mu.Unlock(); return prov.sent[m.ID] == 1 })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestReconcileTemplateAmbiguousParks: a WhatsApp message that may have gone as a content
// template cannot be matched by its text; when two messages of the pair that no other message
// owns are at the provider (an older one sent outside Switchboard, and this attempt), nothing
// tells which is this attempt: the message is parked, not adopted blindly nor sent again.
func TestReconcileTemplateAmbiguousParks(t *testing.T) {
	t.Parallel()
	prov := &remoteProvider{sends: map[string]int{}, clock: func() time.Time { return time.Now().UTC() }}
	prov.msgs = append(prov.msgs, &switchboard.ProviderMessage{SID: "SM" + fmt.Sprintf("%032d", 999), To: "+14155550123",
		From: "+15005550006", Body: "Your appointment is tomorrow", Status: switchboard.StatusDelivered, CreatedAt: time.Now().UTC().Add(-20 * time.Minute)})
	m := reconcileRun(t, 0, prov, false, func(m *switchboard.Message) {
		m.Channel = switchboard.ChannelWhatsApp
		m.WhatsApp = &switchboard.WhatsAppOptions{ContentSID: "HXb5b62575e6e4ff6129ad7c8efe1f983e"}
	})
	if n := prov.sent(m.ID); n != 1 || m.ProviderSID != "" || !hasEvent(m, switchboard.EventNeedsReview) {
		t.Fatalf("sent %d times, sid %q, needs review %v: want parked", n, m.ProviderSID, hasEvent(m, switchboard.EventNeedsReview))
	}
}
