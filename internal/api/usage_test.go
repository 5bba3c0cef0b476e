package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestUsageByRole: an admin key reads its own tenant's usage only (naming another tenant is
// 403), a platform key reads every tenant's or the one it names, a send key none; CSV carries
// the same rows.
func TestUsageByRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	key := func(tenant string, role switchboard.Role) string {
		k, secret, err := switchboard.NewAPIKey(tenant+"-"+string(role), now)
		if err != nil {
			t.Fatal(err)
		}
		k.Tenant, k.Role = tenant, role
		if err := f.store.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	if err := f.store.CreateTenant(ctx, &switchboard.Tenant{ID: "acme", Name: "Acme", Environment: switchboard.EnvProduction, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	acmeAdmin, acmeSend, platform := key("acme", switchboard.RoleAdmin), key("acme", switchboard.RoleSend), key(switchboard.DefaultTenant, switchboard.RolePlatform)
	send := func(secret, to string) {
		req, _ := http.NewRequest("POST", f.srv.URL+"/v1/messages", strings.NewReader(`{"to":"`+to+`","body":"hello"}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 202 {
			t.Fatalf("send: %d", resp.StatusCode)
		}
	}
	send(acmeSend, "+14155550100")
	send(acmeSend, "+14155550101")
	send(platform, "+14155550102") // tenant default's
	get := func(secret, query string) (int, string) {
		req, _ := http.NewRequest("GET", f.srv.URL+"/v1/usage?from=2026-03-01&to=2026-03-01"+query, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	row := func(tenant string, n int) string {
		return `{"day":"2026-03-01","tenant":"` + tenant + `","messages":` + string(rune('0'+n)) + `,"segments":` + string(rune('0'+n))
	}
	if code, body := get(acmeAdmin, ""); code != 200 || !strings.Contains(body, row("acme", 2)) || strings.Contains(body, `"default"`) {
		t.Errorf("acme's admin: %d %s", code, body)
	}
	if code, body := get(acmeAdmin, "&tenant=default"); code != 403 || !strings.Contains(body, "insufficient_role") {
		t.Errorf("acme's admin asking for default's: %d %s", code, body)
	}
	if code, body := get(acmeSend, ""); code != 403 {
		t.Errorf("acme's send key: %d %s", code, body)
	}
	if code, body := get(platform, ""); code != 200 || !strings.Contains(body, row("acme", 2)) || !strings.Contains(body, row("default", 1)) {
		t.Errorf("platform: %d %s", code, body)
	}
	if code, body := get(platform, "&tenant=acme&format=csv"); code != 200 ||
		body != "day,tenant,messages,segments,calls,verifications,spend,price_unit,spend_micros\n2026-03-01,acme,2,2,0,0,0.00,,0\n" {
		t.Errorf("platform, acme as CSV: %d %q", code, body)
	}
	if code, _ := get(platform, "&format=xml"); code != 400 {
		t.Errorf("format=xml: %d, want 400", code)
	}
}
