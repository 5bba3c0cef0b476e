package twiliosim_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

func createVia(t *testing.T, e *env, to, from, body, callback string) string {
	t.Helper()
	p := &api.CreateMessageParams{}
	p.SetTo(to).SetFrom(from).SetBody(body)
	if callback != "" {
		p.SetStatusCallback(callback)
	}
	m, err := e.account(t).Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	return *m.Sid
}

func statuses(rs []received) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Params.Get("MessageStatus"))
	}
	return out
}

func TestLifecycleCallbacks(t *testing.T) {
	t.Parallel()
	// One worker keeps the posts in lifecycle order, so the order can be asserted.
	e := newEnv(t, twiliosim.Config{CallbackWorkers: 1, SendingDelay: 20 * time.Millisecond,
		SentDelay: 20 * time.Millisecond, DeliveredDelay: 20 * time.Millisecond})
	rcv := newReceiver(t, e.sim)
	cbURL := rcv.srv.URL + "/webhooks/twilio/status?message_id=abc%20def&x=1"
	sid := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "lifecycle", cbURL)

	eventually(t, 5*time.Second, "three callbacks", func() bool { return len(rcv.forSID(sid)) >= 3 })
	got := rcv.forSID(sid)
	if want := []string{"sending", "sent", "delivered"}; !slices.Equal(statuses(got), want) {
		t.Fatalf("callback statuses %v, want %v (no callback for the initial queued)", statuses(got), want)
	}
	tokens := map[string]bool{}
	for _, cb := range got {
		st := cb.Params.Get("MessageStatus")
		if !cb.SigValid {
			t.Errorf("%s: invalid X-Twilio-Signature", st)
		}
		if cb.Path != "/webhooks/twilio/status" || cb.Params.Get("message_id") != "abc def" {
			t.Errorf("%s: posted to %s with query %v", st, cb.Path, cb.Params)
		}
		for k, v := range map[string]string{
			"MessageSid": sid, "SmsSid": sid, "SmsStatus": st, "AccountSid": e.sim.AccountSID(),
			"From": twiliosim.MagicFrom, "To": "+14155550100", "ApiVersion": "2010-04-01",
		} {
			if cb.Params.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", st, k, cb.Params.Get(k), v)
			}
		}
		if _, ok := cb.Params["MessagingServiceSid"]; ok {
			t.Errorf("%s: MessagingServiceSid sent without a Messaging Service", st)
		}
		if _, ok := cb.Params["ErrorCode"]; ok {
			t.Errorf("%s: ErrorCode on a successful status", st)
		}
		dlr := cb.Params.Get("RawDlrDoneDate")
		if st == "delivered" {
			if !regexp.MustCompile(`^\d{10}$`).MatchString(dlr) {
				t.Errorf("delivered: RawDlrDoneDate %q, want YYMMDDhhmm", dlr)
			}
		} else if dlr != "" {
			t.Errorf("%s: RawDlrDoneDate %q on a non-final status", st, dlr)
		}
		if cb.Token == "" || tokens[cb.Token] {
			t.Errorf("%s: idempotency token %q missing or reused", st, cb.Token)
		}
		tokens[cb.Token] = true
	}
	m := waitStatus(t, e.sim, sid, "delivered")
	if m.ErrorCode != 0 || m.DateSent == nil {
		t.Errorf("delivered message: %+v", m)
	}
}

func TestLifecycleFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rcv := newReceiver(t, e.sim)

	e.sim.SetFaults(twiliosim.Faults{UndeliveredRatio: 1, UndeliveredCode: 30005})
	und := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "x", rcv.srv.URL+"/s")
	m := waitStatus(t, e.sim, und, "undelivered")
	if m.ErrorCode != 30005 || m.ErrorMessage != "Unknown destination handset" {
		t.Errorf("undelivered: %d %q", m.ErrorCode, m.ErrorMessage)
	}
	eventually(t, 5*time.Second, "undelivered callback", func() bool {
		return slices.Contains(statuses(rcv.forSID(und)), "undelivered")
	})
	for _, cb := range rcv.forSID(und) {
		if cb.Params.Get("MessageStatus") == "undelivered" &&
			(cb.Params.Get("ErrorCode") != "30005" || cb.Params.Get("RawDlrDoneDate") == "") {
			t.Errorf("undelivered callback: %v", cb.Params)
		}
	}

	e.sim.SetFaults(twiliosim.Faults{FailedRatio: 1})
	failed := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "x", rcv.srv.URL+"/s")
	if m := waitStatus(t, e.sim, failed, "failed"); m.ErrorCode != 30008 {
		t.Errorf("failed: code %d", m.ErrorCode)
	}
	eventually(t, 5*time.Second, "failed callback", func() bool {
		return slices.Equal(statuses(rcv.forSID(failed)), []string{"sending", "failed"})
	})
}

func TestValidityPeriodExpires(t *testing.T) {
	t.Parallel()
	// Messages wait 2 s in the queue; a 1 s validity period runs out first.
	e := newEnv(t, twiliosim.Config{SendingDelay: 2 * time.Second})
	rcv := newReceiver(t, e.sim)
	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetBody("late").SetValidityPeriod(1).SetStatusCallback(rcv.srv.URL + "/s")
	m, err := e.account(t).Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	got := waitStatus(t, e.sim, *m.Sid, "failed")
	if got.ErrorCode != 30036 {
		t.Errorf("expired message: error %d, want 30036", got.ErrorCode)
	}
	eventually(t, 5*time.Second, "failed callback", func() bool { return len(rcv.forSID(*m.Sid)) == 1 })
	if cb := rcv.forSID(*m.Sid)[0]; cb.Params.Get("MessageStatus") != "failed" || cb.Params.Get("ErrorCode") != "30036" {
		t.Errorf("expiry callback: %v", cb.Params)
	}

	for _, v := range []int{0, 36001} {
		p := &api.CreateMessageParams{}
		p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetBody("x").SetValidityPeriod(v)
		_, err := e.account(t).Api.CreateMessage(p)
		restError(t, err, 90007, http.StatusBadRequest)
	}
}

func TestCallbackRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{CallbackWorkers: 1})
	rcv := newReceiver(t, e.sim)
	// Every first post of a status fails; with "#rp=5xx" the retry succeeds with the same token
	// and signature.
	var mu sync.Mutex
	failedOnce := map[string]bool{}
	rcv.answer = func(_ int, r *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		st := r.PostForm.Get("MessageStatus")
		if !failedOnce[st] {
			failedOnce[st] = true
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	sid := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "retry", rcv.srv.URL+"/s#rp=5xx")
	eventually(t, 5*time.Second, "six posts", func() bool { return len(rcv.forSID(sid)) == 6 })
	byStatus := map[string][]received{}
	for _, cb := range rcv.forSID(sid) {
		st := cb.Params.Get("MessageStatus")
		byStatus[st] = append(byStatus[st], cb)
		if !cb.SigValid {
			t.Errorf("%s: invalid signature", st)
		}
	}
	for st, cbs := range byStatus {
		if len(cbs) != 2 || cbs[0].Token != cbs[1].Token {
			t.Errorf("%s: %d posts, tokens %q/%q; want 2 with one token", st, len(cbs), cbs[0].Token, cbs[len(cbs)-1].Token)
		}
	}
	eventually(t, 5*time.Second, "stats", func() bool {
		s := e.sim.Stats()
		return s.CallbacksDelivered == 3 && s.CallbackAttemptsFailed == 3
	})

	// "#rc=0" turns retries off; a receiver that always fails gets each status once.
	rcv2 := newReceiver(t, e.sim)
	rcv2.answer = func(int, *http.Request) int { return http.StatusInternalServerError }
	sid2 := createVia(t, e, "+14155550100", twiliosim.MagicFrom, "no retry", rcv2.srv.URL+"/s#rc=0")
	eventually(t, 5*time.Second, "abandoned callbacks", func() bool { return e.sim.Stats().CallbacksAbandoned == 3 })
	if n := len(rcv2.forSID(sid2)); n != 3 {
		t.Errorf("%d posts with #rc=0, want 3", n)
	}
	for _, cb := range rcv2.forSID(sid2) {
		if !cb.SigValid || strings.Contains(cb.Path, "#") {
			t.Errorf("fragment must be neither sent nor signed: %s valid=%v", cb.Path, cb.SigValid)
		}
	}
}

func TestMessagingServiceCallbacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{CallbackWorkers: 1, Services: []twiliosim.ServiceConfig{svc(3, twiliosim.MagicFrom)}})
	rcv := newReceiver(t, e.sim)
	mg := "MG" + fmt.Sprintf("%032x", 3)
	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetMessagingServiceSid(mg).SetBody("svc").SetStatusCallback(rcv.srv.URL + "/s")
	m, err := e.account(t).Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "four callbacks", func() bool { return len(rcv.forSID(*m.Sid)) == 4 })
	got := rcv.forSID(*m.Sid)
	if want := []string{"queued", "sending", "sent", "delivered"}; !slices.Equal(statuses(got), want) {
		t.Errorf("statuses %v, want %v (accepted is the initial status)", statuses(got), want)
	}
	for _, cb := range got {
		if cb.Params.Get("MessagingServiceSid") != mg || cb.Params.Get("From") != twiliosim.MagicFrom || !cb.SigValid {
			t.Errorf("callback %v valid=%v", cb.Params, cb.SigValid)
		}
	}
}

func TestScheduledReleaseFollowsInjectedClock(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	e := newEnv(t, twiliosim.Config{Now: clock, CallbackWorkers: 1, Services: []twiliosim.ServiceConfig{svc(4, "+14155550177")}})
	rcv := newReceiver(t, e.sim)
	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetMessagingServiceSid("MG" + fmt.Sprintf("%032x", 4)).SetBody("at ten").
		SetScheduleType("fixed").SetSendAt(clock().Add(time.Hour)).SetStatusCallback(rcv.srv.URL + "/s")
	m, err := e.account(t).Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.sim.Message(*m.Sid); got.Status != "scheduled" {
		t.Fatalf("status %s", got.Status)
	}
	mu.Lock()
	now = now.Add(61 * time.Minute)
	mu.Unlock()
	d := waitStatus(t, e.sim, *m.Sid, "delivered")
	if d.DateSent == nil || !d.DateSent.Equal(clock()) {
		t.Errorf("date_sent %v, want the release time %v", d.DateSent, clock())
	}
	eventually(t, 5*time.Second, "callbacks", func() bool { return len(rcv.forSID(*m.Sid)) == 4 })
	if got := statuses(rcv.forSID(*m.Sid)); !slices.Equal(got, []string{"queued", "sending", "sent", "delivered"}) {
		t.Errorf("statuses %v", got)
	}
	// Released with a real sender: in the resource and in every callback.
	if d.From != "+14155550177" {
		t.Errorf("released from %q, want the service's number", d.From)
	}
	for _, cb := range rcv.forSID(*m.Sid) {
		if cb.Params.Get("From") != "+14155550177" {
			t.Errorf("callback %s From = %q", cb.Params.Get("MessageStatus"), cb.Params.Get("From"))
		}
	}
}

func TestCloseAbortsHangingCallbacks(t *testing.T) {
	t.Parallel()
	sim := twiliosim.New(twiliosim.Config{SendingDelay: time.Millisecond, SentDelay: time.Millisecond, DeliveredDelay: time.Millisecond})
	arrived := make(chan struct{}, 10)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client going away
		arrived <- struct{}{}
		<-r.Context().Done() // never answers
	}))
	defer func() {
		hang.CloseClientConnections()
		hang.Close()
	}()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	e := &env{sim: sim, srv: srv}
	createVia(t, e, "+14155550100", twiliosim.MagicFrom, "hang", hang.URL+"/s")
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("no callback arrived")
	}
	done := make(chan struct{})
	go func() {
		sim.Close()
		sim.Close() // idempotent
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a callback receiver hung")
	}
}
