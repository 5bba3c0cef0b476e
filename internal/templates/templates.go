// Package templates is Switchboard's message template catalog: versioned, translated message
// bodies with typed variables, loaded from a directory of YAML files (the format is documented
// in examples/templates/README.md).
//
// A Catalog is loaded with Load, or kept current with Watch. An application names a template,
// optionally a version and a locale, and gives the variables as strings; Lookup picks the
// template (the newest version when none is named, and the closest translation through a
// fallback chain), and Render checks every variable against its declared type and produces the
// body. Lint reviews a catalog before it ships: undeclared and unused variables, segment counts
// and encodings, bodies over the limits, sensitive variables, links that are not https, and
// more (see the Rule constants).
//
// Sensitive variables exist to keep protected data out of messages: an application may pass
// them (for instance every field of an event), but no body may render them. A template whose body
// names one is refused at load, and Render refuses a body in which a sensitive value shows up
// through another variable.
//
// A catalog is shared by every tenant, and a tenant may override it: the files under
// tenants/<tenant-id>/ of the directory are that tenant's templates (see TenantsDir). A name
// defined there replaces the shared template of that name, every version and locale of it, for
// that tenant only; LookupTenant and RenderTenant see a tenant's catalog, Lookup and Render the
// shared one.
//
// A Catalog never changes after Load and is safe for concurrent use.
package templates

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Stable error codes of Lookup and Render. Every error they return is a *switchboard.Error.
const (
	// CodeTemplateNotFound (EUNPROCESSABLE): no template of that name, or not in that version, or
	// in no locale of the fallback chain.
	CodeTemplateNotFound = "template_not_found"
	// CodeInvalidTemplateVersion (EINVALID): a negative version.
	CodeInvalidTemplateVersion = "invalid_template_version"
	// CodeInvalidLocale (EINVALID): the locale is not a BCP 47 tag of the form
	// language[-Script][-REGION].
	CodeInvalidLocale = "invalid_locale"
	// CodeMissingVariable (EINVALID): a required variable was not given, or given empty.
	CodeMissingVariable = "missing_variable"
	// CodeUnknownVariable (EINVALID): a variable the template does not declare.
	CodeUnknownVariable = "unknown_variable"
	// CodeInvalidVariable (EINVALID): a value does not match its variable's type or limits.
	CodeInvalidVariable = "invalid_variable"
	// CodeSensitiveVariable (EINVALID): the body would carry a sensitive variable's value.
	CodeSensitiveVariable = "sensitive_variable"
	// CodeBodyTooLong (EINVALID): the rendered body is over MaxBodyChars.
	CodeBodyTooLong = "body_too_long"
)

// Limits.
const (
	// MaxBodyChars is the longest body Render produces, in characters: Twilio's limit (21617).
	MaxBodyChars = 1600
	// DefaultLocale is the catalog's default locale unless WithDefaultLocale says otherwise.
	DefaultLocale = "en"
	// DefaultMaxSegments is how many SMS segments a body may take before Lint warns.
	DefaultMaxSegments = 3
	// DefaultPollInterval is how often Watch looks for changes.
	DefaultPollInterval = time.Second
	// maxFileBytes bounds a catalog file: far above any real catalog, far below trouble.
	maxFileBytes = 1 << 20
)

// Type is the type of a template variable. Render checks each value against it and formats it
// for the template's locale.
type Type string

// Variable types. Values are always given as strings.
const (
	// TypeString is any text without control characters (no line breaks), rendered as given.
	TypeString Type = "string"
	// TypeInt is an integer: an optional "-" and up to 18 digits, rendered as given.
	TypeInt Type = "int"
	// TypeDecimal is a decimal number such as "-12.50", with at most Precision digits after the
	// point (default 2); rendered with the locale's decimal separator.
	TypeDecimal Type = "decimal"
	// TypeDate is an ISO 8601 calendar date, "2026-03-05", rendered in words for the locale.
	TypeDate Type = "date"
	// TypeTime is an ISO 8601 local time, "15:04" or "15:04:05", rendered to the minute in the
	// locale's clock (12- or 24-hour).
	TypeTime Type = "time"
	// TypeDateTime is an ISO 8601 date and time, "2026-03-05T15:04" with optional seconds,
	// fraction and offset ("Z", "-06:00"). The wall-clock time is rendered as written: no time
	// zone conversion happens and the offset is not shown, so send it in the recipient's time.
	TypeDateTime Type = "datetime"
	// TypePhone is a phone number in E.164 (see content.NormalizePhone), rendered in E.164.
	TypePhone Type = "phone"
	// TypeURL is an absolute https URL without credentials, rendered as given.
	TypeURL Type = "url"
	// TypeEnum is one of the variable's Values, rendered as given.
	TypeEnum Type = "enum"
)

