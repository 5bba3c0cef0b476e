package twiliosim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// The throughput model (twilio-facts.md §6): off by default; at Twilio's rates a US long code
// sends one segment a second, so the 30th of 30 messages is still queued right after the
// creates; a full queue answers 21611 at create (From) or fails 30001 (Messaging Service).
func TestThroughputModel(t *testing.T) {
	t.Parallel()
	const long = "+14155550100"
	e := newEnv(t, twiliosim.Config{Numbers: []string{long}, Services: []twiliosim.ServiceConfig{svc(5, long)}})
	rc := e.account(t)

	// Off by default: 30 messages are all delivered at once.
	var last *api.ApiV2010Message
	for i := range 30 {
		m, err := sendSMS(rc, long, fmt.Sprintf("+1415555%04d", 1000+i), "hi")
		if err != nil {
			t.Fatal(err)
		}
		last = m
	}
	waitStatus(t, e.sim, *last.Sid, "delivered")

	e.sim.SetFaults(twiliosim.Faults{ThroughputScale: 1})
	var sids []string
	for i := range 30 {
		m, err := sendSMS(rc, long, fmt.Sprintf("+1415555%04d", 2000+i), "hi")
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, *m.Sid)
	}
	waitStatus(t, e.sim, sids[0], "delivered")
	if m, _ := e.sim.Message(sids[29]); m.Status != "queued" {
		t.Fatalf("the 30th message from a 1 MPS long code is %s right away", m.Status)
	}

	// A queue of 0.001 h (3.6 s of segments at 1 segment/s) takes four one-segment messages.
	e.sim.Reset()
	e.sim.SetFaults(twiliosim.Faults{ThroughputScale: 1, QueueHours: 0.001})
	for i := range 4 {
		if _, err := sendSMS(rc, long, fmt.Sprintf("+1415555%04d", 3000+i), "hi"); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	_, err := sendSMS(rc, long, "+14155553999", "one too many")
	restError(t, err, 21611, http.StatusBadRequest)
	// Through the Messaging Service the create is accepted, then the message fails 30001.
	m, err := sendSMS(rc, fmt.Sprintf("MG%032x", 5), "+14155553998", "via the service")
	if err != nil || *m.Status != "accepted" {
		t.Fatalf("service create: %v", err)
	}
	if got := waitStatus(t, e.sim, *m.Sid, "failed"); got.ErrorCode != 30001 {
		t.Fatalf("overflowed service message: %+v", got)
	}
	f, _ := rc.Api.FetchMessage(*m.Sid, &api.FetchMessageParams{})
	if *f.ErrorCode != 30001 || *f.ErrorMessage != "Queue overflow" {
		t.Fatalf("fetched: %v %v", *f.ErrorCode, *f.ErrorMessage)
	}
}

// Each kind of sender queues at its own documented rate (twilio-facts.md §6: US long code 1
// segment/s, toll-free 3, short code 100): with a queue of 0.0002 h (0.72 s of segments) a long
// code takes one message before 21611, a toll-free number three, a short code about 72.
func TestThroughputBySenderKind(t *testing.T) {
	t.Parallel()
	const long, tollFree, short = "+14155550100", "+18005550100", "12345"
	e := newEnv(t, twiliosim.Config{Numbers: []string{long, tollFree, short}})
	rc := e.account(t)
	e.sim.SetFaults(twiliosim.Faults{ThroughputScale: 1, QueueHours: 0.0002})
	accepted := func(from string) int {
		t.Helper()
		for i := range 150 {
			_, err := sendSMS(rc, from, fmt.Sprintf("+1415555%04d", 5000+i), "hi")
			if err != nil {
				restError(t, err, 21611, http.StatusBadRequest)
				return i
			}
		}
		t.Fatalf("%s: 150 messages queued without an overflow", from)
		return 0
	}
	// Creates take a little time, during which a queue drains a little: ranges, not counts.
	if n := accepted(long); n < 1 || n > 2 {
		t.Errorf("long code: %d messages before 21611, want 1", n)
	}
	if n := accepted(tollFree); n < 3 || n > 4 {
		t.Errorf("toll-free: %d messages before 21611, want 3", n)
	}
	if n := accepted(short); n < 70 || n > 110 {
		t.Errorf("short code: %d messages before 21611, want about 72", n)
	}
}

// The carrier error mix and partially_delivered (statuses of Twilio's Message resource).
func TestCarrierErrorMix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rc := e.account(t)
	e.sim.SetFaults(twiliosim.Faults{CarrierErrors: map[int]float64{30003: 0.5, 30007: 0.5}})
	seen := map[int]int{}
	for i := range 24 {
		m, err := sendSMS(rc, twiliosim.MagicFrom, fmt.Sprintf("+1415555%04d", 4000+i), "hi")
		if err != nil {
			t.Fatal(err)
		}
		seen[waitStatus(t, e.sim, *m.Sid, "undelivered").ErrorCode]++
	}
	if len(seen) != 2 || seen[30003] == 0 || seen[30007] == 0 {
		t.Fatalf("error mix: %v", seen)
	}

	e.sim.SetFaults(twiliosim.Faults{PartiallyDeliveredRatio: 1})
	long, err := sendSMS(rc, twiliosim.MagicFrom, "+14155550100", strings.Repeat("two segments ", 20))
	if err != nil {
		t.Fatal(err)
	}
	short, err := sendSMS(rc, twiliosim.MagicFrom, "+14155550100", "one segment")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e.sim, *long.Sid, "partially_delivered")
	waitStatus(t, e.sim, *short.Sid, "delivered")
	if f, err := rc.Api.FetchMessage(*long.Sid, nil); err != nil || *f.Status != "partially_delivered" || *f.NumSegments != "2" {
		t.Fatalf("twilio-go fetch of the partially delivered message: %v %v", f, err)
	}

	for _, bad := range []string{`{"carrier_errors":{"30003":0.7,"30005":0.7}}`, `{"carrier_errors":{"21610":0.1}}`, `{"throughput_scale":-1}`, `{"sender_mps":{"+14155550100":0}}`} {
		if code, body := e.control(t, http.MethodPost, "/sim/v1/faults", bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}
}

// An inbound MMS is receiving while its media arrives, then received.
func TestInboundMMSReceiving(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{SentDelay: time.Second})
	done := make(chan error, 1)
	go func() {
		done <- e.sim.Inbound(ctx(t), "+14155550123", twiliosim.MagicFrom, "", "https://example.com/a.png")
	}()
	find := func(status string) bool {
		for _, m := range e.sim.Messages() {
			if m.Direction == "inbound" && m.Status == status {
				return true
			}
		}
		return false
	}
	eventually(t, 5*time.Second, "receiving", func() bool { return find("receiving") })
	// twilio-go sees the inbound message receiving, then received.
	rc := e.account(t)
	inbound := func() string {
		ms, err := rc.Api.ListMessage((&api.ListMessageParams{}).SetTo(twiliosim.MagicFrom))
		if err != nil || len(ms) != 1 {
			t.Fatalf("twilio-go list of inbound messages: %v %v", ms, err)
		}
		return *ms[0].Status
	}
	if st := inbound(); st != "receiving" {
		t.Fatalf("inbound MMS status %q while its media arrives", st)
	}
	<-done
	if !find("received") {
		t.Fatal("not received after the webhook")
	}
	if st := inbound(); st != "received" {
		t.Fatalf("twilio-go: inbound MMS status %q after the webhook, want received", st)
	}
}
