package voice

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

var update = flag.Bool("update", false, "rewrite the golden TwiML files")

const testBase = "https://sb.example.com/webhooks/twilio/voice/TOKEN"

var t0 = time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)

func exampleFlow(t testing.TB) *Flow {
	t.Helper()
	c, err := Load(filepath.Join("..", "..", "examples", "flows"))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Get("appointment_confirmation", 0)
	if f == nil {
		t.Fatal("no appointment_confirmation flow")
	}
	return f
}

func newCall(locale string) *switchboard.Call {
	return &switchboard.Call{ID: "call_1", From: "+15005550006", To: "+14155550100", Locale: locale,
		Variables: map[string]string{"clinic": "Northside Clinic", "date": "Tuesday at 3:30 PM", "front_desk": "+15005550020", "patient_name": "Ana"}}
}

// step runs one request and checks its document against testdata/golden/name.xml.
func step(t *testing.T, f *Flow, c *switchboard.Call, name string, in Input) []byte {
	t.Helper()
	in.Step, in.At = c.Step, t0.Add(time.Duration(c.Step)*time.Second)
	doc, err := Advance(f, c, in, testBase)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	path := filepath.Join("testdata", "golden", name+".xml")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update)", err)
	}
	if !bytes.Equal(doc, want) {
		t.Errorf("%s differs from its golden file:\n got %s\nwant %s", name, doc, want)
	}
	return doc
}

// TestGoldenTwiML walks the example flow through each kind of step; every document is compared
// byte for byte with its golden file, and generated twice to prove it deterministic.
func TestGoldenTwiML(t *testing.T) {
	t.Parallel()
	f := exampleFlow(t)
	for range 2 { // the same bytes every time
		c := newCall("en-US")
		step(t, f, c, "answer_en", Input{Kind: KindAnswer})
		step(t, f, c, "silence_reprompt", Input{Kind: KindSilence})
		step(t, f, c, "press_0_dial", Input{Kind: KindGather, Digits: "0"})
		step(t, f, c, "dial_busy_next_number", Input{Kind: KindDial, DialStatus: "busy"})
		step(t, f, c, "dial_failed_voicemail", Input{Kind: KindDial, DialStatus: "no-answer"})
		step(t, f, c, "recorded_goodbye", Input{Kind: KindRecord})
		if want := []string{"greeting", "menu", "menu", "operator", "voicemail", "goodbye"}; strings.Join(c.Path, ",") != strings.Join(want, ",") {
			t.Fatalf("path %v, want %v", c.Path, want)
		}

		es := newCall("es-MX")
		step(t, f, es, "answer_es", Input{Kind: KindAnswer})
		step(t, f, es, "speech_confirm_es", Input{Kind: KindGather, Speech: "quiero CONFIRM"})

		m := newCall("")
		step(t, f, m, "answer_machine", Input{Kind: KindAnswer, AnsweredBy: "machine_start"})
		if m.Outcome != "machine" || len(m.Path) != 0 {
			t.Fatalf("machine: outcome %q path %v", m.Outcome, m.Path)
		}
	}
}

// TestAdvanceRepeatAndStale: a repeated request gets the same document and changes nothing; a
// request for an older step is refused.
func TestAdvanceRepeatAndStale(t *testing.T) {
	t.Parallel()
	f := exampleFlow(t)
	c := newCall("en-US")
	first, err := Advance(f, c, Input{Kind: KindAnswer, Step: 0, At: t0}, testBase)
	if err != nil {
		t.Fatal(err)
	}
	steps, events := c.Step, len(c.Timeline)
	again, err := Advance(f, c, Input{Kind: KindAnswer, Step: 0, At: t0}, testBase)
	if err != nil || !bytes.Equal(first, again) || c.Step != steps || len(c.Timeline) != events {
		t.Fatalf("repeat: %v, same=%v, step %d→%d", err, bytes.Equal(first, again), steps, c.Step)
	}
	if _, err := Advance(f, c, Input{Kind: KindGather, Digits: "1", Step: 1, At: t0}, testBase); err != nil {
		t.Fatal(err)
	}
	if _, err := Advance(f, c, Input{Kind: KindGather, Digits: "2", Step: 0, At: t0}, testBase); switchboard.ErrorCodeOf(err) != "stale_step" {
		t.Fatalf("stale step: %v", err)
	}
	if c.Outcome != "confirmed" {
		t.Fatalf("outcome %q", c.Outcome)
	}
}

// TestRetriesThenNoInput: the menu repeats once on silence or a wrong key, then takes no_input.
func TestRetriesThenNoInput(t *testing.T) {
	t.Parallel()
	f := exampleFlow(t)
	c := newCall("en-US")
	for i, in := range []Input{{Kind: KindAnswer}, {Kind: KindGather, Digits: "9"}, {Kind: KindSilence}} {
		in.Step, in.At = i, t0
		if _, err := Advance(f, c, in, testBase); err != nil {
			t.Fatal(err)
		}
	}
	if c.State != "no_response" || c.Fails["menu"] != 2 || len(c.Inputs) != 2 || c.Inputs[0].Result != "no_match" || c.Inputs[1].Result != "timeout" {
		t.Fatalf("state %s fails %v inputs %+v", c.State, c.Fails, c.Inputs)
	}
}

// TestSayLoopRedirects: states without input that loop are cut with a Redirect, not run forever.
func TestSayLoopRedirects(t *testing.T) {
	t.Parallel()
	f, err := ParseFlow("loop.yaml", []byte("name: loop\nversion: 1\nstart: a\nstates:\n  a: {say: A, next: b}\n  b: {say: B, next: a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := newCall("")
	doc, err := Advance(f, c, Input{Kind: KindAnswer, At: t0}, testBase)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "<Redirect method=\"POST\">"+testBase+"/continue?s=1</Redirect>") || c.State != "a" {
		t.Fatalf("doc %s state %s", doc, c.State)
	}
}

// TestURLsCarryOnlyTheToken: every URL in every document is the base, a kind and a step.
func TestURLsCarryOnlyTheToken(t *testing.T) {
	t.Parallel()
	f := exampleFlow(t)
	c := newCall("en-US")
	doc, err := Advance(f, c, Input{Kind: KindAnswer, At: t0}, testBase)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append([]string{c.To, c.From}, "Northside", "Ana", "front_desk", "menu") {
		for _, part := range strings.Split(string(doc), "\"") {
			if strings.HasPrefix(part, "https://") && strings.Contains(part, v) {
				t.Errorf("URL %s carries %q", part, v)
			}
		}
	}
}

func BenchmarkTwiMLStep(b *testing.B) {
	f := exampleFlow(b)
	for b.Loop() {
		c := newCall("en-US")
		if _, err := Advance(f, c, Input{Kind: KindAnswer, At: t0}, testBase); err != nil {
			b.Fatal(err)
		}
		if _, err := Advance(f, c, Input{Kind: KindGather, Digits: "1", Step: 1, At: t0}, testBase); err != nil {
			b.Fatal(err)
		}
	}
}