// Types lists every variable type.
var Types = []Type{TypeString, TypeInt, TypeDecimal, TypeDate, TypeTime, TypeDateTime, TypePhone, TypeURL, TypeEnum}

// Valid reports whether t is a known type.
func (t Type) Valid() bool {
	for _, v := range Types {
		if t == v {
			return true
		}
	}
	return false
}

// Variable is a variable a template declares. Its fields are read-only.
type Variable struct {
	Name string
	Type Type
	// Required variables must be given, and not empty; optional ones render as "" when absent.
	Required bool
	// Sensitive variables may be given but never rendered: they hold protected data.
	Sensitive bool
	// MaxLength, when not 0, caps the value's length in characters.
	MaxLength int
	// Precision is how many digits a decimal may have after the point.
	Precision int
	// Values are the allowed values of an enum, in declaration order.
	Values []string
	// Labels, when not nil, maps each of Values to the text the body shows for it (a
	// translation's own words for the same value); without labels a value shows as given.
	Labels map[string]string
	// Example is a value for documentation and for Lint, which renders the body with it;
	// HasExample says whether the file gave one.
	Example     string
	HasExample  bool
	Description string
	// Line is where the variable is declared in its template's file.
	Line int
}

// Template is one version of a named template in one locale. Its fields are read-only: Render
// works from the body as it was parsed at load.
type Template struct {
	Name    string
	Version int
	// Locale is the canonical BCP 47 tag, such as "en", "es-MX" or "zh-Hant-TW".
	Locale      string
	Channel     switchboard.Channel
	Category    switchboard.Category
	Description string
	Body        string
	// ContentSID optionally names the Twilio Content template (HX…) of the same message, for
	// WhatsApp sends outside the session window.
	ContentSID string
	// Fallback is the template's WhatsApp fallback policy ("" leaves it to the request and the
	// installation's default).
	Fallback switchboard.FallbackPolicy
	// Variables are in the order of declaration.
	Variables []*Variable
	// Tenant is the tenant whose override this is (a file under tenants/<tenant>/), "" for a
	// template of the shared catalog.
	Tenant string
	// File and Line say where the template is defined.
	File string
	Line int

	parts   []part
	byName  map[string]*Variable
	format  *localeFormat
	bodyPos int // line of the body in File
}

// part is a piece of a parsed body: literal text, or the variable at index v.
type part struct {
	text string
	v    int // index in Variables, or -1 for text
}

// String names the template as name@version/locale, e.g. "job_assigned@2/es".
func (t *Template) String() string {
	return t.Name + "@" + strconv.Itoa(t.Version) + "/" + t.Locale
}

// Variable returns the declared variable of that name, or nil.
func (t *Template) Variable(name string) *Variable { return t.byName[name] }

// Placeholders returns the names of the variables the body renders, in order of first use.
func (t *Template) Placeholders() []string {
	var names []string
	seen := map[int]bool{}
	for _, p := range t.parts {
		if p.v >= 0 && !seen[p.v] {
			seen[p.v] = true
			names = append(names, t.Variables[p.v].Name)
		}
	}
	return names
}

// Result is a rendered template: the body and what the message must record about it.
type Result struct {
	Template   string               `json:"template"`
	Version    int                  `json:"template_version"`
	Locale     string               `json:"locale"`
	Channel    switchboard.Channel  `json:"channel"`
	Category   switchboard.Category `json:"category"`
	ContentSID string               `json:"content_sid,omitempty"`
	// ContentVariables is the ContentVariables JSON object sent with ContentSID (see
	// Template.ContentVariables); "" without a content template.
	ContentVariables string `json:"content_variables,omitempty"`
	// Fallback is the template's WhatsApp fallback policy, "" when it sets none.
	Fallback switchboard.FallbackPolicy `json:"fallback,omitempty"`
	// Tenant is the tenant whose override was rendered, "" when the shared template was.
	Tenant   string               `json:"tenant,omitempty"`
	Body     string               `json:"body"`
	Segments int                  `json:"segments"`
	Encoding switchboard.Encoding `json:"encoding"`
}

