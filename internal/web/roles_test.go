package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// keyOf stores a key of tenant with role and returns its secret.
func (e *env) keyOf(tenant string, role switchboard.Role) string {
	e.t.Helper()
	key, secret, err := switchboard.NewAPIKey(string(role)+"-"+tenant, e.clock.now())
	if err != nil {
		e.t.Fatal(err)
	}
	key.Tenant, key.Role = tenant, role
	if err := e.store.CreateAPIKey(e.t.Context(), key); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// A session sees its tenant only and acts only with a role that may: a read session of acme
// sees acme's message, not another tenant's (404), is offered no cancel and is refused one
// (403, nothing changed), and does not get the cross-tenant pages; an admin session of acme
// cancels acme's message; a send key cannot log in; the password user sees as configured.
func TestSessionTenantAndRole(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.UserTenant, c.UserRole = "acme", switchboard.RoleRead })
	now := e.clock.now()
	if err := e.store.CreateTenant(t.Context(), &switchboard.Tenant{ID: "acme", Name: "Acme", Environment: switchboard.EnvProduction,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	mine := e.message(func(m *switchboard.Message) { m.Tenant, m.To = "acme", "+14155550166" })
	other := e.message(func(m *switchboard.Message) { m.To = "+14155550177" })

	login := func(secret string) *http.Client {
		c := e.client()
		if r := e.login(c, url.Values{"api_key": {secret}}); r.status != http.StatusSeeOther {
			t.Fatalf("login: %d\n%s", r.status, r.body)
		}
		return c
	}
	reader := login(e.keyOf("acme", switchboard.RoleRead))
	list := e.do(reader, "GET", "/ui/messages", nil)
	if !strings.Contains(list.body, mine.ID) || strings.Contains(list.body, other.ID) {
		t.Errorf("acme's reader: the message list shows the wrong tenants:\n%s", list.text)
	}
	page := e.do(reader, "GET", "/ui/messages/"+mine.ID, nil)
	if page.status != http.StatusOK || strings.Contains(page.body, "/cancel") {
		t.Errorf("acme's reader on its queued message: %d, offered a cancel: %v", page.status, strings.Contains(page.body, "/cancel"))
	}
	if r := e.do(reader, "GET", "/ui/messages/"+other.ID, nil); r.status != http.StatusNotFound {
		t.Errorf("acme's reader on another tenant's message: %d, want 404", r.status)
	}
	for _, p := range []string{"/ui/failures", "/ui/charts", "/ui/senders"} {
		if r := e.do(reader, "GET", p, nil); r.status != http.StatusNotFound {
			t.Errorf("acme's reader on %s: %d, want 404", p, r.status)
		}
	}
	if r := e.do(reader, "GET", "/ui/keys", nil); r.status != http.StatusNotFound || strings.Contains(page.body, `href="/ui/keys"`) {
		t.Errorf("acme's reader is offered the keys: %d", r.status)
	}
	csrf := csrfOf(t, page.body)
	if r := e.do(reader, "POST", "/ui/messages/"+mine.ID+"/cancel", url.Values{"csrf": {csrf}}); r.status != http.StatusForbidden {
		t.Errorf("acme's reader cancels: %d, want 403", r.status)
	}
	if got := e.get(mine.ID); got.Status != switchboard.StatusQueued {
		t.Errorf("after a refused cancel the message is %s", got.Status)
	}

	admin := login(e.keyOf("acme", switchboard.RoleAdmin))
	if r := e.do(admin, "GET", "/ui/keys", nil); r.status != http.StatusOK || !strings.Contains(r.text, "read-acme") || strings.Contains(r.text, "ops") {
		t.Errorf("acme's admin on the keys page: %d, want acme's keys only:\n%s", r.status, r.text)
	}
	csrf = csrfOf(t, e.do(admin, "GET", "/ui/messages/"+mine.ID, nil).body)
	if r := e.do(admin, "POST", "/ui/messages/"+other.ID+"/cancel", url.Values{"csrf": {csrf}}); r.status != http.StatusNotFound {
		t.Errorf("acme's admin cancels another tenant's message: %d, want 404", r.status)
	}
	if got := e.get(other.ID); got.Status != switchboard.StatusQueued {
		t.Errorf("another tenant's message is %s after acme's admin tried", got.Status)
	}
	if r := e.do(admin, "POST", "/ui/messages/"+mine.ID+"/cancel", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Errorf("acme's admin cancels its message: %d", r.status)
	}

	c := e.client()
	if r := e.login(c, url.Values{"api_key": {e.keyOf("acme", switchboard.RoleSend)}}); r.status != http.StatusForbidden {
		t.Errorf("a send key logs in: %d, want 403", r.status)
	}

	// The password user: tenant acme, read.
	c = e.client()
	if r := e.login(c, url.Values{"user": {testUser}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		t.Fatalf("password login: %d", r.status)
	}
	if r := e.do(c, "GET", "/ui/messages/"+other.ID, nil); r.status != http.StatusNotFound {
		t.Errorf("the password user of acme on another tenant's message: %d, want 404", r.status)
	}
	if r := e.do(c, "GET", "/ui/", nil); !strings.Contains(r.text, "tenant acme") || !strings.Contains(r.text, "read") {
		t.Errorf("the header does not name the tenant and role:\n%s", r.text)
	}
}

// The refused verification starts on the verifications page are the session's tenant's: acme's
// reader sees acme's refusal and not another tenant's.
func TestRefusalsOfTheSessionTenant(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.UserTenant, c.UserRole = "acme", switchboard.RoleRead })
	now := e.clock.now()
	if err := e.store.CreateTenant(t.Context(), &switchboard.Tenant{ID: "acme", Name: "Acme", Environment: switchboard.EnvProduction,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*switchboard.Refusal{
		{ID: "ref_acme0001", Tenant: "acme", Reason: "rate_limited_user_ref", Detail: "d", To: "+14155550181", At: now},
		{ID: "ref_othr0001", Reason: "rate_limited_user_ref", Detail: "d", To: "+14155550182", At: now},
	} {
		if err := e.store.RecordRefusal(t.Context(), r, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client()
	if r := e.login(c, url.Values{"api_key": {e.keyOf("acme", switchboard.RoleRead)}}); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d\n%s", r.status, r.body)
	}
	page := e.do(c, "GET", "/ui/verifications", nil)
	if page.status != http.StatusOK || !strings.Contains(page.text, "ref_acme0001") || strings.Contains(page.text, "ref_othr0001") {
		t.Errorf("acme's reader on the verifications page: %d, want acme's refusal only:\n%s", page.status, page.text)
	}
}
