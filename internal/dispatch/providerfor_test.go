package dispatch

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// fetchCounting counts the status polls a provider answers.
type fetchCounting struct {
	*fakeProvider
	fetches atomic.Int32
}

func (p *fetchCounting) Fetch(ctx context.Context, sid string) (*switchboard.ProviderMessage, error) {
	p.fetches.Add(1)
	return p.fakeProvider.Fetch(ctx, sid)
}

// TestProviderForOverridesTheChannel: when ProviderFor names a provider for a message (a tenant
// with its own account), its attempt and its status polls go there; a nil answer keeps the
// channel's provider.
func TestProviderForOverridesTheChannel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "for.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const from, own = "+15005550006", "+14155550177"
	now := time.Now().UTC()
	msg := func(to string) *switchboard.Message {
		m := &switchboard.Message{
			ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
			Category: switchboard.CategoryTransactional, To: to, From: from, Body: "hello",
			BodyLength: 5, Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		}
		if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		return m
	}
	nodes := &fetchCounting{fakeProvider: &fakeProvider{name: "node", sent: map[string]*switchboard.SendRequest{}}}
	tenant := &fetchCounting{fakeProvider: &fakeProvider{name: "tenant", sent: map[string]*switchboard.SendRequest{}}}
	mine, other := msg(own), msg("+14155550100")
	d := New(Config{
		Store: db, Provider: nodes,
		ProviderFor: func(m *switchboard.Message) switchboard.Provider {
			if m.To == own {
				return tenant
			}
			return nil
		},
		Senders:      []switchboard.Sender{{From: from, Rate: -1}},
		PollInterval: 5 * time.Millisecond, Lease: 2 * time.Second, ProviderTimeout: time.Second,
		StatusPollAfter: 20 * time.Millisecond,
		Logger:          slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(10 * time.Second)
	for tenant.fetches.Load() == 0 || nodes.fetches.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("status polls: tenant %d, node %d", tenant.fetches.Load(), nodes.fetches.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for m, want := range map[*switchboard.Message]string{mine: "tenant-", other: "node-"} {
		got, err := db.GetMessage(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got.ProviderSID, want) {
			t.Errorf("message to %s went through %q, want %s…", m.To, got.ProviderSID, want)
		}
	}
	if len(tenant.requests()) != 1 || len(nodes.requests()) != 1 {
		t.Errorf("tenant took %d, node %d; want 1 each", len(tenant.requests()), len(nodes.requests()))
	}
}