// Catalog is a loaded set of templates: the shared catalog and the tenants' overrides. It never
// changes after Load and is safe for concurrent use; Watch delivers a new Catalog on every change.
type Catalog struct {
	dir           string
	defaultLocale string
	maxSegments   int
	scope         // the shared catalog
	// tenants holds each tenant's overrides, for the tenants that have any.
	tenants     map[string]*scope
	loadErrors  []Finding
	fingerprint string
}

// scope is the templates of the shared catalog, or those of one tenant's overrides.
type scope struct {
	tenant string // "" for the shared catalog
	// names maps a template name to its versions, newest first.
	names     map[string][]*versionSet
	templates []*Template // sorted by name, version, locale
}

func newScope(tenant string) scope {
	return scope{tenant: tenant, names: map[string][]*versionSet{}}
}

// versionSet is one version of a named template in all its locales.
type versionSet struct {
	version  int
	byLocale map[string]*Template
}

// Dir returns the directory the catalog was loaded from.
func (c *Catalog) Dir() string { return c.dir }

// DefaultLocale returns the last locale of every fallback chain.
func (c *Catalog) DefaultLocale() string { return c.defaultLocale }

// Templates returns every template of the shared catalog, sorted by name, version and locale.
func (c *Catalog) Templates() []*Template { return append([]*Template(nil), c.templates...) }

// Tenants returns the tenants that have overrides, sorted.
func (c *Catalog) Tenants() []string {
	ts := make([]string, 0, len(c.tenants))
	for t := range c.tenants {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// Overrides returns a tenant's own templates (its overrides, and the names only it has), sorted
// by name, version and locale; nil for a tenant without any.
func (c *Catalog) Overrides(tenant string) []*Template {
	if s := c.tenants[tenant]; s != nil {
		return append([]*Template(nil), s.templates...)
	}
	return nil
}

// Names returns the names of the shared catalog's templates, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.names))
	for n := range c.names {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Versions returns the versions of a named template of the shared catalog, newest first.
func (c *Catalog) Versions(name string) []int { return c.versionsOf(name) }

func (s *scope) versionsOf(name string) []int {
	var vs []int
	for _, v := range s.names[name] {
		vs = append(vs, v.version)
	}
	return vs
}

// forTenant returns the scope a tenant looks name up in: its overrides when they define the
// name, else the shared catalog.
func (c *Catalog) forTenant(tenant, name string) *scope {
	if s := c.tenants[tenant]; s != nil && len(s.names[name]) > 0 {
		return s
	}
	return &c.scope
}

// label names a template of the scope in an error message.
func (s *scope) label(name string) string {
	if s.tenant == "" {
		return strconv.Quote(clip(name))
	}
	return strconv.Quote(clip(name)) + " (tenant " + s.tenant + "'s override)"
}

// LoadErrors returns what Load refused, as error findings; nil after a clean load.
func (c *Catalog) LoadErrors() []Finding { return append([]Finding(nil), c.loadErrors...) }

// Lookup returns the template of that name of the shared catalog in the given version and the
// closest locale: LookupTenant for no tenant.
func (c *Catalog) Lookup(name string, version int, locale string) (*Template, error) {
	return c.lookup(&c.scope, name, version, locale)
}

// LookupTenant returns the template of that name in the given version and the closest locale,
// as tenant sees the catalog: from the tenant's overrides when they define the name (every
// version and locale of it comes from there, and the shared template of that name is not
// consulted), else from the shared catalog. An empty tenant sees the shared catalog.
//
// Version 0 means the newest version. The version is chosen first, then the locale: a version is
// a contract on variables, a locale only a translation of it. The locale follows a fallback
// chain: the tag as given, then shorter and shorter prefixes, then the catalog's default locale
// (es-MX → es → en). An empty locale asks for the default. Tags are matched case-insensitively
// and "_" is accepted for "-".
//
// Errors are *switchboard.Error: EUNPROCESSABLE/CodeTemplateNotFound when nothing matches,
// EINVALID/CodeInvalidTemplateVersion or CodeInvalidLocale for a malformed request.
func (c *Catalog) LookupTenant(tenant, name string, version int, locale string) (*Template, error) {
	return c.lookup(c.forTenant(tenant, name), name, version, locale)
}

func (c *Catalog) lookup(s *scope, name string, version int, locale string) (*Template, error) {
	if version < 0 {
		return nil, switchboard.Errorf(switchboard.EINVALID, CodeInvalidTemplateVersion,
			"template_version must be a positive version number, or 0 for the newest")
	}
	var loc string
	if locale != "" {
		var ok bool
		if loc, ok = canonicalLocale(locale); !ok {
			return nil, switchboard.Errorf(switchboard.EINVALID, CodeInvalidLocale,
				"locale must be a BCP 47 language tag such as en, es-MX or pt-BR")
		}
	}
	versions := s.names[name]
	if len(versions) == 0 {
		return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, CodeTemplateNotFound,
			"template %q is not in the catalog", clip(name))
	}
	vs := versions[0]
	if version != 0 {
		vs = nil
		for _, v := range versions {
			if v.version == version {
				vs = v
				break
			}
		}
		if vs == nil {
			return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, CodeTemplateNotFound,
				"template %s has no version %d (it has %s)", s.label(name), version, joinInts(s.versionsOf(name)))
		}
	}
	for _, l := range fallbackChain(loc, c.defaultLocale) {
		if t := vs.byLocale[l]; t != nil {
			return t, nil
		}
	}
	return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, CodeTemplateNotFound,
		"template %s version %d has no translation for %s (it has %s)",
		s.label(name), vs.version, strings.Join(fallbackChain(loc, c.defaultLocale), ", "), strings.Join(sortedLocales(vs), ", "))
}

