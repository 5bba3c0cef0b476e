package templates

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const exampleDir = "../../examples/templates"

// writeCatalog writes files (path relative to a new temporary directory → content) and returns
// the directory.
func writeCatalog(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		writeFile(t, filepath.Join(dir, name), body)
	}
	return dir
}

// writeFile writes a file atomically, as a deploy should: through a hidden temporary file,
// which Load skips, renamed into place. A watcher never sees it half-written.
func writeFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// mustLoad loads a catalog that must load cleanly.
func mustLoad(t testing.TB, dir string, opts ...Option) *Catalog {
	t.Helper()
	c, err := Load(dir, opts...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// loadErrors loads a catalog that must fail and returns its findings.
func loadErrors(t *testing.T, dir string) []Finding {
	t.Helper()
	c, err := Load(dir)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load: got %v, want a *LoadError", err)
	}
	if c == nil {
		t.Fatal("Load returned no catalog with its errors")
	}
	if !cmp.Equal(le.Findings, c.LoadErrors()) {
		t.Errorf("LoadError and Catalog.LoadErrors disagree:\n%s", cmp.Diff(le.Findings, c.LoadErrors()))
	}
	return le.Findings
}

const minimal = `
name: greeting
version: 1
locale: en
category: transactional
body: "Hi {{name}}"
variables:
  name: {type: string, example: Ana}
`

func TestLoadExampleCatalog(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, exampleDir)
	want := []string{"appointment_call_missed", "appointment_call_no_answer", "appointment_reminder", "appointment_reminder_whatsapp", "appointment_reschedule", "billing_alert", "job_assigned",
		"job_completed", "job_updated", "signup_code", "technician_on_the_way", "verify_code_whatsapp"}
	if diff := cmp.Diff(want, c.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if got := c.Versions("job_updated"); !cmp.Equal(got, []int{2, 1}) {
		t.Errorf("job_updated versions = %v, want [2 1]", got)
	}
	if c.DefaultLocale() != "en" || c.Dir() != exampleDir {
		t.Errorf("DefaultLocale, Dir = %q, %q", c.DefaultLocale(), c.Dir())
	}
	if len(c.LoadErrors()) != 0 {
		t.Errorf("LoadErrors = %v", c.LoadErrors())
	}
}

func TestLoadFileShapes(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{
		"single.yaml": minimal,
		"list.yml": `
- {name: a, version: 1, locale: en, category: marketing, body: "A"}
- {name: a, version: 2, locale: en, category: marketing, body: "A2"}
`,
		"docs.YAML": `
name: b
version: 1
locale: en
category: otp
body: B
---
name: b
version: 1
locale: es-mx
category: otp
body: |
  B es
`,
		"anchors.yaml": `
- &base {name: c, version: 1, locale: en, category: transactional, body: "C {{x}}", variables: {x: {type: int, example: "1"}}}
`,
		"notes.txt":           "not a template",
		".hidden.yaml":        "not: [valid",
		".git/config.yaml":    "not: [valid",
		"sub/dir/nested.yaml": strings.Replace(minimal, "greeting", "nested", 1),
	})
	c := mustLoad(t, dir)
	if diff := cmp.Diff([]string{"a", "b", "c", "greeting", "nested"}, c.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	tmpl, err := c.Lookup("b", 1, "es-MX")
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.Locale != "es-MX" || tmpl.Body != "B es" || tmpl.Category != "otp" || tmpl.Channel != "sms" {
		t.Errorf("b/es-MX = %+v; want a canonical locale, the block scalar's final line break dropped, channel sms", tmpl)
	}
	if tmpl.File != filepath.Join(dir, "docs.YAML") || tmpl.Line != 8 {
		t.Errorf("b/es-MX defined at %s:%d, want docs.YAML:8", tmpl.File, tmpl.Line)
	}
	if got := len(c.Templates()); got != 7 {
		t.Errorf("%d templates, want 7", got)
	}
}

func TestLoadEmptyDirectory(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, t.TempDir())
	if len(c.Templates()) != 0 {
		t.Error("an empty directory gave templates")
	}
	if _, err := c.Lookup("x", 0, ""); err == nil {
		t.Error("Lookup in an empty catalog succeeded")
	}
}

