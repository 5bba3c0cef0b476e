package templates

import (
	"fmt"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// oneVariable loads a template whose body is "[{{v}}]" with variable v declared as decl (the
// inside of a YAML flow mapping, e.g. "type: date"), in the given locale.
func oneVariable(t testing.TB, locale, decl string) *Template {
	t.Helper()
	dir := writeCatalog(t, map[string]string{"t.yaml": fmt.Sprintf(
		"name: t\nversion: 1\nlocale: %s\ncategory: transactional\nbody: \"[{{v}}]\"\nvariables:\n  v: {%s}\n", locale, decl)})
	tmpl, err := mustLoad(t, dir).Lookup("t", 1, locale)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// wantCode checks that err is an EINVALID *switchboard.Error with the given code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if switchboard.ErrorKindOf(err) != switchboard.EINVALID || switchboard.ErrorCodeOf(err) != code {
		t.Fatalf("error = %v, want EINVALID/%s", err, code)
	}
}

func TestRenderTypes(t *testing.T) {
	t.Parallel()
	type check struct {
		locale, value, want string // want "" means invalid_variable
	}
	tests := []struct {
		decl   string
		checks []check
	}{
		{"type: string", []check{
			{"en", "Ana María", "Ana María"},
			{"en", "€ {{x}} 😀", "€ {{x}} 😀"}, // values are not templates
			{"en", "two\nlines", ""},
			{"en", "tab\there", ""},
			{"en", "bad \xff utf-8", ""},
			{"en", strings.Repeat("x", MaxBodyChars+1), ""},
		}},
		{"type: string, max_length: 3", []check{
			{"en", "ñño", "ñño"}, // characters, not bytes
			{"en", "abcd", ""},
		}},
		{"type: int", []check{
			{"en", "42", "42"},
			{"en", "-7", "-7"},
			{"en", "048213", "048213"},
			{"en", "123456789012345678", "123456789012345678"},
			{"en", "1234567890123456789", ""},
			{"en", "4.2", ""},
			{"en", "+4", ""},
			{"en", "-", ""},
			{"en", "٣", ""}, // not an ASCII digit
			{"en", " 42", ""},
		}},
		{"type: decimal", []check{
			{"en", "189.50", "189.50"},
			{"en", "189", "189"},
			{"es", "189.50", "189,50"},
			{"de-AT", "-0.5", "-0,5"},
			{"ja", "3.25", "3.25"},
			{"en", "1.234", ""}, // precision 2 by default
			{"en", "1,50", ""},
			{"en", ".5", ""},
			{"en", "5.", ""},
			{"en", "1e3", ""},
		}},
		{"type: decimal, precision: 0", []check{
			{"en", "12", "12"},
			{"en", "12.0", ""},
		}},
		{"type: date", []check{
			{"en", "2026-03-05", "March 5, 2026"},
			{"en-US", "2026-12-31", "December 31, 2026"},
			{"en-GB", "2026-03-05", "5 March 2026"},
			{"es", "2026-03-05", "5 de marzo de 2026"},
			{"es-MX", "2026-01-01", "1 de enero de 2026"},
			{"pt-BR", "2026-03-05", "5 de março de 2026"},
			{"fr", "2026-08-15", "15 août 2026"},
			{"it", "2026-03-05", "5 marzo 2026"},
			{"de", "2026-03-05", "5. März 2026"},
			{"ja", "2026-03-05", "2026-03-05"},
			{"en", "2028-02-29", "February 29, 2028"},
			{"en", "2026-02-29", ""},
			{"en", "2026-13-01", ""},
			{"en", "2026-00-10", ""},
			{"en", "2026-3-5", ""},
			{"en", "05/03/2026", ""},
			{"en", "2026-03-05T10:00", ""},
		}},
		{"type: time", []check{
			{"en", "14:30", "2:30 PM"},
			{"en", "00:05", "12:05 AM"},
			{"en", "12:00", "12:00 PM"},
			{"en-US", "09:15:59", "9:15 AM"},
			{"en-GB", "14:30", "14:30"},
			{"es", "09:05", "09:05"},
			{"fr", "23:59:00.5", "23:59"},
			{"en", "24:00", ""},
			{"en", "12:60", ""},
			{"en", "9:30", ""},
			{"en", "09:30:61", ""},
			{"en", "09:30Z", ""},
		}},
		{"type: datetime", []check{
			{"en", "2026-03-05T15:30", "March 5, 2026, 3:30 PM"},
			{"en", "2026-03-05T15:30:00-06:00", "March 5, 2026, 3:30 PM"},
			{"es", "2026-03-05T15:30:00.123Z", "5 de marzo de 2026, 15:30"},
			{"ja", "2026-03-05t08:00+09:00", "2026-03-05, 08:00"},
			{"en", "2026-03-05 15:30", ""},
			{"en", "2026-03-05T15:30+25:00", ""},
			{"en", "2026-03-05T", ""},
			{"en", "2026-02-30T10:00", ""},
			{"en", "2026-03-05", ""},
		}},
		{"type: phone", []check{
			{"en", "+14155550100", "+14155550100"},
			{"en", "+1 (415) 555-0100", "+14155550100"},
			{"en", "+44 20 7183 8750", "+442071838750"},
			{"en", "4155550100", ""},
			{"en", "+15555550100", ""},
			{"en", "+1415555010x", ""},
		}},
		{"type: url", []check{
			{"en", "https://app.example.com/jobs/J-1?x=1#top", "https://app.example.com/jobs/J-1?x=1#top"},
			{"en", "HTTPS://example.com", "HTTPS://example.com"},
			{"en", "http://example.com", ""},
			{"en", "https://user:pw@example.com", ""},
			{"en", "https:///path", ""},
			{"en", "example.com/a", ""},
			{"en", "https://example.com/a b", ""},
			{"en", "javascript:alert(1)", ""},
		}},
		{"type: enum, values: [USD, EUR]", []check{
			{"en", "USD", "USD"},
			{"en", "usd", ""},
			{"en", "GBP", ""},
		}},
		{"type: enum, values: {moved: trasladado, rescheduled: reprogramado}", []check{
			{"es", "moved", "trasladado"},
			{"es", "trasladado", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.decl, func(t *testing.T) {
			t.Parallel()
			for _, c := range tt.checks {
				tmpl := oneVariable(t, c.locale, tt.decl)
				got, err := tmpl.Render(map[string]string{"v": c.value})
				if c.want == "" {
					if switchboard.ErrorCodeOf(err) != CodeInvalidVariable {
						t.Errorf("%s %q: got %q, %v; want invalid_variable", c.locale, c.value, got, err)
					}
					continue
				}
				if err != nil || got != "["+c.want+"]" {
					t.Errorf("%s %q: got %q, %v; want %q", c.locale, c.value, got, err, "["+c.want+"]")
				}
			}
		})
	}
}

// TestRenderErrorsNeverQuoteValues: an error message may reach logs and dashboards; values may
// be personal data.
func TestRenderErrorsNeverQuoteValues(t *testing.T) {
	t.Parallel()
	const secret = "Zebra7781"
	for _, decl := range []string{"type: int", "type: decimal", "type: date", "type: time", "type: datetime",
		"type: phone", "type: url", "type: enum, values: [a]", "type: string, max_length: 2"} {
		_, err := oneVariable(t, "en", decl).Render(map[string]string{"v": secret})
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %v quotes the value", decl, err)
		}
	}
}

func TestRenderMissingAndUnknownVariables(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{"t.yaml": `
name: t
version: 3
locale: en
category: transactional
body: "{{a}}/{{b}}/{{a}}/{{c}}"
variables:
  a: {type: string}
  b: {type: int, required: false}
  c: {type: string, required: false}
`})
	tmpl, _ := mustLoad(t, dir).Lookup("t", 0, "")

	got, err := tmpl.Render(map[string]string{"a": "x", "c": ""})
	if err != nil || got != "x//x/" {
		t.Errorf("optional variables absent or empty: got %q, %v; want %q", got, err, "x//x/")
	}

	_, err = tmpl.Render(nil)
	wantCode(t, err, CodeMissingVariable)
	if msg := switchboard.ErrorMessage(err); !strings.Contains(msg, `"a"`) || !strings.Contains(msg, "t@3/en") {
		t.Errorf("message %q should name the variable and the template", msg)
	}
	_, err = tmpl.Render(map[string]string{"a": ""})
	wantCode(t, err, CodeMissingVariable)

	_, err = tmpl.Render(map[string]string{"a": "x", "zeta": "1", "alpha": "2"})
	wantCode(t, err, CodeUnknownVariable)
	if msg := switchboard.ErrorMessage(err); !strings.Contains(msg, `variables "alpha", "zeta"; it declares "a", "b", "c"`) {
		t.Errorf("message %q should list the unknown variables, sorted, and the declared ones", msg)
	}

	_, err = tmpl.Render(map[string]string{"a": "x", "b": "nope"})
	wantCode(t, err, CodeInvalidVariable)
	if msg := switchboard.ErrorMessage(err); !strings.Contains(msg, `variable "b" must be an integer`) {
		t.Errorf("message %q", msg)
	}
}

