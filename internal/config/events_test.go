package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

const (
	secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretB = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
)

func TestEventSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, envOfMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour}
	if c.EndpointsAllowPrivate || c.EndpointsTimeout != 10*time.Second || c.EndpointsDisableAfter != 5*24*time.Hour ||
		c.EndpointsConcurrency != 16 || c.NATSURL != "" || len(c.EndpointsRetrySchedule) != len(want) {
		t.Fatalf("defaults: %+v", c)
	}
	for i, d := range want {
		if c.EndpointsRetrySchedule[i] != d {
			t.Fatalf("schedule %v, want %v", c.EndpointsRetrySchedule, want)
		}
	}
	c, err = Load(nil, envOfMap(map[string]string{
		"SWITCHBOARD_ENDPOINTS_RETRY_SCHEDULE": "1s, 1d", "SWITCHBOARD_ENDPOINTS_DISABLE_AFTER": "0",
		"SWITCHBOARD_NATS_URL": "nats://127.0.0.1:4222", "SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true",
	}))
	if err != nil || len(c.EndpointsRetrySchedule) != 2 || c.EndpointsRetrySchedule[1] != 24*time.Hour || c.EndpointsDisableAfter != 0 ||
		c.NATSSubject != "switchboard" || c.NATSStream != "SWITCHBOARD_EVENTS" || !c.EndpointsAllowPrivate {
		t.Fatalf("settings: %+v %v", c, err)
	}
	for env, want := range map[string]string{
		"SWITCHBOARD_ENDPOINTS_RETRY_SCHEDULE": "SWITCHBOARD_ENDPOINTS_RETRY_SCHEDULE",
		"SWITCHBOARD_ENDPOINTS_TIMEOUT":        "SWITCHBOARD_ENDPOINTS_TIMEOUT",
		"SWITCHBOARD_NATS_URL":                 "SWITCHBOARD_NATS_URL",
	} {
		_, err := Load(nil, envOfMap(map[string]string{env: "nope"}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=nope: %v", env, err)
		}
	}
	_, err = Load(nil, envOfMap(map[string]string{"SWITCHBOARD_NATS_URL": "nats://x:4222", "SWITCHBOARD_NATS_SUBJECT": "a.>"}))
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_NATS_SUBJECT") {
		t.Errorf("wildcard subject: %v", err)
	}
}

func TestEndpointsFromTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "crm.secret")
	os.WriteFile(secretFile, []byte(secretA+"\n"), 0o600)
	load := func(yaml string, env map[string]string) (*Config, error) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(p, []byte(yaml), 0o600)
		e := map[string]string{"SWITCHBOARD_CONFIG": p}
		for k, v := range env {
			e[k] = v
		}
		return Load(nil, envOfMap(e))
	}
	c, err := load(`endpoints:
  - name: billing
    url: https://billing.example.com/hooks
    event_types: ["message.*", "consent.changed"]
    secret_env: BILLING_SECRET
  - name: crm
    url: https://crm.example.com/in
    secret_file: `+secretFile+`
`, map[string]string{"BILLING_SECRET": secretB + " " + secretA})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Endpoints) != 2 {
		t.Fatalf("endpoints: %+v", c.Endpoints)
	}
	b, crm := c.Endpoints[0], c.Endpoints[1]
	if b.ID != "ep_billing" || b.Source != switchboard.EndpointFromConfig || len(b.EventTypes) != 2 ||
		len(b.Secrets) != 2 || b.ActiveSecrets(time.Now())[0] != secretB {
		t.Fatalf("billing: %+v (the first secret listed is the newest)", b)
	}
	if crm.ID != "ep_crm" || crm.EventTypes[0] != "*" || len(crm.Secrets) != 1 || crm.Secrets[0].Secret != secretA {
		t.Fatalf("crm: %+v", crm)
	}
	for _, c := range []struct{ yaml, want string }{
		{"endpoints:\n  - name: x\n    url: https://a.example\n    secret: " + secretA + "\n", "secret_env or secret_file"},
		{"endpoints:\n  - name: x\n    url: https://a.example\n", "secret_env or secret_file"},
		{"endpoints:\n  - name: x\n    url: https://a.example\n    secret_env: MISSING\n", "MISSING"},
		{"endpoints:\n  - name: x\n    url: https://a.example\n    secret_env: BAD\n", "secret 1 is not"},
		{"endpoints:\n  - name: X Y\n    url: https://a.example\n    secret_env: GOOD\n", "name must be"},
		{"endpoints:\n  - name: nats\n    url: https://a.example\n    secret_env: GOOD\n", "NATS bus"},
		{"endpoints:\n  - name: x\n    url: ftp://a.example\n    secret_env: GOOD\n", "url must be"},
		{"endpoints:\n  - name: x\n    url: https://a.example\n    event_types: [\"message.\"]\n    secret_env: GOOD\n", "event type"},
		{"endpoints:\n  - name: x\n    url: https://a.example\n    secret_env: GOOD\n  - name: x\n    url: https://b.example\n    secret_env: GOOD\n", "twice"},
	} {
		_, err := load(c.yaml, map[string]string{"BAD": "whsec_short", "GOOD": secretA})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "MfKQ9r8") {
			t.Errorf("%q: error %v, want one naming %q and no secret", c.yaml, err, c.want)
		}
	}
}