func TestLoadReportsEveryProblemOfEveryFile(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{
		"a.yaml": "name: [unclosed\n",
		"b.yaml": `
- name: ok
  version: 1
  locale: en
  category: transactional
  body: fine
- name: Bad Name
  version: 0
  locale: english
  channel: pigeon
  category: urgent
  body: "x"
`,
	})
	fs := loadErrors(t, dir)
	type pos struct {
		File string
		Line int
		Rule string
	}
	var got []pos
	for _, f := range fs {
		got = append(got, pos{filepath.Base(f.File), f.Line, f.Rule})
		if f.Severity != SeverityError || f.Message == "" {
			t.Errorf("finding %v: want an error with a message", f)
		}
	}
	want := []pos{
		{"a.yaml", 1, RuleSyntax},
		{"b.yaml", 7, RuleInvalidField},  // name
		{"b.yaml", 8, RuleInvalidField},  // version
		{"b.yaml", 9, RuleInvalidField},  // locale
		{"b.yaml", 10, RuleInvalidField}, // channel
		{"b.yaml", 11, RuleInvalidField}, // category
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s\n%v", diff, fs)
	}
	c, _ := Load(dir)
	if _, err := c.Lookup("ok", 0, ""); err != nil {
		t.Errorf("the good template of a broken file is not in the catalog for Lint: %v", err)
	}
	var le *LoadError
	_, err := Load(dir)
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "a.yaml:1: error:") || !strings.Contains(err.Error(), "6 problems") {
		t.Errorf("LoadError text:\n%v", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	t.Parallel()
	tmpl := func(extra string) string {
		return "name: t\nversion: 1\nlocale: en\ncategory: transactional\n" + extra
	}
	tests := []struct {
		name, file string
		rule       string
		line       int
		message    string
	}{
		{"unknown field", tmpl("body: x\nsensitve: true\n"), RuleInvalidField, 6, `unknown field "sensitve"`},
		{"duplicate field", tmpl("body: x\nbody: y\n"), RuleInvalidField, 6, "body is given twice (first on line 5)"},
		{"no body", tmpl(""), RuleInvalidField, 1, "body is required"},
		{"no name", "version: 1\nlocale: en\ncategory: otp\nbody: x\n", RuleInvalidField, 1, "name is required"},
		{"no version", "name: t\nlocale: en\ncategory: otp\nbody: x\n", RuleInvalidField, 1, "version is required"},
		{"no locale", "name: t\nversion: 1\ncategory: otp\nbody: x\n", RuleInvalidField, 1, "locale is required"},
		{"no category", "name: t\nversion: 1\nlocale: en\nbody: x\n", RuleInvalidField, 1, "category is required"},
		{"version as text", strings.Replace(tmpl("body: x\n"), "version: 1", `version: "1"`, 1), RuleInvalidField, 2, "version must be"},
		{"body not text", tmpl("body: [a]\n"), RuleInvalidField, 5, "body must be text"},
		{"variables not a mapping", tmpl("body: x\nvariables: [a]\n"), RuleInvalidField, 6, "variables must map"},
		{"variable not a mapping", tmpl("body: x\nvariables:\n  a: string\n"), RuleInvalidField, 7, "variable a must be a mapping"},
		{"variable without type", tmpl("body: x\nvariables:\n  a: {example: x}\n"), RuleInvalidField, 7, "type is required"},
		{"unknown type", tmpl("body: x\nvariables:\n  a: {type: money}\n"), RuleInvalidField, 7, "type must be one of"},
		{"bad variable name", tmpl("body: x\nvariables:\n  first-name: {type: string}\n"), RuleInvalidField, 7, "variable name"},
		{"unknown variable field", tmpl("body: x\nvariables:\n  a: {type: string, secret: true}\n"), RuleInvalidField, 7, `unknown field "secret"`},
		{"required not bool", tmpl("body: x\nvariables:\n  a: {type: string, required: maybe}\n"), RuleInvalidField, 7, "required must be true or false"},
		{"max_length zero", tmpl("body: x\nvariables:\n  a: {type: string, max_length: 0}\n"), RuleInvalidField, 7, "max_length must be"},
		{"precision too big", tmpl("body: x\nvariables:\n  a: {type: decimal, precision: 40}\n"), RuleInvalidField, 7, "precision must be"},
		{"precision on a string", tmpl("body: x\nvariables:\n  a: {type: string, precision: 2}\n"), RuleInvalidField, 7, "precision is only for type decimal"},
		{"enum without values", tmpl("body: x\nvariables:\n  a: {type: enum}\n"), RuleInvalidField, 7, "an enum needs values"},
		{"values on a string", tmpl("body: x\nvariables:\n  a: {type: string, values: [x]}\n"), RuleInvalidField, 7, "values are only for type enum"},
		{"repeated enum value", tmpl("body: x\nvariables:\n  a: {type: enum, values: [x, x]}\n"), RuleInvalidField, 7, `value "x" is listed twice`},
		{"empty enum label", tmpl("body: x\nvariables:\n  a:\n    type: enum\n    values: {x: \"\"}\n"), RuleInvalidField, 9, "the label of"},
		{"missing variable", tmpl("body: \"Hi {{name}}\"\n"), RuleMissingVariable, 5, "{{name}}, which is not declared"},
		{"sensitive variable", tmpl("body: \"Dx {{reason}}\"\nvariables:\n  reason: {type: string, sensitive: true}\n"), RuleSensitiveVariable, 5, "{{reason}}, which is sensitive"},
		{"malformed placeholder", tmpl("body: \"Hi {{first name}}\"\n"), RuleInvalidPlaceholder, 5, "placeholder at character 4"},
		{"unclosed placeholder", tmpl("body: \"Hi {{name\"\n"), RuleInvalidPlaceholder, 5, "{{ without }}"},
		{"stray braces", tmpl("body: \"Hi }} there\"\n"), RuleInvalidPlaceholder, 5, "stray }}"},
		{"content_sid", tmpl("body: x\ncontent_sid: HX123\n"), RuleInvalidContentSID, 6, "content_sid must be"},
		{"content_sid upper case", tmpl("body: x\ncontent_sid: HXB5B62575E6E4FF6129AD7C8EFE1F983E\n"), RuleInvalidContentSID, 6, "content_sid must be"},
		{"not a mapping", "just text\n", RuleSyntax, 1, "holds a template"},
		{"list of text", "- a\n- b\n", RuleSyntax, 1, "must hold mappings"},
		{"yaml syntax", "name: t\n  bad: indent\n", RuleSyntax, 2, "YAML syntax"},
		{"empty file", "# nothing yet\n", RuleInvalidFile, 0, "defines no template"},
		{"not UTF-8", "name: \xff\n", RuleInvalidFile, 0, "not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := loadErrors(t, writeCatalog(t, map[string]string{"t.yaml": tt.file}))
			for _, f := range fs {
				if f.Rule == tt.rule && f.Line == tt.line && strings.Contains(f.Message, tt.message) {
					if f.Rule != RuleSyntax && f.Rule != RuleInvalidFile && f.Template == "" && !strings.Contains(tt.name, "no name") {
						t.Errorf("finding %v does not name its template", f)
					}
					return
				}
			}
			t.Errorf("want %s at line %d containing %q; got:\n%v", tt.rule, tt.line, tt.message, fs)
		})
	}
}

