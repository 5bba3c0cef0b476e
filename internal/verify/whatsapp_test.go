package verify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/templates"
	"github.com/switchboard-gw/switchboard/internal/verify"
)

const waVerifyCatalog = `- name: wa_code
  version: 1
  locale: en
  channel: whatsapp
  category: otp
  content_sid: HX0123456789abcdef0123456789abcdef
  body: "{{code}} is your code."
  variables:
    code: {type: string, max_length: 10, example: "048213"}
- name: wa_code
  version: 1
  locale: es
  channel: whatsapp
  category: otp
  content_sid: HX0123456789abcdef0123456789abcde0
  body: "{{code}} es tu código."
  variables:
    code: {type: string, max_length: 10, example: "048213"}
- name: wa_no_content
  version: 1
  locale: en
  channel: whatsapp
  category: otp
  body: "{{code}} is your code."
  variables:
    code: {type: string, max_length: 10, example: "048213"}
- name: wa_two_vars
  version: 1
  locale: en
  channel: whatsapp
  category: otp
  content_sid: HX0123456789abcdef0123456789abcde1
  body: "{{code}} is your {{app}} code."
  variables:
    code: {type: string, max_length: 10, example: "048213"}
    app: {type: string, max_length: 10, example: "Acme"}
`

func waHarness(t *testing.T, template string) *harness {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wa.yaml"), []byte(waVerifyCatalog), 0o600); err != nil {
		t.Fatal(err)
	}
	cat, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, func(c *verify.Config) {
		c.WhatsAppTemplate = template
		c.Templates = func() *templates.Catalog { return cat }
	})
}

// TestWhatsAppCodeMessage: channel whatsapp puts an otp WhatsApp message in the outbox with the
// template's content SID (of the closest locale) and the code as its one content variable.
func TestWhatsAppCodeMessage(t *testing.T) {
	t.Parallel()
	h := waHarness(t, "wa_code")
	v := h.start(map[string]any{"to": "+14155550310", "channel": "whatsapp", "locale": "es-MX"}, 201).body
	code := h.codeOf(v)
	sends := v["send_attempts"].([]any)
	m, err := h.store.GetMessage(t.Context(), sends[0].(map[string]any)["message_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != switchboard.ChannelWhatsApp || m.WhatsApp == nil || m.WhatsApp.ContentSID != "HX0123456789abcdef0123456789abcde0" ||
		m.WhatsApp.ContentVariables != `{"1":"`+code+`"}` || m.Body != code+" es tu código." || m.Template != "wa_code" ||
		m.WhatsApp.Fallback != switchboard.FallbackNone || v["fallback_at"] != nil {
		t.Fatalf("message %+v %+v; verification %v", m, m.WhatsApp, v)
	}
	for _, e := range m.Events {
		if strings.Contains(e.Detail, code) {
			t.Fatalf("the timeline holds the code: %+v", e)
		}
	}
	// A resend on WhatsApp carries the same code.
	again := h.start(map[string]any{"to": "+14155550310", "channel": "whatsapp"}, 200).body
	if h.codeOf(again) != code {
		t.Fatal("the resend carried another code")
	}
}

// TestWhatsAppNotEnabled: without a usable template, channel whatsapp is refused before
// anything is stored, with a detail that says what to set.
func TestWhatsAppNotEnabled(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ template, detail string }{
		{"", "verify_whatsapp_template"},
		{"nope", `"nope" is not in the catalog`},
		{"wa_no_content", "content_sid"},
		{"wa_two_vars", "exactly one variable"},
	} {
		h := waHarness(t, c.template)
		a := h.start(map[string]any{"to": "+14155550311", "channel": "whatsapp"}, 422)
		if a.body["code"] != "channel_not_enabled" || !strings.Contains(a.body["detail"].(string), c.detail) {
			t.Errorf("%q: %v", c.template, a.body)
		}
		if p, err := h.store.PendingVerification(t.Context(), "", "+14155550311", h.clock.Now()); err != nil || p != nil {
			t.Errorf("%q: stored %+v %v", c.template, p, err)
		}
	}
}

// TestFallbackToWhatsApp: with whatsapp first in the policy and a template set, an undelivered
// SMS code moves to WhatsApp (the same code), and no further fallback follows.
func TestFallbackToWhatsApp(t *testing.T) {
	t.Parallel()
	h := waHarness(t, "wa_code")
	v, code, msgID := waitingSMS(t, h, "+14155550312")
	st := switchboard.StatusUndelivered
	if _, err := h.store.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: msgID, Status: st, At: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(5 * time.Second)
	if _, err := h.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := h.do("GET", "/v1/verifications/"+v["id"].(string), nil).body
	if got["channel"] != "whatsapp" || got["fallback_at"] != nil || len(got["send_attempts"].([]any)) != 2 || h.codeOf(got) != code {
		t.Fatalf("after fallback: %v", got)
	}
	h.clock.Add(2 * time.Minute)
	if _, err := h.svc.RunDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(h.caller.all()) != 0 {
		t.Fatal("called after the WhatsApp fallback")
	}
}
