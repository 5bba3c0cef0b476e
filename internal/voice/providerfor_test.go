package voice_test

import (
	"context"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// TestProviderForPlacesAndPollsThroughTheTenantsAccount: a call ProviderFor names a provider
// for (a tenant with its own Twilio account) is placed and polled there; others through
// Provider.
func TestProviderForPlacesAndPollsThroughTheTenantsAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var tenant *recordingProvider
	e := newTestEnvWith(t, 100, func(c *voice.Config) {
		tenant = &recordingProvider{clock: c.Clock, placed: map[string]time.Time{}, fetched: map[string]switchboard.CallStatus{}}
		c.StatusPollAfter = time.Second
		c.ProviderFor = func(call *switchboard.Call) switchboard.CallProvider {
			if call.To == "+14155550177" {
				return tenant
			}
			return nil
		}
	})
	mine, other := e.create(t, "+14155550177"), e.create(t, "+14155550100")
	for range 5 { // one sender: its calls are spaced by 1/calls_per_second
		if err := e.svc.PlaceDue(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.add(100 * time.Millisecond)
	}
	if _, ok := tenant.placed[mine.ID]; !ok || len(tenant.placed) != 1 {
		t.Fatalf("the tenant's provider placed %v", tenant.placed)
	}
	if _, ok := e.prov.placed[other.ID]; !ok || len(e.prov.placed) != 1 {
		t.Fatalf("the node's provider placed %v", e.prov.placed)
	}
	e.clock.add(2 * time.Second)
	if err := e.svc.PollStale(ctx); err != nil {
		t.Fatal(err)
	}
	if tenant.fetches != 1 || e.prov.fetches != 1 {
		t.Fatalf("status polls: tenant %d, node %d; want 1 each", tenant.fetches, e.prov.fetches)
	}
}
