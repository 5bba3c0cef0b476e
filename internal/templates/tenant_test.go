package templates

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	switchboard "github.com/switchboard-gw/switchboard"
)

// overridden is a shared catalog of "job" (v1 en; v2 en, es, fr) and "promo", with tenant acme's
// override of "job" (v1 en, es) and its own "acme_only", and tenant initech's override of "job"
// in es only.
var overridden = map[string]string{
	"shared/job.yaml": `
- {name: job, version: 1, locale: en, category: transactional, body: "shared v1 en"}
- {name: job, version: 2, locale: en, category: transactional, body: "shared v2 en"}
- {name: job, version: 2, locale: es, category: transactional, body: "shared v2 es"}
- {name: job, version: 2, locale: fr, category: transactional, body: "shared v2 fr"}
`,
	"promo.yaml": `{name: promo, version: 1, locale: en, category: marketing, body: "shared promo"}`,
	"tenants/acme/job.yaml": `
- {name: job, version: 1, locale: en, category: transactional, body: "acme v1 en"}
- {name: job, version: 1, locale: es, category: transactional, body: "acme v1 es"}
`,
	"tenants/acme/more/own.yaml": `{name: acme_only, version: 1, locale: en, category: transactional, body: "acme's own"}`,
	"tenants/initech/job.yaml":   `{name: job, version: 1, locale: es, category: transactional, body: "initech v1 es"}`,
}

// TestTenantOverrideReplacesForItsTenantOnly: a tenant's template of a name replaces the shared
// one, every version and locale, for that tenant; other tenants and Lookup see the shared one.
func TestTenantOverrideReplacesForItsTenantOnly(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, writeCatalog(t, overridden))
	for _, tt := range []struct {
		tenant, name string
		version      int
		locale, want string
	}{
		{"acme", "job", 0, "en", "acme v1 en"}, // the override's newest is 1: the shared v2 is not acme's
		{"acme", "job", 1, "es", "acme v1 es"},
		{"acme", "job", 0, "es-MX", "acme v1 es"},
		{"acme", "promo", 0, "", "shared promo"}, // a name acme does not override is the shared one
		{"acme", "acme_only", 0, "", "acme's own"},
		{"globex", "job", 0, "en", "shared v2 en"},
		{"globex", "job", 1, "en", "shared v1 en"},
		{"", "job", 0, "es", "shared v2 es"},
		{"default", "job", 0, "es", "shared v2 es"},
	} {
		tmpl, err := c.LookupTenant(tt.tenant, tt.name, tt.version, tt.locale)
		if err != nil || tmpl.Body != tt.want {
			t.Errorf("LookupTenant(%q, %s, %d, %s) = %v, %v; want %q", tt.tenant, tt.name, tt.version, tt.locale, tmpl, err, tt.want)
			continue
		}
		wantTenant := ""
		if strings.HasPrefix(tt.want, "acme") {
			wantTenant = "acme"
		}
		if tmpl.Tenant != wantTenant {
			t.Errorf("LookupTenant(%q, %s): Tenant %q, want %q", tt.tenant, tt.name, tmpl.Tenant, wantTenant)
		}
	}
	if tmpl, err := c.Lookup("job", 0, "en"); err != nil || tmpl.Body != "shared v2 en" {
		t.Errorf("Lookup(job) = %v, %v; want the shared v2", tmpl, err)
	}

	// Pinning a version only the shared template has fails for acme: it never mixes the two.
	_, err := c.LookupTenant("acme", "job", 2, "en")
	if switchboard.ErrorCodeOf(err) != CodeTemplateNotFound || !strings.Contains(err.Error(), `"job" (tenant acme's override) has no version 2 (it has 1)`) {
		t.Errorf("acme, job v2: %v", err)
	}
	for _, tenant := range []string{"", "globex"} {
		if _, err := c.LookupTenant(tenant, "acme_only", 0, ""); switchboard.ErrorCodeOf(err) != CodeTemplateNotFound {
			t.Errorf("tenant %q sees acme's own template: %v", tenant, err)
		}
	}

	res, err := c.RenderTenant("acme", "job", 0, "es", nil)
	if err != nil || res.Body != "acme v1 es" || res.Tenant != "acme" || res.Template != "job" || res.Version != 1 || res.Locale != "es" {
		t.Errorf("RenderTenant(acme) = %+v, %v", res, err)
	}
	res, err = c.RenderTenant("globex", "job", 0, "es", nil)
	if err != nil || res.Body != "shared v2 es" || res.Tenant != "" || res.Version != 2 {
		t.Errorf("RenderTenant(globex) = %+v, %v", res, err)
	}

	if got := c.Tenants(); !cmp.Equal(got, []string{"acme", "initech"}) {
		t.Errorf("Tenants = %v", got)
	}
	if got := c.Names(); !cmp.Equal(got, []string{"job", "promo"}) {
		t.Errorf("Names (the shared catalog's) = %v", got)
	}
	var own []string
	for _, tmpl := range c.Overrides("acme") {
		own = append(own, tmpl.String()+" "+tmpl.Tenant)
	}
	if want := []string{"acme_only@1/en acme", "job@1/en acme", "job@1/es acme"}; !cmp.Equal(own, want) {
		t.Errorf("Overrides(acme) = %v, want %v", own, want)
	}
	if len(c.Templates()) != 5 || c.Overrides("globex") != nil {
		t.Errorf("Templates (shared) = %v; Overrides(globex) = %v", c.Templates(), c.Overrides("globex"))
	}
}

