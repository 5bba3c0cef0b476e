package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// The bootstrap: keys create --role platform on the database makes the first platform key;
// with it, tenants create|list|update go through the API, and keys create --tenant makes a key
// of the new tenant; an admin key is refused the tenants commands (exit 4), and keys create
// refuses an unknown role (usage) or tenant (not found).
func TestTenantsAndKeysCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "sb.db")
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dbEnv := map[string]string{"SWITCHBOARD_DATABASE_URL": "sqlite:" + dbPath}
	run := func(env map[string]string, want int, args ...string) string {
		t.Helper()
		out, errOut, code := sb(t, env, args...)
		if code != want {
			t.Fatalf("switchboard %v: exit %d, want %d\n%s%s", args, code, want, out, errOut)
		}
		return out
	}
	var created struct {
		Secret, Tenant string
		Role           switchboard.Role
	}
	if err := json.Unmarshal([]byte(run(dbEnv, 0, "keys", "create", "--name", "ops", "--role", "platform", "--json")), &created); err != nil {
		t.Fatal(err)
	}
	if created.Role != switchboard.RolePlatform || created.Tenant != switchboard.DefaultTenant || created.Secret == "" {
		t.Fatalf("the first platform key: %+v", created)
	}
	admin := strings.TrimSpace(lastLine(run(dbEnv, 0, "keys", "create", "--name", "app")))
	run(dbEnv, 2, "keys", "create", "--name", "x", "--role", "owner")
	run(dbEnv, 3, "keys", "create", "--name", "x", "--tenant", "nowhere")

	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := httptest.NewServer(api.New(api.Config{Store: db, Clock: func() time.Time { return now }}).Handler())
	defer srv.Close()
	platform := map[string]string{"SWITCHBOARD_URL": srv.URL, "SWITCHBOARD_API_KEY": created.Secret}
	run(platform, 0, "tenants", "create", "acme", "--name", "Acme", "--environment", "staging", "--allow", "+14155550100")
	if out := run(platform, 0, "tenants", "list"); !strings.Contains(out, "acme") || !strings.Contains(out, "staging (allowlist)") || !strings.Contains(out, "default") {
		t.Errorf("tenants list:\n%s", out)
	}
	if out := run(platform, 0, "tenants", "update", "acme", "--daily-messages", "500", "--json"); !strings.Contains(out, `"daily_messages": 500`) {
		t.Errorf("tenants update:\n%s", out)
	}
	run(platform, 2, "tenants", "update", "acme")
	run(platform, 2, "tenants", "create", "Not An ID")
	run(map[string]string{"SWITCHBOARD_URL": srv.URL, "SWITCHBOARD_API_KEY": admin}, 4, "tenants", "list")

	out := run(dbEnv, 0, "keys", "create", "--name", "acme-app", "--tenant", "acme", "--role", "send")
	if !strings.Contains(out, "role send in tenant acme") {
		t.Errorf("keys create --tenant: %s", out)
	}
	for _, line := range strings.Split(run(dbEnv, 0, "keys", "list"), "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[1] == "acme-app" && (f[2] != "acme" || f[3] != "send") {
			t.Errorf("keys list shows acme-app as %q", line)
		}
	}
}
