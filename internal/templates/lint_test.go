package templates

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fixture is one template in YAML; vars is the inside of `variables:`, indented by 2.
func fixture(name string, version int, locale, body, vars string) string {
	s := fmt.Sprintf("name: %s\nversion: %d\nlocale: %s\ncategory: transactional\nbody: %q\n", name, version, locale, body)
	if vars != "" {
		s += "variables:\n" + vars
	}
	return s
}

// lintRules lists, for every rule, a small catalog on which it fires, and where.
var lintRules = []struct {
	rule     string
	severity Severity
	files    map[string]string
	file     string // where the finding must point
	line     int
	message  string
}{
	{RuleSyntax, SeverityError, map[string]string{"a.yaml": "name: [t\n"}, "a.yaml", 1, "YAML syntax"},
	{RuleInvalidFile, SeverityError, map[string]string{"a.yaml": "# soon\n"}, "a.yaml", 0, "defines no template"},
	{RuleInvalidField, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", "x", "") + "langauge: en\n"}, "a.yaml", 6, `unknown field "langauge"`}, //nolint:misspell // the typo is the fixture: an unknown field,
	{RuleInvalidPlaceholder, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", "Hi {{ name", "")}, "a.yaml", 5, "{{ without }}"},
	{RuleMissingVariable, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", "Hi {{name}}", "")}, "a.yaml", 5, "{{name}}, which is not declared"},
	{RuleSensitiveVariable, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", "Dx: {{dx}}",
		"  dx: {type: string, sensitive: true, example: Asthma}\n")}, "a.yaml", 5, "{{dx}}, which is sensitive"},
	{RuleDuplicateTemplate, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", "x", ""), "b.yaml": fixture("t", 1, "en", "y", "")},
		"b.yaml", 1, "defined twice: also at"},
	{RuleInvalidContentSID, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", "x", "") + "content_sid: MG00000000000000000000000000000000\n"},
		"a.yaml", 6, "content_sid must be"},

	{RuleUnusedVariable, SeverityWarning, map[string]string{"a.yaml": fixture("t", 1, "en", "Hello",
		"  name: {type: string, example: Ana}\n")}, "a.yaml", 7, "variable name is declared but the body never uses it"},
	{RuleSegments, SeverityInfo, map[string]string{"a.yaml": fixture("t", 1, "en", "Hello {{name}}",
		"  name: {type: string, example: Zoë}\n")}, "a.yaml", 5, "1 segment, UCS-2, 9 characters with example values; 'ë' (U+00EB) at character 9 forces UCS-2"},
	{RuleUCS2, SeverityWarning, map[string]string{"a.yaml": fixture("t", 1, "en", "Your technician’s on the way"+strings.Repeat(".", 60), "")},
		"a.yaml", 5, "'’' (U+2019) at character 16 forces UCS-2: 2 segments instead of 1 in GSM-7"},
	{RuleTooManySegments, SeverityWarning, map[string]string{"a.yaml": fixture("t", 1, "en", "{{a}}",
		fmt.Sprintf("  a: {type: string, example: %s}\n", strings.Repeat("a", 153*3+1)))}, "a.yaml", 5, "takes 4 segments with example values; the limit is 3"},
	{RuleBodyTooLong, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", strings.Repeat("long ", 320)+"!", "")},
		"a.yaml", 5, "the body has 1601 characters with example values; the limit is 1600"},
	{RuleInsecureLink, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", "See HTTP://example.com/x", "")},
		"a.yaml", 5, "http:// at character 5"},
	{RuleInsecureLink, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", "See {{link}}",
		"  link: {type: url, example: \"http://example.com/x\"}\n")}, "a.yaml", 7, "the example of link must be an https URL"},
	{RuleInvalidExample, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", "{{n}} items",
		"  n: {type: int, example: many}\n")}, "a.yaml", 7, "the example of n must be an integer"},
	{RuleMissingExample, SeverityWarning, map[string]string{"a.yaml": fixture("t", 1, "en", "On {{day}}",
		"  day: {type: date}\n")}, "a.yaml", 7, "variable day has no example"},
	{RuleSensitiveVariable, SeverityError, map[string]string{"a.yaml": fixture("t", 1, "en", "With {{provider}}",
		"  provider: {type: string, example: Dr. Rivera}\n  patient: {type: string, sensitive: true, example: rivera}\n")},
		"a.yaml", 5, `with example values: template t@1/en: the body would carry the value of sensitive variable "patient"`},
	{RuleMissingLocale, SeverityWarning, map[string]string{
		"v1.yaml": fixture("t", 1, "en", "v1", "") + "---\n" + fixture("t", 1, "es", "v1", "") + "---\n" + fixture("t", 1, "pt", "v1", ""),
		"v2.yaml": fixture("t", 2, "en", "v2", "") + "---\n" + fixture("t", 2, "pt", "v2", ""),
	}, "v2.yaml", 1, "version 2 has no es translation, which version 1 had: those recipients now get the en text"},
	{RuleNoDefaultLocale, SeverityWarning, map[string]string{"a.yaml": fixture("t", 1, "es", "Hola", "")},
		"a.yaml", 1, "version 1 has no en translation (the default locale)"},
	{RuleLocalesDiffer, SeverityWarning, map[string]string{
		"en.yaml": fixture("t", 1, "en", "{{a}} {{b}}", "  a: {type: string, example: x}\n  b: {type: enum, values: [x, y], example: x}\n"),
		"es.yaml": fixture("t", 1, "es", "{{a}} {{b}} {{c}}", "  a: {type: int, example: '1'}\n  b: {type: enum, values: [x], example: x}\n  c: {type: string, example: x}\n") +
			"channel: whatsapp\ncontent_sid: HXb5b62575e6e4ff6129ad7c8efe1f983e\n",
	}, "es.yaml", 1, `differs from en (`},
	{RuleNoContentSID, SeverityWarning, map[string]string{"a.yaml": fixture("t", 1, "en", "Hi", "") + "channel: whatsapp\n"},
		"a.yaml", 1, "a whatsapp template without content_sid"},
	{RuleContentSIDChannel, SeverityWarning, map[string]string{"f.yaml": fixture("t", 1, "en", "Hi", "") + "fallback: sms\n"},
		"f.yaml", 1, "fallback applies to whatsapp templates only"},
	{RuleInvalidField, SeverityError, map[string]string{"f.yaml": fixture("t", 1, "en", "Hi", "") + "channel: whatsapp\nfallback: email\n"},
		"f.yaml", 7, "fallback must be none or sms"},
	{RuleContentSIDChannel, SeverityWarning, map[string]string{"a.yaml": fixture("t", 1, "en", "Hi", "") +
		"content_sid: HXb5b62575e6e4ff6129ad7c8efe1f983e\n"}, "a.yaml", 1, "only used for whatsapp templates; this one is sms"},
	{RuleContentSIDShared, SeverityError, map[string]string{
		"en.yaml": fixture("t", 1, "en", "Hi {{a}}", "  a: {type: string, example: x}\n") + "channel: whatsapp\ncontent_sid: HXb5b62575e6e4ff6129ad7c8efe1f983e\n",
		"es.yaml": fixture("t", 1, "es", "Hola {{a}}", "  a: {type: string, example: x}\n") + "channel: whatsapp\ncontent_sid: HXb5b62575e6e4ff6129ad7c8efe1f983e\n",
	}, "es.yaml", 1, "a content template has one language"},
	{RuleContentSIDShared, SeverityError, map[string]string{
		"v1.yaml": fixture("t", 1, "en", "Hi {{a}}", "  a: {type: string, example: x}\n") + "channel: whatsapp\ncontent_sid: HXb5b62575e6e4ff6129ad7c8efe1f983e\n",
		"v2.yaml": fixture("t", 2, "en", "Hi {{b}} {{a}}", "  b: {type: string, example: x}\n  a: {type: string, example: x}\n") + "channel: whatsapp\ncontent_sid: HXb5b62575e6e4ff6129ad7c8efe1f983e\n",
	}, "v2.yaml", 1, "content variables differ ({{n}}: b, a here, a there)"},
	{RuleContentNoVariables, SeverityWarning, map[string]string{"a.yaml": fixture("t", 1, "en", "Code sent", "  code: {type: string, sensitive: true, example: x}\n") +
		"channel: whatsapp\ncontent_sid: HXb5b62575e6e4ff6129ad7c8efe1f983e\n"}, "a.yaml", 1, "every variable is sensitive"},
	{RuleInvalidTenant, SeverityError, map[string]string{"tenants/ACME/a.yaml": fixture("t", 1, "en", "Hi", "")}, "ACME", 0,
		`tenant ID "ACME" must be 1 to 32 lower-case letters`},
	{RuleInvalidTenant, SeverityError, map[string]string{"tenants/a.yaml": fixture("t", 1, "en", "Hi", "")}, "a.yaml", 0,
		"a file directly under tenants/ belongs to no tenant"},
	{RuleOverride, SeverityInfo, map[string]string{"a.yaml": fixture("t", 1, "en", "Hi", ""), "tenants/acme/a.yaml": fixture("t", 1, "en", "Hey", "")},
		"a.yaml", 1, "replaces the shared template t (version 1) for tenant acme"},
	{RuleOverrideGaps, SeverityWarning, map[string]string{
		"a.yaml":              fixture("t", 1, "en", "Hi", "") + "---\n" + fixture("t", 2, "en", "Hi", "") + "---\n" + fixture("t", 2, "es", "Hola", ""),
		"tenants/acme/a.yaml": fixture("t", 2, "en", "Hey", ""),
	}, "a.yaml", 1, "the shared template has version 1, which this override lacks"},
	{RuleOverrideGaps, SeverityWarning, map[string]string{
		"a.yaml":              fixture("t", 1, "en", "Hi", "") + "---\n" + fixture("t", 1, "es", "Hola", ""),
		"tenants/acme/a.yaml": fixture("t", 1, "en", "Hey", ""),
	}, "a.yaml", 1, "has a es translation, which this override's newest (version 1) lacks: tenant acme's es recipients get the en text"},
}

