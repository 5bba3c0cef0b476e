package verify_test

import (
	"path/filepath"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/templates"
	"github.com/switchboard-gw/switchboard/internal/verify"
)

// smsOf returns the otp message of a verification's last send.
func (h *harness) smsOf(v map[string]any) *switchboard.Message {
	h.t.Helper()
	sends := v["send_attempts"].([]any)
	m, err := h.store.GetMessage(h.t.Context(), sends[len(sends)-1].(map[string]any)["message_id"].(string))
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

// TestSMSCodeFromTheCatalogTemplate (issue 15): with the example catalog, an SMS code is the
// signup_code template of the closest locale filled with the code, the app name and the minutes;
// without a catalog, or with an app name the template cannot take, the built-in text goes, named
// by the app.
func TestSMSCodeFromTheCatalogTemplate(t *testing.T) {
	t.Parallel()
	cat, err := templates.Load(filepath.Join("..", "..", "examples", "templates"))
	if err != nil {
		t.Fatal(err)
	}
	withCatalog := func(app string) func(*verify.Config) {
		return func(c *verify.Config) {
			c.Templates = func() *templates.Catalog { return cat }
			c.AppName = app
		}
	}

	h := newHarness(t, withCatalog("Acme"))
	v := h.start(map[string]any{"to": "+14155550320"}, 201).body
	code, m := h.codeOf(v), h.smsOf(v)
	if m.Body != code+" is your Acme verification code. It expires in 10 minutes. Never share it." ||
		m.Template != "signup_code" || m.TemplateVersion != 1 || m.BodyLength != len([]rune(m.Body)) || m.BodySHA256 == "" {
		t.Errorf("English code message: %q template %s@%d", m.Body, m.Template, m.TemplateVersion)
	}
	v = h.start(map[string]any{"to": "+14155550321", "locale": "es-MX"}, 201).body
	if code, m = h.codeOf(v), h.smsOf(v); m.Body != code+" es tu código de Acme. Vence en 10 minutos. No lo compartas." {
		t.Errorf("Spanish code message: %q", m.Body)
	}

	// An app name over the template's max_length: the built-in text, named.
	h = newHarness(t, withCatalog("An Application Name Too Long"))
	v = h.start(map[string]any{"to": "+14155550322"}, 201).body
	if code, m = h.codeOf(v), h.smsOf(v); m.Template != "" || m.Body != "An Application Name Too Long: Your verification code is "+code+". It expires in 10 minutes. Do not share it." {
		t.Errorf("fallback to the built-in text: %q template %q", m.Body, m.Template)
	}

	// No catalog: the built-in text, with the app name when set.
	h = newHarness(t, func(c *verify.Config) { c.AppName = "Acme" })
	v = h.start(map[string]any{"to": "+14155550323"}, 201).body
	if code, m = h.codeOf(v), h.smsOf(v); !strings.HasPrefix(m.Body, "Acme: Your verification code is "+code) {
		t.Errorf("built-in text: %q", m.Body)
	}
}
