package twiliosim_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// Live call control as Twilio's Call resource documents it: a Url or Twiml update interrupts
// the running Gather at once; a hang-up answers completed, a cancel canceled.
func TestLiveCallControl(t *testing.T) {
	t.Parallel()
	// A silent callee would wait 30 s at each Gather: only an interruption ends it sooner.
	e := newEnv(t, twiliosim.Config{CallInputWait: 30 * time.Second})
	a := newApp(t, e.sim, map[string]string{
		"/answer": `<Response><Gather action="/menu" timeout="30"><Say>Press</Say></Gather></Response>`,
		"/new":    `<Response><Say>Moved</Say><Gather timeout="30"><Say>Again</Say></Gather></Response>`,
	})
	rc := e.account(t)
	heard := func(sid, line string) func() bool {
		return func() bool { c, _ := e.sim.Call(sid); return slices.Contains(c.Heard, line) }
	}
	live, err := rc.Api.CreateCall((&api.CreateCallParams{}).SetTo("+14155550180").SetFrom(twiliosim.MagicFrom).SetUrl(a.url + "/answer"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the first Gather", heard(*live.Sid, "say: Press"))
	if _, err := rc.Api.UpdateCall(*live.Sid, (&api.UpdateCallParams{}).SetUrl(a.url+"/new")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the Url update to interrupt the Gather", heard(*live.Sid, "say: Moved"))
	if _, err := rc.Api.UpdateCall(*live.Sid, (&api.UpdateCallParams{}).SetTwiml("<Response><Say>Inline</Say><Gather timeout=\"30\"/></Response>")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the Twiml update", heard(*live.Sid, "say: Inline"))
	done, err := rc.Api.UpdateCall(*live.Sid, (&api.UpdateCallParams{}).SetStatus("completed"))
	if err != nil || *done.Status != "completed" || done.EndTime == nil {
		t.Fatalf("hang-up answered %v %v", done.Status, err)
	}

	ringing, err := rc.Api.CreateCall((&api.CreateCallParams{}).SetTo("+14155550181").SetFrom(twiliosim.MagicFrom).SetUrl(a.url + "/answer"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := rc.Api.UpdateCall(*ringing.Sid, (&api.UpdateCallParams{}).SetStatus("canceled"))
	if err != nil || *c.Status != "canceled" {
		t.Fatalf("cancel answered %v %v", c.Status, err)
	}
}

// Method=GET and StatusCallbackMethod=GET are honoured (signed as Twilio signs GET webhooks);
// the initiated event posts CallStatus=initiated; ListCall honours PageSize.
func TestCallMethodsEventsAndPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rcv := newReceiver(t, e.sim)
	rcv.reply = `<Response><Say>Hi</Say></Response>`
	rc := e.account(t)
	p := (&api.CreateCallParams{}).SetTo("+14155550180").SetFrom(twiliosim.MagicFrom).SetUrl(rcv.srv.URL + "/twiml").
		SetMethod("GET").SetStatusCallback(rcv.srv.URL + "/status").SetStatusCallbackMethod("GET").
		SetStatusCallbackEvent([]string{"initiated", "ringing", "answered", "completed"})
	call, err := rc.Api.CreateCall(p)
	if err != nil {
		t.Fatal(err)
	}
	waitCallStatus(t, e.sim, *call.Sid, "completed")
	eventually(t, 5*time.Second, "5 requests", func() bool { return len(rcv.all()) == 5 })
	statuses := map[string]bool{}
	for _, r := range rcv.all() {
		if r.Method != http.MethodGet || !r.SigValid || r.Params.Get("CallSid") != *call.Sid {
			t.Errorf("%s %s: valid=%v params=%v", r.Method, r.Path, r.SigValid, r.Params)
		}
		if r.Path == "/status" {
			statuses[r.Params.Get("CallStatus")] = true
		}
	}
	for _, st := range []string{"initiated", "ringing", "in-progress", "completed"} {
		if !statuses[st] {
			t.Errorf("no callback with CallStatus=%s: %v", st, statuses)
		}
	}

	for range 2 {
		if _, err := rc.Api.CreateCall((&api.CreateCallParams{}).SetTo("+14155550182").SetFrom(twiliosim.MagicFrom).SetTwiml("<Response/>")); err != nil {
			t.Fatal(err)
		}
	}
	page, err := rc.Api.PageCall((&api.ListCallParams{}).SetPageSize(2), "", "")
	if err != nil || len(page.Calls) != 2 || page.NextPageUri == nil {
		t.Fatalf("page of 2: %d calls, next %v, %v", len(page.Calls), page.NextPageUri, err)
	}
	all, err := rc.Api.ListCall((&api.ListCallParams{}).SetPageSize(2))
	if err != nil || len(all) != 3 {
		t.Fatalf("all calls by pages of 2: %d %v", len(all), err)
	}
}

// The REST and callback faults apply to calls too; a 429 carries Retry-After.
func TestCallFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rc := e.account(t)
	e.sim.SetFaults(twiliosim.Faults{Status429Ratio: 1})
	_, err := rc.Api.CreateCall((&api.CreateCallParams{}).SetTo("+14155550180").SetFrom(twiliosim.MagicFrom).SetTwiml("<Response/>"))
	restError(t, err, 20429, http.StatusTooManyRequests)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+e.callsPath(), nil)
	req.SetBasicAuth(e.sim.AccountSID(), e.sim.AuthToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("429: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if len(e.sim.Calls()) != 0 {
		t.Fatal("a 429 placed a call")
	}

	rcv := newReceiver(t, e.sim)
	e.sim.SetFaults(twiliosim.Faults{CallbackDuplicates: 1})
	call, err := rc.Api.CreateCall((&api.CreateCallParams{}).SetTo("+14155550180").SetFrom(twiliosim.MagicFrom).
		SetTwiml("<Response/>").SetStatusCallback(rcv.srv.URL + "/status"))
	if err != nil {
		t.Fatal(err)
	}
	waitCallStatus(t, e.sim, *call.Sid, "completed")
	eventually(t, 5*time.Second, "the completed callback twice", func() bool { return len(rcv.all()) == 2 })
	if got := rcv.all(); got[0].Token != got[1].Token {
		t.Fatal("duplicates carry different idempotency tokens")
	}
	e.sim.SetFaults(twiliosim.Faults{CallbackDropRatio: 1})
	call, err = rc.Api.CreateCall((&api.CreateCallParams{}).SetTo("+14155550180").SetFrom(twiliosim.MagicFrom).
		SetTwiml("<Response/>").SetStatusCallback(rcv.srv.URL + "/status"))
	if err != nil {
		t.Fatal(err)
	}
	waitCallStatus(t, e.sim, *call.Sid, "completed")
	eventually(t, 5*time.Second, "the dropped callback counted", func() bool { return e.sim.Stats().CallbacksDropped == 1 })
	if n := len(rcv.all()); n != 2 {
		t.Fatalf("%d callbacks, the third was to be dropped", n)
	}
}

// A 500 on a call create is ambiguous as on a message create (some calls were placed, some not),
// and a timeout holds the answer of a call that was placed.
func TestCallFaults500AndTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rc := e.account(t)
	e.sim.SetFaults(twiliosim.Faults{Status500Ratio: 1})
	const tries = 24
	for range tries {
		_, err := rc.Api.CreateCall((&api.CreateCallParams{}).SetTo("+14155550181").SetFrom(twiliosim.MagicFrom).SetTwiml("<Response/>"))
		restError(t, err, 20500, http.StatusInternalServerError)
	}
	if n := len(e.sim.Calls()); n == 0 || n == tries {
		t.Fatalf("%d of %d calls answered 500 were placed; a 500 must be ambiguous", n, tries)
	}

	e.sim.SetFaults(twiliosim.Faults{TimeoutRatio: 1, TimeoutMS: 2000})
	before := len(e.sim.Calls())
	start := time.Now()
	_, err := e.clientWithTimeout(t, e.sim.AccountSID(), e.sim.AuthToken(), 300*time.Millisecond).Api.
		CreateCall((&api.CreateCallParams{}).SetTo("+14155550182").SetFrom(twiliosim.MagicFrom).SetTwiml("<Response/>"))
	if err == nil || time.Since(start) > 1500*time.Millisecond {
		t.Fatalf("timeout fault: err %v after %v, want the client's own timeout", err, time.Since(start))
	}
	eventually(t, 5*time.Second, "the timed-out call placed", func() bool { return len(e.sim.Calls()) == before+1 })
}
