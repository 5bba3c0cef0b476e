package twiliosim_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

func sendForm() url.Values {
	return url.Values{"To": {"+14155550100"}, "From": {twiliosim.MagicFrom}, "Body": {"fault"}}
}

// retryAfterTap records the Retry-After header of every answer twilio-go receives (twilio-go
// itself does not surface headers).
type retryAfterTap struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (tp *retryAfterTap) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := tp.next.RoundTrip(r)
	if err == nil {
		tp.mu.Lock()
		tp.seen = append(tp.seen, resp.Header.Get("Retry-After"))
		tp.mu.Unlock()
	}
	return resp, err
}

func TestFault429CreatesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	e.sim.SetFaults(twiliosim.Faults{Status429Ratio: 1})
	c := e.account(t)
	// The same client, its answers tapped: each 429 tells when to come back.
	target, _ := url.Parse(e.srv.URL)
	tap := &retryAfterTap{next: rewriteTransport{target: target}}
	tc := &client.Client{Credentials: client.NewCredentials(e.sim.AccountSID(), e.sim.AuthToken()), HTTPClient: &http.Client{Transport: tap}}
	tc.SetAccountSid(e.sim.AccountSID())
	tapped := twilio.NewRestClientWithParams(twilio.ClientParams{Username: e.sim.AccountSID(), Password: e.sim.AuthToken(), Client: tc})
	tapped.RequestHandler.Edge, tapped.RequestHandler.Region = "", ""
	for _, rc := range []*twilio.RestClient{c, c, tapped, tapped, tapped} {
		p := &api.CreateMessageParams{}
		p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetBody("busy")
		_, err := rc.Api.CreateMessage(p)
		restError(t, err, 20429, http.StatusTooManyRequests)
	}
	if len(tap.seen) != 3 || slices.Contains(tap.seen, "") {
		t.Errorf("Retry-After of the 429s twilio-go received: %q", tap.seen)
	}
	if n := len(e.sim.Messages()); n != 0 {
		t.Errorf("%d messages created under 429 faults, want 0", n)
	}
	// Reads are not faulted.
	if _, err := c.Api.ListMessage(nil); err != nil {
		t.Errorf("list under 429 faults: %v", err)
	}
}

func TestFault500IsAmbiguous(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	e.sim.SetFaults(twiliosim.Faults{Status500Ratio: 1})
	const n = 40
	for range n {
		code, body := e.do(t, http.MethodPost, e.messagesPath(), sendForm())
		var got struct{ Code, Status int }
		mustJSON(t, body, &got)
		if code != http.StatusInternalServerError || got.Code != 20500 || got.Status != 500 {
			t.Fatalf("HTTP %d %s, want 500/20500", code, body)
		}
	}
	// A coin flip per request: some were created before the 500, some not (odds of a false
	// failure: 2 in 2^40).
	created := len(e.sim.Messages())
	if created == 0 || created == n {
		t.Errorf("%d of %d faulted creates stored a message; want some but not all", created, n)
	}
	for _, m := range e.sim.Messages() {
		waitStatus(t, e.sim, m.SID, "delivered") // created messages run their lifecycle
	}
}

func TestFaultTimeoutCreatesMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	e.sim.SetFaults(twiliosim.Faults{TimeoutRatio: 1, TimeoutMS: 300})

	// A client that gives up first sees a timeout, yet the message exists and is delivered.
	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetBody("slow")
	_, err := e.clientWithTimeout(t, e.sim.AccountSID(), e.sim.AuthToken(), 50*time.Millisecond).Api.CreateMessage(p)
	var ue *url.Error
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Fatalf("err = %v, want a client timeout", err)
	}
	eventually(t, 5*time.Second, "the timed-out message to exist", func() bool { return len(e.sim.Messages()) == 1 })
	waitStatus(t, e.sim, e.sim.Messages()[0].SID, "delivered")

	// A patient client gets the normal answer, late.
	start := time.Now()
	m, err := e.account(t).Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("answered after %v, want at least timeout_ms", d)
	}
	if *m.Status != "queued" {
		t.Errorf("late answer status %s", *m.Status)
	}
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	e.sim.SetFaults(twiliosim.Faults{LatencyMS: 100})
	start := time.Now()
	if code, body := e.do(t, http.MethodGet, e.messagesPath(), nil); code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered after %v, want at least 100ms", d)
	}
}

func TestFaultCallbackDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rcv := newReceiver(t, e.sim)
	e.sim.SetFaults(twiliosim.Faults{CallbackDuplicates: 2})
	sid := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "dup", rcv.srv.URL+"/s")
	eventually(t, 5*time.Second, "nine posts", func() bool { return len(rcv.forSID(sid)) == 9 })
	byStatus := map[string][]received{}
	for _, cb := range rcv.forSID(sid) {
		byStatus[cb.Params.Get("MessageStatus")] = append(byStatus[cb.Params.Get("MessageStatus")], cb)
	}
	for _, st := range []string{"sending", "sent", "delivered"} {
		cbs := byStatus[st]
		if len(cbs) != 3 {
			t.Errorf("%s posted %d times, want 3", st, len(cbs))
			continue
		}
		for _, cb := range cbs {
			if !cb.SigValid || cb.Token != cbs[0].Token {
				t.Errorf("%s duplicate: valid=%v token %q vs %q", st, cb.SigValid, cb.Token, cbs[0].Token)
			}
		}
	}
}

