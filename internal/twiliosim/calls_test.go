package twiliosim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

func (e *env) callsPath() string { return "/2010-04-01/Accounts/" + e.sim.AccountSID() + "/Calls.json" }

// app is a voice application: it answers each TwiML request from a script by path, records
// every request with its signature check, and the status callbacks.
type app struct {
	t   *testing.T
	sim *twiliosim.Simulator
	url string

	mu        sync.Mutex
	requests  []url.Values
	paths     []string
	callbacks []url.Values
	badSig    int
	docs      map[string]string
}

func newApp(t *testing.T, sim *twiliosim.Simulator, docs map[string]string) *app {
	a := &app{t: t, sim: sim, docs: docs}
	rc := newReceiver(t, sim)
	rc.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		full := "http://" + r.Host + r.URL.RequestURI()
		a.mu.Lock()
		defer a.mu.Unlock()
		if !twiliosig.Valid(sim.AuthToken(), full, r.PostForm, r.Header.Get(twiliosig.Header)) {
			a.badSig++
		}
		if r.URL.Path == "/status" {
			a.callbacks = append(a.callbacks, r.PostForm)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		a.requests = append(a.requests, r.PostForm)
		a.paths = append(a.paths, r.URL.RequestURI())
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, a.docs[r.URL.Path])
	})
	a.url = rc.srv.URL
	return a
}

func (a *app) snapshot() ([]url.Values, []string, []url.Values, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.requests), slices.Clone(a.paths), slices.Clone(a.callbacks), a.badSig
}

func (e *env) createCall(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	status, body := e.do(t, http.MethodPost, e.callsPath(), form)
	if status == http.StatusCreated {
		return status, validate(t, "/2010-04-01/Accounts/{AccountSid}/Calls.json", "post", status, body)
	}
	var v map[string]any
	mustJSON(t, body, &v)
	return status, v
}

func waitCallStatus(t *testing.T, sim *twiliosim.Simulator, sid string, statuses ...string) twiliosim.Call {
	t.Helper()
	var c twiliosim.Call
	eventually(t, 10*time.Second, "call "+sid+" to be "+strings.Join(statuses, "/"), func() bool {
		c, _ = sim.Call(sid)
		return slices.Contains(statuses, c.Status)
	})
	return c
}

