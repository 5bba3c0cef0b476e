package inbound_test

import (
	"context"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/inbound"
)

type recordedMessages struct{ specs []switchboard.MessageSpec }

func (r *recordedMessages) Create(_ context.Context, spec switchboard.MessageSpec, _ *switchboard.Idempotency) (*switchboard.Message, bool, error) {
	r.specs = append(r.specs, spec)
	return &switchboard.Message{ID: "msg_1"}, false, nil
}

// TestReplyIsTheInboundTenants: Switchboard's answer to an inbound message (a STOP's
// confirmation, an auto-reply) belongs to the tenant the person wrote to, not to the default
// tenant: it is listed and counted as that tenant's.
func TestReplyIsTheInboundTenants(t *testing.T) {
	msgs := &recordedMessages{}
	h := inbound.New(inbound.Config{Messages: msgs})
	in := &switchboard.InboundMessage{ID: "in_1", ProviderSID: "SM0123456789abcdef0123456789abcdef", From: "+14155550100",
		To: "+15005550006", Body: "STOP", Channel: switchboard.ChannelSMS, Tenant: "acme"}
	if err := h.Reply(context.Background(), in, switchboard.Sender{From: "+15005550006", Pool: "shared"}, "You are unsubscribed.",
		"keyword-reply:"+in.ProviderSID, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if len(msgs.specs) != 1 || msgs.specs[0].Tenant != "acme" || msgs.specs[0].To != in.From {
		t.Fatalf("the reply: %+v, want one message of acme to %s", msgs.specs, in.From)
	}
}

// TestPrepareOwnedNumber: Prepare gives an inbound message the tenant of the number that
// received it when that number is one tenant's, and leaves a message to a shared number (several
// tenants, none, or a number that is no sender) to the store's rule; a tenant already set stays.
func TestPrepareOwnedNumber(t *testing.T) {
	live := switchboard.NewLiveSenders([]switchboard.Sender{
		{From: "+15005550006", Pool: "default"},
		{From: "+15005550100", Pool: "default", Tenants: []string{"acme", "globex"}},
		{From: "+15005550101", Pool: "acme", Tenants: []string{"acme"}},
	})
	h := inbound.New(inbound.Config{LiveSenders: live})
	for _, tc := range []struct{ to, given, want string }{
		{"+15005550101", "", "acme"},
		{"+15005550100", "", ""},
		{"+15005550006", "", ""},
		{"+15005550199", "", ""},
		{"+15005550101", "globex", "globex"},
	} {
		in := &switchboard.InboundMessage{From: "+14155550100", To: tc.to, Body: "hello", Tenant: tc.given}
		h.Prepare(in)
		if in.Tenant != tc.want {
			t.Errorf("a text to %s (tenant %q given): tenant %q, want %q", tc.to, tc.given, in.Tenant, tc.want)
		}
	}
	// The senders are read per message: a number given to one tenant at run time is its own
	// from the next message on.
	live.Store([]switchboard.Sender{{From: "+15005550006", Pool: "default", Tenants: []string{"globex"}}})
	in := &switchboard.InboundMessage{From: "+14155550100", To: "+15005550006", Body: "hello"}
	if h.Prepare(in); in.Tenant != "globex" {
		t.Errorf("after the change, a text to +15005550006: tenant %q, want globex", in.Tenant)
	}
}
