package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

func envOfMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, envOfMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.Provider != ProviderSimulator || c.DatabaseURL != "sqlite:data/switchboard.db" ||
		c.PublicURL != "http://127.0.0.1:8080" || !c.SyncWebhooks || len(c.Senders) != 1 || c.Senders[0].From != SimulatorFrom ||
		c.Senders[0].Rate != 1 || c.Senders[0].Pool != switchboard.DefaultPool {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestInconsistentSettingsOneClearLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SWITCHBOARD_PROVIDER": "twilio"}, "TWILIO_ACCOUNT_SID"},
		{map[string]string{"SWITCHBOARD_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC1"}, "TWILIO_AUTH_TOKEN"},
		{map[string]string{"SWITCHBOARD_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "x"}, "SWITCHBOARD_FROM"},
		{map[string]string{"SWITCHBOARD_PUBLIC_URL": "/relative"}, "SWITCHBOARD_PUBLIC_URL"},
		{map[string]string{"SWITCHBOARD_DATABASE_URL": "mysql://x"}, "SWITCHBOARD_DATABASE_URL"},
		{map[string]string{"SWITCHBOARD_PROVIDER": "nexmo"}, "SWITCHBOARD_PROVIDER"},
		{map[string]string{"SWITCHBOARD_LEASE": "soon"}, "SWITCHBOARD_LEASE"},
		// Contradictions stop start-up and say what to set.
		{map[string]string{"SWITCHBOARD_SHUTDOWN_TIMEOUT": "5s", "SWITCHBOARD_PROVIDER_TIMEOUT": "10s"}, "SWITCHBOARD_SHUTDOWN_TIMEOUT"},
		{map[string]string{"SWITCHBOARD_LEASE": "5s", "SWITCHBOARD_PROVIDER_TIMEOUT": "10s", "SWITCHBOARD_SHUTDOWN_TIMEOUT": "30s"}, "SWITCHBOARD_LEASE"},
		{map[string]string{"SWITCHBOARD_CLOCK_SKEW_WARN": "1m", "SWITCHBOARD_CLOCK_SKEW_MAX": "30s"}, "SWITCHBOARD_CLOCK_SKEW_MAX"},
		{map[string]string{"SWITCHBOARD_CLOCK_SKEW_MAX": "-1s"}, "SWITCHBOARD_CLOCK_SKEW_MAX"},
	}
	for _, c := range cases {
		_, err := Load(nil, envOfMap(c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line naming %s", c.env, err, c.want)
		}
	}
}

func TestFileEnvPrecedenceAndSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("addr: 127.0.0.1:9000\nlease: 45s\nsenders:\n  - from: \"+14155550111\"\n    kind: toll_free\n  - from: MG00000000000000000000000000000000\n    rate: 20\n    burst: 5\n    pool: bulk\n"), 0o600)
	c, err := Load(nil, envOfMap(map[string]string{"SWITCHBOARD_CONFIG": p, "SWITCHBOARD_ADDR": "127.0.0.1:9001"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9001" || c.Lease.Seconds() != 45 {
		t.Fatalf("precedence: addr %s lease %s", c.Addr, c.Lease)
	}
	if c.Senders[0].Rate != 3 || c.Senders[1].Kind != switchboard.SenderMessagingService || c.Senders[1].Pool != "bulk" || c.Senders[1].Burst != 5 {
		t.Fatalf("senders: %+v", c.Senders)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("twilio_auth_token: hunter2\n"), 0o600)
	if _, err := Load(nil, envOfMap(map[string]string{"SWITCHBOARD_CONFIG": bad})); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("secret in config file: %v", err)
	}
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("adr: x\n"), 0o600)
	if _, err := Load(nil, envOfMap(map[string]string{"SWITCHBOARD_CONFIG": unknown})); err == nil || !strings.Contains(err.Error(), "adr") {
		t.Fatalf("unknown key: %v", err)
	}
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("s3cret\n"), 0o600)
	c, err = Load(nil, envOfMap(map[string]string{"SWITCHBOARD_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN_FILE": tok, "SWITCHBOARD_FROM": "+14155550111"}))
	if err != nil || c.TwilioToken != "s3cret" || c.SyncWebhooks {
		t.Fatalf("token file: %v %q sync=%v", err, c.TwilioToken, c.SyncWebhooks)
	}
}

// TestREADMEDocumentsEverySetting keeps the README's configuration reference true.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, s := range Settings() {
		wants := []string{"`" + s[1] + "`", "`" + s[0] + "`"}
		if !IsSecret(s[0]) { // secrets have no flag
			wants = append(wants, "`--"+strings.ReplaceAll(s[0], "_", "-")+"`")
		}
		for _, want := range wants {
			if !strings.Contains(readme, want) {
				t.Errorf("README does not document %s", want)
			}
		}
	}
}
