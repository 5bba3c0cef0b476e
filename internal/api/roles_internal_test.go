package api

import (
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestEveryRouteDeclaresARole: every /v1 operation of openapi.json declares a valid role (the
// table authed checks), and every route the API serves under /v1 has one, so that no route is
// reachable by a role nobody chose (an undeclared one is refused to every key).
func TestEveryRouteDeclaresARole(t *testing.T) {
	if routeRulesErr != nil {
		t.Fatal(routeRulesErr)
	}
	for _, p := range New(Config{}).Routes() {
		if !strings.HasPrefix(p, "GET /v1/") && !strings.Contains(p, " /v1/") {
			continue
		}
		if _, ok := routeRules[p]; !ok {
			t.Errorf("route %s declares no %s in openapi.json: add one (send, read, admin or platform)", p, RoleExtension)
		}
	}
	if len(routeRules) < 35 {
		t.Errorf("only %d route rules", len(routeRules))
	}
}

// parseRouteRules refuses a document whose /v1 operation declares no role, or a bad one, and
// names the operation.
func TestParseRouteRules(t *testing.T) {
	for _, c := range []struct {
		doc, want string
	}{
		{`{"paths":{"/v1/x":{"get":{}}}}`, "GET /v1/x"},
		{`{"paths":{"/v1/x":{"post":{"x-switchboard-role":"owner"}}}}`, "POST /v1/x"},
		{`{"paths":{"/v1/x":{"post":{"x-switchboard-role":"admin","x-switchboard-send-reads-own":true}}}}`, "read routes only"},
		{`{"paths":{"/v1/x":{"get":{"x-switchboard-role":"read","x-switchboard-send-reads-own":"yes"}}}}`, "true or false"},
	} {
		if _, err := parseRouteRules([]byte(c.doc)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.doc, err, c.want)
		}
	}
	rules, err := parseRouteRules([]byte(`{"paths":{"/healthz":{"get":{}},"/v1/x":{"parameters":[],"get":{"x-switchboard-role":"read","x-switchboard-send-reads-own":true}}}}`))
	if err != nil || rules["GET /v1/x"] != (routeRule{Need: switchboard.RoleRead, SendReadsOwn: true}) || len(rules) != 1 {
		t.Errorf("rules %v, %v", rules, err)
	}
}

// authorize: the role table as a matrix, and an undeclared route refused to every key.
func TestAuthorize(t *testing.T) {
	key := func(r switchboard.Role) *switchboard.APIKey {
		return &switchboard.APIKey{ID: "k", Tenant: "acme", Role: r}
	}
	for _, c := range []struct {
		role    switchboard.Role
		pattern string
		ok      bool
		own     bool
	}{
		{switchboard.RoleSend, "POST /v1/messages", true, true},
		{switchboard.RoleSend, "GET /v1/messages/{id}", true, true},
		{switchboard.RoleSend, "GET /v1/messages", false, false},
		{switchboard.RoleRead, "GET /v1/messages", true, false},
		{switchboard.RoleRead, "POST /v1/messages", false, false},
		{switchboard.RoleRead, "POST /v1/keys", false, false},
		{switchboard.RoleAdmin, "POST /v1/keys", true, false},
		{switchboard.RoleAdmin, "GET /v1/tenants", false, false},
		{switchboard.RolePlatform, "GET /v1/tenants", true, false},
		{"", "POST /v1/keys", true, false}, // a key stored before roles is an admin
		{switchboard.RolePlatform, "GET /v1/nothing", false, false},
	} {
		p, err := authorize(key(c.role), c.pattern)
		if (err == nil) != c.ok {
			t.Errorf("%s on %s: %v, want allowed=%v", c.role, c.pattern, err, c.ok)
			continue
		}
		if err != nil {
			if switchboard.ErrorCodeOf(err) != CodeInsufficientRole || !switchboard.IsKind(err, switchboard.EFORBIDDEN) {
				t.Errorf("%s on %s: %v, want 403 %s", c.role, c.pattern, err, CodeInsufficientRole)
			}
			continue
		}
		if p.OwnOnly != c.own || p.Tenant != "acme" {
			t.Errorf("%s on %s: %+v", c.role, c.pattern, p)
		}
	}
	if p, _ := authorize(&switchboard.APIKey{ID: "old"}, "GET /v1/messages"); p == nil || p.Tenant != switchboard.DefaultTenant || p.Role != switchboard.RoleAdmin {
		t.Errorf("a key stored before tenants: %+v", p)
	}
}
