package consent_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// TestOptOutsRecordTheirTenant: a STOP is recorded in the tenant of the inbound message (the one
// the person answered) and a provider's opt-out refusal in the message's tenant, so that the
// tenant reading the person's consent sees them; they were recorded in the default tenant.
func TestOptOutsRecordTheirTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2031, 5, 6, 15, 0, 0, 0, time.UTC)
	cs := consent.New(db, func() time.Time { return now })
	in := &switchboard.InboundMessage{ID: "in_1", ProviderSID: "SM0123456789abcdef0123456789abcdef", From: "+14155550100", To: "+15005550006",
		Body: "STOP", Channel: switchboard.ChannelSMS, ReceivedAt: now, Tenant: "acme"}
	if m, err := cs.HandleInbound(ctx, in, "shared", &consent.Keywords{}); err != nil || m == nil || m.Action != consent.ActionOptOut {
		t.Fatalf("STOP: %+v, %v", m, err)
	}
	msg := &switchboard.Message{ID: "msg_1", To: "+14155550101", Pool: "shared", Tenant: "globex"}
	if err := cs.RecordProviderOptOut(ctx, msg, 21610); err != nil {
		t.Fatal(err)
	}
	for phone, want := range map[string]string{"+14155550100": "acme", "+14155550101": "globex"} {
		hist, err := db.ConsentHistory(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 1 || hist[0].Tenant != want || hist[0].State != switchboard.ConsentOptedOut {
			t.Errorf("%s's consent: %+v, want one opt-out of %s", phone, hist, want)
		}
	}
}
