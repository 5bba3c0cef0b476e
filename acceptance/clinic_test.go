package acceptance

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// call is the part of the API's call a journey checks.
type call struct {
	ID                string   `json:"id"`
	Status            string   `json:"status"`
	To                string   `json:"to"`
	Path              []string `json:"path"`
	Outcome           string   `json:"outcome"`
	Attempts          int      `json:"attempts"`
	FallbackMessageID string   `json:"fallback_message_id"`
	raw               string
}

// simCall is a call the simulated Twilio placed.
type simCall struct {
	SID         string    `json:"sid"`
	To          string    `json:"to"`
	From        string    `json:"from"`
	Status      string    `json:"status"`
	DateCreated time.Time `json:"date_created"`
	Heard       []string  `json:"heard"`
}

// clinicBranch is one way a reminder call can go, with what the patient must end up with.
type clinicBranch struct {
	name    string
	outcome string           // the simulator's script: answer, busy, no-answer
	inputs  []map[string]any // what the patient answers to each Gather
	desk    string           // the front desk number the call is given
	status  string           // the call's final status
	state   string           // a state the call's path must hold ("" for none)
	// text is what the patient must be texted (a word of it), "" for nothing.
	text string
	// needs names the fix of issue 15 this branch's assertions wait for, "" for none.
	needs string
}

const (
	deskAnswers = "+14155550123"
	deskBusy    = "+14155550124"
)

var clinicBranches = []clinicBranch{
	{name: "confirm", inputs: []map[string]any{{"digits": "1"}}, desk: deskAnswers, status: "completed", state: "confirmed"},
	{name: "reschedule", inputs: []map[string]any{{"speech": "I need to reschedule"}}, desk: deskAnswers, status: "completed", state: "reschedule",
		text: "Northside Clinic", needs: "fixes: the flow promises a text it never sends"},
	{name: "operator", inputs: []map[string]any{{"digits": "0"}}, desk: deskAnswers, status: "completed", state: "operator"},
	{name: "voicemail", inputs: []map[string]any{{"digits": "0"}}, desk: deskBusy, status: "completed", state: "voicemail",
		needs: "fixes: RecordingUrl is never read"},
	{name: "no-input", inputs: []map[string]any{{"timeout": true}, {"timeout": true}}, desk: deskAnswers, status: "completed", state: "no_response",
		text: "Northside Clinic", needs: "fixes: the flow promises \"we will text you instead\" and sends nothing"},
	{name: "busy", outcome: "busy", desk: deskAnswers, status: "busy", text: "we tried to call"},
	{name: "no-answer", outcome: "no-answer", desk: deskAnswers, status: "no-answer", text: "we tried to call"},
}

