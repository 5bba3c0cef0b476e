package voice_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// twiml answers one TwiML request of call c (its current step), as the provider would send it.
func (e *testEnv) twiml(t *testing.T, c *switchboard.Call, kind string, extra map[string]string) {
	t.Helper()
	form := map[string][]string{"CallSid": {c.ProviderSID}}
	for k, v := range extra {
		form[k] = []string{v}
	}
	if _, err := e.svc.TwiML(context.Background(), c.Token, kind, strconv.Itoa(c.Step), form); err != nil {
		t.Fatalf("%s request at step %d: %v", kind, c.Step, err)
	}
}

// exampleWithFallbackOn is the example flow with its fallback.on replaced.
func exampleWithFallbackOn(t *testing.T, on string) *voice.Catalog {
	t.Helper()
	file := filepath.Join("..", "..", "examples", "flows", "appointment_confirmation.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const example = "  on: [busy, no-answer, machine, interrupted]\n"
	if !strings.Contains(string(data), example) {
		t.Fatalf("the example flow's fallback.on is no longer %q", example)
	}
	f, err := voice.ParseFlow(file, []byte(strings.Replace(string(data), example, "  on: "+on+"\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	return voice.NewCatalog(f)
}

// TestCallEndedAtTheMenu: a call that ends completed while its flow waits at a Gather (the
// example's menu) was interrupted — the callee hung up, or the gather's action reached no node
// that answered (the clinic journey's SIGKILL) — and gets outcome interrupted, said on its
// timeline with the state it stopped at, and the fallback SMS once when the flow lists
// interrupted in fallback.on (the example does), none when it does not. A call that reached a
// final step, one at a Dial, and one canceled through the API at the menu keep the state as
// their outcome; one whose first step was never served stays flow_not_run (no-answer).
func TestCallEndedAtTheMenu(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// on replaces the example's fallback.on ("" keeps it).
		on string
		// run takes the call (placed, not answered) to where it ends.
		run           func(t *testing.T, e *testEnv, c *switchboard.Call)
		outcome       string
		path          []string
		fallback      bool
		interruptedAt string
	}{
		{name: "hung up at the menu", run: answer, outcome: voice.OutcomeInterrupted,
			path: []string{"greeting", "menu"}, fallback: true, interruptedAt: "menu"},
		{name: "silence, then the redirect not answered", run: func(t *testing.T, e *testEnv, c *switchboard.Call) {
			answer(t, e, c)
			e.twiml(t, e.call(t, c.ID), voice.KindSilence, nil)
		}, outcome: voice.OutcomeInterrupted, path: []string{"greeting", "menu", "menu"}, fallback: true, interruptedAt: "menu"},
		{name: "interrupted, not in fallback.on", on: "[busy, no-answer, machine]", run: answer,
			outcome: voice.OutcomeInterrupted, path: []string{"greeting", "menu"}, interruptedAt: "menu"},
		{name: "reached a final step", run: func(t *testing.T, e *testEnv, c *switchboard.Call) {
			answer(t, e, c)
			e.twiml(t, e.call(t, c.ID), voice.KindGather, map[string]string{"Digits": "1"})
		}, outcome: "confirmed", path: []string{"greeting", "menu", "confirmed"}},
		{name: "at a dial", run: func(t *testing.T, e *testEnv, c *switchboard.Call) {
			answer(t, e, c)
			e.twiml(t, e.call(t, c.ID), voice.KindGather, map[string]string{"Digits": "0"})
		}, outcome: "operator", path: []string{"greeting", "menu", "operator"}},
		{name: "canceled through the API at the menu", run: func(t *testing.T, e *testEnv, c *switchboard.Call) {
			answer(t, e, c)
			if _, err := e.svc.Cancel(context.Background(), c.ID); err != nil {
				t.Fatal(err)
			}
		}, outcome: "menu", path: []string{"greeting", "menu"}},
		{name: "first step never served", run: func(*testing.T, *testEnv, *switchboard.Call) {},
			outcome: voice.OutcomeFlowNotRun, fallback: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu   sync.Mutex
				sent []string
			)
			e := newTestEnvWith(t, 100, func(cfg *voice.Config) {
				if tc.on != "" {
					flows := exampleWithFallbackOn(t, tc.on)
					cfg.Flows = func() *voice.Catalog { return flows }
				}
				cfg.Fallback = func(_ context.Context, c *switchboard.Call, template string) (string, string, error) {
					mu.Lock()
					defer mu.Unlock()
					sent = append(sent, c.ID+" "+template)
					return "msg_" + c.ID, "", nil
				}
			})
			c := e.create(t, "+14155550170")
			e.placeDue(t)
			c = e.call(t, c.ID)
			tc.run(t, e, c)
			// The final status comes twice (a duplicated callback, or callback and status poll).
			e.statusCallback(t, e.call(t, c.ID), "completed")
			e.statusCallback(t, e.call(t, c.ID), "completed")
			got := e.call(t, c.ID)
			if got.Status != switchboard.CallCompleted || got.Outcome != tc.outcome || !slices.Equal(got.Path, tc.path) {
				t.Fatalf("status %s outcome %q path %v; want completed, %q, %v; timeline %+v",
					got.Status, got.Outcome, got.Path, tc.outcome, tc.path, got.Timeline)
			}
			want := 0
			if tc.fallback {
				want = 1
			}
			if len(sent) != want || (want == 1 && (got.FallbackMessageID != "msg_"+c.ID || sent[0] != c.ID+" appointment_call_missed")) {
				t.Errorf("fallback SMS sent %v, message %q; want %d", sent, got.FallbackMessageID, want)
			}
			var notes []switchboard.CallEvent
			for _, ev := range got.Timeline {
				if strings.HasPrefix(ev.Detail, "interrupted at") {
					notes = append(notes, ev)
				}
			}
			switch {
			case tc.interruptedAt == "" && len(notes) > 0:
				t.Errorf("timeline says interrupted: %+v", notes)
			case tc.interruptedAt != "" && (len(notes) != 1 || notes[0].State != tc.interruptedAt || notes[0].Status != switchboard.CallCompleted):
				t.Errorf("timeline notes of the interruption %+v; want one at state %s", notes, tc.interruptedAt)
			}
			evs, err := e.db.ListAppEvents(context.Background(), switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppCallCompleted}, Limit: 10})
			if err != nil || len(evs) != 1 || !strings.Contains(string(evs[0].Data), `"outcome":"`+tc.outcome+`"`) {
				t.Errorf("call.completed events %d (%v), want one with outcome %s", len(evs), err, tc.outcome)
			}
		})
	}
}

