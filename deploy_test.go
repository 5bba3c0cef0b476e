package switchboard_test

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeRecipe checks deploy/compose.yaml as far as can be without a container runtime: it
// parses; two switchboard nodes share one database URL and one public URL (Twilio signs over
// it), reach PostgreSQL, store media where both reach it, stop within the runtime's grace
// period, and are not published; Caddy terminates TLS in front of both and balances on /readyz.
func TestComposeRecipe(t *testing.T) {
	b, err := os.ReadFile("deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			StopGrace   string            `yaml:"stop_grace_period"`
			Command     []string          `yaml:"command"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	var nodes []string
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, "switchboard:") && len(s.Command) == 0 {
			nodes = append(nodes, name)
		}
	}
	if len(nodes) != 2 {
		t.Fatalf("want two serving nodes, found %v", nodes)
	}
	a, z := c.Services[nodes[0]], c.Services[nodes[1]]
	for _, k := range []string{"SWITCHBOARD_DATABASE_URL", "SWITCHBOARD_PUBLIC_URL", "SWITCHBOARD_MEDIA_STORE", "SWITCHBOARD_MEDIA_URL_SECRET_FILE"} {
		if a.Environment[k] == "" || a.Environment[k] != z.Environment[k] {
			t.Errorf("%s differs between the nodes or is unset: %q, %q", k, a.Environment[k], z.Environment[k])
		}
	}
	if !strings.HasPrefix(a.Environment["SWITCHBOARD_DATABASE_URL"], "postgres://") || !strings.HasPrefix(a.Environment["SWITCHBOARD_PUBLIC_URL"], "https://") {
		t.Errorf("nodes need PostgreSQL and an https public URL: %v", a.Environment)
	}
	if a.Environment["SWITCHBOARD_MEDIA_STORE"] != "database" {
		t.Errorf("media must be stored where both nodes reach it: %q", a.Environment["SWITCHBOARD_MEDIA_STORE"])
	}
	if len(a.Ports)+len(z.Ports) != 0 {
		t.Error("the nodes are published: only the proxy should be")
	}
	if a.StopGrace != "45s" || a.Environment["SWITCHBOARD_SHUTDOWN_TIMEOUT"] != "20s" {
		t.Errorf("stop_grace_period %q must exceed the drain %q", a.StopGrace, a.Environment["SWITCHBOARD_SHUTDOWN_TIMEOUT"])
	}
	if _, ok := c.Services["postgres"]; !ok {
		t.Error("no postgres service")
	}
	caddy, ok := c.Services["caddy"]
	if !ok || len(caddy.Ports) == 0 {
		t.Fatal("no caddy service publishing ports")
	}
	cf, err := os.ReadFile("deploy/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if !strings.Contains(string(cf), n+":8080") {
			t.Errorf("Caddyfile does not proxy to %s", n)
		}
	}
	if !strings.Contains(string(cf), "health_uri /readyz") {
		t.Error("Caddyfile does not check /readyz")
	}
}
