package node_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/events"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// TestMetricsEndToEnd scrapes a node that has run messages, a call, a verification and
// deliveries to an endpoint, and finds each of those series with the counts the run implies:
// final statuses with their error classes, delivery latency, segments, the HTTP API by route,
// calls by status and outcome, flow steps, event deliveries, verifications and the store's commits.
func TestMetricsEndToEnd(t *testing.T) {
	t.Parallel()
	env := voiceEnv()
	env["SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE"] = "true" // the receiver is on loopback
	n := startNode(t, nodeOpts{env: env, events: func(c *events.Config) { c.PollInterval = 20 * time.Millisecond }})
	ctx := context.Background()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(rcv.Close)
	if _, err := n.client.CreateEndpoint(ctx, &client.EndpointRequest{URL: rcv.URL, EventTypes: []string{"message.*", "call.*"}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, to := range []string{"+14155550130", "+15005550001", "+15005550004"} { // delivered, 21211, 21610
		m, err := n.client.Send(ctx, &client.SendRequest{To: to, Body: "metrics end to end"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	for _, id := range ids {
		n.waitStatus(t, id, 10*time.Second, switchboard.StatusDelivered, switchboard.StatusFailed, switchboard.StatusBlocked)
	}
	if err := n.Simulator().ScriptCalls(twiliosim.CallScript{Number: "+14155550131", Inputs: []twiliosim.CalleeInput{{Digits: "1"}}}); err != nil {
		t.Fatal(err)
	}
	c := createCall(t, n.URL(), n.secret, map[string]any{"to": "+14155550131", "flow": "appointment_confirmation", "variables": appointmentVars})
	waitCall(t, n.URL(), n.secret, c.ID, terminal)
	if _, err := n.client.StartVerification(ctx, &client.VerificationRequest{To: "+14155550132"}); err != nil {
		t.Fatal(err)
	}

	want := []string{
		`switchboard_messages_final_total{error_class="none",status="delivered"} 2`, // with the verification's code
		`switchboard_messages_final_total{error_class="invalid_recipient",status="failed"} 1`,
		`switchboard_messages_final_total{error_class="opted_out",status="blocked"} 1`,
		`switchboard_message_delivery_latency_seconds_count 2`,
		`switchboard_http_requests_total{code="202",route="POST /v1/messages"} 3`,
		`switchboard_http_request_duration_seconds_count{route="POST /v1/messages"} 3`,
		`switchboard_http_requests_total{code="201",route="POST /v1/endpoints"} 1`,
		`switchboard_calls_finished_total{outcome="confirmed",status="completed"} 1`,
		`switchboard_verifications_started_total{`,
	}
	var out string
	ok := false
	deadline := time.Now().Add(10 * time.Second)
	for !ok && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		ok = func() bool {
			out = scrape(t, n)
			for _, w := range want {
				if !strings.Contains(out, w) {
					return false
				}
			}
			return atLeast(out, `switchboard_event_deliveries_total{result="delivered"}`, 3) &&
				atLeast(out, `switchboard_segments_sent_total{sender="+15005550006"}`, 1) &&
				atLeast(out, `switchboard_call_step_duration_seconds_count`, 2) &&
				atLeast(out, `switchboard_event_delivery_duration_seconds_count`, 3) &&
				atLeast(out, `switchboard_store_commit_duration_seconds_count{engine="sqlite"}`, 1) &&
				atLeast(out, `switchboard_store_commit_batch_size_count{engine="sqlite"}`, 1)
		}()
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
	for _, s := range []string{`switchboard_event_deliveries_total{result="delivered"}`, `switchboard_segments_sent_total{sender="+15005550006"}`,
		`switchboard_call_step_duration_seconds_count`, `switchboard_event_delivery_duration_seconds_count`,
		`switchboard_store_commit_duration_seconds_count{engine="sqlite"}`, `switchboard_store_commit_batch_size_count{engine="sqlite"}`} {
		if !atLeast(out, s, 1) {
			t.Errorf("metrics lack %s", s)
		}
	}
	if t.Failed() {
		t.Log(grepLines(out, "switchboard_"))
	}
}

// atLeast reports whether the exposition has series name (with its labels) at a value >= least.
func atLeast(exposition, series string, least float64) bool {
	m := regexp.MustCompile(regexp.QuoteMeta(series) + ` ([0-9.e+]+)\n`).FindStringSubmatch(exposition)
	if m == nil {
		return false
	}
	var v float64
	for _, r := range m[1] {
		if r < '0' || r > '9' {
			break
		}
		v = v*10 + float64(r-'0')
	}
	return v >= least
}
