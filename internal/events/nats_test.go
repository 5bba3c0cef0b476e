package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/events"
)

// natsURL returns the test NATS server (SWITCHBOARD_TEST_NATS_URL, default the local one), or
// skips when none answers, unless CI is set: CI runs NATS and must not skip.
func natsURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("SWITCHBOARD_TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	opts, err := nats.Connect(u, nats.Timeout(2*time.Second))
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatalf("no NATS server at %s; CI must run the NATS tests: %v", u, err)
		}
		t.Skipf("no NATS server at %s: %v", u, err)
	}
	opts.Close()
	return u
}

// TestNATSPublishesThroughTheWorker: events of the log reach a JetStream stream on
// "<prefix>.<type>", once, with the event ID as Nats-Msg-Id, through the bus endpoint.
func TestNATSPublishesThroughTheWorker(t *testing.T) {
	t.Parallel()
	u := natsURL(t)
	suffix := fmt.Sprint(time.Now().UnixNano())
	prefix, stream := "sbtest."+suffix, "SBTEST_"+suffix
	bus, err := events.DialNATS(u, prefix, stream, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()

	nc, err := nats.Connect(u)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })

	r := newRig(t, "https://unused.example", "endpoint.*")
	if err := r.store.SyncEndpoints(context.Background(), []*switchboard.Endpoint{{ID: events.BusEndpointID, URL: u,
		EventTypes: []string{"*"}, Source: switchboard.EndpointFromConfig}}, r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	r.event(t)
	r.event(t)
	w := events.New(events.Config{Store: r.store, Clock: r.clock.Now, Bus: bus})
	r.step(w)
	if p := r.deliveries(t, switchboard.DeliveryPending); len(p) != 0 {
		t.Fatalf("pending deliveries: %+v", p)
	}

	// Publishing an event again (an attempt whose acknowledgement was lost) is deduplicated.
	evs, err := r.store.ListAppEvents(context.Background(), switchboard.AppEventFilter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("events %v %v", evs, err)
	}
	body, _ := events.Body(evs[0])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Publish(ctx, evs[0], body); err != nil {
		t.Fatal(err)
	}

	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var got []jetstream.Msg
	for m := range batch.Messages() {
		got = append(got, m)
		_ = m.Ack()
	}
	if len(got) != 2 {
		t.Fatalf("stream holds %d messages, want 2 (one per event, the repeat deduplicated)", len(got))
	}
	want := map[string]bool{evs[0].ID: true, evs[1].ID: true}
	for i, m := range got {
		id := m.Headers().Get(jetstream.MsgIDHeader)
		if m.Subject() != prefix+".consent.changed" || !want[id] {
			t.Errorf("message %d: subject %s id %s, want %s.consent.changed and one of the events", i, m.Subject(), id, prefix)
		}
		delete(want, id)
		var ev switchboard.AppEvent
		if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.ID != id || ev.Type != switchboard.AppConsentChanged || ev.Version != 1 {
			t.Errorf("message %d: %s (%v)", i, m.Data(), err)
		}
	}
}
