package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/events"
)

// gauge reads the value of the first series of name whose labels contain every label given.
func gauge(exposition, name string, labels ...string) (float64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(exposition, -1) {
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(m[1], l)
		}
		if ok {
			v, err := strconv.ParseFloat(m[2], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// The rehearsed incident is examples/profiles/incident-rehearsal.yaml, replayed 60 times faster:
// in real seconds from its start, carrier-a (+1415555…) filters half of its messages (30007) and
// WhatsApp refuses every message with its rate limit (63018) from 0 to 10 s, and Twilio answers
// every create 500 from 2 to 5 s. The profile has no background error mix, so that whatever is
// sent after the spike is delivered and the alert's recovery is certain, not a draw.
const (
	rehearsalScale = 60
	spikeEnd       = 10 * time.Minute / rehearsalScale
)

// TestRehearsedIncident runs a traffic profile through a node, as an on-call team would
// rehearse it, and asserts what operators see:
//   - alerts: the built-in delivery-rate alert fires during the filtering spike and recovers
//     after it, once each, as an application's endpoint receives alert.delivery_rate_low and
//     alert.delivery_rate_recovered, and as the alert metrics say;
//   - the circuit breaker opens during Twilio's outage (the SwitchboardProviderCircuitOpen
//     alert's expression) and closes after it; the queue rises and drains;
//   - fallback: WhatsApp messages with fallback sms that WhatsApp refuses (63018) reach their
//     people by SMS (reached_by sms), one SMS each at Twilio;
//   - the filtering spike shows as undelivered 30007 for the one carrier's numbers only;
//   - every message ends once: nothing lost, nothing sent twice, although half of the outage's
//     500s came after Twilio had created the message.
func TestRehearsedIncident(t *testing.T) {
	t.Parallel()
	rcv, srv := newReceiver(t, nil)
	n := startNode(t, nodeOpts{
		env: map[string]string{
			"SWITCHBOARD_STATUS_POLL_AFTER":       "2s",
			"SWITCHBOARD_WHATSAPP_SCAN_INTERVAL":  "100ms",
			"SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true", // the receiver is on loopback
			// The delivery-rate alert at a rehearsal's pace: a sender fires below 90 % delivered
			// over the last 8 s (with at least 10 outcomes) and recovers at 95 %.
			"SWITCHBOARD_ALERTS_DELIVERY_RATE_THRESHOLD":   "0.9",
			"SWITCHBOARD_ALERTS_DELIVERY_RATE_RECOVER":     "0.05",
			"SWITCHBOARD_ALERTS_DELIVERY_RATE_WINDOW":      "8s",
			"SWITCHBOARD_ALERTS_DELIVERY_RATE_MIN_SAMPLES": "10",
			"SWITCHBOARD_ALERTS_INTERVAL":                  "200ms",
		},
		// A sender fast enough that a batch goes out in a second or two: the test is about the
		// incident, not the rate limit.
		yaml: "senders:\n  - from: \"" + config.SimulatorFrom + "\"\n    rate: 20\n    burst: 5\n",
		dispatch: func(c *dispatch.Config) {
			c.Breaker = dispatch.BreakerConfig{Threshold: 3, MinOpen: 200 * time.Millisecond, MaxOpen: 500 * time.Millisecond}
		},
		events: func(c *events.Config) { c.PollInterval = 50 * time.Millisecond },
	})
	ctx := context.Background()

	// The on-call team's endpoint hears the built-in alerts.
	ep, err := n.client.CreateEndpoint(ctx, &client.EndpointRequest{URL: srv.URL + "/hooks/alerts", EventTypes: []string{"alert.*"}})
	if err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.secret = ep.Secret
	rcv.mu.Unlock()

	// People who wrote to us on WhatsApp (their windows are open), on a carrier that is fine
	// throughout.
	var waPeople []string
	for i := range 4 {
		p := fmt.Sprintf("+1312555%04d", 1000+i)
		n.whatsappIn(t, p)
		waPeople = append(waPeople, p)
	}

	// The profile goes in through the node's control API, as YAML.
	doc, err := os.ReadFile(filepath.Join("..", "..", "examples", "profiles", "incident-rehearsal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, n.URL()+"/sim/v1/profile?time_scale="+strconv.Itoa(rehearsalScale), strings.NewReader(string(doc)))
	req.Header.Set("Content-Type", "application/yaml")
	req.Header.Set("Authorization", "Bearer "+n.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /sim/v1/profile: %d %s", resp.StatusCode, body)
	}
	var started struct {
		StartedAt time.Time `json:"started_at"`
	}
	if err := json.Unmarshal(body, &started); err != nil {
		t.Fatal(err)
	}
	phase := func() string {
		var st struct {
			ActivePhases []string `json:"active_phases"`
		}
		if err := json.Unmarshal(n.simControl(t, http.MethodGet, "/sim/v1/profile", nil), &st); err != nil {
			t.Fatal(err)
		}
		return strings.Join(st.ActivePhases, ",")
	}

	var ids []string
	send := func(batch string, i int) {
		to := fmt.Sprintf("+1415555%04d", 1000+i) // carrier-a
		if i%2 == 1 {
			to = fmt.Sprintf("+1206555%04d", 1000+i) // another carrier
		}
		m, err := n.client.Send(ctx, &client.SendRequest{To: to, Body: fmt.Sprintf("rehearsal %s %d", batch, i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}

	// Before the outage: the filtering spike and WhatsApp's rate limit. The WhatsApp messages
	// ask for the SMS fallback.
	var waIDs []string
	for i, p := range waPeople {
		m, err := n.client.Send(ctx, &client.SendRequest{To: p, Channel: switchboard.ChannelWhatsApp,
			Body: fmt.Sprintf("rehearsal whatsapp %d", i), Fallback: switchboard.FallbackSMS})
		if err != nil {
			t.Fatal(err)
		}
		waIDs = append(waIDs, m.ID)
	}
	for i := range 20 {
		send("before", i)
	}
	if p := phase(); strings.Contains(p, "twilio 5xx") {
		t.Fatalf("the first batch went out during %q; the machine is too slow for a 2 s head start", p)
	}

	// Twilio's outage: the circuit opens and the queue rises.
	waitFor(t, 10*time.Second, "the outage", func() bool { return strings.Contains(phase(), "twilio 5xx") })
	for i := range 20 {
		send("outage", i)
	}
	var sawOpen, sawQueue bool
	waitFor(t, 10*time.Second, "the circuit to open and messages to queue", func() bool {
		m := scrape(t, n)
		if v, ok := gauge(m, "switchboard_provider_circuit_state"); ok && v > 0 {
			sawOpen = true
		}
		if v, ok := gauge(m, "switchboard_queue_depth", `state="ready"`); ok && v > 0 {
			sawQueue = true
		}
		return sawOpen && sawQueue
	})
	if p := phase(); !strings.Contains(p, "twilio 5xx") {
		t.Fatalf("the circuit opened only after the outage (%q)", p)
	}

	// The filtering spike drove the sender's delivery rate down: the alert fired.
	waitFor(t, 20*time.Second, "alert.delivery_rate_low at the endpoint", func() bool {
		return len(rcv.ackedOf(switchboard.AppAlertDeliveryRateLow)) > 0
	})

	// Twilio is back: traffic goes on through the rest of the spike.
	waitFor(t, 20*time.Second, "the outage to end", func() bool { return !strings.Contains(phase(), "twilio 5xx") })
	for i := range 10 {
		send("after", i)
	}

	// The spike is over. Traffic flows as on any day, and once the alert's window has slid past
	// the spike the alert recovers.
	waitFor(t, 20*time.Second, "the filtering spike to end", func() bool { return !strings.Contains(phase(), "filtering spike") })
	recovered := func() bool { return len(rcv.ackedOf(switchboard.AppAlertDeliveryRateRecovered)) > 0 }
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; !recovered(); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no alert.delivery_rate_recovered within 30 s of the spike's end; metrics:\n%s", grepLines(scrape(t, n), "switchboard_alert"))
		}
		send("recovered", i)
		time.Sleep(250 * time.Millisecond)
	}

	final := map[string]*switchboard.Message{}
	for _, id := range ids {
		// A create answered 500 before Twilio created the message is looked up, found
		// missing and sent again, at the reconciliation's pace.
		final[id] = n.waitStatus(t, id, 90*time.Second, switchboard.StatusDelivered, switchboard.StatusUndelivered, switchboard.StatusFailed)
	}
	waitFor(t, 20*time.Second, "the circuit to close and the queue to drain", func() bool {
		m := scrape(t, n)
		state, ok1 := gauge(m, "switchboard_provider_circuit_state")
		ready, ok2 := gauge(m, "switchboard_queue_depth", `state="ready"`)
		return ok1 && ok2 && state == 0 && ready == 0
	})
	m := scrape(t, n)
	if v, ok := gauge(m, "switchboard_provider_circuit_opened_total"); !ok || v < 1 {
		t.Fatalf("switchboard_provider_circuit_opened_total = %v", v)
	}
	if v, ok := gauge(m, "switchboard_status_callbacks_total", `provider_status="undelivered"`, `result="applied"`); !ok || v < 1 {
		t.Fatalf("no undelivered status callback applied (the delivery-rate alert's input): %v", v)
	}

	// The end state of every message: the filtering spike hit carrier-a's numbers only; no
	// message failed for the outage (it waited and went later); each is at Twilio exactly once.
	filtered := 0
	for id, msg := range final {
		assertMonotonic(t, msg)
		switch {
		case msg.Status == switchboard.StatusFailed:
			t.Errorf("message %s failed (%d %s): the outage should only delay it", id, msg.ErrorCode, msg.ErrorMessage)
		case msg.ErrorCode == 30007 && !strings.HasPrefix(msg.To, "+1415555"):
			t.Errorf("message %s to another carrier was filtered", id)
		case msg.ErrorCode == 30007:
			filtered++
		case msg.Status == switchboard.StatusUndelivered:
			t.Errorf("message %s undelivered with %d: the profile has no other error", id, msg.ErrorCode)
		}
	}
	if filtered == 0 {
		t.Error("the filtering spike filtered nothing")
	}
	type atTwilio struct{ to, body string }
	perMessage := map[atTwilio]int{}
	for _, sm := range n.simMessages(t) {
		if sm.Direction != "inbound" && strings.HasPrefix(sm.Body, "rehearsal ") {
			perMessage[atTwilio{sm.To, sm.Body}]++
		}
	}
	for _, msg := range final {
		if c := perMessage[atTwilio{msg.To, msg.Body}]; c != 1 {
			t.Errorf("%q is at the simulator %d times", msg.Body, c)
		}
	}

	// Fallback: each WhatsApp message failed with WhatsApp's rate limit and reached its person
	// by SMS; Twilio holds one WhatsApp message and one SMS for each, no more.
	for i, id := range waIDs {
		var orig *switchboard.Message
		waitFor(t, 30*time.Second, "the SMS leg of "+id, func() bool {
			orig, err = n.client.Get(ctx, id)
			return err == nil && orig.WhatsApp != nil && orig.WhatsApp.FallbackMessageID != ""
		})
		if orig.Status != switchboard.StatusFailed || orig.ErrorCode != 63018 {
			t.Errorf("WhatsApp message %s: %s/%d, want failed/63018", id, orig.Status, orig.ErrorCode)
		}
		leg := n.waitStatus(t, orig.WhatsApp.FallbackMessageID, 60*time.Second, switchboard.StatusDelivered)
		if leg.Channel != switchboard.ChannelSMS || leg.To != waPeople[i] || leg.Body != orig.Body || leg.WhatsApp == nil || leg.WhatsApp.FallbackOf != id {
			t.Errorf("SMS leg of %s: %+v %+v", id, leg, leg.WhatsApp)
		}
		if orig, err = n.client.Get(ctx, id); err != nil || orig.WhatsApp.ReachedBy != "sms" || leg.WhatsApp.ReachedBy != "sms" {
			t.Errorf("reached_by of %s: %q / %q (%v), want sms", id, orig.WhatsApp.ReachedBy, leg.WhatsApp.ReachedBy, err)
		}
		if c := perMessage[atTwilio{"whatsapp:" + waPeople[i], orig.Body}]; c != 1 {
			t.Errorf("%q is at the simulator %d times by WhatsApp", orig.Body, c)
		}
		if c := perMessage[atTwilio{waPeople[i], orig.Body}]; c != 1 {
			t.Errorf("%q is at the simulator %d times by SMS", orig.Body, c)
		}
		delete(perMessage, atTwilio{"whatsapp:" + waPeople[i], orig.Body})
		delete(perMessage, atTwilio{waPeople[i], orig.Body})
	}
	if len(perMessage) != len(final) {
		t.Errorf("the simulator holds %d rehearsal messages besides the WhatsApp ones for %d accepted", len(perMessage), len(final))
	}

	// Alerts: one alert.delivery_rate_low fired during the spike and one
	// alert.delivery_rate_recovered after it, for the one sender, however often the alert was
	// evaluated (every 200 ms) and although traffic went on; the metrics agree.
	spikeEndsAt := started.StartedAt.Add(spikeEnd)
	alertData := func(typ switchboard.AppEventType) switchboard.DeliveryRateAlertData {
		t.Helper()
		evs := rcv.ackedOf(typ)
		if len(evs) != 1 {
			t.Fatalf("%d %s events at the endpoint, want 1", len(evs), typ)
		}
		var d switchboard.DeliveryRateAlertData
		if err := json.Unmarshal(evs[0].Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Sender != config.SimulatorFrom || d.Threshold != 0.9 || d.WindowSeconds != 8 {
			t.Errorf("%s: %+v", typ, d)
		}
		return d
	}
	low, rec := alertData(switchboard.AppAlertDeliveryRateLow), alertData(switchboard.AppAlertDeliveryRateRecovered)
	if low.Rate >= 0.9 || low.Failed == 0 || !low.WindowEnd.Before(spikeEndsAt) {
		t.Errorf("alert.delivery_rate_low %+v: want a rate below 0.9 during the spike (until %s)", low, spikeEndsAt.Format(time.RFC3339Nano))
	}
	if rec.Rate < 0.95 || !rec.WindowEnd.After(spikeEndsAt) || !rec.WindowEnd.After(low.WindowEnd) {
		t.Errorf("alert.delivery_rate_recovered %+v: want a rate of at least 0.95 after the spike (%s)", rec, spikeEndsAt.Format(time.RFC3339Nano))
	}
	t.Logf("spike %s to %s; alert.delivery_rate_low %+v; alert.delivery_rate_recovered %+v; %d messages, %d filtered",
		started.StartedAt.Format("15:04:05.000"), spikeEndsAt.Format("15:04:05.000"), low, rec, len(final), filtered)
	m = scrape(t, n)
	for _, want := range []string{
		`switchboard_alert_transitions_total{alert="delivery_rate_low",to="firing"} 1`,
		`switchboard_alert_transitions_total{alert="delivery_rate_low",to="ok"} 1`,
		`switchboard_alert_firing{alert="delivery_rate_low",sender="` + config.SimulatorFrom + `"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "switchboard_alert"))
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.badSigs) > 0 {
		t.Errorf("deliveries failing the Standard Webhooks check: %v", rcv.badSigs)
	}
}
