package templates

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Severity says how much a Finding matters.
type Severity string

// Severities. Errors fail `switchboard templates lint` (and CI); warnings deserve a look; info
// findings only report measurements (segments and encoding).
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Rules: the stable names of what Load and Lint check. Load refuses a template for the rules
// marked "load"; Lint reports those as errors alongside its own.
const (
	RuleSyntax             = "syntax"              // load: the file is not valid YAML or not shaped as a catalog
	RuleInvalidFile        = "invalid_file"        // load: unreadable, too big, not UTF-8, or empty
	RuleInvalidField       = "invalid_field"       // load: a field is missing, unknown, duplicated or wrong
	RuleInvalidPlaceholder = "invalid_placeholder" // load: a malformed {{placeholder}}
	RuleMissingVariable    = "missing_variable"    // load: the body uses a variable it does not declare
	RuleSensitiveVariable  = "sensitive_variable"  // load: the body renders a sensitive variable; lint: an example leaks
	RuleDuplicateTemplate  = "duplicate_template"  // load: the same name, version and locale twice
	RuleInvalidContentSID  = "invalid_content_sid" // load: content_sid is not HX + 32 hex digits
	RuleInvalidTenant      = "invalid_tenant"      // load: a directory under tenants/ is not a tenant ID, or a file is directly under tenants/

	RuleUnusedVariable  = "unused_variable"     // warning: declared, not sensitive, never used in the body
	RuleSegments        = "segments"            // info: segments, encoding and length with example values
	RuleUCS2            = "ucs2"                // warning: a character forces UCS-2 and costs extra segments
	RuleTooManySegments = "too_many_segments"   // warning: more segments than the limit (default 3)
	RuleBodyTooLong     = "body_too_long"       // error: over MaxBodyChars with example values
	RuleInsecureLink    = "insecure_link"       // error: http:// in the body, or a url example that is not https
	RuleInvalidExample  = "invalid_example"     // error: an example does not match its variable
	RuleMissingExample  = "missing_example"     // warning: a rendered variable has no example to measure with
	RuleMissingLocale   = "missing_locale"      // warning: a version lacks a locale an older version had
	RuleNoDefaultLocale = "no_default_locale"   // warning: a version has no translation in the default locale
	RuleLocalesDiffer   = "locales_differ"      // warning: translations of a version differ in variables, channel or category
	RuleNoContentSID    = "missing_content_sid" // warning: a whatsapp template without content_sid
	RuleOverride        = "override"            // info: a tenant's template replaces the shared one of its name
	RuleOverrideGaps    = "override_gaps"       // warning: an override lacks a version or a locale the shared template has
)