// TestTenantOverrideLocaleFallback: the locale falls back within the override, to the catalog's
// default locale, and never to the shared template's translations.
func TestTenantOverrideLocaleFallback(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, writeCatalog(t, overridden))
	for _, tt := range []struct{ tenant, locale, want string }{
		{"acme", "fr", "acme v1 en"}, // the shared v2 has fr; acme's override does not: its default
		{"acme", "es-MX", "acme v1 es"},
		{"acme", "", "acme v1 en"},
		{"globex", "fr", "shared v2 fr"},
		{"initech", "es", "initech v1 es"},
	} {
		tmpl, err := c.LookupTenant(tt.tenant, "job", 0, tt.locale)
		if err != nil || tmpl.Body != tt.want {
			t.Errorf("LookupTenant(%s, job, %q) = %v, %v; want %q", tt.tenant, tt.locale, tmpl, err, tt.want)
		}
	}
	// initech's override has no en: English recipients of initech get an error, not the shared text.
	_, err := c.LookupTenant("initech", "job", 0, "en")
	if switchboard.ErrorCodeOf(err) != CodeTemplateNotFound || !strings.Contains(err.Error(), "(tenant initech's override) version 1 has no translation for en (it has es)") {
		t.Errorf("initech, en: %v", err)
	}
	// With another default locale, the override's chain ends there.
	c = mustLoad(t, writeCatalog(t, overridden), WithDefaultLocale("es"))
	if tmpl, err := c.LookupTenant("acme", "fr", 0, "fr"); err == nil {
		t.Errorf("acme's unknown name fr: %v", tmpl)
	}
	if tmpl, err := c.LookupTenant("acme", "job", 0, "fr"); err != nil || tmpl.Body != "acme v1 es" {
		t.Errorf("acme, fr with default es: %v, %v", tmpl, err)
	}
}

