package voice

import (
	"testing"
)

// FuzzParseFlow: any file either parses or is refused with an error; lint never panics.
func FuzzParseFlow(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte("name: x\nversion: 1\nstart: a\nstates:\n  a: {say: {en: \"{{v}}\"}, next: a}\n"))
	f.Add([]byte("states: [1, 2]\n"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := ParseFlow("fuzz.yaml", data)
		if err == nil {
			_ = Lint(fl)
		}
	})
}

// FuzzAdvance: whatever a webhook carries (kind, digits, speech, dial status), the engine answers
// a document or an error, and never panics or moves the step back.
func FuzzAdvance(f *testing.F) {
	f.Add("answer", "", "", "", 0)
	f.Add("gather", "1", "", "", 1)
	f.Add("gather", "", "reschedule", "", 1)
	f.Add("dial", "", "", "busy", 3)
	f.Add("silence", "#", "\x00", "completed", 7)
	fl := exampleFlow(f)
	f.Fuzz(func(t *testing.T, kind, digits, speech, dial string, state int) {
		c := newCall("en-US")
		names := fl.StateNames()
		c.State = names[(state%len(names)+len(names))%len(names)]
		c.Step = 1
		before := c.Step
		if _, err := Advance(fl, c, Input{Kind: kind, Step: 1, Digits: digits, Speech: speech, DialStatus: dial, At: t0}, testBase); err == nil && c.Step != before+1 {
			t.Fatalf("step %d after %d", c.Step, before)
		}
	})
}