func TestFaultCallbackShuffle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{CallbackWorkers: 1})
	rcv := newReceiver(t, e.sim)
	e.sim.SetFaults(twiliosim.Faults{CallbackShuffle: true})
	var sids []string
	for range 8 {
		sids = append(sids, createVia(t, e, "+14155550100", twiliosim.MagicFrom, "shuffle", rcv.srv.URL+"/s"))
	}
	outOfOrder := 0
	for _, sid := range sids {
		eventually(t, 5*time.Second, "three callbacks", func() bool { return len(rcv.forSID(sid)) == 3 })
		got := rcv.forSID(sid)
		st := statuses(got)
		if sorted := slices.Sorted(slices.Values(st)); !slices.Equal(sorted, []string{"delivered", "sending", "sent"}) {
			t.Errorf("%s: statuses %v", sid, st)
		}
		if !slices.Equal(st, []string{"sending", "sent", "delivered"}) {
			outOfOrder++
		}
		for _, cb := range got {
			if cb.SimStatus != "delivered" || !cb.SigValid {
				t.Errorf("%s: %s callback arrived while the message was %s (valid=%v); shuffled callbacks wait for the final status",
					sid, cb.Params.Get("MessageStatus"), cb.SimStatus, cb.SigValid)
			}
		}
	}
	if outOfOrder == 0 {
		t.Errorf("all 8 messages' callbacks arrived in lifecycle order; shuffle had no effect")
	}
}

func TestFaultCallbackDrop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rcv := newReceiver(t, e.sim)
	e.sim.SetFaults(twiliosim.Faults{CallbackDropRatio: 1})
	sid := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "drop", rcv.srv.URL+"/s")
	waitStatus(t, e.sim, sid, "delivered")
	if s := e.sim.Stats(); s.CallbacksDropped != 3 || s.CallbackQueue != 0 {
		t.Errorf("stats %+v, want 3 dropped and nothing queued", s)
	}
	if n := len(rcv.all()); n != 0 {
		t.Errorf("%d callbacks posted, want none", n)
	}
}

func TestFaultCallbackDelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rcv := newReceiver(t, e.sim)
	e.sim.SetFaults(twiliosim.Faults{CallbackDelayMS: 150})
	start := time.Now()
	sid := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "delay", rcv.srv.URL+"/s")
	eventually(t, 5*time.Second, "three callbacks", func() bool { return len(rcv.forSID(sid)) == 3 })
	for _, cb := range rcv.forSID(sid) {
		if d := cb.At.Sub(start); d < 150*time.Millisecond {
			t.Errorf("%s arrived %v after create, want at least 150ms", cb.Params.Get("MessageStatus"), d)
		}
	}
}

func TestControlFaultsAndReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	code, body := e.control(t, http.MethodPost, "/sim/v1/faults",
		`{"status_429_ratio":0.25,"timeout_ms":500,"callback_duplicates":1,"callback_shuffle":true}`)
	if code != http.StatusOK {
		t.Fatalf("POST faults: %d %s", code, body)
	}
	want := twiliosim.Faults{Status429Ratio: 0.25, TimeoutMS: 500, CallbackDuplicates: 1, CallbackShuffle: true}
	if got := e.sim.Faults(); !reflect.DeepEqual(got, want) {
		t.Errorf("faults %+v, want %+v", got, want)
	}
	code, body = e.control(t, http.MethodGet, "/sim/v1/faults", "")
	var got twiliosim.Faults
	if err := json.Unmarshal(body, &got); err != nil || code != http.StatusOK || !reflect.DeepEqual(got, want) {
		t.Errorf("GET faults: %d %s", code, body)
	}
	for _, bad := range []string{`{"status_500_ratio":1.5}`, `{"latency_ms":-1}`, `{"status_429":1}`, `{`} {
		if code, body := e.control(t, http.MethodPost, "/sim/v1/faults", bad); code != http.StatusBadRequest {
			t.Errorf("POST faults %s: %d %s, want 400", bad, code, body)
		}
	}

	e.sim.SetFaults(twiliosim.Faults{})
	if _, err := e.sim.AddNumber("+14155550150", "https://example.invalid/sms"); err != nil {
		t.Fatal(err)
	}
	createVia(t, e, "+14155550100", twiliosim.MagicFrom, "before reset", "")
	e.sim.SetFaults(want)
	if code, body := e.control(t, http.MethodPost, "/sim/v1/reset", ""); code != http.StatusOK {
		t.Fatalf("reset: %d %s", code, body)
	}
	if n := len(e.sim.Messages()); n != 0 {
		t.Errorf("%d messages after reset", n)
	}
	if f := e.sim.Faults(); !reflect.DeepEqual(f, twiliosim.Faults{}) {
		t.Errorf("faults after reset: %+v", f)
	}
	if !slices.ContainsFunc(e.sim.Numbers(), func(n twiliosim.Number) bool {
		return n.PhoneNumber == "+14155550150" && n.SMSURL == "https://example.invalid/sms"
	}) {
		t.Errorf("numbers after reset: %+v", e.sim.Numbers())
	}
}

func TestControlMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	sid := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "listed", "")
	createVia(t, e, "+14155550101", twiliosim.MagicFrom, "other", "")
	waitStatus(t, e.sim, sid, "delivered")
	code, body := e.control(t, http.MethodGet, "/sim/v1/messages?to=%2B14155550100", "")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var out struct {
		Messages []map[string]any `json:"messages"`
	}
	mustJSON(t, body, &out)
	if len(out.Messages) != 1 {
		t.Fatalf("%d messages, want 1: %s", len(out.Messages), body)
	}
	m := out.Messages[0]
	for k, v := range map[string]any{
		"sid": sid, "to": "+14155550100", "from": twiliosim.MagicFrom, "body": "listed",
		"status": "delivered", "error_code": json.Number("0"), "num_segments": json.Number("1"),
		"direction": "outbound-api",
	} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["date_created"]; !ok {
		t.Errorf("no date_created: %s", body)
	}
}
