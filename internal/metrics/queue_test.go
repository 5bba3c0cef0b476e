package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/metrics"
)

func scrapeHandler(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestQueueGauges checks the queue gauges' values, their cache (one query per max age, on the
// injected clock), the zeros of configured senders with nothing waiting, and that a failing query
// leaves the gauges absent and counts the error.
func TestQueueGauges(t *testing.T) {
	t.Parallel()
	now := time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	calls := 0
	var fail bool
	m := metrics.New()
	m.SetQueueStats(func(_ context.Context, at time.Time) ([]switchboard.SenderQueue, error) {
		calls++
		if fail {
			return nil, errors.New("database down")
		}
		oldest := at.Add(-90 * time.Second)
		return []switchboard.SenderQueue{{Sender: "+15005550006", Ready: 1200, Deferred: 3, OldestDueAt: &oldest}}, nil
	}, clock, 5*time.Second, []string{"+15005550006", "MG00000000000000000000000000000001"})

	out := scrapeHandler(t, m)
	for _, want := range []string{
		`switchboard_queue_depth{sender="+15005550006",state="ready"} 1200`,
		`switchboard_queue_depth{sender="+15005550006",state="deferred"} 3`,
		`switchboard_queue_oldest_due_age_seconds{sender="+15005550006"} 90`,
		`switchboard_queue_depth{sender="MG00000000000000000000000000000001",state="ready"} 0`,
		`switchboard_queue_oldest_due_age_seconds{sender="MG00000000000000000000000000000001"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	// Within the max age the answer is cached, but the age keeps growing with the clock.
	now = now.Add(4 * time.Second)
	out = scrapeHandler(t, m)
	if calls != 1 {
		t.Errorf("%d queries after two scrapes within max age, want 1", calls)
	}
	if !strings.Contains(out, `switchboard_queue_oldest_due_age_seconds{sender="+15005550006"} 94`) {
		t.Errorf("age did not follow the clock:\n%s", grep(out, "switchboard_queue"))
	}
	now = now.Add(time.Second)
	fail = true
	out = scrapeHandler(t, m)
	if calls != 2 {
		t.Errorf("%d queries after max age, want 2", calls)
	}
	if strings.Contains(out, "switchboard_queue_depth") {
		t.Errorf("a failed query left gauges:\n%s", grep(out, "switchboard_queue"))
	}
	// The registry collects the error counter concurrently with the gauges, so the failure is
	// certain to be counted by the next scrape (which fails again: failures are not cached).
	out = scrapeHandler(t, m)
	if calls != 3 || !strings.Contains(out, "switchboard_queue_stats_errors_total 2") &&
		!strings.Contains(out, "switchboard_queue_stats_errors_total 1") {
		t.Errorf("failed queries not counted (%d queries):\n%s", calls, grep(out, "switchboard_queue"))
	}
}

func TestAlertMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.AlertState("delivery_rate_low", "+15005550006", true, 0.25, 40)
	m.AlertTransition("delivery_rate_low", "firing")
	out := scrapeHandler(t, m)
	for _, want := range []string{
		`switchboard_alert_firing{alert="delivery_rate_low",sender="+15005550006"} 1`,
		`switchboard_alert_transitions_total{alert="delivery_rate_low",to="firing"} 1`,
		`switchboard_sender_delivery_ratio{sender="+15005550006"} 0.25`,
		`switchboard_sender_delivery_outcomes{sender="+15005550006"} 40`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestCallQueueGauges: the calls waiting to be placed, ready and deferred, and the age of the
// oldest ready one (issue 15: a stuck call queue was visible nowhere).
func TestCallQueueGauges(t *testing.T) {
	t.Parallel()
	now := time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
	m := metrics.New()
	m.SetCallQueue(func(_ context.Context, at time.Time) (switchboard.CallQueueStats, error) {
		oldest := at.Add(-42 * time.Second)
		return switchboard.CallQueueStats{Ready: 29, Deferred: 4, OldestDueAt: &oldest}, nil
	}, func() time.Time { return now }, time.Second)
	out := scrapeHandler(t, m)
	for _, want := range []string{
		`switchboard_call_queue_depth{state="ready"} 29`,
		`switchboard_call_queue_depth{state="deferred"} 4`,
		`switchboard_call_queue_oldest_due_age_seconds 42`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s:\n%s", want, grep(out, "switchboard_call"))
		}
	}
}
