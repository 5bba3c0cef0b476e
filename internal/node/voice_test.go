package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

var (
	flowsDir     = filepath.Join("..", "..", "examples", "flows")
	templatesDir = filepath.Join("..", "..", "examples", "templates")
)

// appointmentVars are the example flow's variables; none of them may show up in a URL.
var appointmentVars = map[string]string{
	"clinic": "Northside Clinic", "date": "Tuesday March 5 at 3:30 PM", "front_desk": "+15005550020",
	"patient_name": "Ana Lopez",
}

func voiceEnv() map[string]string {
	return map[string]string{
		"SWITCHBOARD_FLOWS_DIR": flowsDir, "SWITCHBOARD_TEMPLATES_DIR": templatesDir,
		"SWITCHBOARD_CALLS_PER_SECOND": "100", "SWITCHBOARD_CALL_QUIET_HOURS": "off", // calls at any hour of the test run
	}
}

// apiDo calls the node's API with the test key and decodes the answer into out.
func apiDo(t *testing.T, base, secret, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

func createCall(t *testing.T, base, secret string, body map[string]any) *switchboard.Call {
	t.Helper()
	var c switchboard.Call
	if code := apiDo(t, base, secret, http.MethodPost, "/v1/calls", body, &c); code != http.StatusAccepted {
		t.Fatalf("POST /v1/calls answered %d: %+v", code, c)
	}
	return &c
}

func waitCall(t *testing.T, base, secret, id string, done func(*switchboard.Call) bool) *switchboard.Call {
	t.Helper()
	var c switchboard.Call
	waitFor(t, 20*time.Second, "call "+id, func() bool {
		c = switchboard.Call{}
		apiDo(t, base, secret, http.MethodGet, "/v1/calls/"+id, nil, &c)
		return done(&c)
	})
	return &c
}

func terminal(c *switchboard.Call) bool { return c.Status.Terminal() }

// assertNoPersonalData fails when any URL the simulator requested or posted to for call sid
// carries a phone number or a variable's value, raw or escaped.
func assertNoPersonalData(t *testing.T, sc twiliosim.Call, to, from string) {
	t.Helper()
	urls := append(slices.Clone(sc.Requests), sc.StatusCallback, sc.URL)
	secrets := []string{to, from, strings.TrimPrefix(to, "+"), strings.TrimPrefix(from, "+")}
	for _, v := range appointmentVars {
		secrets = append(secrets, v, strings.TrimPrefix(v, "+"))
	}
	for _, u := range urls {
		dec, _ := url.QueryUnescape(u)
		for _, s := range secrets {
			if strings.Contains(u, s) || strings.Contains(dec, s) || strings.Contains(u, url.QueryEscape(s)) {
				t.Errorf("URL %s carries personal data %q", u, s)
			}
		}
	}
	if sc.StartTime != nil && len(sc.Requests) == 0 {
		t.Errorf("the answered call requested no URL at all")
	}
}

func simCall(t *testing.T, sim *twiliosim.Simulator, sid string) twiliosim.Call {
	t.Helper()
	sc, ok := sim.Call(sid)
	if !ok {
		t.Fatalf("the simulator has no call %s", sid)
	}
	return sc
}

// TestAppointmentFlowBranches runs the example appointment-confirmation flow end to end through
// the API, the simulator's Calls API and its callee, one call per branch.
func TestAppointmentFlowBranches(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{env: voiceEnv()})
	sim := n.Simulator()
	cases := []struct {
		name, to     string
		script       twiliosim.CallScript
		extraScripts []twiliosim.CallScript
		machine      bool
		status       switchboard.CallStatus
		outcome      string
		path         []string
		results      []string
		fallback     bool
		heard        []string
		// texted is the template a state of the flow texts (State.SMS); recorded: a voicemail.
		texted   string
		recorded bool
	}{
		{name: "confirm", to: "+14155550101", script: twiliosim.CallScript{Inputs: []twiliosim.CalleeInput{{Digits: "1"}}},
			status: switchboard.CallCompleted, outcome: "confirmed", path: []string{"greeting", "menu", "confirmed"}, results: []string{"matched"},
			heard: []string{"say: Hello, this is Northside Clinic calling about your appointment on Tuesday March 5 at 3:30 PM.", "press 1", "say: Thank you. Your appointment is confirmed. Goodbye.", "hangup"}},
		{name: "reschedule by speech", to: "+14155550102", script: twiliosim.CallScript{Inputs: []twiliosim.CalleeInput{{Speech: "I need to Reschedule please"}}},
			status: switchboard.CallCompleted, outcome: "reschedule", path: []string{"greeting", "menu", "reschedule"}, results: []string{"matched"},
			texted: "appointment_reschedule"},
		{name: "wrong key then reschedule", to: "+14155550103", script: twiliosim.CallScript{Inputs: []twiliosim.CalleeInput{{Digits: "7"}, {Digits: "2"}}},
			status: switchboard.CallCompleted, outcome: "reschedule", path: []string{"greeting", "menu", "menu", "reschedule"}, results: []string{"no_match", "matched"},
			texted: "appointment_reschedule"},
		{name: "operator transfer, front desk busy, backup answers", to: "+14155550104",
			script:       twiliosim.CallScript{Inputs: []twiliosim.CalleeInput{{Digits: "0"}}},
			extraScripts: []twiliosim.CallScript{{Number: "+15005550020", Outcome: twiliosim.OutcomeBusy}},
			status:       switchboard.CallCompleted, outcome: "operator", path: []string{"greeting", "menu", "operator"}, results: []string{"matched"},
			heard: []string{"dial ********0020: busy", "dial ********0010: completed"}},
		{name: "operator transfer, both lines busy, voicemail", to: "+14155550108",
			script:       twiliosim.CallScript{Inputs: []twiliosim.CalleeInput{{Digits: "0"}}},
			extraScripts: []twiliosim.CallScript{{Number: "+15005550020", Outcome: twiliosim.OutcomeBusy}, {Number: "+15005550010", Outcome: twiliosim.OutcomeBusy}},
			status:       switchboard.CallCompleted, outcome: "goodbye", path: []string{"greeting", "menu", "operator", "voicemail", "goodbye"}, results: []string{"matched"},
			heard: []string{"record"}, recorded: true},
		{name: "no input twice", to: "+14155550105", script: twiliosim.CallScript{Inputs: []twiliosim.CalleeInput{{Timeout: true}, {Timeout: true}}},
			status: switchboard.CallCompleted, outcome: "no_response", path: []string{"greeting", "menu", "menu", "no_response"}, results: []string{"timeout", "timeout"},
			texted: "appointment_call_no_answer"},
		{name: "busy sends the SMS fallback", to: "+14155550106", script: twiliosim.CallScript{Outcome: twiliosim.OutcomeBusy},
			status: switchboard.CallBusy, fallback: true},
		{name: "machine sends the SMS fallback", to: "+14155550107", script: twiliosim.CallScript{Outcome: twiliosim.OutcomeMachine}, machine: true,
			status: switchboard.CallCompleted, outcome: "machine", fallback: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.script.Number = tc.to
			if err := sim.ScriptCalls(tc.script); err != nil {
				t.Fatal(err)
			}
			for _, sc := range tc.extraScripts {
				if err := sim.ScriptCalls(sc); err != nil {
					t.Fatal(err)
				}
			}
			c := createCall(t, n.URL(), n.secret, map[string]any{
				"to": tc.to, "flow": "appointment_confirmation", "variables": appointmentVars, "machine_detection": tc.machine,
			})
			c = waitCall(t, n.URL(), n.secret, c.ID, func(c *switchboard.Call) bool {
				return terminal(c) && (!tc.fallback || c.FallbackMessageID != "")
			})
			if c.Status != tc.status || c.Outcome != tc.outcome {
				t.Fatalf("status %s outcome %q, want %s %q; timeline %+v", c.Status, c.Outcome, tc.status, tc.outcome, c.Timeline)
			}
			if !slices.Equal(c.Path, tc.path) {
				t.Errorf("path %v, want %v", c.Path, tc.path)
			}
			var results []string
			for _, in := range c.Inputs {
				results = append(results, in.Result)
			}
			if !slices.Equal(results, tc.results) {
				t.Errorf("inputs %+v, want results %v", c.Inputs, tc.results)
			}
			// The timeline is monotonic: seq 1..n, times never decreasing, statuses forward only.
			var last switchboard.CallStatus
			for i, e := range c.Timeline {
				if e.Seq != i+1 || (i > 0 && e.At.Before(c.Timeline[i-1].At)) {
					t.Fatalf("timeline not monotonic at %d: %+v", i, c.Timeline)
				}
				if e.Type == switchboard.CallEventStatus {
					if last != "" && !last.CanMoveTo(e.Status) {
						t.Fatalf("status moved back from %s to %s", last, e.Status)
					}
					last = e.Status
				}
			}
			sc := simCall(t, sim, c.ProviderSID)
			assertNoPersonalData(t, sc, c.To, c.From)
			for _, h := range tc.heard {
				if !slices.Contains(sc.Heard, h) {
					t.Errorf("the callee did not hear/do %q; heard %q", h, sc.Heard)
				}
			}
			if tc.fallback {
				m, err := n.Store().GetMessage(context.Background(), c.FallbackMessageID)
				if err != nil {
					t.Fatal(err)
				}
				if m.To != tc.to || m.Template != "appointment_call_missed" || !strings.Contains(m.Body, "Northside Clinic") {
					t.Errorf("fallback message %+v", m)
				}
				n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
			} else if c.FallbackMessageID != "" {
				t.Errorf("unexpected fallback message %s", c.FallbackMessageID)
			}
			// What the call promised is texted (issue 15: "we will text you" sent nothing).
			if tc.texted != "" {
				if len(c.SMS) != 1 || c.SMS[0].Template != tc.texted || c.SMS[0].MessageID == "" {
					t.Fatalf("the call's texts %+v, want one from %s", c.SMS, tc.texted)
				}
				m := n.waitStatus(t, c.SMS[0].MessageID, 10*time.Second, switchboard.StatusDelivered)
				if m.To != tc.to || m.From != c.From || m.Template != tc.texted || !strings.Contains(m.Body, "Northside Clinic") ||
					!strings.Contains(m.Body, "Tuesday March 5") || m.Metadata["call_id"] != c.ID {
					t.Errorf("the call's text %+v", m)
				}
			} else if len(c.SMS) != 0 {
				t.Errorf("unexpected texts %+v", c.SMS)
			}
			// The voicemail reaches the application (issue 15: RecordingUrl was never read).
			if tc.recorded != (len(c.Recordings) == 1) {
				t.Fatalf("recordings %+v, want recorded=%v", c.Recordings, tc.recorded)
			}
			if tc.recorded && (c.Recordings[0].State != "voicemail" || !strings.HasPrefix(c.Recordings[0].URL, "https://api.twilio.com/") ||
				!strings.HasPrefix(c.Recordings[0].SID, "RE") || c.Recordings[0].DurationSeconds != 3) {
				t.Errorf("recording %+v", c.Recordings[0])
			}
			// The application heard of the call's end, with the path and the input.
			waitFor(t, 5*time.Second, "call.completed", func() bool {
				evs, err := n.Store().ListAppEvents(context.Background(), switchboard.AppEventFilter{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					if ev.Type != switchboard.AppCallCompleted {
						continue
					}
					var d switchboard.CallCompletedData
					_ = json.Unmarshal(ev.Data, &d)
					if d.CallID == c.ID {
						if !slices.Equal(d.Path, nonNilPath(tc.path)) || d.Outcome != tc.outcome || len(d.Inputs) != len(tc.results) ||
							len(d.Recordings) != len(c.Recordings) || len(d.SMS) != len(c.SMS) ||
							(len(d.Recordings) == 1 && d.Recordings[0].URL != c.Recordings[0].URL) {
							t.Errorf("call.completed %+v", d)
						}
						return true
					}
				}
				return false
			})
		})
	}
}