// Render looks a template of the shared catalog up (see Lookup) and renders it: RenderTenant for
// no tenant.
func (c *Catalog) Render(name string, version int, locale string, vars map[string]string) (*Result, error) {
	return c.render(&c.scope, name, version, locale, vars)
}

// RenderTenant looks a template up as tenant sees the catalog (see LookupTenant) and renders it
// (see Template.Render). The result records the template, version and locale actually used,
// whether it was the tenant's override (Result.Tenant), and the body's segments and encoding.
func (c *Catalog) RenderTenant(tenant, name string, version int, locale string, vars map[string]string) (*Result, error) {
	return c.render(c.forTenant(tenant, name), name, version, locale, vars)
}

func (c *Catalog) render(s *scope, name string, version int, locale string, vars map[string]string) (*Result, error) {
	t, err := c.lookup(s, name, version, locale)
	if err != nil {
		return nil, err
	}
	body, err := t.Render(vars)
	if err != nil {
		return nil, err
	}
	segments, enc := switchboard.Segments(body)
	res := &Result{
		Template: t.Name, Version: t.Version, Locale: t.Locale, Channel: t.Channel, Category: t.Category,
		ContentSID: t.ContentSID, Body: body, Segments: segments, Encoding: enc, Fallback: t.Fallback, Tenant: t.Tenant,
	}
	if t.ContentSID != "" {
		res.ContentVariables = t.ContentVariables(vars)
	}
	return res, nil
}

// ContentPlaceholders returns the template's variables in the order of the content template's
// placeholders: {{1}} is the first declared variable that is not sensitive, {{2}} the second...
// Sensitive variables are never sent to the provider, so they have no placeholder.
func (t *Template) ContentPlaceholders() []*Variable {
	var out []*Variable
	for _, v := range t.Variables {
		if !v.Sensitive {
			out = append(out, v)
		}
	}
	return out
}

// ContentVariables is the ContentVariables JSON object for vars: {"1": value of the first
// placeholder's variable, ...}, leaving out variables that were not given.
func (t *Template) ContentVariables(vars map[string]string) string {
	obj := map[string]string{}
	for i, v := range t.ContentPlaceholders() {
		if val, ok := vars[v.Name]; ok {
			obj[strconv.Itoa(i+1)] = val
		}
	}
	b, _ := json.Marshal(obj) // strings only: cannot fail
	return string(b)
}

func sortedLocales(vs *versionSet) []string {
	ls := make([]string, 0, len(vs.byLocale))
	for l := range vs.byLocale {
		ls = append(ls, l)
	}
	sort.Strings(ls)
	return ls
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// clip shortens a caller-given string for an error message.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// Option configures Load and Watch.
type Option func(*options)

type options struct {
	defaultLocale string
	maxSegments   int
	poll          time.Duration
}

func newOptions(opts []Option) options {
	o := options{defaultLocale: DefaultLocale, maxSegments: DefaultMaxSegments, poll: DefaultPollInterval}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithDefaultLocale sets the catalog's default locale, the end of every fallback chain
// (default "en"). An invalid tag makes Load fail.
func WithDefaultLocale(locale string) Option { return func(o *options) { o.defaultLocale = locale } }

// WithMaxSegments sets how many SMS segments a body may take before Lint warns (default 3;
// n < 1 means the default).
func WithMaxSegments(n int) Option { return func(o *options) { o.maxSegments = n } }

// WithPollInterval sets how often Watch looks for changes (default one second).
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.poll = d } }
