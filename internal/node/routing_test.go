package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/events"
)

// receivedRoutes returns the (route, body) of the message.received events r acknowledged.
func receivedRoutes(t *testing.T, r *receiver) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ev := range r.ackedOf(switchboard.AppMessageReceived) {
		var d switchboard.MessageReceivedData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		out[d.Body] = d.Route
	}
	return out
}

// TestInboundRoutingAndConversations: a rule routes texts starting with SUPPORT, sent to our
// number, to the support desk's endpoint only, and answers them once per person a day; other
// texts reach the endpoints subscribed to message.received; a STOP is never auto-answered. The
// texts and replies thread into one conversation per person, readable and answerable through the
// API.
func TestInboundRoutingAndConversations(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	desk, deskSrv := newReceiver(t, clock)
	crm, crmSrv := newReceiver(t, clock)
	const deskSecret, crmSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	desk.secret, crm.secret = deskSecret, crmSecret
	n := startNode(t, nodeOpts{clock: clock.Now,
		env: map[string]string{"SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true", "DESK_SECRET": deskSecret, "CRM_SECRET": crmSecret},
		yaml: `endpoints:
  - name: desk
    url: ` + deskSrv.URL + `/desk
    event_types: ["consent.changed"]
    secret_env: DESK_SECRET
  - name: crm
    url: ` + crmSrv.URL + `/crm
    event_types: ["message.received"]
    secret_env: CRM_SECRET
inbound_routes:
  - name: support
    numbers: ["+15005550006"]
    keywords: [support, helpdesk]
    endpoints: [desk]
    auto_reply: "Thanks! A technician will call you within the hour."
`, events: func(c *events.Config) { c.PollInterval = 20 * time.Millisecond }})
	ctx := context.Background()
	const person, other = "+14155550140", "+14155550141"
	inbound := func(from, body string) {
		t.Helper()
		n.simControl(t, http.MethodPost, "/sim/v1/inbound", map[string]any{"from": from, "to": "+15005550006", "body": body})
	}
	inbound(person, "Support! my heater is leaking")
	inbound(person, "helpdesk again, please hurry") // routed too, but answered once a day
	inbound(other, "Running 10 minutes late")       // no rule: by event type
	inbound(other, "STOP")                          // a compliance keyword: no auto-reply, ever
	waitFor(t, 10*time.Second, "the routed texts at the desk", func() bool { return len(receivedRoutes(t, desk)) == 2 })
	waitFor(t, 10*time.Second, "the other texts at the CRM", func() bool { return len(receivedRoutes(t, crm)) == 2 })
	if got := receivedRoutes(t, desk); got["Support! my heater is leaking"] != "support" || got["helpdesk again, please hurry"] != "support" {
		t.Fatalf("desk got %v", got)
	}
	if got := receivedRoutes(t, crm); got["Running 10 minutes late"] != "" || got["STOP"] != "" || len(got) != 2 {
		t.Fatalf("CRM got %v; want the unrouted texts only", got)
	}

	// One auto-reply, delivered to the person through the pipeline; the STOP got the opt-out
	// confirmation only.
	waitFor(t, 10*time.Second, "the auto-reply delivered", func() bool {
		var replies int
		for _, m := range n.simMessages(t) {
			if m.To == person && strings.HasPrefix(m.Body, "Thanks! A technician") && m.Status == "delivered" {
				replies++
			}
		}
		return replies == 1
	})
	for _, m := range n.simMessages(t) {
		if m.To == other && strings.HasPrefix(m.Body, "Thanks!") {
			t.Fatalf("auto-reply sent to a STOP: %+v", m)
		}
	}
	n.assertBodyDigests(t, person, "Thanks! A technician")
	// A day later the rule answers again.
	clock.Add(25 * time.Hour)
	inbound(person, "SUPPORT still leaking")
	waitFor(t, 10*time.Second, "the second day's auto-reply", func() bool {
		var replies int
		for _, m := range n.simMessages(t) {
			if m.To == person && strings.HasPrefix(m.Body, "Thanks! A technician") {
				replies++
			}
		}
		return replies == 2
	})

	// The conversation threads the texts and the replies; the application answers in it.
	page, err := n.client.Conversations(ctx, client.ConversationOptions{TheirNumber: person})
	if err != nil || len(page.Conversations) != 1 {
		t.Fatalf("conversations with %s: %+v, %v", person, page, err)
	}
	conv := page.Conversations[0]
	if conv.OurNumber != "+15005550006" || conv.Channel != switchboard.ChannelSMS || conv.InboundCount != 3 || conv.OutboundCount != 2 || conv.Window != nil {
		t.Fatalf("conversation: %+v", conv)
	}
	m, err := n.client.Reply(ctx, conv.ID, &client.SendRequest{Body: "Technician Ana is on her way"})
	if err != nil || m.To != person || m.From != "+15005550006" {
		t.Fatalf("Reply = %+v, %v", m, err)
	}
	n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
	if _, err := n.client.Reply(ctx, conv.ID, &client.SendRequest{To: other, Body: "x"}); !client.IsCode(err, "addressed_reply") {
		t.Fatalf("a reply addressed elsewhere: %v", err)
	}
	var got []string
	for cursor := ""; ; {
		p, err := n.client.Thread(ctx, conv.ID, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, cm := range p.Messages {
			if cm.Direction == switchboard.DirectionInbound {
				got = append(got, "in:"+cm.Inbound.Body)
			} else {
				got = append(got, "out:"+cm.Outbound.Body)
			}
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{"out:Technician Ana is on her way", "out:Thanks! A technician will call you within the hour.", "in:SUPPORT still leaking",
		"out:Thanks! A technician will call you within the hour.", "in:helpdesk again, please hurry", "in:Support! my heater is leaking"}
	// The first auto-reply and the second text are close in time: compare as sets for those two.
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[5] != want[5] {
		t.Fatalf("thread, newest first:\n got %q\nwant %q", got, want)
	}
}