func TestLintRules(t *testing.T) {
	t.Parallel()
	for _, tt := range lintRules {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			dir := writeCatalog(t, tt.files)
			c, _ := Load(dir)
			fs := Lint(c)
			for _, f := range fs {
				if f.Rule == tt.rule && filepath.Base(f.File) == tt.file && f.Line == tt.line && strings.Contains(f.Message, tt.message) {
					if f.Severity != tt.severity {
						t.Errorf("severity %s, want %s", f.Severity, tt.severity)
					}
					return
				}
			}
			t.Errorf("want %s at %s:%d containing %q; got:\n%s", tt.rule, tt.file, tt.line, tt.message, findingsText(fs))
		})
	}
}

func TestLintLocalesDifferSaysHow(t *testing.T) {
	t.Parallel()
	var files map[string]string
	for _, tt := range lintRules {
		if tt.rule == RuleLocalesDiffer {
			files = tt.files
		}
	}
	c, _ := Load(writeCatalog(t, files))
	for _, f := range Lint(c) {
		if f.Rule == RuleLocalesDiffer {
			want := `channel whatsapp instead of sms; a is int instead of string; b allows "x" instead of "x", "y"; extra variable c`
			if !strings.HasSuffix(f.Message, want) {
				t.Errorf("message %q, want it to end %q", f.Message, want)
			}
			return
		}
	}
	t.Error("no locales_differ finding")
}

