package node_test

import (
	"context"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

// TestQueueGaugesOnAScrape finds a scheduled message in the deferred queue depth of its sender,
// the configured senders listed with zeros, and the gauges following the queue when it drains.
func TestQueueGaugesOnAScrape(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_METRICS_QUEUE_MAX_AGE": "0"},
		yaml: "senders:\n  - from: \"+15005550006\"\n  - from: \"MG0123456789abcdef0123456789abcdef\"\n    pool: other\n"})
	ctx := context.Background()
	m, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "later", SendAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	n.waitStatus(t, m.ID, 5*time.Second, switchboard.StatusScheduled)
	out := scrape(t, n)
	for _, want := range []string{
		`switchboard_queue_depth{sender="+15005550006",state="deferred"} 1`,
		`switchboard_queue_depth{sender="+15005550006",state="ready"} 0`,
		`switchboard_queue_oldest_due_age_seconds{sender="+15005550006"} 0`,
		`switchboard_queue_depth{sender="MG0123456789abcdef0123456789abcdef",state="ready"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(out, "switchboard_queue"))
		}
	}
	if strings.Contains(out, "4155550100") {
		t.Error("a recipient's number appears in the metrics")
	}
	if _, err := n.client.Cancel(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if out := scrape(t, n); !strings.Contains(out, `switchboard_queue_depth{sender="+15005550006",state="deferred"} 0`) {
		t.Errorf("a canceled message still counted:\n%s", grepLines(out, "switchboard_queue"))
	}
}