func TestLoadRefusesDuplicates(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{
		"a.yaml": minimal,
		"b.yaml": "# the same again\n" + minimal,
	})
	fs := loadErrors(t, dir)
	if len(fs) != 1 || fs[0].Rule != RuleDuplicateTemplate || filepath.Base(fs[0].File) != "b.yaml" || fs[0].Line != 3 ||
		!strings.Contains(fs[0].Message, "a.yaml:2") {
		t.Errorf("findings = %v; want one duplicate_template at b.yaml:3 pointing at a.yaml:2", fs)
	}
}

func TestLoadOptions(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{"a.yaml": minimal})
	c := mustLoad(t, dir, WithDefaultLocale("ES_mx"))
	if c.DefaultLocale() != "es-MX" {
		t.Errorf("default locale = %q, want es-MX", c.DefaultLocale())
	}
	if _, err := Load(dir, WithDefaultLocale("not a locale")); err == nil {
		t.Error("an invalid default locale loaded")
	}
}

func TestLoadLimits(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{"big.yaml": minimal + "#" + strings.Repeat("x", maxFileBytes)})
	fs := loadErrors(t, dir)
	if len(fs) != 1 || fs[0].Rule != RuleInvalidFile || !strings.Contains(fs[0].Message, "too big") {
		t.Errorf("findings = %v", fs)
	}
	fs = loadErrors(t, filepath.Join(dir, "missing"))
	if len(fs) != 1 || fs[0].Rule != RuleInvalidFile {
		t.Errorf("missing directory: findings = %v", fs)
	}
}

