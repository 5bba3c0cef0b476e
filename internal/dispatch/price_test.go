package dispatch

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// pricingProvider answers Fetch with a price once priced[sid] is set, and counts the fetches.
type pricingProvider struct {
	fakeProvider
	mu      sync.Mutex
	priced  map[string]*switchboard.Price
	fetches map[string]int
}

func (p *pricingProvider) Fetch(_ context.Context, sid string) (*switchboard.ProviderMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetches[sid]++
	return &switchboard.ProviderMessage{SID: sid, ProviderStatus: "delivered", Status: switchboard.StatusDelivered, Price: p.priced[sid]}, nil
}

type priceCount struct {
	mu     sync.Mutex
	found  int
	missed int
	micros int64
	nopObserver
}

func (o *priceCount) PriceFetched(found bool, micros int64, _ string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if found {
		o.found++
		o.micros += micros
	} else {
		o.missed++
	}
}

// TestFetchPrices: a finished message's price is fetched from the provider (status callbacks
// carry none) and recorded with the spend of its day; one the provider has not priced yet is
// asked again PriceRetry later, and after MaxPriceFetches tries no more.
func TestFetchPrices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "price.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)
	clock := now
	finished := func(sid string) *switchboard.Message {
		m := &switchboard.Message{ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
			Category: switchboard.CategoryTransactional, To: "+14155550100", From: "+15005550006", Body: "hello",
			BodyLength: 5, Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UpdateMessage(ctx, switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSent, ProviderSID: &sid, At: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UpdateMessage(ctx, switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusDelivered, At: now}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	priced, late := finished("SMpriced"), finished("SMlate")
	p := &pricingProvider{fakeProvider: fakeProvider{name: "twilio"}, fetches: map[string]int{},
		priced: map[string]*switchboard.Price{"SMpriced": {Text: "-0.00790", Unit: "USD", Micros: 7900}}}
	obs := &priceCount{}
	d := New(Config{Store: db, Provider: p, Clock: func() time.Time { return clock }, Observer: obs, ProviderTimeout: time.Second})

	if n := d.FetchPrices(ctx); n != 1 {
		t.Fatalf("recorded %d prices, want 1", n)
	}
	if m, _ := db.GetMessage(ctx, priced.ID); m.Price != "-0.00790" || m.PriceUnit != "USD" {
		t.Errorf("price %q %q", m.Price, m.PriceUnit)
	}
	// Not due again before PriceRetry; the priced one never again.
	clock = now.Add(PriceRetry - time.Second)
	d.FetchPrices(ctx)
	if p.fetches["SMpriced"] != 1 || p.fetches["SMlate"] != 1 {
		t.Errorf("fetches %v, want one each before PriceRetry", p.fetches)
	}
	for i := 2; i <= switchboard.MaxPriceFetches+2; i++ {
		clock = clock.Add(PriceRetry)
		d.FetchPrices(ctx)
	}
	if p.fetches["SMlate"] != switchboard.MaxPriceFetches {
		t.Errorf("the unpriced message was fetched %d times, want %d", p.fetches["SMlate"], switchboard.MaxPriceFetches)
	}
	if m, _ := db.GetMessage(ctx, late.ID); m.Price != "" {
		t.Errorf("the unpriced message has price %q", m.Price)
	}
	u, err := db.ListUsage(ctx, switchboard.UsageFilter{})
	if err != nil || len(u) != 1 || u[0].SpendMicros != 7900 || u[0].Messages != 2 {
		t.Errorf("usage %+v, %v; want 2 messages and a spend of 7900", u, err)
	}
	if obs.found != 1 || obs.micros != 7900 || obs.missed != switchboard.MaxPriceFetches {
		t.Errorf("observed %+v", obs)
	}

	// While the provider's circuit is open no price is fetched: sends come first.
	finished("SMwaiting")
	for range 20 {
		if d.breaker.State() == CircuitOpen {
			break
		}
		if tk := d.breaker.Allow(); tk != nil {
			tk.Done(&switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, HTTPStatus: 500, Message: "outage"})
		}
	}
	if d.breaker.State() != CircuitOpen {
		t.Fatal("the circuit did not open")
	}
	if n := d.FetchPrices(ctx); n != 0 || p.fetches["SMwaiting"] != 0 {
		t.Errorf("with the circuit open: %d prices, %d fetches; want none", n, p.fetches["SMwaiting"])
	}
}
