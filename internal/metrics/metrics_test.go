package metrics_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/metrics"
)

// TestNamesMatchRegistry keeps Names (used by the alert rules test) equal to what is exported.
func TestNamesMatchRegistry(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	msg := &switchboard.Message{Channel: switchboard.ChannelSMS, Category: switchboard.CategoryOTP, From: "+15005550006"}
	m.MessageAccepted(msg)
	m.ProviderRequest("ok", 0, time.Millisecond)
	m.MessageFinished(msg, switchboard.StatusFailed)
	m.Retry("retry")
	m.RateLimitWait("+15005550006", time.Millisecond)
	m.GateWait("+15005550006", 0)
	m.Webhook("status", "ok", time.Millisecond)
	m.Callback("delivered", switchboard.CallbackResult{Applied: true})
	m.OptOut(switchboard.ConsentFromKeyword)
	m.SetQueueStats(func(context.Context, time.Time) ([]switchboard.SenderQueue, error) {
		return []switchboard.SenderQueue{{Sender: "+15005550006", Ready: 1}}, nil
	}, switchboard.SystemClock, time.Second, nil)
	m.AlertState("delivery_rate_low", "+15005550006", false, 1, 0)
	m.AlertTransition("delivery_rate_low", "firing")
	m.CircuitState("twilio", dispatch.CircuitOpen)
	m.CircuitRejected("twilio")
	m.VerificationStarted("US", "sms")
	m.VerificationApproved("", "sms")
	m.VerificationFailed("US", "call", "expired")
	m.VerificationRefused("rate_limited_phone")
	m.VerificationFallback("sms", "call")
	m.SegmentsSent("+15005550006", 2)
	m.HTTPRequest("POST /v1/messages", 202, time.Millisecond)
	m.CallFinished(&switchboard.Call{Status: switchboard.CallCompleted, Outcome: "confirmed"})
	m.CallStep(time.Millisecond)
	m.EventDelivery("delivered", time.Millisecond)
	m.ClockOffset("database", time.Millisecond)
	m.NeedsReview()
	m.DiskFree(1, 2)
	m.StoreCommit("sqlite", time.Millisecond, 3)
	m.TenantRefusal(switchboard.CodeQuotaExceeded)
	m.TenantRefusal("recipient_opted_out") // not a tenant refusal: not counted, no new series
	m.PriceFetched(true, 7900, "USD")
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "switchboard_") {
			got = append(got, f.GetName())
		}
	}
	want := metrics.Names()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("exported %v, Names() says %v", got, want)
	}
}
