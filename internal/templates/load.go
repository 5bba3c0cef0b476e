package templates

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	switchboard "github.com/switchboard-gw/switchboard"
)

// LoadError is what Load returns when it refused something: every problem of every file, each
// an error Finding with its file and, when known, its line.
type LoadError struct {
	Findings []Finding
}

// Error lists the problems, one a line.
func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "templates: %d %s", len(e.Findings), plural(len(e.Findings), "problem", "problems"))
	for _, f := range e.Findings {
		b.WriteString("\n  ")
		b.WriteString(f.String())
	}
	return b.String()
}

var (
	nameRE       = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
	variableRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	contentSIDRE = regexp.MustCompile(`^HX[0-9a-f]{32}$`)
)

// TenantsDir is the subdirectory of a catalog that holds the tenants' overrides: the files
// under TenantsDir/<tenant-id>/ are that tenant's templates. Its other subdirectories are the
// shared catalog's, however they are arranged.
const TenantsDir = "tenants"

// Load reads every *.yaml and *.yml file under dir (subdirectories included; names starting
// with "." are skipped, as are symbolic links to directories) and builds a catalog of the
// templates they define. The format is documented in examples/templates/README.md. Files under
// dir/tenants/<tenant-id>/ are that tenant's overrides (see TenantsDir and LookupTenant); a
// directory there whose name is not a tenant ID (switchboard.ValidTenantID), and a file directly
// under tenants/, are load errors (RuleInvalidTenant).
//
// Load checks everything it can and reports all problems of all files at once in a *LoadError.
// Even then it returns the catalog of the templates that were accepted, so that Lint can review
// them alongside the load errors; a server must not serve such a catalog.
func Load(dir string, opts ...Option) (*Catalog, error) {
	o := newOptions(opts)
	c := &Catalog{dir: dir, defaultLocale: DefaultLocale, maxSegments: o.maxSegments, scope: newScope("")}
	var problems []Finding
	if loc, ok := canonicalLocale(o.defaultLocale); ok {
		c.defaultLocale = loc
	} else {
		problems = append(problems, loadError(dir, 0, RuleInvalidField, "the default locale %q is not a BCP 47 tag such as en or es-MX", clip(o.defaultLocale)))
	}
	if c.maxSegments < 1 {
		c.maxSegments = DefaultMaxSegments
	}

	files, fp, err := scan(dir)
	c.fingerprint = fp
	if err != nil {
		problems = append(problems, loadError(dir, 0, RuleInvalidFile, "cannot read the template directory: %v", err))
	}
	var shared []*Template
	byTenant := map[string][]*Template{}
	badTenants := map[string]int{} // a directory under tenants/ that is not a tenant ID → its files
	for _, f := range files {
		tenant, ok := tenantOf(dir, f)
		if !ok {
			if tenant == "" {
				problems = append(problems, Finding{File: f, Rule: RuleInvalidTenant, Severity: SeverityError,
					Message: "a file directly under " + TenantsDir + "/ belongs to no tenant: put a tenant's overrides in " + TenantsDir + "/<tenant-id>/"})
			} else {
				badTenants[tenant]++
			}
			continue
		}
		data, err := readFile(f)
		if err != nil {
			p := loadError(f, 0, RuleInvalidFile, "%v", err)
			p.Tenant = tenant
			problems = append(problems, p)
			continue
		}
		ts, ps := parseFile(f, data)
		for _, t := range ts {
			t.Tenant = tenant
		}
		for i := range ps {
			ps[i].Tenant = tenant
		}
		problems = append(problems, ps...)
		if tenant == "" {
			shared = append(shared, ts...)
		} else if len(ts) > 0 {
			byTenant[tenant] = append(byTenant[tenant], ts...)
		}
	}
	for name, n := range badTenants {
		problems = append(problems, Finding{File: filepath.Join(dir, TenantsDir, name), Rule: RuleInvalidTenant, Severity: SeverityError,
			Message: fmt.Sprintf("%s, so the %d %s in this directory %s not loaded",
				switchboard.ErrorMessage(switchboard.ValidTenantID(name)), n, plural(n, "file", "files"), plural(n, "is", "are"))})
	}
	problems = append(problems, c.add(shared)...)
	for tenant, ts := range byTenant {
		if c.tenants == nil {
			c.tenants = map[string]*scope{}
		}
		s := newScope(tenant)
		problems = append(problems, s.add(ts)...)
		c.tenants[tenant] = &s
	}
	if len(problems) > 0 {
		sortFindings(problems)
		c.loadErrors = problems
		return c, &LoadError{Findings: problems}
	}
	return c, nil
}

