package routing

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func rules(t *testing.T) Rules {
	t.Helper()
	rs := Rules{
		{Name: "support", Numbers: []string{"+1 500 555 0006"}, Keywords: []string{"support", " Helpdesk "}, Endpoints: []string{"desk"}},
		{Name: "jobs", Keywords: []string{"JOB"}, Endpoints: []string{"ep_0193"}, AutoReply: "Got it"},
		{Name: "clinic-line", Numbers: []string{"+15005550007"}, AutoReply: "This line is not monitored; call 555-0100."},
	}
	if err := rs.Prepare([]string{"desk"}, func(w string) bool { return w == "STOP" || w == "HELP" }); err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestPrepareNormalizes(t *testing.T) {
	rs := rules(t)
	if rs[0].Numbers[0] != "+15005550006" || rs[0].Keywords[1] != "HELPDESK" || rs[0].Endpoints[0] != "ep_desk" {
		t.Fatalf("support rule: %+v", rs[0])
	}
	if rs[1].Endpoints[0] != "ep_0193" || rs[1].AutoReplyInterval != DefaultAutoReplyInterval {
		t.Fatalf("jobs rule: %+v", rs[1])
	}
}

func TestMatch(t *testing.T) {
	rs := rules(t)
	for _, c := range []struct{ to, body, want string }{
		{"+15005550006", "support: heater leaking", "support"},
		{"+15005550006", "  HelpDesk!!", "support"},
		{"+15005550008", "support please", ""}, // another number, no keyword rule matches
		{"+15005550008", "job 12 done", "jobs"},
		{"+15005550006", "job 12 done", "jobs"},
		{"+15005550007", "anything at all", "clinic-line"},
		{"+15005550007", "support", "clinic-line"}, // rules in order: support is for another number
		{"+15005550006", "supporting act", ""},
		{"+15005550006", "", ""},
	} {
		got := ""
		if r := rs.Match(c.to, c.body); r != nil {
			got = r.Name
		}
		if got != c.want {
			t.Errorf("Match(%s, %q) = %q, want %q", c.to, c.body, got, c.want)
		}
	}
}

func TestPrepareRefuses(t *testing.T) {
	for _, c := range []struct {
		rule Rule
		want string
	}{
		{Rule{Name: "Bad Name", AutoReply: "x"}, "name must be"},
		{Rule{Name: "empty"}, "needs endpoints, an auto_reply or both"},
		{Rule{Name: "num", Numbers: []string{"12"}, AutoReply: "x"}, "not a phone number"},
		{Rule{Name: "two", Keywords: []string{"two words"}, AutoReply: "x"}, "must be one word"},
		{Rule{Name: "stop", Keywords: []string{"stop"}, AutoReply: "x"}, "compliance keyword"},
		{Rule{Name: "ep", Endpoints: []string{"nowhere"}}, "neither an endpoint"},
		{Rule{Name: "neg", AutoReply: "x", AutoReplyInterval: -time.Second}, "must be positive"},
		{Rule{Name: "long", AutoReply: strings.Repeat("x", 1601)}, "longer than 1600"},
	} {
		err := Rules{c.rule}.Prepare(nil, func(w string) bool { return w == "STOP" })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Prepare(%+v) = %v, want %q", c.rule, err, c.want)
		}
	}
	if err := (Rules{{Name: "a", AutoReply: "x"}, {Name: "a", AutoReply: "y"}}).Prepare(nil, nil); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate names: %v", err)
	}
}

func TestAutoReplyKey(t *testing.T) {
	r := Rule{Name: "jobs", AutoReplyInterval: 24 * time.Hour}
	day := time.Date(2031, 3, 4, 0, 0, 0, 0, time.UTC)
	a, b := r.AutoReplyKey("+14155550100", day.Add(time.Hour)), r.AutoReplyKey("+14155550100", day.Add(23*time.Hour))
	if a != b {
		t.Fatalf("one interval, two keys: %s %s", a, b)
	}
	if c := r.AutoReplyKey("+14155550100", day.Add(25*time.Hour)); c == a {
		t.Fatalf("next interval, same key %s", c)
	}
	if d := r.AutoReplyKey("+14155550101", day.Add(time.Hour)); d == a {
		t.Fatalf("another person, same key %s", d)
	}
}

// FuzzMatch: any body and number, routed or not, never panics, and a match obeys its rule.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"support me", "", " ", "JOB", "\u00a0job", "jöb 12", "STOP", "\xff\xfe", "support\x00"} {
		f.Add("+15005550006", s)
	}
	f.Fuzz(func(t *testing.T, to, body string) {
		rs := rules(t)
		w := FirstWord(body)
		if utf8.ValidString(body) && strings.ContainsFunc(w, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }) {
			t.Fatalf("FirstWord(%q) = %q holds a space", body, w)
		}
		r := rs.Match(to, body)
		if r == nil {
			return
		}
		if len(r.Numbers) > 0 && r.Numbers[0] != to && (len(r.Numbers) < 2 || r.Numbers[1] != to) {
			t.Fatalf("rule %s matched number %s", r.Name, to)
		}
		if len(r.Keywords) > 0 && !strings.EqualFold(r.Keywords[0], w) && !strings.EqualFold(r.Keywords[len(r.Keywords)-1], w) {
			t.Fatalf("rule %s matched first word %q", r.Name, w)
		}
	})
}
