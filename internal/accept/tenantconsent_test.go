package accept_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// TestOptOutFollowsTheNumber (issue 18, point 5): an opt-out applies to the number that
// received it. Two tenants that send from one number (its pool) are both stopped by a STOP
// texted to it; a tenant with a number of its own is not stopped by a STOP texted to another
// tenant's number, and the other way round.
func TestOptOutFollowsTheNumber(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2031, 5, 6, 15, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for _, id := range []string{"acme", "bolt"} {
		if err := db.CreateTenant(ctx, &switchboard.Tenant{ID: id, Name: id, Environment: switchboard.EnvProduction, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	const shared, acmeOwn, boltOwn = "+15005550006", "+15005550007", "+15005550008"
	senders := []switchboard.Sender{
		{From: shared, Pool: "shared"}, // both tenants send from it
		{From: acmeOwn, Pool: "acme"},  // acme's own number
		{From: boltOwn, Pool: "bolt"},  // bolt's own number
	}
	cs := consent.New(db, clock)
	svc := accept.New(accept.Config{Store: db, Senders: senders, Clock: clock, Consent: cs})
	acme := &switchboard.APIKey{ID: "key_acme", Name: "acme", Tenant: "acme", Role: switchboard.RoleAdmin}
	bolt := &switchboard.APIKey{ID: "key_bolt", Name: "bolt", Tenant: "bolt", Role: switchboard.RoleAdmin}
	send := func(key *switchboard.APIKey, to, pool string) error {
		_, _, err := svc.Accept(ctx, key, &accept.Request{To: to, Body: "Your technician is on the way", Pool: pool}, "")
		return err
	}
	stop := func(person, number, pool string) {
		t.Helper()
		in := &switchboard.InboundMessage{ID: switchboard.NewID("in"), ProviderSID: "SM" + strings.Repeat("b", 30) + person[len(person)-2:],
			From: person, To: number, Body: "STOP", Channel: switchboard.ChannelSMS, ReceivedAt: now}
		if m, err := cs.HandleInbound(ctx, in, pool, &consent.Keywords{}); err != nil || m == nil || m.Action != consent.ActionOptOut {
			t.Fatalf("STOP from %s to %s: %+v, %v", person, number, m, err)
		}
	}
	refused := func(err error) bool { return switchboard.ErrorCodeOf(err) == "recipient_opted_out" }

	// A shared number: the person texts STOP to it, and neither tenant may text them from it.
	const ana = "+14155550100"
	for _, k := range []*switchboard.APIKey{acme, bolt} {
		if err := send(k, ana, "shared"); err != nil {
			t.Fatalf("%s before the STOP: %v", k.Tenant, err)
		}
	}
	stop(ana, shared, "shared")
	for _, k := range []*switchboard.APIKey{acme, bolt} {
		if err := send(k, ana, "shared"); !refused(err) {
			t.Errorf("%s to a person who texted STOP to the shared number: %v, want recipient_opted_out", k.Tenant, err)
		}
	}
	// Their own numbers are other numbers: the STOP to the shared one does not cover them.
	if err := send(acme, ana, "acme"); err != nil {
		t.Errorf("acme from its own number after a STOP to the shared one: %v", err)
	}

	// Separate numbers: a STOP to acme's own number stops acme there, not bolt on its own.
	const ben = "+14155550101"
	stop(ben, acmeOwn, "acme")
	if err := send(acme, ben, "acme"); !refused(err) {
		t.Errorf("acme after a STOP to its own number: %v, want recipient_opted_out", err)
	}
	if err := send(bolt, ben, "bolt"); err != nil {
		t.Errorf("bolt from its own number after a STOP to acme's: %v, want accepted", err)
	}
}