func nonNilPath(p []string) []string {
	if p == nil {
		return []string{}
	}
	return p
}

// TestBusyRetriedThenAnswered: a busy call with max_attempts 2 is placed again and its second
// attempt runs the flow; the status never moved back.
func TestBusyRetriedThenAnswered(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{env: voiceEnv()})
	sim := n.Simulator()
	to := "+14155550111"
	if err := sim.ScriptCalls(twiliosim.CallScript{Number: to, Outcome: twiliosim.OutcomeBusy}); err != nil {
		t.Fatal(err)
	}
	c := createCall(t, n.URL(), n.secret, map[string]any{"to": to, "flow": "appointment_confirmation", "variables": appointmentVars,
		"max_attempts": 2, "retry_delay": 1})
	// The first attempt ended busy (its attempt event says so): NextAttemptAt alone is also set
	// while the attempt is being placed, and a script changed then would answer the first call.
	waitCall(t, n.URL(), n.secret, c.ID, func(c *switchboard.Call) bool {
		for _, e := range c.Timeline {
			if e.Type == switchboard.CallEventAttempt && e.Status == switchboard.CallBusy {
				return c.Attempts == 1 && c.NextAttemptAt != nil
			}
		}
		return false
	})
	if err := sim.ScriptCalls(twiliosim.CallScript{Number: to, Inputs: []twiliosim.CalleeInput{{Digits: "1"}}}); err != nil {
		t.Fatal(err)
	}
	c = waitCall(t, n.URL(), n.secret, c.ID, terminal)
	if c.Status != switchboard.CallCompleted || c.Outcome != "confirmed" || c.Attempts != 2 || c.FallbackMessageID != "" {
		t.Fatalf("call %+v", c)
	}
}

