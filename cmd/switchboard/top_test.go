package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

func parseScrape(t *testing.T, at time.Time, text string) *scrape {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fam, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return &scrape{at: at, fam: fam}
}

// TestTopFrameRates computes a frame from two scrapes two seconds apart.
func TestTopFrameRates(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
	const head = `# TYPE switchboard_messages_accepted_total counter
# TYPE switchboard_provider_requests_total counter
# TYPE switchboard_status_callbacks_total counter
# TYPE switchboard_messages_finished_total counter
# TYPE switchboard_webhook_requests_total counter
# TYPE switchboard_queue_depth gauge
# TYPE switchboard_queue_oldest_due_age_seconds gauge
# TYPE switchboard_alert_firing gauge
# TYPE switchboard_sender_delivery_ratio gauge
`
	prev := parseScrape(t, t0, head+`switchboard_messages_accepted_total{category="transactional",channel="sms",sender="+15005550006"} 100
switchboard_provider_requests_total{code="",outcome="ok"} 90
switchboard_provider_requests_total{code="21211",outcome="fail"} 2
switchboard_status_callbacks_total{provider_status="delivered",result="applied"} 80
switchboard_status_callbacks_total{provider_status="undelivered",result="applied"} 1
switchboard_messages_finished_total{category="transactional",sender="+15005550006",status="failed"} 2
switchboard_webhook_requests_total{endpoint="status",result="ok"} 200
switchboard_webhook_requests_total{endpoint="status",result="bad_signature"} 1
`)
	cur := parseScrape(t, t0.Add(2*time.Second), head+`switchboard_messages_accepted_total{category="transactional",channel="sms",sender="+15005550006"} 120
switchboard_messages_accepted_total{category="otp",channel="sms",sender="+15005550006"} 4
switchboard_provider_requests_total{code="",outcome="ok"} 106
switchboard_provider_requests_total{code="21211",outcome="fail"} 6
switchboard_status_callbacks_total{provider_status="delivered",result="applied"} 90
switchboard_status_callbacks_total{provider_status="undelivered",result="applied"} 3
switchboard_messages_finished_total{category="transactional",sender="+15005550006",status="failed"} 6
switchboard_webhook_requests_total{endpoint="status",result="ok"} 230
switchboard_webhook_requests_total{endpoint="status",result="bad_signature"} 1
switchboard_queue_depth{sender="+15005550006",state="ready"} 1200
switchboard_queue_depth{sender="+15005550006",state="deferred"} 3
switchboard_queue_oldest_due_age_seconds{sender="+15005550006"} 95
switchboard_alert_firing{alert="delivery_rate_low",sender="+15005550006"} 1
switchboard_sender_delivery_ratio{sender="+15005550006"} 0.42
`)
	var b bytes.Buffer
	if err := writeTopFrame(&b, "http://sb/metrics", prev, cur); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	for _, re := range []string{
		`accepted +12\.0 +124`,          // (124-100)/2
		`sent +8\.0 +106`,               // (106-90)/2
		`delivered +5\.0 +90`,           // (90-80)/2
		`failed +3\.0 +9`,               // callbacks (3-1) + dispatcher (6-2), /2; totals 3+6
		`status callbacks +15\.0 +231`,  // (231-201)/2
		`bad signatures +0\.0 +1`,       //
		`\+15005550006 +1200 +3 +1m35s`, // queue
		`21211 fail +2\.0 +20\.0% +6`,   // 2/s of 10 requests/s
		`delivery_rate_low \+15005550006 \(delivery rate 0\.42\)`,
	} {
		if !regexpMatch(re, out) {
			t.Errorf("frame lacks /%s/", re)
		}
	}
}

// TestTopOnceAgainstANode runs `switchboard top --once` against a running node after messages
// went through the simulator: delivered, refused (21211) and scheduled.
func TestTopOnceAgainstANode(t *testing.T) {
	t.Parallel()
	o := startObsNode(t, map[string]string{"SWITCHBOARD_METRICS_QUEUE_MAX_AGE": "0"})
	ctx := context.Background()
	var ids []string
	for _, to := range []string{"+14155550100", "+14155550101", "+15005550001"} {
		m, err := o.client.Send(ctx, &client.SendRequest{To: to, Body: "top"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if _, err := o.client.Send(ctx, &client.SendRequest{To: "+14155550102", Body: "later", SendAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "outcomes", func() bool {
		for _, id := range ids {
			m, err := o.client.Get(ctx, id)
			if err != nil || (m.Status != switchboard.StatusDelivered && m.Status != switchboard.StatusFailed) {
				return false
			}
		}
		return true
	})
	out := o.sb(t, "top", "--once", "--interval", "200ms")
	t.Log("\n" + out)
	for _, re := range []string{
		`accepted +\d+\.\d +4\b`,
		`sent +\d+\.\d +2\b`,
		`delivered +\d+\.\d +2\b`,
		`failed +\d+\.\d +1\b`,
		`status callbacks +\d+\.\d +\d+`,
		`\+15005550006 +0 +1 +-`,
		`21211 fail +\d+\.\d +\S+ +1\b`,
		`Alerts firing: none`,
	} {
		if !regexpMatch(re, out) {
			t.Errorf("frame lacks /%s/", re)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("--once printed terminal control sequences")
	}
	// A node that does not answer is an error, not an empty frame.
	var stdout, stderr bytes.Buffer
	root := newRoot(&stdout, &stderr, func(string) string { return "" })
	root.SetArgs([]string{"top", "--once", "--metrics-url", "http://127.0.0.1:1/metrics", "--interval", "10ms"})
	if err := root.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), "scraping") {
		t.Errorf("top against nothing: %v", err)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