func loadError(file string, line int, rule, format string, args ...any) Finding {
	return Finding{File: file, Line: line, Rule: rule, Severity: SeverityError, Message: fmt.Sprintf(format, args...)}
}

// tenantOf says whose a catalog file is: "" and true for the shared catalog; the tenant and true
// for a file under tenants/<tenant>/; and false for a file directly under tenants/ (tenant "")
// or under a directory there that is not a tenant ID (tenant: that directory's name).
func tenantOf(dir, file string) (string, bool) {
	rel, err := filepath.Rel(dir, file)
	if err != nil {
		return "", true
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if len(parts) < 2 || parts[0] != TenantsDir {
		return "", true
	}
	if len(parts) == 2 {
		return "", false
	}
	if switchboard.ValidTenantID(parts[1]) != nil {
		return parts[1], false
	}
	return parts[1], true
}

// readFile reads a catalog file, refusing anything that is too big to be one.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("the file is over %d bytes, too big for a template catalog", maxFileBytes)
	}
	return data, nil
}

// scan lists the catalog files under dir, sorted, and a fingerprint of their names, sizes and
// modification times that changes whenever one of them does.
func scan(dir string) (files []string, fingerprint string, err error) {
	var fpb strings.Builder
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		ext := strings.ToLower(filepath.Ext(path))
		if ext != ".yaml" && ext != ".yml" {
			return nil
		}
		info, err := os.Stat(path) // follows symbolic links, as in a Kubernetes ConfigMap
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		files = append(files, path)
		fmt.Fprintf(&fpb, "%s\x00%d\x00%d\n", path, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		fmt.Fprintf(&fpb, "error: %v", err)
	}
	return files, fpb.String(), err
}

// fingerprint returns scan's fingerprint of dir.
func fingerprint(dir string) string {
	_, fp, _ := scan(dir)
	return fp
}

// add indexes the parsed templates of the scope and returns the duplicates it refused.
func (s *scope) add(ts []*Template) []Finding {
	sort.SliceStable(ts, func(i, j int) bool { return lessTemplate(ts[i], ts[j]) })
	var problems []Finding
	var first *Template // the first of a run of templates with the same name, version and locale
	for _, t := range ts {
		if first != nil && first.Name == t.Name && first.Version == t.Version && first.Locale == t.Locale {
			// The first stays, for Lint; the others are refused.
			problems = append(problems, t.finding(t.Line, RuleDuplicateTemplate, SeverityError,
				"the same name, version and locale is defined twice: also at %s:%d", first.File, first.Line))
			continue
		}
		first = t
		s.templates = append(s.templates, t)
	}
	for _, t := range s.templates {
		versions := s.names[t.Name]
		if n := len(versions); n == 0 || versions[n-1].version != t.Version {
			versions = append(versions, &versionSet{version: t.Version, byLocale: map[string]*Template{}})
			s.names[t.Name] = versions
		}
		versions[len(versions)-1].byLocale[t.Locale] = t
	}
	for _, versions := range s.names { // newest first
		for i, j := 0, len(versions)-1; i < j; i, j = i+1, j-1 {
			versions[i], versions[j] = versions[j], versions[i]
		}
	}
	return problems
}

func lessTemplate(a, b *Template) bool {
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	if a.Version != b.Version {
		return a.Version < b.Version
	}
	if a.Locale != b.Locale {
		return a.Locale < b.Locale
	}
	if a.File != b.File {
		return a.File < b.File
	}
	return a.Line < b.Line
}

