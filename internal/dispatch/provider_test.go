package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// noCodes gives a test provider that never classifies anything the switchboard.ErrorCodes half
// of switchboard.Provider.
type noCodes struct{}

func (noCodes) ErrorClass(code int) switchboard.ErrorClass {
	if code == 0 {
		return switchboard.ClassNone
	}
	return switchboard.ClassOther
}

func (noCodes) ErrorCode(switchboard.ErrorClass) int { return 0 }

// fakeProvider is a second provider, written against switchboard.Provider only, as the docs'
// walkthrough "adding a provider" describes: its own SIDs, its own error codes (9xxx) mapped
// into Switchboard's classes, and a refusal of one recipient who opted out with it.
type fakeProvider struct {
	name     string
	optedOut string // this recipient is refused with code 9100 (opted out)
	mu       sync.Mutex
	sent     map[string]*switchboard.SendRequest // by SID
}

var fakeCodes = map[int]switchboard.ErrorClass{9100: switchboard.ClassOptedOut, 9200: switchboard.ClassWhatsAppWindow}

func (p *fakeProvider) Name() string { return p.name }

func (p *fakeProvider) ErrorClass(code int) switchboard.ErrorClass {
	if c, ok := fakeCodes[code]; ok {
		return c
	}
	return noCodes{}.ErrorClass(code)
}

func (p *fakeProvider) ErrorCode(class switchboard.ErrorClass) int {
	for code, c := range fakeCodes {
		if c == class {
			return code
		}
	}
	return 0
}

func (p *fakeProvider) Send(_ context.Context, req *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	if req.To == p.optedOut {
		return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeOptedOut, HTTPStatus: 400,
			Class: p.ErrorClass(9100), Code: 9100, Message: "recipient unsubscribed"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	sid := fmt.Sprintf("%s-%d", p.name, len(p.sent)+1)
	p.sent[sid] = req
	return &switchboard.ProviderMessage{SID: sid, To: req.To, From: req.From, ProviderStatus: "accepted", Status: switchboard.StatusSent}, nil
}

func (p *fakeProvider) Fetch(_ context.Context, sid string) (*switchboard.ProviderMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if req, ok := p.sent[sid]; ok {
		return &switchboard.ProviderMessage{SID: sid, To: req.To, From: req.From, ProviderStatus: "accepted", Status: switchboard.StatusSent}, nil
	}
	return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeFail, Class: switchboard.ClassNotFound, Message: "no such message"}
}

func (p *fakeProvider) Find(context.Context, switchboard.FindQuery) ([]*switchboard.ProviderMessage, error) {
	return nil, nil
}

func (p *fakeProvider) requests() []*switchboard.SendRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*switchboard.SendRequest
	for _, r := range p.sent {
		out = append(out, r)
	}
	return out
}

var _ switchboard.Provider = (*fakeProvider)(nil)

// TestChannelsRouteToTheirProviders: the dispatcher sends each message through its channel's
// provider (Providers, built by the node from channel_providers) and every other channel's
// through Provider; a refusal is decided by its class, not its code (the fake's 9100 opted out
// blocks the message and reports the opt-out), and a message Switchboard blocks itself records
// the code of its own channel's provider for the block's class.
func TestChannelsRouteToTheirProviders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "route.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const from = "+15005550006"
	now := time.Now().UTC()
	msg := func(ch switchboard.Channel, to string) *switchboard.Message {
		m := &switchboard.Message{
			ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: ch,
			Category: switchboard.CategoryTransactional, To: to, From: from, Body: "hello " + string(ch),
			BodyLength: 11, Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		}
		if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		return m
	}
	sms := msg(switchboard.ChannelSMS, "+14155550100")
	wa := msg(switchboard.ChannelWhatsApp, "+14155550101")
	waOptedOut := msg(switchboard.ChannelWhatsApp, "+14155550102")
	waBlocked := msg(switchboard.ChannelWhatsApp, "+14155550103")

	alpha := &fakeProvider{name: "alpha", sent: map[string]*switchboard.SendRequest{}}
	beta := &fakeProvider{name: "beta", optedOut: waOptedOut.To, sent: map[string]*switchboard.SendRequest{}}
	var (
		mu        sync.Mutex
		optOutFor []string
	)
	d := New(Config{
		Store: db, Provider: alpha, Providers: map[switchboard.Channel]switchboard.Provider{switchboard.ChannelWhatsApp: beta},
		Senders:      []switchboard.Sender{{From: from, Rate: -1}},
		PollInterval: 5 * time.Millisecond, Lease: 2 * time.Second, ProviderTimeout: time.Second,
		Check: func(_ context.Context, m *switchboard.Message) (*Block, error) {
			if m.ID == waBlocked.ID {
				return &Block{Class: switchboard.ClassWhatsAppWindow, Reason: "window closed"}, nil
			}
			return nil, nil
		},
		OnOptOut: func(_ context.Context, m *switchboard.Message, _ int) error {
			mu.Lock()
			defer mu.Unlock()
			optOutFor = append(optOutFor, m.ID)
			return nil
		},
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()

	final := func(m *switchboard.Message) *switchboard.Message {
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := db.GetMessage(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != switchboard.StatusQueued && got.Status != switchboard.StatusSending {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %s still %s after 10 s", m.Channel, got.Status)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if got := final(sms); got.Status != switchboard.StatusSent || !strings.HasPrefix(got.ProviderSID, "alpha-") {
		t.Errorf("sms: %s via %q, want sent through alpha", got.Status, got.ProviderSID)
	}
	got := final(wa)
	if got.Status != switchboard.StatusSent || !strings.HasPrefix(got.ProviderSID, "beta-") {
		t.Errorf("whatsapp: %s via %q, want sent through beta", got.Status, got.ProviderSID)
	}
	named := false
	for _, e := range got.Events {
		named = named || (e.Type == switchboard.EventAttempt && strings.Contains(e.Detail, "handing the message to beta"))
	}
	if !named {
		t.Errorf("the whatsapp message's attempt does not name its provider: %+v", got.Events)
	}
	if got := final(waOptedOut); got.Status != switchboard.StatusBlocked || got.ErrorCode != 9100 {
		t.Errorf("opted out at beta: %s code %d, want blocked with beta's 9100 as detail", got.Status, got.ErrorCode)
	}
	if got := final(waBlocked); got.Status != switchboard.StatusBlocked || got.ErrorCode != 9200 {
		t.Errorf("blocked by Switchboard (whatsapp window): %s code %d, want blocked with beta's code 9200 for the class", got.Status, got.ErrorCode)
	}
	if len(alpha.requests()) != 1 || len(beta.requests()) != 1 {
		t.Errorf("alpha took %d messages and beta %d, want 1 each", len(alpha.requests()), len(beta.requests()))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(optOutFor) != 1 || optOutFor[0] != waOptedOut.ID {
		t.Errorf("opt-outs reported for %v, want only the message beta refused", optOutFor)
	}
}