// TestCallFlowThroughCallee: the callee fetches the TwiML, hears the Say, answers the Gather
// from its script, follows the action and the Redirect, and hangs up; every request is signed;
// the status callbacks come for each requested event with a growing SequenceNumber.
func TestCallFlowThroughCallee(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	a := newApp(t, e.sim, map[string]string{
		"/answer":   `<Response><Say>Hello</Say><Gather action="/menu" numDigits="1" timeout="3"><Say>Press 1</Say></Gather><Say>Bye</Say></Response>`,
		"/menu":     `<Response><Redirect>/next?x=1</Redirect></Response>`,
		"/next":     `<Response><Dial action="/dialed"><Number>+14155550199</Number></Dial></Response>`,
		"/dialed":   `<Response><Record action="/recorded" maxLength="10"/></Response>`,
		"/recorded": `<Response><Enqueue action="/left">desk</Enqueue></Response>`,
		"/left":     `<Response><Pause length="1"/><Hangup/></Response>`,
	})
	to := "+14155550150"
	if err := e.sim.ScriptCalls(twiliosim.CallScript{Number: to, Inputs: []twiliosim.CalleeInput{{Digits: "1"}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.ScriptCalls(twiliosim.CallScript{Number: "+14155550199", Outcome: twiliosim.OutcomeBusy}); err != nil {
		t.Fatal(err)
	}
	status, c := e.createCall(t, url.Values{"To": {to}, "From": {twiliosim.MagicFrom}, "Url": {a.url + "/answer"},
		"StatusCallback": {a.url + "/status"}, "StatusCallbackEvent": {"initiated ringing", "answered", "completed"}, "MachineDetection": {"Enable"}})
	if status != http.StatusCreated || c["status"] != "queued" {
		t.Fatalf("create: %d %v", status, c)
	}
	sid := c["sid"].(string)
	sc := waitCallStatus(t, e.sim, sid, "completed")
	reqs, paths, _, bad := a.snapshot()
	wantPaths := []string{"/answer", "/menu", "/next?x=1", "/dialed", "/recorded", "/left"}
	if !slices.Equal(paths, wantPaths) || bad != 0 {
		t.Fatalf("paths %v (bad signatures %d), want %v", paths, bad, wantPaths)
	}
	if reqs[1].Get("Digits") != "1" || reqs[0].Get("AnsweredBy") != "human" || reqs[3].Get("DialCallStatus") != "busy" ||
		!strings.HasPrefix(reqs[4].Get("RecordingSid"), "RE") || reqs[5].Get("QueueResult") != "bridged" {
		t.Fatalf("request params: %v", reqs)
	}
	if want := []string{"say: Hello", "say: Press 1", "press 1", "redirect", "dial ********0199: busy", "record", "enqueue: desk", "pause: 1", "hangup"}; !slices.Equal(sc.Heard, want) {
		t.Fatalf("heard %q, want %q", sc.Heard, want)
	}
	eventually(t, 5*time.Second, "4 callbacks", func() bool { _, _, cbs, _ := a.snapshot(); return len(cbs) == 4 })
	_, _, cbs, bad := a.snapshot()
	seen := map[string]string{}
	for _, cb := range cbs {
		seen[cb.Get("SequenceNumber")] = cb.Get("CallStatus")
		if cb.Get("CallSid") != sid || cb.Get("CallbackSource") != "call-progress-events" {
			t.Errorf("callback %v", cb)
		}
	}
	if seen["0"] != "initiated" || seen["1"] != "ringing" || seen["2"] != "in-progress" || seen["3"] != "completed" || bad != 0 {
		t.Fatalf("callbacks by sequence %v (bad signatures %d)", seen, bad)
	}
	// GET validates against Twilio's schema, with the times the call ended.
	st, body := e.do(t, http.MethodGet, strings.TrimSuffix(e.callsPath(), ".json")+"/"+sid+".json", nil)
	got := validate(t, "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json", "get", st, body)
	if got["status"] != "completed" || got["end_time"] == nil || got["answered_by"] != "human" {
		t.Fatalf("fetched %v", got)
	}
}

// TestCallOutcomes: busy, no-answer, fail end before any TwiML is fetched; a machine is
// answered with AnsweredBy and never presses a key; silence falls through a Gather.
func TestCallOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{CallInputWait: 50 * time.Millisecond})
	a := newApp(t, e.sim, map[string]string{
		"/answer": `<Response><Gather action="/menu" timeout="1"><Say>Press 1</Say></Gather><Say>No answer</Say></Response>`,
	})
	for i, tc := range []struct{ outcome, status, answeredBy string }{
		{twiliosim.OutcomeBusy, "busy", ""}, {twiliosim.OutcomeNoAnswer, "no-answer", ""}, {twiliosim.OutcomeFail, "failed", ""},
		{twiliosim.OutcomeMachine, "completed", "machine_start"}, {twiliosim.OutcomeAnswer, "completed", "human"},
	} {
		to := fmt.Sprintf("+1415555016%d", i)
		if err := e.sim.ScriptCalls(twiliosim.CallScript{Number: to, Outcome: tc.outcome}); err != nil {
			t.Fatal(err)
		}
		_, c := e.createCall(t, url.Values{"To": {to}, "From": {twiliosim.MagicFrom}, "Url": {a.url + "/answer"}, "MachineDetection": {"Enable"}})
		sc := waitCallStatus(t, e.sim, c["sid"].(string), "completed", "busy", "no-answer", "failed")
		if sc.Status != tc.status || sc.AnsweredBy != tc.answeredBy {
			t.Errorf("%s: status %s answered by %q", tc.outcome, sc.Status, sc.AnsweredBy)
		}
		if tc.status == "completed" && !slices.Contains(sc.Heard, "silence") {
			t.Errorf("%s: heard %q", tc.outcome, sc.Heard)
		}
		if tc.status != "completed" && len(sc.Requests) != 0 {
			t.Errorf("%s: fetched %v", tc.outcome, sc.Requests)
		}
	}
}

// TestCallCreateValidation: Twilio's errors for missing or magic parameters; nothing is created.
func TestCallCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	ok := url.Values{"To": {"+14155550170"}, "From": {twiliosim.MagicFrom}, "Url": {"https://example.com/a"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range ok {
			f[kk] = vv
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	for _, tc := range []struct {
		form url.Values
		code int
	}{
		{with("To", ""), 21201}, {with("From", ""), 21213}, {with("Url", ""), 21205},
		{with("From", "+15005550001"), 21212}, {with("From", "+14155550999"), 21210},
		{with("To", "+15005550001"), 21217}, {with("To", "+15005550002"), 21214}, {with("To", "+15005550003"), 21215},
		{with("To", "+15005550004"), 21216}, {with("Timeout", "601"), 20001}, {with("MachineDetection", "Yes"), 20001},
		{with("StatusCallbackEvent", "hungup"), 20001}, {with("Twiml", strings.Repeat("x", 4001)), 21208},
	} {
		status, body := e.createCall(t, tc.form)
		if status != http.StatusBadRequest || fmt.Sprint(body["code"]) != fmt.Sprint(tc.code) {
			t.Errorf("%v: %d %v, want %d", tc.form, status, body, tc.code)
		}
	}
	if n := len(e.sim.Calls()); n != 0 {
		t.Fatalf("%d calls created by refused requests", n)
	}
}

// TestCallClientCancelAndHangUp: twilio-go creates, fetches and cancels a ringing call, and hangs
// up one in progress that waits at a Gather; input to a live call through the control API.
func TestCallClientCancelAndHangUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{CallRingDelay: 200 * time.Millisecond, CallInputWait: 20 * time.Second})
	a := newApp(t, e.sim, map[string]string{
		"/answer": `<Response><Gather action="/menu" timeout="10"><Say>Press</Say></Gather></Response>`,
		"/menu":   `<Response><Gather action="/menu" timeout="10"><Say>Again</Say></Gather></Response>`,
	})
	c := e.account(t)
	created, err := c.Api.CreateCall((&api.CreateCallParams{}).SetTo("+14155550180").SetFrom(twiliosim.MagicFrom).SetUrl(a.url + "/answer"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Api.UpdateCall(*created.Sid, (&api.UpdateCallParams{}).SetStatus("canceled")); err != nil {
		t.Fatal(err)
	}
	got, err := c.Api.FetchCall(*created.Sid, &api.FetchCallParams{})
	if err != nil || *got.Status != "canceled" {
		t.Fatalf("after cancel: %v %v", got.Status, err)
	}

	live, err := c.Api.CreateCall((&api.CreateCallParams{}).SetTo("+14155550181").SetFrom(twiliosim.MagicFrom).SetUrl(a.url + "/answer"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the gather", func() bool { sc, _ := e.sim.Call(*live.Sid); return slices.Contains(sc.Heard, "say: Press") })
	if st, body := e.control(t, http.MethodPost, "/sim/v1/calls/"+*live.Sid+"/input", `{"digits":"42"}`); st != 200 {
		t.Fatalf("input: %d %s", st, body)
	}
	eventually(t, 5*time.Second, "the second gather", func() bool { sc, _ := e.sim.Call(*live.Sid); return slices.Contains(sc.Heard, "say: Again") })
	if _, err := c.Api.UpdateCall(*live.Sid, (&api.UpdateCallParams{}).SetStatus("completed")); err != nil {
		t.Fatal(err)
	}
	sc := waitCallStatus(t, e.sim, *live.Sid, "completed")
	reqs, _, _, _ := a.snapshot()
	if len(reqs) != 2 || reqs[1].Get("Digits") != "42" || sc.Duration < 1 {
		t.Fatalf("requests %v, call %+v", reqs, sc)
	}
	if st, _ := e.control(t, http.MethodPost, "/sim/v1/calls/"+*live.Sid+"/input", `{"digits":"x"}`); st != 400 {
		t.Fatalf("bad input answered %d", st)
	}
}

// TestCallClientListFilters: twilio-go lists calls by To, From, Status and the StartTime and
// EndTime filters, newest first; a call that never started (busy: no start_time) matches no
// StartTime filter, as on Twilio, while a list by To and From alone holds it (what FindCalls
// reconciliation relies on).
func TestCallClientListFilters(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	e := newEnv(t, twiliosim.Config{Numbers: []string{"+14155550299"}, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}})
	a := newApp(t, e.sim, map[string]string{"/answer": `<Response><Say>Hi</Say></Response>`})
	const to, busy = "+14155550290", "+14155550291"
	if err := e.sim.ScriptCalls(twiliosim.CallScript{Number: busy, Outcome: twiliosim.OutcomeBusy}); err != nil {
		t.Fatal(err)
	}
	c := e.account(t)
	place := func(day int, to, from string) string {
		mu.Lock()
		now = time.Date(2024, 3, day, 12, 0, 0, 0, time.UTC)
		mu.Unlock()
		created, err := c.Api.CreateCall((&api.CreateCallParams{}).SetTo(to).SetFrom(from).SetUrl(a.url + "/answer"))
		if err != nil {
			t.Fatal(err)
		}
		waitCallStatus(t, e.sim, *created.Sid, "completed", "busy")
		return *created.Sid
	}
	day1, day3 := place(1, to, twiliosim.MagicFrom), place(3, to, twiliosim.MagicFrom)
	other := place(3, to, "+14155550299")
	never := place(4, busy, twiliosim.MagicFrom)

	list := func(p *api.ListCallParams) []string {
		t.Helper()
		got, err := c.Api.ListCall(p)
		if err != nil {
			t.Fatal(err)
		}
		var sids []string
		for _, x := range got {
			sids = append(sids, *x.Sid)
		}
		return sids
	}
	for name, tc := range map[string]struct {
		p    *api.ListCallParams
		want []string
	}{
		"To and From, newest first":   {(&api.ListCallParams{}).SetTo(to).SetFrom(twiliosim.MagicFrom), []string{day3, day1}},
		"From":                        {(&api.ListCallParams{}).SetFrom("+14155550299"), []string{other}},
		"Status":                      {(&api.ListCallParams{}).SetStatus("busy"), []string{never}},
		"a call never started, by To": {(&api.ListCallParams{}).SetTo(busy), []string{never}},
		"StartTime> misses it":        {(&api.ListCallParams{}).SetTo(busy).SetStartTimeAfter(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)), nil},
		"StartTime>":                  {(&api.ListCallParams{}).SetTo(to).SetStartTimeAfter(time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)), []string{other, day3}},
		"StartTime<":                  {(&api.ListCallParams{}).SetTo(to).SetStartTimeBefore(time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)), []string{day1}},
		"StartTime (that day)":        {(&api.ListCallParams{}).SetStartTime(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)), []string{day1}},
		"EndTime>":                    {(&api.ListCallParams{}).SetEndTimeAfter(time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC)), []string{never, other, day3}},
	} {
		if got := list(tc.p); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
	// The raw YYYY-MM-DD form of Twilio's docs, and a bad date.
	code, body := e.do(t, http.MethodGet, e.callsPath()+"?StartTime>=2024-03-03", nil)
	var out struct{ Calls []map[string]any }
	mustJSON(t, body, &out)
	if code != http.StatusOK || len(out.Calls) != 2 {
		t.Errorf("StartTime>=2024-03-03: %d, %d calls, want 2", code, len(out.Calls))
	}
	if code, _ := e.do(t, http.MethodGet, e.callsPath()+"?StartTime>=March", nil); code != http.StatusBadRequest {
		t.Errorf("a bad StartTime answered %d, want 400", code)
	}
}