// Finding is one thing Load or Lint found about a template file.
type Finding struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	// Tenant is the tenant whose override the finding is about, "" for the shared catalog.
	Tenant   string   `json:"tenant,omitempty"`
	Template string   `json:"template,omitempty"`
	Version  int      `json:"version,omitempty"`
	Locale   string   `json:"locale,omitempty"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String formats a finding as file:line: severity: template@version/locale: message [rule], with
// "tenant <id>: " before the template for a tenant's override.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.File)
	if f.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(f.Line))
	}
	b.WriteString(": ")
	b.WriteString(string(f.Severity))
	b.WriteString(": ")
	if f.Tenant != "" {
		b.WriteString("tenant " + f.Tenant + ": ")
	}
	if f.Template != "" {
		b.WriteString(f.Template)
		if f.Version > 0 {
			b.WriteString("@" + strconv.Itoa(f.Version))
		}
		if f.Locale != "" {
			b.WriteString("/" + f.Locale)
		}
		b.WriteString(": ")
	}
	b.WriteString(f.Message)
	b.WriteString(" [" + f.Rule + "]")
	return b.String()
}

// HasErrors reports whether any finding is an error.
func HasErrors(findings []Finding) bool {
	for _, f := range findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

func (t *Template) finding(line int, rule string, sev Severity, format string, args ...any) Finding {
	return Finding{File: t.File, Line: line, Tenant: t.Tenant, Template: t.Name, Version: t.Version, Locale: t.Locale,
		Rule: rule, Severity: sev, Message: fmt.Sprintf(format, args...)}
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Rule < b.Rule
	})
}

// Lint reviews a catalog and returns its findings sorted by file and line: first what Load
// refused (errors), then, for the templates that loaded, the rules below. Bodies are measured
// rendered with the variables' example values (a made-up value when there is none).
//
//   - unused_variable (warning): a declared variable the body never uses (sensitive ones excepted).
//   - segments (info): segments, encoding and characters, per template and locale.
//   - ucs2 (warning): a character (named, with its position) forces UCS-2 and the body takes
//     more segments than it would in GSM-7.
//   - too_many_segments (warning): more segments than the limit (WithMaxSegments, default 3).
//   - body_too_long (error): over MaxBodyChars, which Render refuses.
//   - insecure_link (error): http:// in the body, or a url variable's example that is not https.
//   - invalid_example (error) and missing_example (warning): examples must match their variable.
//   - sensitive_variable (error): a sensitive example value shows up in the rendered body.
//   - missing_locale (warning): a version lacks a locale that an older version had, so those
//     recipients fall back to another language.
//   - no_default_locale (warning): a version has no translation in the catalog's default locale,
//     so a request in any locale it lacks fails.
//   - locales_differ (warning): translations of one version declare different variables, or
//     differ in channel or category.
//   - missing_content_sid (warning): a whatsapp template without content_sid, which can only be
//     sent inside the 24-hour session window.
//   - content_sid_not_whatsapp (warning), content_sid_shared (error) and
//     content_variables_missing (warning): the Content SID mapping (see lint_content.go).
//
// A tenant's overrides get the same review, within the tenant's own templates (versions and
// locales are compared among the override's), and two more rules:
//
//   - override (info): the override replaces a shared template of that name for the tenant.
//   - override_gaps (warning): the override lacks a version the shared template has (a request
//     pinning it fails for the tenant), or its newest version lacks a locale the shared newest
//     version has (those recipients of the tenant get another language, or an error).
//
// The Content SID mapping is checked in each tenant's catalog as the tenant sees it.
func Lint(c *Catalog) []Finding {
	if c == nil {
		return nil
	}
	findings := append([]Finding(nil), c.loadErrors...)
	scopes := []*scope{&c.scope}
	for _, tenant := range c.Tenants() {
		scopes = append(scopes, c.tenants[tenant])
	}
	for _, s := range scopes {
		for _, t := range s.templates {
			findings = append(findings, lintTemplate(t, c.maxSegments)...)
		}
		for _, name := range s.sortedNames() {
			findings = append(findings, c.lintVersions(s, name)...)
			if s.tenant != "" {
				findings = append(findings, c.lintOverride(s, name)...)
			}
		}
		findings = append(findings, lintContent(c.effective(s), s.tenant)...)
	}
	sortFindings(findings)
	return findings
}

// sortedNames returns the scope's template names, sorted.
func (s *scope) sortedNames() []string {
	names := make([]string, 0, len(s.names))
	for n := range s.names {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// effective returns the templates a scope's tenant sees: its own, and the shared ones of the
// names it does not override; the shared catalog's own for the shared scope.
func (c *Catalog) effective(s *scope) []*Template {
	if s.tenant == "" {
		return s.templates
	}
	ts := append([]*Template(nil), s.templates...)
	for _, t := range c.templates {
		if s.names[t.Name] == nil {
			ts = append(ts, t)
		}
	}
	sort.SliceStable(ts, func(i, j int) bool { return lessTemplate(ts[i], ts[j]) })
	return ts
}

// lintOverride compares a tenant's template of a name with the shared template it replaces.
func (c *Catalog) lintOverride(s *scope, name string) []Finding {
	shared, own := c.names[name], s.names[name] // newest first
	if len(shared) == 0 {
		return nil
	}
	anchor := own[0].byLocale[sortedLocales(own[0])[0]]
	fs := []Finding{anchor.finding(anchor.Line, RuleOverride, SeverityInfo,
		"replaces the shared template %s (%s %s) for tenant %s", name,
		plural(len(shared), "version", "versions"), joinInts(c.versionsOf(name)), s.tenant)}
	has := map[int]bool{}
	for _, vs := range own {
		has[vs.version] = true
	}
	for _, vs := range shared {
		if !has[vs.version] {
			fs = append(fs, anchor.finding(anchor.Line, RuleOverrideGaps, SeverityWarning,
				"the shared template has version %d, which this override lacks: a request of tenant %s pinning it fails",
				vs.version, s.tenant))
		}
	}
	for _, l := range sortedLocales(shared[0]) {
		if own[0].byLocale[l] == nil {
			fs = append(fs, anchor.finding(anchor.Line, RuleOverrideGaps, SeverityWarning,
				"the shared template's newest version has a %s translation, which this override's newest (version %d) lacks: tenant %s's %s recipients get %s",
				l, own[0].version, s.tenant, l, fallbackTarget(own[0], l, c.defaultLocale)))
		}
	}
	return fs
}

func lintTemplate(t *Template, maxSegments int) []Finding {
	var fs []Finding
	used := map[string]bool{}
	for _, n := range t.Placeholders() {
		used[n] = true
	}
	vars := make(map[string]string, len(t.Variables))
	for _, v := range t.Variables {
		if !used[v.Name] && !v.Sensitive {
			fs = append(fs, t.finding(v.Line, RuleUnusedVariable, SeverityWarning,
				"variable %s is declared but the body never uses it", v.Name))
		}
		if v.HasExample {
			if problem := exampleProblem(v); problem != "" {
				rule := RuleInvalidExample
				if v.Type == TypeURL && isHTTP(v.Example) {
					rule = RuleInsecureLink
				}
				fs = append(fs, t.finding(v.Line, rule, SeverityError, "the example of %s %s", v.Name, problem))
			} else {
				vars[v.Name] = v.Example
				continue
			}
		} else if used[v.Name] {
			fs = append(fs, t.finding(v.Line, RuleMissingExample, SeverityWarning,
				"variable %s has no example; Lint measures the body with a made-up value", v.Name))
		}
		if v.Sensitive {
			continue // a made-up value could match the body by chance
		}
		if s := madeUpValue(v); s != "" {
			vars[v.Name] = s
		}
	}
	if i := indexFold(t.Body, "http://"); i >= 0 {
		fs = append(fs, t.finding(t.bodyPos, RuleInsecureLink, SeverityError,
			"the body links with http:// at character %d; links in messages must be https", runePos(t.Body, i)))
	}

	body, err := t.render(vars)
	if err != nil {
		rule := switchboard.ErrorCodeOf(err)
		if rule != RuleSensitiveVariable {
			rule = RuleInvalidExample
		}
		return append(fs, t.finding(t.bodyPos, rule, SeverityError, "with example values: %s", switchboard.ErrorMessage(err)))
	}
	chars := utf8.RuneCountInString(body)
	segments, enc := switchboard.Segments(body)
	msg := fmt.Sprintf("%d %s, %s, %d %s with example values",
		segments, plural(segments, "segment", "segments"), enc, chars, plural(chars, "character", "characters"))
	if r, i, ok := switchboard.FirstNonGSM(body); ok {
		forced := fmt.Sprintf("%s at character %d forces UCS-2", describeRune(r), runePos(body, i))
		msg += "; " + forced
		if gsm, _ := switchboard.Segments(asGSM(body)); segments > gsm {
			fs = append(fs, t.finding(t.bodyPos, RuleUCS2, SeverityWarning,
				"%s: %d segments instead of %d in GSM-7", forced, segments, gsm))
		}
	}
	fs = append(fs, t.finding(t.bodyPos, RuleSegments, SeverityInfo, "%s", msg))
	if chars > MaxBodyChars {
		fs = append(fs, t.finding(t.bodyPos, RuleBodyTooLong, SeverityError,
			"the body has %d characters with example values; the limit is %d", chars, MaxBodyChars))
	} else if segments > maxSegments {
		fs = append(fs, t.finding(t.bodyPos, RuleTooManySegments, SeverityWarning,
			"the body takes %d segments with example values; the limit is %d", segments, maxSegments))
	}
	if t.Channel == switchboard.ChannelWhatsApp && t.ContentSID == "" {
		fs = append(fs, t.finding(t.Line, RuleNoContentSID, SeverityWarning,
			"a whatsapp template without content_sid can only be sent inside the 24-hour session window"))
	}
	return fs
}

// exampleProblem checks an example against its variable, for any locale.
func exampleProblem(v *Variable) string {
	if v.Example == "" {
		return "is empty"
	}
	_, problem := v.format(v.Example, formatISO)
	return problem
}

func isHTTP(s string) bool { return indexFold(s, "http://") == 0 }

// indexFold is the byte offset of an ASCII substr in s, ignoring ASCII case, or -1.
func indexFold(s, substr string) int {
	for i := 0; i+len(substr) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(substr)], substr) {
			return i
		}
	}
	return -1
}

// madeUpValue is a value of the variable's type for measuring a body without an example.
func madeUpValue(v *Variable) string {
	var s string
	switch v.Type {
	case TypeString:
		s = "example"
		if v.MaxLength > 0 && v.MaxLength < len(s) {
			s = s[:v.MaxLength]
		}
		return s
	case TypeInt:
		s = "42"
	case TypeDecimal:
		s = "12.50"
		if v.Precision == 0 {
			s = "12"
		}
	case TypeDate:
		s = "2026-03-05"
	case TypeTime:
		s = "09:30"
	case TypeDateTime:
		s = "2026-03-05T09:30"
	case TypePhone:
		s = "+14155550100"
	case TypeURL:
		s = "https://example.com/x"
	case TypeEnum:
		if len(v.Values) > 0 {
			s = v.Values[0]
		}
	}
	if _, problem := v.format(s, formatISO); problem != "" {
		return ""
	}
	return s
}

// describeRune names a character for a person: the character itself, quoted, and its code point.
func describeRune(r rune) string {
	if r == utf8.RuneError {
		return "an invalid byte"
	}
	return fmt.Sprintf("%q (U+%04X)", r, r)
}

// asGSM replaces every character GSM-7 cannot carry by one it can, to measure what a body would
// take without them.
func asGSM(body string) string {
	return strings.Map(func(r rune) rune {
		if _, ok := switchboard.GSM7Septets(string(r)); !ok {
			return '?'
		}
		return r
	}, body)
}

// lintVersions checks the versions of one name of a scope against each other.
func (c *Catalog) lintVersions(s *scope, name string) []Finding {
	var fs []Finding
	versions := s.names[name] // newest first
	seen := map[string]int{}  // locales of older versions, and the newest version that had each
	for i := len(versions) - 1; i >= 0; i-- {
		vs := versions[i]
		locales := sortedLocales(vs)
		anchor := vs.byLocale[locales[0]]
		for _, l := range fallbackChain("", c.defaultLocale) {
			if t := vs.byLocale[l]; t != nil {
				anchor = t
				break
			}
		}
		if !hasLanguage(vs, c.defaultLocale) {
			fs = append(fs, anchor.finding(anchor.Line, RuleNoDefaultLocale, SeverityWarning,
				"version %d has no %s translation (the default locale): a request in another locale it lacks fails", vs.version, c.defaultLocale))
		}
		var lost []string
		for l := range seen {
			if vs.byLocale[l] == nil {
				lost = append(lost, l)
			}
		}
		sort.Strings(lost)
		for _, l := range lost {
			fs = append(fs, anchor.finding(anchor.Line, RuleMissingLocale, SeverityWarning,
				"version %d has no %s translation, which version %d had: those recipients now get %s",
				vs.version, l, seen[l], fallbackTarget(vs, l, c.defaultLocale)))
		}
		for _, l := range locales {
			seen[l] = vs.version
			if t := vs.byLocale[l]; t != anchor {
				if diff := differences(anchor, t); diff != "" {
					fs = append(fs, t.finding(t.Line, RuleLocalesDiffer, SeverityWarning,
						"differs from %s (%s:%d): %s", anchor.Locale, anchor.File, anchor.Line, diff))
				}
			}
		}
	}
	return fs
}

// hasLanguage reports whether a version has the default locale through its fallback chain
// (a default of en-US is served by an "en" translation).
func hasLanguage(vs *versionSet, def string) bool {
	for _, l := range fallbackChain("", def) {
		if vs.byLocale[l] != nil {
			return true
		}
	}
	return false
}

func fallbackTarget(vs *versionSet, locale, def string) string {
	for _, l := range fallbackChain(locale, def) {
		if vs.byLocale[l] != nil {
			return "the " + l + " text"
		}
	}
	return "an error"
}

// differences describes how translation t differs from the anchor, or "".
func differences(anchor, t *Template) string {
	var d []string
	if t.Channel != anchor.Channel {
		d = append(d, fmt.Sprintf("channel %s instead of %s", t.Channel, anchor.Channel))
	}
	if t.Category != anchor.Category {
		d = append(d, fmt.Sprintf("category %s instead of %s", t.Category, anchor.Category))
	}
	for _, v := range anchor.Variables {
		w := t.byName[v.Name]
		switch {
		case w == nil:
			d = append(d, "no variable "+v.Name)
		case w.Type != v.Type:
			d = append(d, fmt.Sprintf("%s is %s instead of %s", v.Name, w.Type, v.Type))
		case w.Required != v.Required:
			d = append(d, fmt.Sprintf("%s has required: %t", v.Name, w.Required))
		case w.Sensitive != v.Sensitive:
			d = append(d, fmt.Sprintf("%s has sensitive: %t", v.Name, w.Sensitive))
		case !sameSet(w.Values, v.Values):
			d = append(d, fmt.Sprintf("%s allows %s instead of %s", v.Name, quoteList(w.Values), quoteList(v.Values)))
		}
	}
	for _, w := range t.Variables {
		if anchor.byName[w.Name] == nil {
			d = append(d, "extra variable "+w.Name)
		}
	}
	return strings.Join(d, "; ")
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	in := make(map[string]bool, len(a))
	for _, s := range a {
		in[s] = true
	}
	for _, s := range b {
		if !in[s] {
			return false
		}
	}
	return true
}
