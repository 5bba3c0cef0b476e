package consent

import "testing"

func TestMatchDefaults(t *testing.T) {
	t.Parallel()
	var k *Keywords
	cases := []struct {
		body   string
		action Action
	}{
		{"STOP", ActionOptOut}, {" stop\n", ActionOptOut}, {"Unsubscribe", ActionOptOut}, {"end", ActionOptOut},
		{"QUIT", ActionOptOut}, {"stopall", ActionOptOut}, {"REVOKE", ActionOptOut}, {"optout", ActionOptOut},
		{"Cancel", ActionOptOut}, {"START", ActionOptIn}, {"yes", ActionOptIn}, {"UnStop", ActionOptIn},
		{"HELP", ActionHelp}, {"info", ActionHelp},
		// Invisible characters around the word (a NUL decoded as U+FFFD, a BOM, zero-width space).
		{"STOP\x00", ActionOptOut}, {"STOP\uFFFD", ActionOptOut}, {"\uFEFFstop", ActionOptOut},
		{"stop\u200b", ActionOptOut}, {"\u200dSTART\r\n", ActionOptIn}, {"ST\u200bOP", ""},
		{"STOP please", ""}, {"please stop", ""}, {"STOPP", ""}, {"", ""}, {"S T O P", ""}, {"yes!", ""},
	}
	for _, c := range cases {
		m := k.Match("default", c.body)
		switch {
		case c.action == "" && m != nil:
			t.Errorf("%q matched %+v; only an exact keyword may", c.body, m)
		case c.action != "" && (m == nil || m.Action != c.action):
			t.Errorf("%q: got %+v, want %s", c.body, m, c.action)
		}
	}
	if m := k.Match("default", "HELP"); m.Reply != DefaultLanguage.HelpReply || m.Language != "en" {
		t.Errorf("default help reply: %+v", m)
	}
}

func TestMatchPerPoolAndLanguage(t *testing.T) {
	t.Parallel()
	k := &Keywords{Pools: map[string]PoolKeywords{
		"clinic": {OptOutScope: "all", Languages: map[string]Language{
			"en": {OptOut: []string{"STOP"}, Help: []string{"HELP"}, HelpReply: "Clinic help: call 555-0100"},
			"es": {OptOut: []string{"ALTO", "PARAR"}, Help: []string{"AYUDA"}, HelpReply: "Ayuda de la clínica", OptOutReply: "Baja confirmada"},
		}},
	}}
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
	m := k.Match("clinic", "alto")
	if m == nil || m.Action != ActionOptOut || m.Language != "es" || m.Reply != "Baja confirmada" || !m.AllPools {
		t.Fatalf("ALTO: %+v", m)
	}
	if m := k.Match("clinic", "help"); m == nil || m.Reply != "Clinic help: call 555-0100" {
		t.Fatalf("clinic HELP: %+v", m)
	}
	if m := k.Match("clinic", "START"); m != nil {
		t.Fatalf("START is not configured for the clinic pool: %+v", m)
	}
	// A pool without rules falls back to the built-in set.
	if m := k.Match("billing", "START"); m == nil || m.Action != ActionOptIn {
		t.Fatalf("billing START: %+v", m)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	bad := []Keywords{
		{Replies: "carrier"},
		{Pools: map[string]PoolKeywords{"p": {OptOutScope: "everything"}}},
		{Pools: map[string]PoolKeywords{"p": {Languages: map[string]Language{"en": {OptOut: []string{"STOP"}}, "fr": {OptIn: []string{"stop"}}}}}},
		{Pools: map[string]PoolKeywords{"p": {Languages: map[string]Language{"en": {OptOut: []string{" "}}}}}},
	}
	for i, k := range bad {
		if err := k.Validate(); err == nil {
			t.Errorf("case %d: accepted %+v", i, k)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"STOP", " start ", "ayuda", "\u00a0STOP", "ſtop"} {
		f.Add(s)
	}
	var k *Keywords
	f.Fuzz(func(t *testing.T, body string) {
		m := k.Match("default", body)
		if m != nil && normalize(body) != m.Keyword {
			t.Fatalf("%q matched keyword %q", body, m.Keyword)
		}
	})
}