func TestLoadFollowsFileSymlinks(t *testing.T) {
	t.Parallel()
	// A Kubernetes ConfigMap volume: each file is a link into a hidden, swapped directory.
	dir := writeCatalog(t, map[string]string{"..2026_03_05/a.yaml": minimal})
	if err := os.Symlink("..2026_03_05", filepath.Join(dir, "..data")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if err := os.Symlink(filepath.Join("..data", "a.yaml"), filepath.Join(dir, "a.yaml")); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, dir)
	if got := len(c.Templates()); got != 1 {
		t.Errorf("%d templates, want 1 (through the link, not twice)", got)
	}
}

func TestParseBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want []rawPart
		err  string
	}{
		{"plain", []rawPart{{text: "plain"}}, ""},
		{"{{a}}", []rawPart{{name: "a"}}, ""},
		{"Hi {{ a }}, {{b_2}}!", []rawPart{{text: "Hi "}, {name: "a"}, {text: ", "}, {name: "b_2"}, {text: "!"}}, ""},
		{"{{a}}{{a}}", []rawPart{{name: "a"}, {name: "a"}}, ""},
		{"{ single } braces", []rawPart{{text: "{ single } braces"}}, ""},
		{"ñ {{a", nil, "{{ without }} at character 3"},
		{"a }} b {{c}}", nil, "stray }} at character 3"},
		{"{{}}", nil, "placeholder at character 1"},
		{"{{a.b}}", nil, "placeholder at character 1"},
		{"{{{a}}}", nil, "placeholder at character 1"},
		{"{{a}}}}", nil, "stray }} at character 6"},
	}
	for _, tt := range tests {
		got, err := parseBody(tt.body)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseBody(%q) error = %v, want %q", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil || !cmp.Equal(got, tt.want, cmp.AllowUnexported(rawPart{})) {
			t.Errorf("parseBody(%q) = %+v, %v; want %+v", tt.body, got, err, tt.want)
		}
	}
}

func TestCanonicalLocale(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"en": "en", "EN": "en", "en-us": "en-US", "es_MX": "es-MX", "zh-hant-tw": "zh-Hant-TW",
		"sr-Latn": "sr-Latn", "es-419": "es-419", "fil": "fil",
	}
	for in, want := range good {
		if got, ok := canonicalLocale(in); !ok || got != want {
			t.Errorf("canonicalLocale(%q) = %q, %t; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "e", "english", "en-", "-en", "en--US", "en-USA", "en-U1", "en-Latn-US-x", "1n", "en-US-variant", "é"} {
		if got, ok := canonicalLocale(in); ok {
			t.Errorf("canonicalLocale(%q) = %q, want refused", in, got)
		}
	}
}

func TestFallbackChain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		locale, def string
		want        []string
	}{
		{"es-MX", "en", []string{"es-MX", "es", "en"}},
		{"zh-Hant-TW", "en", []string{"zh-Hant-TW", "zh-Hant", "zh", "en"}},
		{"", "en-US", []string{"en-US", "en"}},
		{"en-GB", "en-US", []string{"en-GB", "en", "en-US"}},
		{"en", "en", []string{"en"}},
	}
	for _, tt := range tests {
		if got := fallbackChain(tt.locale, tt.def); !cmp.Equal(got, tt.want) {
			t.Errorf("fallbackChain(%q, %q) = %v, want %v", tt.locale, tt.def, got, tt.want)
		}
	}
}

func TestLoadReportsBodyProblemsWithFieldProblems(t *testing.T) {
	t.Parallel()
	fs := loadErrors(t, writeCatalog(t, map[string]string{"t.yaml": "name: t\nversion: 1\nlocale: xx-yy-zz\ncategory: otp\nbody: \"{{code}}\"\n"}))
	rules := map[string]bool{}
	for _, f := range fs {
		rules[f.Rule] = true
	}
	if !rules[RuleInvalidField] || !rules[RuleMissingVariable] || len(fs) != 2 {
		t.Errorf("want the bad locale and the undeclared variable at once; got %v", fs)
	}
}
