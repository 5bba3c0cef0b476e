package voice

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// base is a small flow that lints clean; each case below breaks it in one way.
const base = `name: t
version: 1
variables:
  clinic: {}
  patient: {sensitive: true}
start: menu
states:
  menu:
    gather:
      prompt: "Press 1 for {{clinic}}"
    retries: 1
    on:
      digits: {"1": done}
      timeout: menu
      no_input: done
  done:
    say: "Goodbye"
    hangup: true
`

func TestLintCleanFlow(t *testing.T) {
	t.Parallel()
	f, err := ParseFlow("base.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if got := Lint(f); len(got) != 0 {
		t.Fatalf("findings on a clean flow: %v", got)
	}
}

// TestLintRules: each rule fires on a flow made to break it, at the state that breaks it.
func TestLintRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rule, state, msg string
		edit             func(string) string
	}{
		{RuleUnreachable, "orphan", "no transition from menu leads here", func(s string) string {
			return s + "  orphan:\n    say: \"never\"\n    hangup: true\n"
		}},
		{RuleMissingTimeout, "menu", "no timeout transition", func(s string) string {
			return strings.Replace(s, "      timeout: menu\n", "", 1)
		}},
		{RuleMissingNoInput, "menu", "no no_input transition", func(s string) string {
			return strings.Replace(s, "      no_input: done\n", "", 1)
		}},
		{RuleLoopNoExit, "ping", "without ever ending the call", func(s string) string {
			s = strings.Replace(s, `digits: {"1": done}`, `digits: {"1": done, "2": ping}`, 1)
			return s + "  ping:\n    say: \"ping\"\n    next: pong\n  pong:\n    say: \"pong\"\n    next: ping\n"
		}},
		{RuleUnknownVariable, "done", "{{doctor}}, which the flow does not declare", func(s string) string {
			return strings.Replace(s, `say: "Goodbye"`, `say: "Goodbye from {{doctor}}"`, 1)
		}},
		{RuleSensitivePrompt, "menu", "speaks {{patient}}, which is marked sensitive", func(s string) string {
			return strings.Replace(s, `prompt: "Press 1 for {{clinic}}"`, `prompt: "{{patient}}, press 1"`, 1)
		}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			f, err := ParseFlow("x.yaml", []byte(tc.edit(base)))
			if err != nil {
				t.Fatal(err)
			}
			var hit bool
			for _, fd := range Lint(f) {
				if fd.Rule == tc.rule && fd.State == tc.state && strings.Contains(fd.Msg, tc.msg) {
					hit = true
					if fd.Line == 0 || !strings.HasPrefix(fd.String(), "x.yaml:") {
						t.Errorf("finding without its place: %s", fd)
					}
				} else if fd.Rule == tc.rule && !(tc.rule == RuleLoopNoExit && fd.State == "pong") {
					t.Errorf("unexpected %s", fd)
				}
			}
			if !hit {
				t.Fatalf("rule %s did not fire at %s: %v", tc.rule, tc.state, Lint(f))
			}
		})
	}
}

// TestParseRefuses: structural errors refuse the flow.
func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field", base + "colour: red\n", "field colour not found"},
		{"bad target", strings.Replace(base, `{"1": done}`, `{"1": nowhere}`, 1), `goes to "nowhere", which is not a state`},
		{"bad start", strings.Replace(base, "start: menu", "start: main", 1), `start "main" is not a state`},
		{"two endings", strings.Replace(base, "    hangup: true\n", "    hangup: true\n    enqueue: desk\n", 1), "more than one of"},
		{"bad digits", strings.Replace(base, `{"1": done}`, `{"x": done}`, 1), `digits transition "x"`},
		{"no version", strings.Replace(base, "version: 1\n", "", 1), "version must be"},
		{"transition without gather", strings.Replace(base, "    hangup: true\n", "    hangup: true\n    on: {timeout: menu}\n", 1), "need a gather"},
		{"dial without numbers", base + "  call:\n    dial: {numbers: []}\n", "dial needs numbers"},
		{"bad fallback", base + "fallback: {sms_template: x, on: [always]}\n", `fallback on "always"`},
		{"bad sms template", strings.Replace(base, "    hangup: true\n", "    hangup: true\n    sms: \"Not A Name\"\n", 1), `sms "Not A Name" is not a template name`},
	} {
		if _, err := ParseFlow("x.yaml", []byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadCatalogVersions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("t1.yaml", base)
	write("t2.yml", strings.Replace(base, "version: 1", "version: 2", 1))
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Get("t", 0).Version != 2 || c.Get("t", 1).Version != 1 || c.Get("t", 3) != nil || c.Get("u", 0) != nil {
		t.Fatalf("versions: %v", c.Flows())
	}
	write("t3.yaml", base)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "defined twice") {
		t.Fatalf("duplicate version: %v", err)
	}
}

// TestExampleFlowsLintClean keeps the shipped examples loadable and clean.
func TestExampleFlowsLintClean(t *testing.T) {
	t.Parallel()
	c, err := Load(filepath.Join("..", "..", "examples", "flows"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Flows()) == 0 {
		t.Fatal("no example flows")
	}
	for _, f := range c.Flows() {
		if got := Lint(f); len(got) != 0 {
			t.Errorf("%s: %v", f.Name, got)
		}
	}
}
