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
