package templates

import (
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// versioned is a catalog of "notice" in three versions: v1 in en, es, es-MX and fr; v2 in en
// and es; v3 in es only.
var versioned = map[string]string{
	"v1.yaml": `
- {name: notice, version: 1, locale: en, category: transactional, body: "v1 en"}
- {name: notice, version: 1, locale: es, category: transactional, body: "v1 es"}
- {name: notice, version: 1, locale: es-MX, category: transactional, body: "v1 es-MX"}
- {name: notice, version: 1, locale: fr, category: transactional, body: "v1 fr"}
`,
	"v2.yaml": `
- {name: notice, version: 2, locale: en, category: transactional, body: "v2 en"}
- {name: notice, version: 2, locale: es, category: transactional, body: "v2 es"}
`,
	"v3.yaml": `
- {name: notice, version: 3, locale: es, category: transactional, body: "v3 es"}
`,
}

func TestLookupVersions(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, writeCatalog(t, versioned))
	tests := []struct {
		version int
		locale  string
		want    string
	}{
		{0, "es", "v3 es"}, // 0 is the newest
		{3, "es", "v3 es"},
		{2, "es", "v2 es"},
		{1, "es", "v1 es"},
		{1, "fr", "v1 fr"},
		{2, "fr", "v2 en"}, // the version first, then the locale: v2 has no fr
		{1, "es-MX", "v1 es-MX"},
		{2, "es-MX", "v2 es"},
	}
	for _, tt := range tests {
		tmpl, err := c.Lookup("notice", tt.version, tt.locale)
		if err != nil || tmpl.Body != tt.want {
			t.Errorf("Lookup(notice, %d, %s) = %v, %v; want %q", tt.version, tt.locale, tmpl, err, tt.want)
		}
	}

	_, err := c.Lookup("notice", 4, "es")
	if switchboard.ErrorKindOf(err) != switchboard.EUNPROCESSABLE || switchboard.ErrorCodeOf(err) != CodeTemplateNotFound ||
		!strings.Contains(err.Error(), "no version 4 (it has 3, 2, 1)") {
		t.Errorf("missing version: %v", err)
	}
	_, err = c.Lookup("notice", 0, "en") // v3 has neither en nor the default
	if switchboard.ErrorCodeOf(err) != CodeTemplateNotFound || !strings.Contains(err.Error(), "no translation for en (it has es)") {
		t.Errorf("no locale in the chain: %v", err)
	}
	_, err = c.Lookup("notice", -1, "")
	wantCode(t, err, CodeInvalidTemplateVersion)
	_, err = c.Lookup("nope", 0, "")
	if switchboard.ErrorKindOf(err) != switchboard.EUNPROCESSABLE || switchboard.ErrorCodeOf(err) != CodeTemplateNotFound {
		t.Errorf("unknown name: %v", err)
	}
	_, err = c.Lookup(strings.Repeat("n", 10000), 0, "")
	if len(err.Error()) > 200 {
		t.Errorf("an error quotes a whole caller-given name: %d bytes", len(err.Error()))
	}
}

func TestLookupLocaleFallback(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, writeCatalog(t, versioned))
	tests := []struct {
		locale, want string
	}{
		{"es-MX", "v1 es-MX"},
		{"es_mx", "v1 es-MX"}, // any case, _ for -
		{"es-AR", "v1 es"},    // es-AR → es
		{"es-419", "v1 es"},
		{"fr-CA", "v1 fr"},
		{"de-DE", "v1 en"}, // → the default
		{"", "v1 en"},
	}
	for _, tt := range tests {
		tmpl, err := c.Lookup("notice", 1, tt.locale)
		if err != nil || tmpl.Body != tt.want {
			t.Errorf("Lookup(notice, 1, %q) = %v, %v; want %q", tt.locale, tmpl, err, tt.want)
		}
	}
	_, err := c.Lookup("notice", 1, "klingon")
	wantCode(t, err, CodeInvalidLocale)

	// A configured default locale ends the chain instead of en.
	c = mustLoad(t, writeCatalog(t, versioned), WithDefaultLocale("fr"))
	for locale, want := range map[string]string{"de": "v1 fr", "": "v1 fr", "en-GB": "v1 en", "es-CO": "v1 es"} {
		if tmpl, err := c.Lookup("notice", 1, locale); err != nil || tmpl.Body != want {
			t.Errorf("default fr: Lookup(notice, 1, %q) = %v, %v; want %q", locale, tmpl, err, want)
		}
	}
	if _, err := c.Lookup("notice", 2, "de"); switchboard.ErrorCodeOf(err) != CodeTemplateNotFound {
		t.Errorf("v2 has no de and no fr: %v", err)
	}
}

func TestCatalogRenderRecordsTheTemplate(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, exampleDir)
	r, err := c.Render("job_updated", 0, "es-MX", map[string]string{
		"job_id": "J-7", "change": "moved", "date": "2026-03-06", "time": "09:00", "address": "Calle Olmo 12",
		"link": "https://app.example.com/jobs/J-7",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Template: "job_updated", Version: 2, Locale: "es", Channel: switchboard.ChannelSMS, Category: switchboard.CategoryTransactional,
		Body:     "El trabajo J-7 fue trasladado. Ahora: 6 de marzo de 2026 a las 09:00, Calle Olmo 12. Detalles: https://app.example.com/jobs/J-7",
		Segments: 1, Encoding: switchboard.EncodingGSM7,
	}
	if *r != want {
		t.Errorf("Render =\n%+v\nwant\n%+v", *r, want)
	}

	r, err = c.Render("signup_code", 0, "es", map[string]string{"code": "048213", "app": "Acme", "minutes": "10"})
	if err != nil || r.Encoding != switchboard.EncodingUCS2 || r.Segments != 1 || r.Category != switchboard.CategoryOTP {
		t.Errorf("signup_code/es = %+v, %v", r, err)
	}
	r, err = c.Render("appointment_reminder_whatsapp", 1, "en", map[string]string{
		"clinic": "Northside", "provider": "Dr. Rivera", "starts_at": "2026-03-05T15:30"})
	if err != nil || r.Channel != switchboard.ChannelWhatsApp || r.ContentSID == "" {
		t.Errorf("appointment_reminder_whatsapp = %+v, %v", r, err)
	}

	if _, err := c.Render("job_updated", 0, "es", nil); switchboard.ErrorCodeOf(err) != CodeMissingVariable {
		t.Errorf("Render without variables: %v", err)
	}
	if _, err := c.Render("nope", 0, "es", nil); switchboard.ErrorCodeOf(err) != CodeTemplateNotFound {
		t.Errorf("Render of an unknown template: %v", err)
	}
}

func TestTemplateAccessors(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, exampleDir)
	tmpl, _ := c.Lookup("appointment_reminder", 1, "en")
	if got := tmpl.String(); got != "appointment_reminder@1/en" {
		t.Errorf("String = %q", got)
	}
	if got := strings.Join(tmpl.Placeholders(), ","); got != "clinic,provider,starts_at,link" {
		t.Errorf("Placeholders = %s", got)
	}
	if v := tmpl.Variable("reason"); v == nil || !v.Sensitive || v.Required {
		t.Errorf("Variable(reason) = %+v", v)
	}
	if tmpl.Variable("nope") != nil {
		t.Error("Variable of an undeclared name")
	}
	ts := c.Templates()
	ts[0] = nil // a copy: the catalog does not change
	if c.Templates()[0] == nil {
		t.Error("Templates returned the catalog's own slice")
	}
}