// TestLintExampleCatalogIsClean: the example catalog has no error and no warning; Lint only
// measures it, once per template and locale. With TestLintRules, every rule is shown both to
// fire and not to fire.
func TestLintExampleCatalogIsClean(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, exampleDir)
	fs := Lint(c)
	measured := map[string]bool{}
	for _, f := range fs {
		if f.Severity != SeverityInfo || (f.Rule != RuleSegments && f.Rule != RuleOverride) {
			t.Errorf("example catalog: %s", f)
			continue
		}
		if f.Rule == RuleSegments {
			measured[f.Tenant+":"+f.Template+"@"+fmt.Sprint(f.Version)+"/"+f.Locale] = true
		}
	}
	all := c.Templates()
	for _, tenant := range c.Tenants() {
		all = append(all, c.Overrides(tenant)...)
	}
	for _, tmpl := range all {
		if !measured[tmpl.Tenant+":"+tmpl.String()] {
			t.Errorf("no segments finding for %s %s", tmpl.Tenant, tmpl)
		}
	}
	if HasErrors(fs) {
		t.Error("HasErrors on the example catalog")
	}
	for _, tt := range lintRules {
		if tt.rule == RuleSegments || tt.rule == RuleOverride { // the example catalog shows an override
			continue
		}
		for _, f := range fs {
			if f.Rule == tt.rule {
				t.Errorf("rule %s fires on the example catalog: %s", tt.rule, f)
			}
		}
	}
}

func TestLintWithMaxSegments(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{"a.yaml": fixture("t", 1, "en", strings.Repeat("x", 200), "")})
	count := func(opts ...Option) int {
		c := mustLoad(t, dir, opts...)
		n := 0
		for _, f := range Lint(c) {
			if f.Rule == RuleTooManySegments {
				n++
			}
		}
		return n
	}
	if count() != 0 || count(WithMaxSegments(1)) != 1 || count(WithMaxSegments(0)) != 0 {
		t.Error("WithMaxSegments: 2 segments should warn only with a limit of 1 (0 means the default)")
	}
}

func TestLintOrderAndFormat(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{
		"b.yaml": fixture("t", 1, "en", "Hi {{x}}", ""),
		"a.yaml": fixture("u", 1, "en", "See http://x.example", "  z: {type: string}\n"),
	})
	c, err := Load(dir)
	if err == nil {
		t.Fatal("want a load error")
	}
	fs := Lint(c)
	if !sort.SliceIsSorted(fs, func(i, j int) bool {
		if fs[i].File != fs[j].File {
			return fs[i].File < fs[j].File
		}
		return fs[i].Line < fs[j].Line
	}) {
		t.Errorf("findings not sorted by file and line:\n%s", findingsText(fs))
	}
	if !HasErrors(fs) {
		t.Error("HasErrors = false")
	}
	want := filepath.Join(dir, "b.yaml") + ":5: error: t@1/en: the body uses {{x}}, which is not declared under variables [missing_variable]"
	found := false
	for _, f := range fs {
		found = found || f.String() == want
	}
	if !found {
		t.Errorf("want %q among:\n%s", want, findingsText(fs))
	}
	raw, _ := json.Marshal(fs[0])
	var back Finding
	if err := json.Unmarshal(raw, &back); err != nil || back != fs[0] || !strings.Contains(string(raw), `"severity":"`) {
		t.Errorf("JSON round trip: %s", raw)
	}
	if got := (Finding{File: "f.yaml", Rule: "r", Severity: SeverityWarning, Message: "m"}).String(); got != "f.yaml: warning: m [r]" {
		t.Errorf("String without line or template = %q", got)
	}
}

func findingsText(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}
