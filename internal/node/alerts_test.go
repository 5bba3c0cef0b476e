package node_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/alerts"
)

// TestDeliveryRateAlert drives a sender's delivery rate below the threshold with the simulator's
// failing magic number (+15005550001 → 21211) and back above it, on the injected clock, and finds
// exactly one alert.delivery_rate_low and one alert.delivery_rate_recovered in the event outbox
// however often the alert is evaluated, and by however many evaluators at once.
func TestDeliveryRateAlert(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	// A fast sender: the test is about outcomes, not the rate limit.
	n := startNode(t, nodeOpts{clock: clock.Now, yaml: "senders:\n  - from: \"+15005550006\"\n    rate: 1000\n    burst: 100\n", env: map[string]string{
		"SWITCHBOARD_ALERTS_DELIVERY_RATE_THRESHOLD":   "0.8",
		"SWITCHBOARD_ALERTS_DELIVERY_RATE_WINDOW":      "10m",
		"SWITCHBOARD_ALERTS_DELIVERY_RATE_MIN_SAMPLES": "6",
		"SWITCHBOARD_ALERTS_INTERVAL":                  "1h", // the test evaluates by hand
	}})
	ev := n.Alerts()
	if ev == nil {
		t.Fatal("no alert evaluator with a threshold set")
	}
	ctx := context.Background()
	send := func(to string, k int, want switchboard.Status) {
		t.Helper()
		for range k {
			m, err := n.client.Send(ctx, &client.SendRequest{To: to, Body: "alert test"})
			if err != nil {
				t.Fatal(err)
			}
			n.waitStatus(t, m.ID, 10*time.Second, want)
		}
	}
	evaluate := func() []alerts.Transition {
		t.Helper()
		ts, err := ev.Evaluate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	alertEvents := func() []*switchboard.AppEvent {
		t.Helper()
		evs, err := n.Store().ListAppEvents(ctx, switchboard.AppEventFilter{
			Types: []switchboard.AppEventType{switchboard.AppAlertDeliveryRateLow, switchboard.AppAlertDeliveryRateRecovered}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}

	// Four delivered: below the minimum sample, nothing fires even after two failures (4/6 is
	// below 0.8 only once the sample is big enough — it is at 6).
	send("+14155550100", 4, switchboard.StatusDelivered)
	if ts := evaluate(); len(ts) != 0 {
		t.Fatalf("transitions with 4 outcomes: %+v", ts)
	}
	send("+15005550001", 1, switchboard.StatusFailed)
	if ts := evaluate(); len(ts) != 0 {
		t.Fatalf("transitions with 5 outcomes: %+v", ts)
	}
	send("+15005550001", 1, switchboard.StatusFailed)
	ts := evaluate()
	if len(ts) != 1 || ts[0].To != switchboard.AlertFired || ts[0].Sender != "+15005550006" || ts[0].Data.Delivered != 4 || ts[0].Data.Failed != 2 {
		t.Fatalf("transitions at 4/6: %+v", ts)
	}
	// Evaluating again, and by three more evaluators at once (other nodes), writes nothing.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other := alerts.New(alerts.Config{Store: n.Store(), Threshold: 0.8, Window: 10 * time.Minute, MinSamples: 6, Clock: clock.Now})
			if ts, err := other.Evaluate(ctx); err != nil || len(ts) != 0 {
				t.Errorf("another node's evaluation: %+v, %v", ts, err)
			}
		}()
	}
	wg.Wait()
	if ts := evaluate(); len(ts) != 0 {
		t.Fatalf("a firing alert fired again: %+v", ts)
	}
	evs := alertEvents()
	if len(evs) != 1 || evs[0].Type != switchboard.AppAlertDeliveryRateLow {
		t.Fatalf("alert events after firing: %+v", evs)
	}
	var d switchboard.DeliveryRateAlertData
	if err := json.Unmarshal(evs[0].Data, &d); err != nil || d.Sender != "+15005550006" || d.Threshold != 0.8 ||
		d.WindowSeconds != 600 || d.Rate < 0.66 || d.Rate > 0.67 {
		t.Errorf("alert payload %s (%v)", evs[0].Data, err)
	}
	out := scrape(t, n)
	for _, want := range []string{
		`switchboard_alert_firing{alert="delivery_rate_low",sender="+15005550006"} 1`,
		`switchboard_alert_transitions_total{alert="delivery_rate_low",to="firing"} 1`,
		`switchboard_sender_delivery_outcomes{sender="+15005550006"} 6`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The window slides past the failures; six deliveries make the rate 1: it recovers, once.
	clock.Add(11 * time.Minute)
	if ts := evaluate(); len(ts) != 0 {
		t.Fatalf("transitions with an empty window: %+v", ts)
	}
	send("+14155550101", 6, switchboard.StatusDelivered)
	ts = evaluate()
	if len(ts) != 1 || ts[0].To != switchboard.AlertOK || ts[0].Data.Delivered != 6 || ts[0].Data.Failed != 0 {
		t.Fatalf("transitions after recovery: %+v", ts)
	}
	if ts := evaluate(); len(ts) != 0 {
		t.Fatalf("a recovered alert recovered again: %+v", ts)
	}
	evs = alertEvents()
	if len(evs) != 2 || evs[1].Type != switchboard.AppAlertDeliveryRateRecovered {
		t.Fatalf("alert events after recovery: %+v", evs)
	}
	if out := scrape(t, n); !strings.Contains(out, `switchboard_alert_firing{alert="delivery_rate_low",sender="+15005550006"} 0`) {
		t.Errorf("alert still firing in the metrics:\n%s", grepLines(out, "switchboard_alert"))
	}
}
