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

// partially_delivered is a final status at Twilio: a multi-part message that ends there ends
// undelivered in Switchboard, whether the status callback tells it or, when every callback is lost,
// the status poll finds it. Before, it mapped to "sent" and the message never reached a final
// status.
func TestPartiallyDeliveredIsFinal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults map[string]any
		poll   string // status_poll_after
	}{
		{"callback", map[string]any{"partially_delivered_ratio": 1}, "1h"},
		{"poll", map[string]any{"partially_delivered_ratio": 1, "callback_drop_ratio": 1}, "1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_STATUS_POLL_AFTER": tc.poll}})
			n.simControl(t, http.MethodPost, "/sim/v1/faults", tc.faults)
			body := strings.Repeat("A long reminder in more than one segment. ", 5) // 210 GSM-7 characters
			m, err := n.client.Send(context.Background(), &client.SendRequest{To: "+14155550100", Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if m.Segments < 2 {
				t.Fatalf("%d segment(s); the test needs a multi-part message", m.Segments)
			}
			m = n.waitStatus(t, m.ID, 15*time.Second, switchboard.StatusUndelivered)
			assertMonotonic(t, m)
			var sawTwilio bool
			for _, e := range m.Events {
				sawTwilio = sawTwilio || strings.Contains(e.Detail, "partially_delivered")
			}
			if !sawTwilio {
				t.Errorf("the timeline does not keep Twilio's status partially_delivered: %+v", m.Events)
			}
			var sim string
			for _, s := range n.simMessages(t) {
				if s.SID == m.ProviderSID {
					sim = s.Status
				}
			}
			if sim != "partially_delivered" {
				t.Errorf("simulator status %q, want partially_delivered", sim)
			}
		})
	}
}