// TestCallAPIErrors: bad requests are refused with their codes and create nothing.
func TestCallAPIErrors(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{env: voiceEnv()})
	for _, tc := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"flow": "appointment_confirmation"}, "missing_to"},
		{map[string]any{"to": "+14155550100"}, "missing_flow"},
		{map[string]any{"to": "+14155550100", "flow": "nope"}, "flow_not_found"},
		{map[string]any{"to": "+14155550100", "flow": "appointment_confirmation"}, "missing_variables"},
		{map[string]any{"to": "+14155550100", "flow": "appointment_confirmation", "variables": map[string]string{"clinic": "x", "date": "y", "front_desk": "+15005550020", "extra": "z"}}, "unknown_variable"},
		{map[string]any{"to": "+14155550100", "flow": "appointment_confirmation", "variables": appointmentVars, "ring_timeout": 1}, "invalid_ring_timeout"},
	} {
		var p struct{ Code string }
		code := apiDo(t, n.URL(), n.secret, http.MethodPost, "/v1/calls", tc.body, &p)
		if code/100 != 4 || p.Code != tc.code {
			t.Errorf("%v: %d %q, want %s", tc.body, code, p.Code, tc.code)
		}
	}
	calls, err := n.Store().ListCalls(context.Background(), switchboard.CallFilter{Before: "", Limit: 10})
	if err != nil || len(calls) != 0 {
		t.Fatalf("calls after refusals: %d %v", len(calls), err)
	}
	// Idempotency: the same key and request give the same call; another request is refused.
	body := map[string]any{"to": "+14155550120", "flow": "appointment_confirmation", "variables": appointmentVars}
	do := func(b map[string]any) (int, string) {
		raw, _ := json.Marshal(b)
		req, _ := http.NewRequest(http.MethodPost, n.URL()+"/v1/calls", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+n.secret)
		req.Header.Set("Idempotency-Key", "appt-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var c struct{ ID, Code string }
		_ = json.NewDecoder(resp.Body).Decode(&c)
		return resp.StatusCode, c.ID + c.Code
	}
	c1, id1 := do(body)
	c2, id2 := do(body)
	body["to"] = "+14155550121"
	c3, code3 := do(body)
	if c1 != 202 || c2 != 202 || id1 != id2 || c3 != 422 || code3 != "idempotency_key_reused" {
		t.Fatalf("idempotency: %d %s, %d %s, %d %s", c1, id1, c2, id2, c3, code3)
	}
}