// answer serves the call's first step (the answer request): greeting, then the menu.
func answer(t *testing.T, e *testEnv, c *switchboard.Call) {
	t.Helper()
	e.twiml(t, c, voice.KindAnswer, nil)
	if got := e.call(t, c.ID); got.State != "menu" {
		t.Fatalf("after the answer: state %q, want menu", got.State)
	}
}

// TestFallbackOnOutcomes: fallback.on takes interrupted beside busy, no-answer, machine and
// failed; anything else is refused when the flow loads, as is a state named after an outcome
// that is not a state's (machine, flow_not_run, interrupted).
func TestFallbackOnOutcomes(t *testing.T) {
	t.Parallel()
	const flow = "name: t\nversion: 1\nstart: menu\nstates:\n  menu:\n    gather: {}\n    on: {no_input: done}\n  done:\n    hangup: true\n"
	if _, err := voice.ParseFlow("t.yaml", []byte(flow+"fallback: {sms_template: x, on: [busy, no-answer, machine, failed, interrupted]}\n")); err != nil {
		t.Errorf("every fallback outcome: %v", err)
	}
	for on, want := range map[string]string{
		"[interupted]":   `fallback on "interupted": must be one of busy, no-answer, machine, failed, interrupted`,
		"[completed]":    `fallback on "completed"`,
		"[flow_not_run]": `fallback on "flow_not_run"`,
	} {
		if _, err := voice.ParseFlow("t.yaml", []byte(flow+"fallback: {sms_template: x, on: "+on+"}\n")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("on %s: err = %v, want %q", on, err, want)
		}
	}
	for _, name := range []string{"machine", "flow_not_run", "interrupted"} {
		y := strings.ReplaceAll(flow, "done", name)
		if _, err := voice.ParseFlow("t.yaml", []byte(y)); err == nil || !strings.Contains(err.Error(), "state "+name+": name is reserved") {
			t.Errorf("a state named %s: err = %v, want it refused as reserved", name, err)
		}
	}
}