// parseFile parses one catalog file: a template, a list of templates, or several YAML documents
// of either. It returns the templates without problems and the problems of the others.
func parseFile(file string, data []byte) ([]*Template, []Finding) {
	var ts []*Template
	var problems []Finding
	if !utf8.Valid(data) {
		return nil, []Finding{loadError(file, 0, RuleInvalidFile, "the file is not UTF-8")}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, loadError(file, yamlErrorLine(err), RuleSyntax, "%s", yamlErrorText(err)))
			break // the decoder cannot go on after a syntax error
		}
		docs++
		root := &doc
		if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
			root = root.Content[0]
		}
		root = resolve(root)
		switch {
		case root.Kind == yaml.MappingNode:
			t, ps := parseTemplate(file, root)
			problems = append(problems, ps...)
			if t != nil {
				ts = append(ts, t)
			}
		case root.Kind == yaml.SequenceNode:
			for _, item := range root.Content {
				item = resolve(item)
				if item.Kind != yaml.MappingNode {
					problems = append(problems, loadError(file, item.Line, RuleSyntax, "a list of templates must hold mappings (name:, version:, …)"))
					continue
				}
				t, ps := parseTemplate(file, item)
				problems = append(problems, ps...)
				if t != nil {
					ts = append(ts, t)
				}
			}
		case isNull(root):
		default:
			problems = append(problems, loadError(file, root.Line, RuleSyntax, "a template file holds a template (a mapping) or a list of them"))
		}
	}
	if len(ts) == 0 && len(problems) == 0 {
		problems = append(problems, loadError(file, 0, RuleInvalidFile, "the file defines no template"))
	}
	return ts, problems
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func yamlErrorText(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(s, ": "); i > 0 && strings.HasPrefix(s, "line ") {
		s = s[i+2:]
	}
	return "YAML syntax: " + s
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// reportFunc records a problem at a line.
type reportFunc func(line int, rule, format string, args ...any)

// eachField calls fn for each key of a mapping node, reporting duplicate and non-scalar keys.
func eachField(m *yaml.Node, report reportFunc, fn func(key string, k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), resolve(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			report(k.Line, RuleSyntax, "a key must be a plain word")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			report(k.Line, RuleInvalidField, "%s is given twice (first on line %d)", clip(k.Value), first)
			continue
		}
		seen[k.Value] = k.Line
		fn(k.Value, k, v)
	}
}

// scalar returns a scalar's text; null is "".
func scalar(v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		return "", false
	}
	if v.Tag == "!!null" {
		return "", true
	}
	return v.Value, true
}

func parseTemplate(file string, m *yaml.Node) (*Template, []Finding) {
	t := &Template{File: file, Line: m.Line, Channel: switchboard.ChannelSMS}
	var problems []Finding
	report := func(line int, rule, format string, args ...any) {
		problems = append(problems, loadError(file, line, rule, format, args...))
	}
	str := func(key string, v *yaml.Node) string {
		s, ok := scalar(v)
		if !ok {
			report(v.Line, RuleInvalidField, "%s must be text", key)
		}
		return s
	}
	var body, vars *yaml.Node
	var haveVersion, haveCategory, haveLocale bool
	eachField(m, report, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			t.Name = str(key, v)
			if t.Name != "" && !nameRE.MatchString(t.Name) {
				report(v.Line, RuleInvalidField, "name must start with a lower-case letter and hold only a-z, 0-9, _, . and - (at most 64)")
			}
		case "version":
			haveVersion = true
			n, err := strconv.Atoi(str(key, v))
			if err != nil || n < 1 || v.Tag != "!!int" {
				report(v.Line, RuleInvalidField, "version must be a whole number from 1")
			}
			t.Version = n
		case "locale":
			haveLocale = true
			s := str(key, v)
			loc, ok := canonicalLocale(s)
			if !ok {
				report(v.Line, RuleInvalidField, "locale %q is not a BCP 47 tag such as en, es or pt-BR", clip(s))
			}
			t.Locale = loc
		case "channel":
			t.Channel = switchboard.Channel(str(key, v))
			if t.Channel != switchboard.ChannelSMS && t.Channel != switchboard.ChannelWhatsApp {
				report(v.Line, RuleInvalidField, "channel must be sms or whatsapp")
			}
		case "category":
			haveCategory = true
			t.Category = switchboard.Category(str(key, v))
			if !t.Category.Valid() {
				report(v.Line, RuleInvalidField, "category must be transactional, marketing or otp")
			}
		case "description":
			t.Description = str(key, v)
		case "content_sid":
			t.ContentSID = str(key, v)
			if !contentSIDRE.MatchString(t.ContentSID) {
				report(v.Line, RuleInvalidContentSID, "content_sid must be a Twilio Content SID: HX and 32 lower-case hex digits")
			}
		case "fallback":
			t.Fallback = switchboard.FallbackPolicy(str(key, v))
			if t.Fallback == "" || !t.Fallback.Valid() {
				report(v.Line, RuleInvalidField, "fallback must be none or sms")
			}
		case "body":
			body = v
			t.Body = strings.TrimRight(str(key, v), "\n")
			t.bodyPos = v.Line
		case "variables":
			vars = v
		default:
			report(k.Line, RuleInvalidField, "unknown field %q (fields: name, version, locale, channel, category, description, body, variables, content_sid, fallback)", clip(key))
		}
	})
	if t.Name == "" {
		report(m.Line, RuleInvalidField, "name is required")
	}
	if !haveVersion {
		report(m.Line, RuleInvalidField, "version is required")
	}
	if !haveLocale {
		report(m.Line, RuleInvalidField, "locale is required")
	}
	if !haveCategory {
		report(m.Line, RuleInvalidField, "category is required: transactional, marketing or otp (consent and quiet hours depend on it)")
	}
	if t.Body == "" {
		line := m.Line
		if body != nil {
			line = body.Line
		}
		report(line, RuleInvalidField, "body is required")
	}
	if vars != nil {
		t.Variables = parseVariables(vars, report)
	}
	if t.Body != "" { // the body's own problems are worth reporting alongside the others
		problems = append(problems, compile(t)...)
	}
	for i := range problems {
		problems[i].Template, problems[i].Version, problems[i].Locale = t.Name, t.Version, t.Locale
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return t, nil
}

