package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/events"
)

// TestInboundToATenantsOwnNumber: a text to a number that lists one tenant is that tenant's,
// whoever the person is answering; a text to a shared number (one listing several tenants, or
// none) is the tenant's the person answered (the latest outbound message to them from that
// number), else the default tenant's. The tenant's endpoints get the message.received event, its
// key lists the conversation, the other tenants' do not; a STOP to the tenant's number is
// recorded in that tenant and its confirmation is the tenant's message.
func TestInboundToATenantsOwnNumber(t *testing.T) {
	t.Parallel()
	const (
		sharedNumber = "+15005550006" // every tenant's
		pairNumber   = "+15005550100" // acme's and globex's
		acmeNumber   = "+15005550101" // acme's alone
	)
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	acmeHook, acmeSrv := newReceiver(t, clock)
	defHook, defSrv := newReceiver(t, clock)
	acmeHook.secret, defHook.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	n := startNode(t, nodeOpts{clock: clock.Now, env: map[string]string{"SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true"},
		yaml: `senders:
  - from: "` + sharedNumber + `"
  - from: "` + pairNumber + `"
    tenants: [acme, globex]
  - from: "` + acmeNumber + `"
    tenants: [acme]
    pool: acme
`, events: func(c *events.Config) { c.PollInterval = 20 * time.Millisecond }})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	keyOf := map[string]*client.Client{"default": n.client}
	for _, id := range []string{"acme", "globex"} {
		if err := n.Store().CreateTenant(ctx, &switchboard.Tenant{ID: id, Name: id, Environment: switchboard.EnvProduction,
			StagingMode: switchboard.StagingAllowlist, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		key, secret, err := switchboard.NewAPIKey(id+" admin", now)
		if err != nil {
			t.Fatal(err)
		}
		key.Tenant, key.Role = id, switchboard.RoleAdmin
		if err := n.Store().CreateAPIKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		keyOf[id] = client.New(n.URL(), secret, client.WithRetries(0))
	}
	for tn, h := range map[string]*struct {
		r   *receiver
		url string
	}{"acme": {acmeHook, acmeSrv.URL}, "default": {defHook, defSrv.URL}} {
		if _, err := keyOf[tn].CreateEndpoint(ctx, &client.EndpointRequest{URL: h.url + "/" + tn,
			EventTypes: []string{string(switchboard.AppMessageReceived)}, Secret: h.r.secret}); err != nil {
			t.Fatalf("%s's endpoint: %v", tn, err)
		}
	}
	text := func(from, to, body string) {
		t.Helper()
		n.simControl(t, http.MethodPost, "/sim/v1/inbound", map[string]any{"from": from, "to": to, "body": body})
	}
	send := func(tn, from, to string) {
		t.Helper()
		m, err := keyOf[tn].Send(ctx, &client.SendRequest{From: from, To: to, Body: tn + ": your technician is on the way"})
		if err != nil {
			t.Fatalf("%s texting %s from %s: %v", tn, to, from, err)
		}
		waitFor(t, 10*time.Second, tn+"'s text delivered", func() bool {
			got, err := keyOf[tn].Get(ctx, m.ID)
			return err == nil && got.Status == switchboard.StatusDelivered
		})
	}
	// conversationsWith is whom each tenant's key lists a conversation with person for, and the
	// inbound messages in it.
	conversationsWith := func(person string) map[string]int {
		t.Helper()
		out := map[string]int{}
		for tn, c := range keyOf {
			page, err := c.Conversations(ctx, client.ConversationOptions{TheirNumber: person})
			if err != nil {
				t.Fatalf("%s's conversations with %s: %v", tn, person, err)
			}
			for _, conv := range page.Conversations {
				out[tn] += conv.InboundCount
			}
		}
		return out
	}
	received := func(r *receiver) map[string]string { // from → body
		out := map[string]string{}
		for _, ev := range r.ackedOf(switchboard.AppMessageReceived) {
			var d switchboard.MessageReceivedData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			out[d.From] = d.Body
		}
		return out
	}

	// An unsolicited text to acme's own number is acme's, though nobody ever wrote to her.
	const (
		stranger = "+14155550160" // writes to acme's number first
		answerer = "+14155550161" // answers acme on the shared number
		pairs    = "+14155550162" // answers globex on the number acme and globex share
		walkIn   = "+14155550163" // writes to the shared number first
	)
	text(stranger, acmeNumber, "Do you service boilers?")
	waitFor(t, 10*time.Second, "the text at acme's endpoint", func() bool { return received(acmeHook)[stranger] != "" })
	if got := conversationsWith(stranger); got["acme"] != 1 || len(got) != 1 {
		t.Errorf("the inbound messages from %s by tenant: %v, want one, acme's", stranger, got)
	}

	// On a shared number, the tenant the person answers: acme on the every-tenant number,
	// globex (listed second) on acme's and globex's; nobody's answered, the default tenant.
	send("acme", sharedNumber, answerer)
	text(answerer, sharedNumber, "Great, thanks")
	send("globex", pairNumber, pairs)
	text(pairs, pairNumber, "See you then")
	text(walkIn, sharedNumber, "Hello?")
	waitFor(t, 10*time.Second, "the answer at acme's endpoint", func() bool { return received(acmeHook)[answerer] != "" })
	waitFor(t, 10*time.Second, "the walk-in's text at default's endpoint", func() bool { return received(defHook)[walkIn] != "" })
	for person, want := range map[string]string{answerer: "acme", pairs: "globex", walkIn: "default"} {
		if got := conversationsWith(person); got[want] != 1 || len(got) != 1 {
			t.Errorf("the inbound messages from %s by tenant: %v, want one, %s's", person, got, want)
		}
	}
	if got := received(defHook); got[stranger] != "" || got[answerer] != "" || got[pairs] != "" {
		t.Errorf("default's endpoint got %v, want the walk-in's text only", got)
	}
	if got := received(acmeHook); got[walkIn] != "" || got[pairs] != "" {
		t.Errorf("acme's endpoint got %v, want the texts to acme's number and its answer only", got)
	}

	// A STOP to acme's number is recorded in acme, its confirmation is acme's message, and it
	// binds the number: acme cannot text her from it any more.
	text(stranger, acmeNumber, "STOP")
	var confirmation *switchboard.Message
	waitFor(t, 10*time.Second, "the opt-out confirmation in acme's messages", func() bool {
		page, err := keyOf["acme"].List(ctx, client.ListOptions{To: stranger})
		if err != nil || len(page.Messages) == 0 {
			return false
		}
		confirmation = page.Messages[0]
		return true
	})
	if confirmation.From != acmeNumber || confirmation.Tenant != "acme" || confirmation.Metadata["keyword_action"] != "opt_out" {
		t.Errorf("the confirmation: from %s, tenant %s, metadata %v", confirmation.From, confirmation.Tenant, confirmation.Metadata)
	}
	cons, err := keyOf["acme"].ConsentOf(ctx, stranger)
	if err != nil {
		t.Fatal(err)
	}
	if rec := cons.Current["acme"]; rec == nil || rec.State != switchboard.ConsentOptedOut || rec.Tenant != "acme" {
		t.Errorf("acme's consent of %s: %+v, want opted out in pool acme, recorded by acme", stranger, cons.Current)
	}
	if _, err := keyOf["acme"].Send(ctx, &client.SendRequest{From: acmeNumber, To: stranger, Body: "acme: one more thing"}); !client.IsCode(err, "recipient_opted_out") {
		t.Errorf("acme texting her after her STOP: %v, want recipient_opted_out", err)
	}
	if page, err := n.client.List(ctx, client.ListOptions{To: stranger}); err != nil || len(page.Messages) != 0 {
		t.Errorf("default's messages to %s: %v, %v; want none", stranger, page, err)
	}
}