// TestTenantOverrideBadDirectory: a directory under tenants/ that is not a tenant ID, and a file
// directly under tenants/, are load errors that name the directory or file; the rest loads, and
// a tenant's own load errors name the tenant.
func TestTenantOverrideBadDirectory(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"job.yaml":                   `{name: job, version: 1, locale: en, category: transactional, body: "shared"}`,
		"tenants/Acme/job.yaml":      `{name: job, version: 1, locale: en, category: transactional, body: "upper case"}`,
		"tenants/Acme/more.yaml":     `{name: job, version: 2, locale: en, category: transactional, body: "upper case"}`,
		"tenants/-x/job.yaml":        `{name: job, version: 1, locale: en, category: transactional, body: "hyphen"}`,
		"tenants/stray.yaml":         `{name: job, version: 1, locale: en, category: transactional, body: "no tenant"}`,
		"tenants/globex/broken.yaml": `{name: job, version: 1, locale: en, category: transactional, body: "{{x}}"}`,
		"tenants/acme/job.yaml":      `{name: job, version: 1, locale: en, category: transactional, body: "acme"}`,
	}
	dir := writeCatalog(t, files)
	got := loadErrors(t, dir)
	var lines []string
	for _, f := range got {
		lines = append(lines, strings.TrimPrefix(f.String(), dir+string(filepath.Separator)))
	}
	want := []string{
		`tenants/-x: error: tenant ID "-x" must be 1 to 32 lower-case letters, digits and hyphens, not starting with a hyphen, so the 1 file in this directory is not loaded [invalid_tenant]`,
		`tenants/Acme: error: tenant ID "Acme" must be 1 to 32 lower-case letters, digits and hyphens, not starting with a hyphen, so the 2 files in this directory are not loaded [invalid_tenant]`,
		`tenants/globex/broken.yaml:1: error: tenant globex: job@1/en: the body uses {{x}}, which is not declared under variables [missing_variable]`,
		`tenants/stray.yaml: error: a file directly under tenants/ belongs to no tenant: put a tenant's overrides in tenants/<tenant-id>/ [invalid_tenant]`,
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if got[2].Tenant != "globex" || got[0].Tenant != "" {
		t.Errorf("Finding.Tenant: %+v", got)
	}
	c, _ := Load(dir)
	if tmpl, err := c.LookupTenant("acme", "job", 0, ""); err != nil || tmpl.Body != "acme" {
		t.Errorf("acme: %v, %v", tmpl, err)
	}
	if tmpl, err := c.Lookup("job", 0, ""); err != nil || tmpl.Body != "shared" || len(c.Templates()) != 1 {
		t.Errorf("shared: %v, %v, %v", tmpl, err, c.Templates())
	}
	if got := c.Tenants(); !cmp.Equal(got, []string{"acme"}) {
		t.Errorf("Tenants = %v", got)
	}
	// Lint reports the load errors too.
	if fs := Lint(c); !HasErrors(fs) {
		t.Errorf("Lint: %v", fs)
	}
}

// TestTenantOverrideLint: a tenant's templates are linted like the shared ones, their findings
// name the tenant, and an override that narrows the shared template is a warning.
func TestTenantOverrideLint(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"job.yaml": `
- {name: job, version: 1, locale: en, category: transactional, body: "Job {{id}}", variables: {id: {type: string, example: "J-1"}}}
- {name: job, version: 2, locale: en, category: transactional, body: "Job {{id}}!", variables: {id: {type: string, example: "J-1"}}}
- {name: job, version: 2, locale: es, category: transactional, body: "Trabajo {{id}}", variables: {id: {type: string, example: "J-1"}}}
`,
		// The same name, version and locale as the shared one: an override, not a duplicate.
		"tenants/acme/job.yaml": `
- {name: job, version: 2, locale: en, category: transactional, body: "Acme job {{id}} http://acme.example", variables: {id: {type: string, example: "J-1"}, extra: {type: int}}}
`,
	}
	c := mustLoad(t, writeCatalog(t, files))
	var got []string
	for _, f := range Lint(c) {
		if f.Tenant != "" {
			got = append(got, f.Rule+" "+string(f.Severity)+" "+f.Tenant+" "+f.Template+"@"+itoa(f.Version)+": "+f.Message)
		}
	}
	want := []string{
		"override info acme job@2: replaces the shared template job (versions 2, 1) for tenant acme",
		"override_gaps warning acme job@2: the shared template has version 1, which this override lacks: a request of tenant acme pinning it fails",
		"override_gaps warning acme job@2: the shared template's newest version has a es translation, which this override's newest (version 2) lacks: tenant acme's es recipients get the en text",
		"unused_variable warning acme job@2: variable extra is declared but the body never uses it",
		"insecure_link error acme job@2: the body links with http:// at character 17; links in messages must be https",
		"segments info acme job@2: 1 segment, GSM-7, 32 characters with example values",
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("acme's findings (-want +got):\n%s", diff)
	}
}

