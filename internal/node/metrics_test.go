package node_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

func scrape(t *testing.T, n *testNode) string {
	t.Helper()
	return scrapeURL(t, n.URL())
}

// TestMetricsAfterARun scrapes /metrics after messages went through the simulator and finds the
// right counts; no label carries a recipient's number.
func TestMetricsAfterARun(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	ctx := context.Background()
	var ids []string
	for _, to := range []string{"+14155550100", "+14155550101", "+14155550102", "+15005550001", "+15005550004"} {
		m, err := n.client.Send(ctx, &client.SendRequest{To: to, Body: "metrics"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	for _, id := range ids {
		n.waitStatus(t, id, 10*time.Second, switchboard.StatusDelivered, switchboard.StatusFailed, switchboard.StatusBlocked)
	}
	// Wait for the delivered callbacks of the three good ones to be counted.
	waitFor(t, 10*time.Second, "delivered callbacks", func() bool {
		return strings.Contains(scrape(t, n), `switchboard_status_callbacks_total{provider_status="delivered",result="applied"} 3`)
	})
	// A forged webhook is counted as a bad signature.
	resp, _ := http.Post(n.URL()+"/webhooks/twilio/status", "application/x-www-form-urlencoded", strings.NewReader("MessageSid=SMx&MessageStatus=failed"))
	resp.Body.Close()
	out := scrape(t, n)
	for _, want := range []string{
		`switchboard_messages_accepted_total{category="transactional",channel="sms",sender="+15005550006"} 5`,
		`switchboard_provider_requests_total{code="",outcome="ok"} 3`,
		`switchboard_provider_requests_total{code="21211",outcome="fail"} 1`,
		`switchboard_provider_requests_total{code="21610",outcome="opted_out"} 1`,
		`switchboard_messages_finished_total{category="transactional",sender="+15005550006",status="failed"} 1`,
		`switchboard_messages_finished_total{category="transactional",sender="+15005550006",status="blocked"} 1`,
		`switchboard_opt_outs_total{source="provider_error"} 1`,
		`switchboard_webhook_requests_total{endpoint="status",result="bad_signature"} 1`,
		`switchboard_provider_request_duration_seconds_count{outcome="ok"} 3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	t.Log(grepLines(out, "switchboard_messages_accepted"))
	for _, number := range []string{"4155550100", "4155550101", "5005550001", "5005550004"} {
		if strings.Contains(out, number) {
			t.Errorf("a recipient's number appears in the metrics: %s", number)
		}
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