func TestRenderSensitiveVariables(t *testing.T) {
	t.Parallel()
	t.Run("refused at load", func(t *testing.T) {
		t.Parallel()
		fs := loadErrors(t, writeCatalog(t, map[string]string{"t.yaml": `
name: t
version: 1
locale: en
category: transactional
body: "Your result: {{result}}"
variables:
  result: {type: string, sensitive: true}
`}))
		if len(fs) != 1 || fs[0].Rule != RuleSensitiveVariable {
			t.Errorf("findings = %v, want one sensitive_variable", fs)
		}
	})

	dir := writeCatalog(t, map[string]string{"t.yaml": `
name: t
version: 1
locale: en
category: transactional
body: "{{clinic}}: see you on {{day}} with {{provider}}"
variables:
  clinic: {type: string}
  day: {type: date}
  provider: {type: string}
  reason: {type: string, sensitive: true, required: false}
  dob: {type: date, sensitive: true, required: false}
  initial: {type: string, sensitive: true, required: false}
`})
	tmpl, _ := mustLoad(t, dir).Lookup("t", 1, "en")
	base := map[string]string{"clinic": "Northside", "day": "2026-03-05", "provider": "Dr. Rivera"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	t.Run("accepted, not rendered", func(t *testing.T) {
		got, err := tmpl.Render(with(map[string]string{"reason": "Diabetes follow-up", "dob": "1980-07-14", "initial": "R"}))
		if err != nil || got != "Northside: see you on March 5, 2026 with Dr. Rivera" {
			t.Errorf("got %q, %v", got, err)
		}
	})
	t.Run("leaking through another variable", func(t *testing.T) {
		_, err := tmpl.Render(with(map[string]string{"reason": "HIV", "provider": "the HIV clinic"}))
		if err != nil {
			t.Errorf("a 3-character sensitive value is too short to look for; got %v", err)
		}
		_, err = tmpl.Render(with(map[string]string{"reason": "Diabetes", "provider": "the diabetes team"}))
		wantCode(t, err, CodeSensitiveVariable)
		if strings.Contains(strings.ToLower(err.Error()), "diabetes") {
			t.Errorf("the error quotes the sensitive value: %v", err)
		}
		_, err = tmpl.Render(with(map[string]string{"reason": "  Rivera  "}))
		wantCode(t, err, CodeSensitiveVariable)
	})
	t.Run("second line of defence", func(t *testing.T) {
		// A template changed after load must still not render a sensitive variable.
		leaky := *tmpl
		leaky.parts = append([]part{{v: 3}}, tmpl.parts...)
		_, err := leaky.Render(with(map[string]string{"reason": "x"}))
		wantCode(t, err, CodeSensitiveVariable)
	})
}

func TestRenderBodyTooLong(t *testing.T) {
	t.Parallel()
	tmpl := oneVariable(t, "en", "type: string")
	got, err := tmpl.Render(map[string]string{"v": strings.Repeat("é", MaxBodyChars-2)})
	if err != nil || len([]rune(got)) != MaxBodyChars {
		t.Errorf("a body of exactly %d characters: %d, %v", MaxBodyChars, len([]rune(got)), err)
	}
	_, err = tmpl.Render(map[string]string{"v": strings.Repeat("é", MaxBodyChars-1)})
	wantCode(t, err, CodeBodyTooLong)
}

func TestRenderUnloadedTemplate(t *testing.T) {
	t.Parallel()
	_, err := (&Template{Name: "x", Body: "x"}).Render(nil)
	if switchboard.ErrorKindOf(err) != switchboard.EINTERNAL {
		t.Errorf("a template not made by Load: %v", err)
	}
	var nilTemplate *Template
	if _, err := nilTemplate.Render(nil); err == nil {
		t.Error("a nil template rendered")
	}
}

func BenchmarkRender(b *testing.B) {
	c := mustLoad(b, exampleDir)
	b.Run("strings", func(b *testing.B) {
		tmpl, _ := c.Lookup("technician_on_the_way", 0, "en")
		vars := map[string]string{"company": "Acme Heating", "technician": "Ana", "eta": "10:45", "link": "https://track.example.com/v/8f3k2"}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tmpl.Render(vars); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("typed", func(b *testing.B) {
		tmpl, _ := c.Lookup("job_completed", 0, "es")
		vars := map[string]string{"company": "Calefacciones Acme", "job_id": "J-10482", "amount": "189.50", "currency": "MXN",
			"link": "https://app.example.com/rate/J-10482"}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tmpl.Render(vars); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sensitive", func(b *testing.B) {
		tmpl, _ := c.Lookup("appointment_reminder", 0, "en")
		vars := map[string]string{"clinic": "Northside Clinic", "provider": "Dr. Rivera", "starts_at": "2026-03-05T15:30:00-06:00",
			"link": "https://clinic.example.com/a/7Hq2", "reason": "Diabetes follow-up", "date_of_birth": "1980-07-14"}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tmpl.Render(vars); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("catalog", func(b *testing.B) {
		vars := map[string]string{"code": "048213", "app": "Acme", "minutes": "10"}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Render("signup_code", 0, "es-MX", vars); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The tenant-aware form, as acceptance calls it: a tenant's override, and a tenant without.
	onway := map[string]string{"company": "Acme Heating", "technician": "Ana", "eta": "10:45", "link": "https://track.example.com/v/8f3k2"}
	for _, tenant := range []string{"acme", "globex"} {
		b.Run("catalog_tenant_"+tenant, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.RenderTenant(tenant, "technician_on_the_way", 0, "en", onway); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("catalog_shared", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Render("technician_on_the_way", 0, "en", onway); err != nil {
				b.Fatal(err)
			}
		}
	})
}
