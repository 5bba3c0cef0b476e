package switchboard_test

import (
	"reflect"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestChecks: each store input check refuses what it must, with its stable code, and lets a
// complete input through.
func TestChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		bad, good error
		code      string
	}{
		{"claim", switchboard.CheckClaim("node-a", 0), switchboard.CheckClaim("node-a", 1), "invalid_claim"},
		{"claim owner", switchboard.CheckClaim("", 5), nil, "invalid_claim"},
		{"fan-out", switchboard.CheckFanOut(0), switchboard.CheckFanOut(1), "invalid_fanout"},
		{"endpoint", switchboard.CheckEndpoint(&switchboard.Endpoint{ID: "ep_1"}),
			switchboard.CheckEndpoint(&switchboard.Endpoint{ID: "ep_1", URL: "https://x"}), "invalid_endpoint"},
		{"secret", switchboard.CheckSecretRotation(""), switchboard.CheckSecretRotation("s"), "invalid_secret"},
		{"delivery result", switchboard.CheckDeliveryResult(switchboard.DeliveryResult{ID: "dlv_1", Owner: "a"}),
			switchboard.CheckDeliveryResult(switchboard.DeliveryResult{ID: "dlv_1", Owner: "a", At: t0}), "invalid_delivery_result"},
		{"media result", switchboard.CheckMediaResult(switchboard.MediaResult{ProviderSID: "MM1", At: t0}),
			switchboard.CheckMediaResult(switchboard.MediaResult{ProviderSID: "MM1", Owner: "a", At: t0}), "invalid_media_result"},
		{"call", switchboard.CheckCall(&switchboard.Call{ID: "call_1", Token: "t"}),
			switchboard.CheckCall(&switchboard.Call{ID: "call_1", Token: "t", CreatedAt: t0}), "invalid_call"},
		{"session", switchboard.CheckSession(nil), switchboard.CheckSession(&switchboard.DashboardSession{Hash: "h", Subject: "s"}), "invalid_session"},
		{"app event", switchboard.CheckAppEvent(&switchboard.AppEvent{ID: "evt_1"}),
			switchboard.CheckAppEvent(&switchboard.AppEvent{ID: "evt_1", Type: switchboard.AppMessageStatusChanged}), "invalid_event"},
		{"inbound", switchboard.CheckInbound(&switchboard.InboundMessage{ID: "in_1"}),
			switchboard.CheckInbound(&switchboard.InboundMessage{ID: "in_1", ProviderSID: "SM1"}), "invalid_inbound"},
		{"sender", switchboard.CheckSenderAssignment("+1", ""), switchboard.CheckSenderAssignment("+1", "+2"), "invalid_sender"},
		{"API key", switchboard.CheckAPIKey(&switchboard.APIKey{ID: "key_1"}),
			switchboard.CheckAPIKey(&switchboard.APIKey{ID: "key_1", Hash: "h"}), "invalid_api_key"},
		{"refusal", switchboard.CheckRefusal(&switchboard.Refusal{ID: "ref_1", At: t0}),
			switchboard.CheckRefusal(&switchboard.Refusal{ID: "ref_1", Reason: "r", At: t0}), "invalid_refusal"},
		{"block", switchboard.CheckBlock(switchboard.PrefixBlock{Prefix: "+1555", At: t0}),
			switchboard.CheckBlock(switchboard.PrefixBlock{Prefix: "+1555", Until: t0, At: t0}), "invalid_block"},
		{"rate", switchboard.CheckRateHits([]switchboard.RateHit{{Key: "k", Window: time.Minute}, {Key: "k", Limit: 1}}),
			switchboard.CheckRateHits([]switchboard.RateHit{{Key: "k", Window: time.Minute}}), "invalid_rate"},
	} {
		if got := codeOf(tc.bad); got != tc.code {
			t.Errorf("%s: bad input gives %q, want %q", tc.name, got, tc.code)
		}
		if tc.good != nil {
			t.Errorf("%s: good input refused: %v", tc.name, tc.good)
		}
	}
}

func TestJudgeRateHits(t *testing.T) {
	t.Parallel()
	now := time.Date(2031, 1, 1, 10, 0, 40, 0, time.UTC)
	perMinute := switchboard.RateHit{Key: "phone", Window: time.Minute, Limit: 3}
	perHour := switchboard.RateHit{Key: "ip", Window: time.Hour, Limit: 10}
	peek := switchboard.RateHit{Key: "country", Window: time.Hour, Limit: 5, Peek: true}
	for _, tc := range []struct {
		name   string
		hits   []switchboard.RateHit
		counts []int
		want   switchboard.RateResult
	}{
		{"under every limit: all but peeks count", []switchboard.RateHit{perMinute, perHour, peek}, []int{2, 9, 4},
			switchboard.RateResult{Refused: -1, Counts: []int{3, 10, 4}}},
		{"the first at its limit refuses, nothing counts", []switchboard.RateHit{perMinute, perHour}, []int{1, 10},
			switchboard.RateResult{Refused: 1, RetryAfter: 59*time.Minute + 20*time.Second, Counts: []int{1, 10}}},
		{"a peek at its limit refuses too", []switchboard.RateHit{peek, perMinute}, []int{5, 3},
			switchboard.RateResult{Refused: 0, RetryAfter: 59*time.Minute + 20*time.Second, Counts: []int{5, 3}}},
		{"limit 0 only counts", []switchboard.RateHit{{Key: "k", Window: time.Minute}}, []int{1000},
			switchboard.RateResult{Refused: -1, Counts: []int{1001}}},
	} {
		if got := switchboard.JudgeRateHits(tc.hits, tc.counts, now); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
