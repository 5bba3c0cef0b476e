package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// TestTenantCredentialsCommands: `switchboard tenants credentials set` reads the secret from the
// environment or a file (a missing one is refused before any request), a token Twilio refuses
// is an error that changes nothing, `show` never prints a secret, `remove` removes them.
func TestTenantCredentialsCommands(t *testing.T) {
	t.Parallel()
	sub, token := "AC"+strings.Repeat("b", 32), "subaccountatoken0123456789abcdef"
	n := testkit.StartNode(t, testkit.NodeConfig{KeyName: "cli", Options: node.Options{SimConfig: func(c *twiliosim.Config) {
		c.Subaccounts = []twiliosim.SubaccountConfig{{SID: sub, AuthToken: token, Numbers: []string{"+15005550100"}}}
	}}})
	now := time.Now().UTC()
	if err := n.Store().CreateTenant(context.Background(), &switchboard.Tenant{ID: "acme", Name: "Acme", Environment: switchboard.EnvProduction,
		StagingMode: switchboard.StagingAllowlist, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	key, secret, err := switchboard.NewAPIKey("acme admin", now)
	if err != nil {
		t.Fatal(err)
	}
	key.Tenant, key.Role = "acme", switchboard.RoleAdmin
	if err := n.Store().CreateAPIKey(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for k, v := range n.CLIEnv {
		env[k] = v
	}
	// The node's own key is of tenant default: acme's credentials are not its to see.
	if _, errOut, code := sb(t, env, "tenants", "credentials", "show", "acme"); code == 0 || !strings.Contains(errOut, "tenant acme not found") {
		t.Fatalf("another tenant's key: %d %s", code, errOut)
	}
	env["SWITCHBOARD_API_KEY"] = secret
	if _, errOut, code := sb(t, env, "tenants", "credentials", "set", "acme", "--account-sid", sub); code == 0 || !strings.Contains(errOut, "SWITCHBOARD_TENANT_AUTH_TOKEN") {
		t.Fatalf("no secret: %d %s", code, errOut)
	}
	env["SWITCHBOARD_TENANT_AUTH_TOKEN"] = "wrongtoken0123456789abcdef012345"
	if _, errOut, code := sb(t, env, "tenants", "credentials", "set", "acme", "--account-sid", sub); code == 0 || !strings.Contains(errOut, "credentials") {
		t.Fatalf("wrong token: %d %s", code, errOut)
	}
	if _, errOut, code := sb(t, env, "tenants", "credentials", "show", "acme"); code == 0 || !strings.Contains(errOut, "no provider credentials") {
		t.Fatalf("show after a refusal: %d %s", code, errOut)
	}
	// The token from a file wins over the environment.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := sb(t, env, "tenants", "credentials", "set", "acme", "--account-sid", sub, "--auth-token-file", file)
	if code != 0 || !strings.Contains(out, sub) || !strings.Contains(out, "1 pointed at Switchboard now") {
		t.Fatalf("set: %d %s %s", code, out, errOut)
	}
	out, _, code = sb(t, env, "tenants", "credentials", "show", "acme", "--json")
	if code != 0 || !strings.Contains(out, `"auth_kind": "token"`) && !strings.Contains(out, `"auth_kind":"token"`) {
		t.Fatalf("show: %d %s", code, out)
	}
	if strings.Contains(out, token) {
		t.Fatal("show prints the token")
	}
	if out, errOut, code = sb(t, env, "tenants", "credentials", "remove", "acme"); code != 0 {
		t.Fatalf("remove: %d %s %s", code, out, errOut)
	}
	if _, _, code = sb(t, env, "tenants", "credentials", "show", "acme"); code == 0 {
		t.Fatal("show after remove succeeded")
	}
}