// TestTenantOverrideContentSIDs: the Content SID mapping is checked in a tenant's catalog as the
// tenant sees it, and reported on the tenant's template.
func TestTenantOverrideContentSIDs(t *testing.T) {
	t.Parallel()
	const sid = "HX" + "0123456789abcdef0123456789abcdef"
	files := map[string]string{
		"wa.yaml": `{name: wa, version: 1, locale: en, channel: whatsapp, category: transactional, body: "Hi", content_sid: ` + sid + `}`,
		// acme's own template reuses the shared content template in another language.
		"tenants/acme/wa_es.yaml": `{name: wa_es, version: 1, locale: es, channel: whatsapp, category: transactional, body: "Hola", content_sid: ` + sid + `}`,
		// globex overrides wa itself with the same content template: fine.
		"tenants/globex/wa.yaml": `{name: wa, version: 1, locale: en, channel: whatsapp, category: transactional, body: "Hi from globex", content_sid: ` + sid + `}`,
	}
	var got []string
	for _, f := range Lint(mustLoad(t, writeCatalog(t, files))) {
		if f.Rule == RuleContentSIDShared {
			got = append(got, f.Tenant+" "+f.Template+": "+f.Message)
		}
	}
	want := []string{"acme wa_es: content_sid " + sid + " is also mapped from wa@1/en of the shared catalog (locale en): a content template has one language; give each locale its own"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("content_sid_shared findings (-want +got):\n%s", diff)
	}
}

// TestWatchReloadsTenantOverrides: an override added, edited or removed is picked up by Watch.
func TestWatchReloadsTenantOverrides(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{"a.yaml": minimal})
	next, _ := watch(t, dir)
	tenantBody := func(c *Catalog, tenant string) string {
		t.Helper()
		tmpl, err := c.LookupTenant(tenant, "greeting", 0, "")
		if err != nil {
			t.Fatal(err)
		}
		return tmpl.Body
	}
	first := next()
	if first.err != nil || tenantBody(first.c, "acme") != "Hi {{name}}" {
		t.Fatalf("initial load: %v", first.err)
	}
	override := filepath.Join(dir, "tenants", "acme", "greeting.yaml")
	writeFile(t, override, strings.Replace(minimal, "Hi {{name}}", "Hello from Acme, {{name}}", 1))
	added := next()
	if added.err != nil || tenantBody(added.c, "acme") != "Hello from Acme, {{name}}" || tenantBody(added.c, "globex") != "Hi {{name}}" ||
		body(t, added.c, "greeting") != "Hi {{name}}" {
		t.Fatalf("after adding acme's override: %v", added.err)
	}
	writeFile(t, override, strings.Replace(minimal, "Hi {{name}}", "Acme says hi, {{name}}", 1))
	if edited := next(); edited.err != nil || tenantBody(edited.c, "acme") != "Acme says hi, {{name}}" {
		t.Fatalf("after editing acme's override: %v", edited.err)
	}
	if err := os.Remove(override); err != nil {
		t.Fatal(err)
	}
	if removed := next(); removed.err != nil || tenantBody(removed.c, "acme") != "Hi {{name}}" || len(removed.c.Tenants()) != 0 {
		t.Fatalf("after removing acme's override: %v", removed.err)
	}
}