// TestClinicReminderCalls: a clinic queues 30 appointment-confirmation calls from one number
// within a minute (half from the CLI one after the other, half through the API at once); they
// are placed at calls_per_second, serve is SIGKILLed while calls are under way, and every
// branch of the example flow ends as it should: confirm, reschedule, operator, voicemail (whose
// recording reaches the application), no input, busy and no-answer (with the SMS fallback).
// The patient is texted what the call promised, once. A call the SIGKILL cut short is accepted
// only if it says so and its patient got the fallback text, once: answered while serve was down
// (flow_not_run, no path), or interrupted at the menu (its answer reached no node).
//
// Three branches depend on fixes of issue 15 being merged (the helper "fixes", internal/voice
// and examples/flows): calls after the first per sender were never placed (every branch), the
// flow promises texts it never sends (reschedule, no input), RecordingUrl is never read
// (voicemail). Their failures name the fix.
func TestClinicReminderCalls(t *testing.T) {
	t.Parallel()
	const cps = 3
	s := newStack(t, stackOptions{
		yaml:      "senders:\n  - from: \"+15005550006\"\n    kind: short_code\n    rate: 20\n",
		templates: true, flows: true,
		// The journey runs at any hour: no quiet hours for calls (a clinic would keep them).
		env: map[string]string{"SWITCHBOARD_CALLS_PER_SECOND": fmt.Sprint(cps), "SWITCHBOARD_CALL_QUIET_HOURS": "off"},
	})
	const calls = 30
	patient := func(i int) string { return fmt.Sprintf("+1305555%04d", 100+i) }
	branch := func(i int) clinicBranch { return clinicBranches[i%len(clinicBranches)] }
	// The front desk: one line answers, the other is busy, and so is the backup line.
	for _, sc := range []map[string]any{{"number": deskAnswers, "outcome": "answer"}, {"number": deskBusy, "outcome": "busy"},
		{"number": "+15005550010", "outcome": "busy"}} {
		if code, body := s.simPost("/sim/v1/calls/script", sc); code != 200 && code != 201 {
			t.Fatalf("scripting %v: %d %s", sc, code, body)
		}
	}
	for i := range calls {
		b := branch(i)
		sc := map[string]any{"number": patient(i), "outcome": b.outcome, "inputs": b.inputs}
		if b.outcome == "" {
			sc["outcome"] = "answer"
		}
		if code, body := s.simPost("/sim/v1/calls/script", sc); code != 200 && code != 201 {
			t.Fatalf("scripting %s: %d %s", patient(i), code, body)
		}
	}

	ids := make([]string, calls)
	vars := func(i int) map[string]string {
		return map[string]string{"clinic": "Northside Clinic", "date": "Tuesday at 3:30 PM", "front_desk": branch(i).desk,
			"patient_name": fmt.Sprintf("Patient %d", i)}
	}
	began := time.Now()
	// The front desk's script queues the first half one after the other from the CLI…
	for i := 0; i < calls/2; i++ {
		args := []string{"calls", "create", patient(i), "--flow", "appointment_confirmation", "--json", "--idempotency-key", fmt.Sprintf("call-%d", i)}
		for k, v := range vars(i) {
			args = append(args, "--var", k+"="+v)
		}
		var c call
		if err := json.Unmarshal([]byte(s.cli(args...)), &c); err != nil || c.ID == "" {
			t.Fatalf("calls create %s: %v", patient(i), err)
		}
		ids[i] = c.ID
	}
	// …and the clinic's application the second half at once.
	var mu sync.Mutex
	concurrently(calls-calls/2, 15, func(k int) {
		i := calls/2 + k
		var c call
		s.mustAPI(202, "POST", "/v1/calls", map[string]any{"to": patient(i), "flow": "appointment_confirmation", "variables": vars(i)},
			&c, "Idempotency-Key", fmt.Sprintf("call-%d", i))
		mu.Lock()
		ids[i] = c.ID
		mu.Unlock()
	})
	if d := time.Since(began); d > time.Minute {
		t.Errorf("queuing %d calls took %v", calls, d)
	}

	// serve dies while calls are under way and comes back on the same database.
	simCalls := func() []simCall {
		var out struct {
			Calls []simCall `json:"calls"`
		}
		s.simGet("/sim/v1/calls", &out)
		return out.Calls
	}
	if !eventually(60*time.Second, func() bool { return len(simCalls()) >= 8 }) {
		t.Errorf("after a minute only %d calls were placed (fix pending in internal/voice: calls after the first per sender never placed)", len(simCalls()))
	}
	s.nodes[0].p.kill9()
	s.restart(0)

	// Every call ends (needs the fix "calls after the first per sender are never placed").
	final := map[string]call{}
	deadline := time.Now().Add(60 * time.Second)
	for len(final) < calls && time.Now().Before(deadline) {
		for _, id := range ids {
			if _, ok := final[id]; ok {
				continue
			}
			r := s.api("GET", "/v1/calls/"+id, nil)
			if r.status != 200 {
				continue
			}
			var c call
			r.decode(t, &c)
			c.raw = string(r.body)
			if c.Status != "queued" && c.Status != "ringing" && c.Status != "in-progress" {
				final[id] = c
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(final) < calls {
		stuck := 0
		for _, id := range ids {
			if _, ok := final[id]; !ok {
				stuck++
			}
		}
		t.Errorf("%d of %d calls never ended (fix pending in internal/voice: calls after the first per sender never placed)", stuck, calls)
	}

	// What the phones saw: one call per patient, placed at calls_per_second from one number.
	sc := simCalls()
	perPatient := map[string]int{}
	var placed []time.Time
	for _, c := range sc {
		perPatient[c.To]++
		if strings.HasPrefix(c.To, "+1305555") {
			placed = append(placed, c.DateCreated)
			if c.From != "+15005550006" {
				t.Errorf("call to %s from %s", c.To, c.From)
			}
		}
	}
	for i := range calls {
		if n := perPatient[patient(i)]; n != 1 {
			t.Errorf("patient %d (%s) was called %d times, want once", i, branch(i).name, n)
		}
	}
	sort.Slice(placed, func(i, j int) bool { return placed[i].Before(placed[j]) })
rate:
	for i := range placed {
		for j := i; j < len(placed); j++ {
			w := placed[j].Sub(placed[i]).Seconds()
			if n := float64(j - i + 1); n > cps*(w+0.1)+2 {
				t.Errorf("%v calls placed within %.2fs, over %d calls a second", n, w, cps)
				break rate
			}
		}
	}

	// Every branch ended as it should, and the patient got the text the call promised, once.
	sims := s.simOutbound()
	noDuplicates(t, sims)
	texts := map[string][]simMessage{}
	for _, m := range sims {
		texts[m.To] = append(texts[m.To], m)
	}
	for i, id := range ids {
		b := branch(i)
		c, ok := final[id]
		if !ok {
			continue
		}
		fix := ""
		if b.needs != "" {
			fix = " [fix pending: " + b.needs + "]"
		}
		got := texts[patient(i)]
		if c.Status == "completed" && len(c.Path) == 0 {
			// Answered while serve was down: Twilio could not fetch the first step, the patient
			// heard an error and nothing of the flow. The call must not pass for a completed one
			// without a word: its fallback text goes instead.
			if c.Outcome != "flow_not_run" || c.FallbackMessageID == "" || len(got) != 1 {
				t.Errorf("call %d (%s) was answered while serve was down and ran none of its flow; want outcome flow_not_run "+
					"and one fallback text, got outcome %q and texts %v:\n%s", i, b.name, c.Outcome, bodies(got), c.raw)
			}
			continue
		}
		if c.Status == "completed" && c.Outcome == "interrupted" {
			// The patient was at the menu when serve died: the menu's answer (or the redirect
			// after its silence) reached no node, and Twilio ended the call. The call says so
			// (outcome interrupted, never a plain completed at the menu) and the example flow
			// texts its fallback instead, once.
			if b.outcome != "" || !contains(c.Path, "menu") || c.FallbackMessageID == "" || len(got) != 1 || !strings.Contains(got[0].Body, "we tried to call") {
				t.Errorf("call %d (%s) was interrupted at the menu by the restart; want its fallback text once and fallback_message_id, "+
					"the patient got %v:\n%s", i, b.name, bodies(got), c.raw)
			}
			continue
		}
		if c.Status != b.status {
			t.Errorf("call %d (%s) ended %s, want %s", i, b.name, c.Status, b.status)
		}
		if b.state != "" && !contains(c.Path, b.state) {
			t.Errorf("call %d (%s): path %v lacks %s:\n%s", i, b.name, c.Path, b.state, c.raw)
		}
		switch {
		case b.name == "no-input" || b.name == "reschedule":
			if len(got) != 1 || (b.text != "" && !strings.Contains(got[0].Body, b.text)) {
				t.Errorf("call %d (%s) promised a text; the patient got %d: %v%s", i, b.name, len(got), bodies(got), fix)
			}
		case b.text != "":
			if len(got) != 1 || !strings.Contains(got[0].Body, b.text) {
				t.Errorf("call %d (%s): the patient got %v, want one text with %q", i, b.name, bodies(got), b.text)
			} else if c.FallbackMessageID == "" {
				t.Errorf("call %d (%s): no fallback_message_id", i, b.name)
			}
		default:
			if len(got) != 0 {
				t.Errorf("call %d (%s): the patient got texts %v, want none", i, b.name, bodies(got))
			}
		}
		if b.name == "voicemail" && !strings.Contains(c.raw, "/Recordings/RE") {
			t.Errorf("call %d (voicemail): the recording never reached the application%s:\n%s", i, fix, c.raw)
		}
	}

	// What the operator sees: calls get shows the path; trace explains a fallback text.
	if out := s.cli("calls", "get", ids[0]); !strings.Contains(out, "confirmed") {
		t.Errorf("calls get of a confirmed call:\n%s", out)
	}
	for i, id := range ids {
		if c, ok := final[id]; ok && branch(i).name == "busy" && c.FallbackMessageID != "" {
			if out := s.cli("trace", c.FallbackMessageID); !strings.Contains(out, "delivered") {
				t.Errorf("trace of a call's fallback text:\n%s", out)
			}
			break
		}
	}
	// Calls themselves have no metrics yet (reported); the fallback texts after the restart do.
	if n := s.metricSum(0, "switchboard_status_callbacks_total", `provider_status="delivered"`); n == 0 {
		t.Errorf("no delivered text in /metrics after the restart")
	}
	b, end := s.openDashboard(t.Name())
	defer end()
	b.search(patient(5)) // a busy patient: the fallback text
	if page := b.text("main"); !strings.Contains(page, "delivered") {
		t.Errorf("dashboard search for a patient whose call was busy:\n%s", page)
	}
	b.shot("01-busy-patient")
	t.Logf("clinic: %d calls, %d texts, in %v", len(sc), len(sims), time.Since(began).Round(time.Millisecond))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func bodies(ms []simMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Body)
	}
	return out
}
