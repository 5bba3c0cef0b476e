package accept_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/templates"
	"github.com/switchboard-gw/switchboard/internal/verify"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// TestTemplateOverridesOfATenant: a message of tenant acme is rendered from acme's override of
// the template (templates_dir/tenants/acme/), globex's from the shared template of that name;
// each records the template and version it was rendered from, and acme's "created" event says
// it was acme's override. A call's SMS and a verification's code of acme use acme's override too.
func TestTemplateOverridesOfATenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2031, 5, 6, 15, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	for name, body := range map[string]string{
		"job.yaml": `
- {name: job_assigned, version: 1, locale: en, category: transactional, body: "Job {{job}} assigned", variables: {job: {type: string, example: J-1}}}
- {name: job_assigned, version: 2, locale: en, category: transactional, body: "New job {{job}}", variables: {job: {type: string, example: J-1}}}
- {name: missed_call, version: 1, locale: en, category: transactional, body: "We missed you, {{name}}", variables: {name: {type: string, example: Ana}}}
- {name: signup_code, version: 1, locale: en, category: otp, body: "{{code}} is your code", variables: {code: {type: int, example: "123456"}}}
`,
		"tenants/acme/job.yaml": `
- {name: job_assigned, version: 1, locale: en, category: transactional, body: "Acme: technician booked for job {{job}}", variables: {job: {type: string, example: J-1}}}
- {name: missed_call, version: 3, locale: en, category: transactional, body: "Acme tried to call you, {{name}}", variables: {name: {type: string, example: Ana}}}
- {name: signup_code, version: 1, locale: en, category: otp, body: "Acme code: {{code}}", variables: {code: {type: int, example: "123456"}}}
`,
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	catalog, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat := func() *templates.Catalog { return catalog }
	senders := []switchboard.Sender{{From: sender, Pool: switchboard.DefaultPool}}
	svc := accept.New(accept.Config{Store: db, Senders: senders, Clock: clock, Templates: cat})

	send := func(tenant, to string) *switchboard.Message {
		t.Helper()
		key := &switchboard.APIKey{ID: "key_" + tenant, Name: tenant, Tenant: tenant}
		m, _, err := svc.Accept(ctx, key, &accept.Request{To: to, Template: "job_assigned", Variables: map[string]string{"job": "J-7"}}, "")
		if err != nil {
			t.Fatalf("%s: %v", tenant, err)
		}
		stored, err := db.GetMessage(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return stored
	}
	acme := send("acme", "+14155550100")
	if acme.Body != "Acme: technician booked for job J-7" || acme.Template != "job_assigned" || acme.TemplateVersion != 1 || acme.Tenant != "acme" {
		t.Errorf("acme's message: %q %s@%d tenant %s", acme.Body, acme.Template, acme.TemplateVersion, acme.Tenant)
	}
	if d := acme.Events[0].Detail; !strings.Contains(d, "from template job_assigned version 1 (en), tenant acme's override") {
		t.Errorf("acme's created event: %q", d)
	}
	globex := send("globex", "+14155550101")
	if globex.Body != "New job J-7" || globex.Template != "job_assigned" || globex.TemplateVersion != 2 || globex.Tenant != "globex" {
		t.Errorf("globex's message: %q %s@%d tenant %s", globex.Body, globex.Template, globex.TemplateVersion, globex.Tenant)
	}
	if d := globex.Events[0].Detail; !strings.Contains(d, "from template job_assigned version 2 (en)") || strings.Contains(d, "override") {
		t.Errorf("globex's created event: %q", d)
	}

	// A call of acme: its fallback SMS is acme's override, and acme's message.
	sms := &voice.SMS{Messages: svc, Templates: cat, Senders: senders, Validity: time.Hour}
	id, skipped, err := sms.Fallback(ctx, &switchboard.Call{ID: "call_1", Tenant: "acme", To: "+14155550102", From: sender, Status: "no-answer",
		Variables: map[string]string{"name": "Ana"}}, "missed_call")
	if err != nil || id == "" {
		t.Fatalf("call fallback: %q, %q, %v", id, skipped, err)
	}
	m, err := db.GetMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Body != "Acme tried to call you, Ana" || m.TemplateVersion != 3 || m.Tenant != "acme" || !strings.Contains(m.Events[0].Detail, "tenant acme's override") {
		t.Errorf("acme's call fallback: %q v%d tenant %s, %q", m.Body, m.TemplateVersion, m.Tenant, m.Events[0].Detail)
	}

	// A verification of acme: its code goes with acme's signup_code.
	vs, err := verify.New(verify.Config{Store: db, Messages: svc, Clock: clock, Secret: []byte("fixture-verify-secret-0123456789abcdef"),
		From: sender, Pool: switchboard.DefaultPool, Limits: verify.DefaultLimits(), Pumping: verify.DefaultPumping(), Templates: cat})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ tenant, to, prefix, detail string }{
		{"acme", "+14155550103", "Acme code: ", "from template signup_code version 1, tenant acme's override"},
		{"globex", "+14155550104", "", "from template signup_code version 1"},
	} {
		v, err := vs.StartIn(ctx, verify.StartRequest{To: tc.to}, tc.tenant, "key_"+tc.tenant)
		if err != nil {
			t.Fatal(err)
		}
		all, _, err := db.ListMessages(ctx, switchboard.MessageFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var code *switchboard.Message
		for _, m := range all {
			if m.Metadata["verification_id"] == v.ID {
				code, _ = db.GetMessage(ctx, m.ID)
			}
		}
		switch {
		case code == nil:
			t.Errorf("%s: no code message", tc.tenant)
		case !strings.HasPrefix(code.Body, tc.prefix) || code.Template != "signup_code":
			t.Errorf("%s's code: %q (%s)", tc.tenant, code.Body, code.Template)
		case tc.prefix == "" && strings.HasPrefix(code.Body, "Acme"):
			t.Errorf("%s's code is acme's: %q", tc.tenant, code.Body)
		case !strings.HasSuffix(code.Events[0].Detail, tc.detail):
			t.Errorf("%s's code event: %q", tc.tenant, code.Events[0].Detail)
		}
	}
}
