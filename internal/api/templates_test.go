package api_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/templates"
)

const catalog = `
- name: job_assigned
  version: 1
  locale: en
  category: transactional
  body: "Job {{job}} assigned to you for {{date}}."
  variables:
    job: {type: string, max_length: 20, example: "J-1042"}
    date: {type: date, example: "2026-03-05"}
- name: job_assigned
  version: 2
  locale: en
  category: transactional
  body: "New job {{job}} on {{date}}. Reply HELP for help."
  variables:
    job: {type: string, max_length: 20, example: "J-1042"}
    date: {type: date, example: "2026-03-05"}
- name: job_assigned
  version: 2
  locale: es
  category: transactional
  body: "Nuevo trabajo {{job}} el {{date}}."
  variables:
    job: {type: string, max_length: 20, example: "J-1042"}
    date: {type: date, example: "2026-03-05"}
- name: promo
  version: 1
  locale: en
  category: marketing
  body: "Spring offer: {{pct}}% off."
  variables:
    pct: {type: int, example: "20"}
- name: patient_note
  version: 1
  locale: en
  category: transactional
  body: "Hi {{name}}, your appointment is confirmed."
  variables:
    name: {type: string, max_length: 60, example: "Ann"}
    diagnosis: {type: string, sensitive: true, required: false, example: "flu"}
`

func TestSendByTemplate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(catalog), 0o600)
	cat, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.CreateAPIKey(context.Background(), &switchboard.APIKey{ID: "key_1", Name: "test", Hash: switchboard.HashAPIKeySecret(secret), CreatedAt: now})
	s := api.New(api.Config{
		Store: db, Clock: func() time.Time { return now },
		Senders:   []switchboard.Sender{{From: "+15005550006", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"}},
		Consent:   consent.New(db, func() time.Time { return now }, switchboard.CategoryMarketing),
		Templates: func() *templates.Catalog { return cat },
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	f := &fixture{store: db, srv: srv}

	code, m, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","template":"job_assigned","variables":{"job":"J-77","date":"2026-03-05"}}`)
	if code != 202 || m["template"] != "job_assigned" || m["template_version"].(float64) != 2 || !strings.HasPrefix(m["body"].(string), "New job J-77 on March 5, 2026") {
		t.Fatalf("newest version: %d %v", code, m)
	}
	if !strings.Contains(m["events"].([]any)[0].(map[string]any)["detail"].(string), "template job_assigned version 2 (en)") {
		t.Fatalf("created event does not name the template: %v", m["events"])
	}
	code, m, _ = f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","template":"job_assigned","template_version":1,"locale":"es-MX","variables":{"job":"J-77","date":"2026-03-05"}}`)
	if code != 202 || m["template_version"].(float64) != 1 || !strings.HasPrefix(m["body"].(string), "Job J-77") {
		t.Fatalf("version 1 (no es: falls back to en): %d %v", code, m)
	}
	code, m, _ = f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","template":"job_assigned","locale":"es","variables":{"job":"J-77","date":"2026-03-05"}}`)
	if code != 202 || !strings.HasPrefix(m["body"].(string), "Nuevo trabajo J-77 el 5 de marzo de 2026") {
		t.Fatalf("es: %d %v", code, m)
	}
	for _, c := range []struct{ body, code string }{
		{`{"to":"+14155550100","template":"job_assigned","variables":{"job":"J-77"}}`, "missing_variable"},
		{`{"to":"+14155550100","template":"job_assigned","variables":{"job":"J-77","date":"2026-03-05","x":"1"}}`, "unknown_variable"},
		{`{"to":"+14155550100","template":"job_assigned","variables":{"job":"J-77","date":"yesterday"}}`, "invalid_variable"},
		{`{"to":"+14155550100","template":"job_assigned","body":"x","variables":{"job":"J-77","date":"2026-03-05"}}`, "body_and_template"},
		{`{"to":"+14155550100","body":"x","variables":{"a":"b"}}`, "missing_template"},
		{`{"to":"+14155550100","template":"promo","category":"transactional","variables":{"pct":"20"}}`, "category_mismatch"},
		{`{"to":"+14155550100","template":"patient_note","variables":{"name":"Ann, re chronic migraine","diagnosis":"Chronic migraine"}}`, "sensitive_variable"},
	} {
		if code, p, _ := f.do(t, "POST", "/v1/messages", c.body); code != 400 || p["code"] != c.code {
			t.Errorf("%s: %d %v, want 400 %s", c.body, code, p, c.code)
		}
	}
	if code, p, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","template":"nope"}`); code != 422 || p["code"] != "template_not_found" {
		t.Errorf("unknown template: %d %v", code, p)
	}
	// The template's category applies: a marketing template needs an opt-in.
	if code, p, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","template":"promo","variables":{"pct":"20"}}`); code != 422 || p["code"] != "opt_in_required" {
		t.Errorf("marketing template without opt-in: %d %v", code, p)
	}
}