func parseVariables(m *yaml.Node, report reportFunc) []*Variable {
	if isNull(m) {
		return nil
	}
	if m.Kind != yaml.MappingNode {
		report(m.Line, RuleInvalidField, "variables must map each variable's name to its declaration (type:, …)")
		return nil
	}
	var out []*Variable
	eachField(m, report, func(name string, k, v *yaml.Node) {
		if !variableRE.MatchString(name) {
			report(k.Line, RuleInvalidField, "variable name %q must start with a letter or _ and hold only letters, digits and _ (at most 64)", clip(name))
			return
		}
		if v.Kind != yaml.MappingNode {
			report(v.Line, RuleInvalidField, "variable %s must be a mapping with at least type:", name)
			return
		}
		vr := &Variable{Name: name, Required: true, Precision: -1, Line: k.Line}
		var haveType bool
		var valuesLine int
		eachField(v, report, func(key string, fk, fv *yaml.Node) {
			text, isScalar := scalar(fv)
			switch key {
			case "type":
				haveType = true
				vr.Type = Type(text)
				if !vr.Type.Valid() {
					report(fv.Line, RuleInvalidField, "variable %s: type must be one of string, int, decimal, date, time, datetime, phone, url, enum", name)
				}
			case "required", "sensitive":
				b, err := strconv.ParseBool(text)
				if !isScalar || fv.Tag != "!!bool" || err != nil {
					report(fv.Line, RuleInvalidField, "variable %s: %s must be true or false", name, key)
				}
				if key == "required" {
					vr.Required = b
				} else {
					vr.Sensitive = b
				}
			case "max_length", "precision":
				lowest, highest := 1, MaxBodyChars // max_length
				if key == "precision" {
					lowest, highest = 0, 18
				}
				n, err := strconv.Atoi(text)
				if !isScalar || fv.Tag != "!!int" || err != nil || n < lowest || n > highest {
					report(fv.Line, RuleInvalidField, "variable %s: %s must be a whole number from %d to %d", name, key, lowest, highest)
					n = max(n, lowest)
				}
				if key == "max_length" {
					vr.MaxLength = n
				} else {
					vr.Precision = n
				}
			case "values":
				valuesLine = fv.Line
				vr.Values, vr.Labels = parseValues(name, fv, report)
			case "example":
				if !isScalar {
					report(fv.Line, RuleInvalidField, "variable %s: example must be a single value", name)
				}
				vr.Example, vr.HasExample = text, isScalar && !isNull(fv)
			case "description":
				if !isScalar {
					report(fv.Line, RuleInvalidField, "variable %s: description must be text", name)
				}
				vr.Description = text
			default:
				report(fk.Line, RuleInvalidField, "variable %s: unknown field %q (fields: type, required, sensitive, max_length, precision, values, example, description)", name, clip(key))
			}
		})
		switch {
		case !haveType:
			report(k.Line, RuleInvalidField, "variable %s: type is required", name)
		case vr.Type == TypeEnum && len(vr.Values) == 0:
			report(k.Line, RuleInvalidField, "variable %s: an enum needs values: [a, b, …]", name)
		case vr.Type != TypeEnum && valuesLine != 0:
			report(valuesLine, RuleInvalidField, "variable %s: values are only for type enum", name)
		case vr.Type != TypeDecimal && vr.Precision >= 0:
			report(k.Line, RuleInvalidField, "variable %s: precision is only for type decimal", name)
		}
		if vr.Precision < 0 {
			vr.Precision = 2
		}
		out = append(out, vr)
	})
	return out
}

