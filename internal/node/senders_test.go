package node_test

import (
	"context"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

// TestSendersAtRunTime: a sender added through the API is sent from at once, by name and through
// its pool; the simulator learns its number (no 21606); a sender with a scheduled message is not
// removed; a removed one is refused again, and the configuration's sender is untouched.
func TestSendersAtRunTime(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	ctx := context.Background()
	const added = "+14155550177"

	if _, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "x", From: added}); !client.IsCode(err, "unknown_sender") {
		t.Fatalf("send from a sender not yet added: %v, want unknown_sender", err)
	}
	rate, burst := 5.0, 2
	s, err := n.client.CreateSender(ctx, &client.SenderRequest{From: added, Rate: &rate, Burst: &burst, Pool: "alerts"})
	if err != nil {
		t.Fatalf("CreateSender: %v", err)
	}
	if s.Source != switchboard.SenderFromAPI || s.Kind != switchboard.SenderLongCode || s.Rate != 5 || s.Pool != "alerts" {
		t.Fatalf("created %+v", s)
	}
	// By name and by pool, right after the answer.
	byName, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "by name", From: added})
	if err != nil {
		t.Fatalf("send from the added sender: %v", err)
	}
	byPool, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550101", Body: "by pool", Pool: "alerts"})
	if err != nil || byPool.From != added {
		t.Fatalf("send through the added pool: %+v, %v", byPool, err)
	}
	for _, id := range []string{byName.ID, byPool.ID} {
		n.waitStatus(t, id, 10*time.Second, switchboard.StatusDelivered)
	}
	var fromAdded int
	for _, m := range n.simMessages(t) {
		if m.From == added {
			fromAdded++
		}
	}
	if fromAdded != 2 {
		t.Fatalf("the simulator holds %d messages from %s, want 2", fromAdded, added)
	}

	// A scheduled message keeps the sender.
	later, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550102", Body: "later", From: added, SendAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.client.DeleteSender(ctx, added); !client.IsCode(err, "sender_has_queued") {
		t.Fatalf("DeleteSender with a scheduled message: %v, want sender_has_queued", err)
	}
	if _, err := n.client.Cancel(ctx, later.ID); err != nil {
		t.Fatal(err)
	}
	if err := n.client.DeleteSender(ctx, added); err != nil {
		t.Fatalf("DeleteSender: %v", err)
	}
	if _, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "x", From: added}); !client.IsCode(err, "unknown_sender") {
		t.Fatalf("send from a removed sender: %v, want unknown_sender", err)
	}
	if _, err := n.client.GetSender(ctx, added); !client.IsNotFound(err) {
		t.Fatalf("GetSender of a removed sender: %v", err)
	}
	list, err := n.client.Senders(ctx)
	if err != nil || len(list) != 1 || list[0].From != "+15005550006" || list[0].Source != switchboard.SenderFromConfig {
		t.Fatalf("Senders after the removal: %+v, %v", list, err)
	}
}

// TestSendersReloadFromStore: a change another node made (written to the store, not through this
// node's API) is picked up within sender_refresh_interval.
func TestSendersReloadFromStore(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_SENDER_REFRESH_INTERVAL": "200ms"}})
	ctx := context.Background()
	const other = "+14155550188"
	if err := n.Store().CreateSender(ctx, &switchboard.Sender{From: other, Kind: switchboard.SenderTollFree, Rate: 3, Burst: 1, Pool: "west"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var m *switchboard.Message
	waitFor(t, 5*time.Second, "the node to send from a sender added by another node", func() bool {
		var err error
		m, err = n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "west", Pool: "west"})
		return err == nil
	})
	if m.From != other {
		t.Fatalf("sent from %s, want %s", m.From, other)
	}
	n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
}