// proxy forwards to whichever node is current: the public URL Twilio keeps using while the node
// behind it is replaced. Between nodes it holds requests (up to 30 s), as a load balancer
// queues them while a node starts.
type proxy struct{ target atomic.Pointer[url.URL] }

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	deadline := time.Now().Add(30 * time.Second)
	u := p.target.Load()
	for u == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		u = p.target.Load()
	}
	if u == nil {
		http.Error(w, "no node", http.StatusBadGateway)
		return
	}
	httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
}

// TestCallContinuesOnNewNode: a node is stopped while its call waits at the menu; a new node on
// the same database (behind the same public URL) answers the callee's key press and the call
// ends as the flow says, with nothing lost from its timeline.
func TestCallContinuesOnNewNode(t *testing.T) {
	t.Parallel()
	// The callee waits at the menu far longer than the restart takes, even on a loaded machine.
	sim := twiliosim.New(twiliosim.Config{CallInputWait: 60 * time.Second, Logger: testLogger(t)})
	t.Cleanup(sim.Close)
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	px := &proxy{}
	pub := httptest.NewServer(px)
	t.Cleanup(pub.Close)
	dir := t.TempDir()
	env := map[string]string{
		"SWITCHBOARD_ADDR": "127.0.0.1:0", "SWITCHBOARD_DATA_DIR": dir, "SWITCHBOARD_DATABASE_URL": "sqlite:" + filepath.Join(dir, "sb.db"),
		"SWITCHBOARD_PROVIDER": "twilio", "SWITCHBOARD_TWILIO_BASE_URL": simSrv.URL, "TWILIO_ACCOUNT_SID": sim.AccountSID(),
		"TWILIO_AUTH_TOKEN": sim.AuthToken(), "SWITCHBOARD_PUBLIC_URL": pub.URL, "SWITCHBOARD_SYNC_WEBHOOKS": "false",
		"SWITCHBOARD_FROM": twiliosim.MagicFrom,
	}
	for k, v := range voiceEnv() {
		env[k] = v
	}
	start := func() *node.Node {
		cfg, err := config.Load(nil, func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		nd, err := node.Open(context.Background(), cfg, testLogger(t), node.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(nd.URL())
		px.target.Store(u)
		return nd
	}
	stop := func(nd *node.Node) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := nd.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	n1 := start()
	_, secret, err := node.CreateAPIKey(context.Background(), n1.Store(), "test", time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	to := "+14155550130"
	c := createCall(t, n1.URL(), secret, map[string]any{"to": to, "flow": "appointment_confirmation", "variables": appointmentVars})
	c = waitCall(t, n1.URL(), secret, c.ID, func(c *switchboard.Call) bool { return c.State == "menu" && c.ProviderSID != "" })
	waitFor(t, 10*time.Second, "the callee to hear the menu", func() bool {
		sc := simCall(t, sim, c.ProviderSID)
		return len(sc.Heard) > 0 && strings.HasPrefix(sc.Heard[len(sc.Heard)-1], "say: Press 1")
	})
	stop(n1)
	px.target.Store(nil)

	n2 := start()
	t.Cleanup(func() { stop(n2) })
	if err := sim.Input(c.ProviderSID, twiliosim.CalleeInput{Digits: "1"}); err != nil {
		t.Fatal(err)
	}
	c = waitCall(t, n2.URL(), secret, c.ID, terminal)
	if c.Status != switchboard.CallCompleted || c.Outcome != "confirmed" || !slices.Equal(c.Path, []string{"greeting", "menu", "confirmed"}) {
		t.Fatalf("after the restart: status %s outcome %q path %v; timeline %+v", c.Status, c.Outcome, c.Path, c.Timeline)
	}
	assertNoPersonalData(t, simCall(t, sim, c.ProviderSID), c.To, c.From)
}

// TestCallInterruptedWhenTheActionIsRefused reproduces the clinic journey's SIGKILL mid-menu
// deterministically: the callee presses 0 at the menu while the public URL drops every
// connection (the node is dead), so the simulator's Gather action fails and it ends the call, as
// Twilio does after an application error; its status callback is lost too. Back up, the node
// learns from the status poll that the call completed: outcome interrupted at the menu, never a
// silent "completed", and the patient gets the flow's fallback text, once.
func TestCallInterruptedWhenTheActionIsRefused(t *testing.T) {
	t.Parallel()
	sim := twiliosim.New(twiliosim.Config{CallInputWait: 60 * time.Second, Logger: testLogger(t)})
	t.Cleanup(sim.Close)
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	px := &proxy{}
	gate := &deadGate{next: px}
	pub := httptest.NewServer(gate)
	t.Cleanup(pub.Close)
	dir := t.TempDir()
	env := map[string]string{
		"SWITCHBOARD_ADDR": "127.0.0.1:0", "SWITCHBOARD_DATA_DIR": dir, "SWITCHBOARD_DATABASE_URL": "sqlite:" + filepath.Join(dir, "sb.db"),
		"SWITCHBOARD_PROVIDER": "twilio", "SWITCHBOARD_TWILIO_BASE_URL": simSrv.URL, "TWILIO_ACCOUNT_SID": sim.AccountSID(),
		"TWILIO_AUTH_TOKEN": sim.AuthToken(), "SWITCHBOARD_PUBLIC_URL": pub.URL, "SWITCHBOARD_SYNC_WEBHOOKS": "false",
		"SWITCHBOARD_FROM": twiliosim.MagicFrom, "SWITCHBOARD_STATUS_POLL_AFTER": "1s",
	}
	for k, v := range voiceEnv() {
		env[k] = v
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	nd, err := node.Open(context.Background(), cfg, testLogger(t), node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = nd.Shutdown(ctx)
	})
	u, _ := url.Parse(nd.URL())
	px.target.Store(u)
	_, secret, err := node.CreateAPIKey(context.Background(), nd.Store(), "test", time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	to := "+14155550131"
	c := createCall(t, nd.URL(), secret, map[string]any{"to": to, "flow": "appointment_confirmation", "variables": appointmentVars})
	c = waitCall(t, nd.URL(), secret, c.ID, func(c *switchboard.Call) bool { return c.State == "menu" && c.ProviderSID != "" })
	waitFor(t, 10*time.Second, "the callee to hear the menu", func() bool {
		sc := simCall(t, sim, c.ProviderSID)
		return len(sc.Heard) > 0 && strings.HasPrefix(sc.Heard[len(sc.Heard)-1], "say: Press 1")
	})

	gate.down.Store(true)
	if err := sim.Input(c.ProviderSID, twiliosim.CalleeInput{Digits: "0"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the simulator to end the call", func() bool {
		return simCall(t, sim, c.ProviderSID).Status == "completed"
	})
	if h := simCall(t, sim, c.ProviderSID).Heard; !slices.Contains(h, "error: application unreachable") {
		t.Fatalf("the callee heard %q; want the application error of the refused action", h)
	}
	gate.down.Store(false)

	c = waitCall(t, nd.URL(), secret, c.ID, terminal)
	if c.Status != switchboard.CallCompleted || c.Outcome != "interrupted" || !slices.Equal(c.Path, []string{"greeting", "menu"}) || c.FallbackMessageID == "" {
		t.Fatalf("status %s outcome %q path %v fallback %q; want completed, interrupted at the menu, with its fallback text; timeline %+v",
			c.Status, c.Outcome, c.Path, c.FallbackMessageID, c.Timeline)
	}
	if !slices.ContainsFunc(c.Timeline, func(e switchboard.CallEvent) bool {
		return e.State == "menu" && strings.HasPrefix(e.Detail, "interrupted at menu")
	}) {
		t.Errorf("the timeline does not say where the call was interrupted: %+v", c.Timeline)
	}
	var texts []string
	waitFor(t, 10*time.Second, "the fallback text at the simulator", func() bool {
		texts = texts[:0]
		for _, m := range sim.Messages() {
			if m.To == to {
				texts = append(texts, m.Body)
			}
		}
		return len(texts) > 0
	})
	time.Sleep(300 * time.Millisecond) // a second text, were there one, would have come by now
	texts = texts[:0]
	for _, m := range sim.Messages() {
		if m.To == to {
			texts = append(texts, m.Body)
		}
	}
	if len(texts) != 1 || !strings.Contains(texts[0], "we tried to call") {
		t.Errorf("the patient got %q; want one fallback text", texts)
	}
}

// deadGate drops every connection while down, as a dead node's address does; otherwise it
// passes requests on.
type deadGate struct {
	down atomic.Bool
	next http.Handler
}

func (g *deadGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.down.Load() {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	g.next.ServeHTTP(w, r)
}

// TestCallsHonourConsentAndQuietHours (issue 16): a person who texted STOP to a pool's number is
// not called from that pool — refused at creation, and a call already queued ends blocked with
// the reason — and START resumes calls; a call due inside call_quiet_hours in the callee's time
// zone waits for the window's end.
func TestCallsHonourConsentAndQuietHours(t *testing.T) {
	t.Parallel()
	// A quiet window around now in UTC, for calls whose timezone is UTC.
	now := time.Now().UTC()
	start, end := now.Add(-time.Hour), now.Add(2*time.Hour)
	env := voiceEnv()
	env["SWITCHBOARD_CALL_QUIET_HOURS"] = start.Format("15:04") + "-" + end.Format("15:04")
	n := startNode(t, nodeOpts{env: env})
	person := "+14155550160"
	text := func(body string) {
		n.simControl(t, http.MethodPost, "/sim/v1/inbound", map[string]any{"from": person, "to": "+15005550006", "body": body})
	}
	// Queued for a moment later, then the person texts STOP: the call ends blocked.
	queued := createCall(t, n.URL(), n.secret, map[string]any{"to": person, "flow": "appointment_confirmation",
		"variables": appointmentVars, "send_at": time.Now().Add(4 * time.Second).UTC().Format(time.RFC3339Nano), "timezone": "America/Los_Angeles"})
	text("STOP")
	waitFor(t, 10*time.Second, "the opt-out", func() bool {
		c, err := n.Store().LatestConsent(context.Background(), person, []string{"default", switchboard.ScopeAll})
		return err == nil && c != nil && c.State == switchboard.ConsentOptedOut
	})
	// (Los Angeles is 7-8 hours from UTC: the window around now in UTC is not its present.)
	got := waitCall(t, n.URL(), n.secret, queued.ID, terminal)
	if got.Status != switchboard.CallBlocked || got.Attempts != 0 || got.ProviderSID != "" || !strings.Contains(got.BlockedReason, "opted out") {
		t.Fatalf("a queued call to a person who texted STOP: %s attempts %d reason %q", got.Status, got.Attempts, got.BlockedReason)
	}
	// A new call is refused.
	var p struct{ Code string }
	if code := apiDo(t, n.URL(), n.secret, http.MethodPost, "/v1/calls", map[string]any{"to": person, "flow": "appointment_confirmation",
		"variables": appointmentVars}, &p); code != http.StatusUnprocessableEntity || p.Code != "recipient_opted_out" {
		t.Fatalf("a call to a person who texted STOP: %d %s", code, p.Code)
	}
	// START: calls again (in UTC's quiet window: held until its end).
	text("START")
	waitFor(t, 10*time.Second, "the opt-in", func() bool {
		c, err := n.Store().LatestConsent(context.Background(), person, []string{"default", switchboard.ScopeAll})
		return err == nil && c != nil && c.State == switchboard.ConsentOptedIn
	})
	held := createCall(t, n.URL(), n.secret, map[string]any{"to": person, "flow": "appointment_confirmation",
		"variables": appointmentVars, "timezone": "UTC"})
	wantEnd := end.Truncate(time.Minute)
	if held.Status != switchboard.CallQueued || held.NextAttemptAt == nil || !held.NextAttemptAt.Equal(wantEnd) || held.Timezone != "UTC" {
		t.Fatalf("a call inside quiet hours: %s next %v, want %v", held.Status, held.NextAttemptAt, wantEnd)
	}
	if last := held.Timeline[len(held.Timeline)-1]; !strings.Contains(last.Detail, "held by call quiet hours") {
		t.Fatalf("the hold is not on the timeline: %+v", held.Timeline)
	}
	// The waiting call shows in the call queue metrics.
	resp, err := http.Get(n.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), `switchboard_call_queue_depth{state="deferred"} 1`) ||
		!strings.Contains(string(raw), `switchboard_call_queue_depth{state="ready"} 0`) {
		t.Errorf("the call queue metrics do not show the held call")
	}
}

// TestCallStatusPolledWhenCallbacksLost: every status callback of a call is lost (the simulator
// drops them all, as a node killed while the call rang loses them); with status_poll_after at 1 s
// the call is asked of the provider, ends with the provider's final status (busy), and its
// fallback SMS is sent once.
func TestCallStatusPolledWhenCallbacksLost(t *testing.T) {
	t.Parallel()
	env := voiceEnv()
	env["SWITCHBOARD_STATUS_POLL_AFTER"] = "1s"
	n := startNode(t, nodeOpts{env: env})
	sim := n.Simulator()
	f := sim.Faults()
	f.CallbackDropRatio = 1
	sim.SetFaults(f)
	to := "+14155550131"
	if err := sim.ScriptCalls(twiliosim.CallScript{Number: to, Outcome: twiliosim.OutcomeBusy}); err != nil {
		t.Fatal(err)
	}
	c := createCall(t, n.URL(), n.secret, map[string]any{"to": to, "flow": "appointment_confirmation", "variables": appointmentVars})
	c = waitCall(t, n.URL(), n.secret, c.ID, terminal)
	if c.Status != switchboard.CallBusy || c.FallbackMessageID == "" {
		t.Fatalf("call %s, fallback %q, want busy with its fallback SMS; timeline %+v", c.Status, c.FallbackMessageID, c.Timeline)
	}
	if sc := simCall(t, sim, c.ProviderSID); sc.Status != "busy" {
		t.Fatalf("the simulator's call is %s, want busy", sc.Status)
	}
	polled := false
	for _, e := range c.Timeline {
		polled = polled || (e.Type == switchboard.CallEventStatus && e.Status == switchboard.CallBusy && strings.Contains(e.Detail, "status poll"))
	}
	if !polled {
		t.Errorf("no busy status from a status poll on the timeline: %+v", c.Timeline)
	}
	// A few more polls: the fallback is not sent again.
	time.Sleep(2 * time.Second)
	texts := 0
	for _, m := range sim.Messages() {
		if m.To == to {
			texts++
		}
	}
	if texts != 1 {
		t.Errorf("%d texts to the callee, want the one fallback SMS", texts)
	}
}