// parseValues reads an enum's values: a list of allowed values, rendered as given, or a mapping
// of each allowed value to the label a translation renders for it.
func parseValues(name string, n *yaml.Node, report reportFunc) ([]string, map[string]string) {
	var values []string
	var labels map[string]string
	seen := map[string]bool{}
	add := func(line int, value string) bool {
		switch {
		case value == "":
			report(line, RuleInvalidField, "variable %s: each value must be non-empty text", name)
		case seen[value]:
			report(line, RuleInvalidField, "variable %s: value %q is listed twice", name, clip(value))
		default:
			seen[value] = true
			values = append(values, value)
			return true
		}
		return false
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			item = resolve(item)
			s, ok := scalar(item)
			if !ok {
				s = ""
			}
			add(item.Line, s)
		}
	case yaml.MappingNode:
		labels = map[string]string{}
		eachField(n, report, func(value string, k, v *yaml.Node) {
			label, ok := scalar(v)
			if !ok || label == "" {
				report(v.Line, RuleInvalidField, "variable %s: the label of %q must be non-empty text", name, clip(value))
				return
			}
			if add(k.Line, value) {
				labels[value] = label
			}
		})
	default:
		report(n.Line, RuleInvalidField, "variable %s: values must be a list, or a mapping of each value to its label", name)
	}
	return values, labels
}

// compile parses the body into parts and checks its placeholders against the variables.
func compile(t *Template) []Finding {
	var problems []Finding
	report := func(rule, format string, args ...any) {
		problems = append(problems, t.finding(t.bodyPos, rule, SeverityError, format, args...))
	}
	t.byName = make(map[string]*Variable, len(t.Variables))
	index := make(map[string]int, len(t.Variables))
	for i, v := range t.Variables {
		t.byName[v.Name] = v
		index[v.Name] = i
	}
	t.format = formatFor(t.Locale)
	raw, err := parseBody(t.Body)
	if err != nil {
		report(RuleInvalidPlaceholder, "%v", err)
		return problems
	}
	reported := map[string]bool{}
	t.parts = t.parts[:0]
	for _, p := range raw {
		if p.name == "" {
			t.parts = append(t.parts, part{text: p.text, v: -1})
			continue
		}
		i, ok := index[p.name]
		switch {
		case !ok:
			if !reported[p.name] {
				report(RuleMissingVariable, "the body uses {{%s}}, which is not declared under variables", p.name)
			}
		case t.Variables[i].Sensitive:
			if !reported[p.name] {
				report(RuleSensitiveVariable, "the body renders {{%s}}, which is sensitive: keep protected data out of messages", p.name)
			}
		}
		reported[p.name] = true
		t.parts = append(t.parts, part{v: i})
	}
	return problems
}

// rawPart is a piece of a body: text, or a placeholder's variable name.
type rawPart struct {
	text, name string
}

// parseBody splits a body into text and {{name}} placeholders (spaces inside the braces are
// allowed). A "{{" without its "}}", a "}}" without its "{{", and a placeholder that is not a
// variable name are errors: a body has no escape for literal double braces.
func parseBody(body string) ([]rawPart, error) {
	var parts []rawPart
	rest, offset := body, 0
	for rest != "" {
		open := strings.Index(rest, "{{")
		if stray := strings.Index(rest, "}}"); stray >= 0 && (open < 0 || stray < open) {
			return nil, fmt.Errorf("the body has a stray }} at character %d", runePos(body, offset+stray))
		}
		if open < 0 {
			parts = append(parts, rawPart{text: rest})
			break
		}
		if open > 0 {
			parts = append(parts, rawPart{text: rest[:open]})
		}
		end := strings.Index(rest[open+2:], "}}")
		if end < 0 {
			return nil, fmt.Errorf("the body has a {{ without }} at character %d", runePos(body, offset+open))
		}
		name := strings.TrimSpace(rest[open+2 : open+2+end])
		if !variableRE.MatchString(name) {
			return nil, fmt.Errorf("the placeholder at character %d must be {{name}}, with a variable name of letters, digits and _", runePos(body, offset+open))
		}
		parts = append(parts, rawPart{name: name})
		n := open + 2 + end + 2
		rest, offset = rest[n:], offset+n
	}
	return parts, nil
}

// runePos is the 1-based character position of byte offset i in s.
func runePos(s string, i int) int { return utf8.RuneCountInString(s[:i]) + 1 }
