package config

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestFlagsTypedWithDefaults(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindFlags(fs)
	want := map[string]string{
		"lease": "duration", "concurrency": "int", "migrate": "bool", "calls-per-second": "float",
		"retention": "duration", "sync-webhooks": "bool", "addr": "string", "whatsapp-fallback-after": "duration",
	}
	for name, typ := range want {
		f := fs.Lookup(name)
		if f == nil {
			t.Fatalf("no flag --%s", name)
		}
		if f.Value.Type() != typ {
			t.Errorf("--%s is a %s, want %s", name, f.Value.Type(), typ)
		}
	}
	usage := fs.FlagUsages()
	for _, line := range []string{"--lease duration", "(default 30s)", "--concurrency int", "(default 64)", "--migrate "} {
		if !strings.Contains(usage, line) {
			t.Errorf("usage lacks %q", line)
		}
	}
	// A help text with a back-quoted word makes pflag print that word as the value's type
	// ("--migrate switchboard migrate"): every flag must show its own type.
	fs.VisitAll(func(f *pflag.Flag) {
		name, _ := pflag.UnquoteUsage(f)
		if typ := f.Value.Type(); name != typ && !(typ == "bool" && name == "") {
			t.Errorf("--%s shows %q as its value, not its type %s: a back-quote in its help", f.Name, name, typ)
		}
	})
	if err := fs.Parse([]string{"--lease", "soon"}); err == nil {
		t.Error("--lease soon was accepted")
	}
	fs2 := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindFlags(fs2)
	if err := fs2.Parse([]string{"--retention", "30d", "--migrate", "--concurrency", "8"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs2, envOfMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Retention.Hours() != 720 || !c.Migrate || c.Concurrency != 8 {
		t.Fatalf("flags not applied: retention %s migrate %v concurrency %d", c.Retention, c.Migrate, c.Concurrency)
	}
}

// TestSecretsHaveNoFlag: secrets documented as environment-only cannot be given on the command
// line, where they would land in the shell's history and the process list.
func TestSecretsHaveNoFlag(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindFlags(fs)
	n := 0
	for _, s := range settings {
		if !s.secret {
			continue
		}
		n++
		if fs.Lookup(flagName(s.key)) != nil {
			t.Errorf("secret %s has a flag", s.key)
		}
		if fs.Lookup(flagName(s.key)+"-file") == nil {
			t.Errorf("secret %s has no --%s-file", s.key, flagName(s.key))
		}
	}
	if n < 3 {
		t.Fatalf("only %d secrets", n)
	}
	if err := fs.Parse([]string{"--twilio-auth-token", "x"}); err == nil {
		t.Error("--twilio-auth-token was accepted")
	}
}

func TestBindFlagsOfOnlyThose(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("keys", pflag.ContinueOnError)
	BindFlagsOf(fs, "database_url", "data_dir")
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	if strings.Join(names, ",") != "config,data-dir,database-url" {
		t.Fatalf("flags %v", names)
	}
}

func TestResolveSources(t *testing.T) {
	t.Parallel()
	r, err := Resolve(nil, envOfMap(map[string]string{"SWITCHBOARD_DATA_DIR": "/srv/sb", "SWITCHBOARD_PROVIDER": "twilio"}))
	if err != nil {
		t.Fatal(err) // Load would refuse twilio without credentials; Resolve does not check
	}
	u, src := r.DatabaseURL()
	if u != "sqlite:/srv/sb/switchboard.db" || !strings.Contains(src, "SWITCHBOARD_DATA_DIR") {
		t.Fatalf("database %s from %s", u, src)
	}
	if r.Get("addr") != "127.0.0.1:8080" || r.Source("addr") != "the default" {
		t.Fatalf("addr %s from %s", r.Get("addr"), r.Source("addr"))
	}
}
