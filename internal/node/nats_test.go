package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/events"
)

// TestNATSBusEndToEnd: with nats_url set, a node publishes the status moves of a message to
// JetStream on <nats_subject>.message.status_changed, from the same event log.
func TestNATSBusEndToEnd(t *testing.T) {
	t.Parallel()
	u := os.Getenv("SWITCHBOARD_TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	nc, err := nats.Connect(u, nats.Timeout(2*time.Second))
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatalf("no NATS server at %s; CI must run the NATS tests: %v", u, err)
		}
		t.Skipf("no NATS server at %s: %v", u, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprint(time.Now().UnixNano())
	subject, stream := "sbnode."+suffix, "SBNODE_"+suffix
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
	n := startNode(t, nodeOpts{env: map[string]string{
		"SWITCHBOARD_NATS_URL": u, "SWITCHBOARD_NATS_SUBJECT": subject, "SWITCHBOARD_NATS_STREAM": stream,
	}, events: func(c *events.Config) { c.PollInterval = 20 * time.Millisecond }})
	ctx := context.Background()
	eps, err := n.client.Endpoints(ctx)
	if err != nil || len(eps) != 1 || eps[0].ID != events.BusEndpointID {
		t.Fatalf("endpoints: %+v %v", eps, err)
	}
	m, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "Technician on the way"})
	if err != nil {
		t.Fatal(err)
	}
	n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
	want := slices.Sorted(slices.Values(logMoves(t, n, m.ID)))
	var moves []string
	waitFor(t, 10*time.Second, "the status moves on the bus", func() bool {
		if _, err := js.Stream(ctx, stream); err != nil {
			return false
		}
		cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject + ".message.status_changed"}})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := cons.FetchNoWait(10)
		if err != nil {
			t.Fatal(err)
		}
		moves = moves[:0]
		for msg := range batch.Messages() {
			var ev switchboard.AppEvent
			var d switchboard.MessageStatusChangedData
			if json.Unmarshal(msg.Data(), &ev) != nil || json.Unmarshal(ev.Data, &d) != nil || msg.Headers().Get(jetstream.MsgIDHeader) != ev.ID {
				t.Fatalf("bus message %s", msg.Data())
			}
			moves = append(moves, string(d.OldStatus)+"→"+string(d.Status))
		}
		return len(moves) >= len(want)
	})
	slices.Sort(moves)
	if !slices.Equal(moves, want) {
		t.Fatalf("bus moves %v, want %v", moves, want)
	}
}
