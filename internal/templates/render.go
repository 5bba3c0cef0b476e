package templates

import (
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// minSensitiveLen is the shortest sensitive value Render looks for in a rendered body: shorter
// ones (a "1", an "M") would match by chance and refuse good messages.
const minSensitiveLen = 4

// Render checks vars against the template's variables and returns the body with every
// {{placeholder}} replaced by its variable's value, formatted for the template's locale (see the
// Type constants).
//
// Every variable given must be declared and every required one given, not empty. Sensitive
// variables may be given but are never rendered; Render refuses a body in which the value of a
// sensitive variable (of 4 characters or more, compared case-insensitively) would appear anyway,
// for instance through another variable. The body must fit MaxBodyChars.
//
// Errors are *switchboard.Error of kind EINVALID with code CodeUnknownVariable,
// CodeMissingVariable, CodeInvalidVariable, CodeSensitiveVariable or CodeBodyTooLong. They name
// the template and the variables, never their values.
func (t *Template) Render(vars map[string]string) (string, error) {
	body, err := t.render(vars)
	if err != nil {
		return "", err
	}
	if n := utf8.RuneCountInString(body); n > MaxBodyChars {
		return "", t.errorf(CodeBodyTooLong, "the rendered body has %d characters; the limit is %d", n, MaxBodyChars)
	}
	return body, nil
}

// render is Render without the length limit, which Lint measures itself.
func (t *Template) render(vars map[string]string) (string, error) {
	if t == nil || t.byName == nil {
		return "", switchboard.Errorf(switchboard.EINTERNAL, "template_not_loaded", "the template was not loaded by Load")
	}
	var unknown []string
	for name := range vars {
		if t.byName[name] == nil {
			unknown = append(unknown, clip(name))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return "", t.errorf(CodeUnknownVariable, "unknown %s %s; it declares %s",
			plural(len(unknown), "variable", "variables"), quoteList(unknown), t.declared())
	}
	var missing []string
	for _, v := range t.Variables {
		if v.Required && vars[v.Name] == "" {
			missing = append(missing, v.Name)
		}
	}
	if len(missing) > 0 {
		return "", t.errorf(CodeMissingVariable, "missing %s %s",
			plural(len(missing), "variable", "variables"), quoteList(missing))
	}

	// Values are checked in declaration order, so the first error is stable, and each is
	// formatted once however often the body uses it.
	var stack [8]string
	formatted := stack[:0]
	if len(t.Variables) > len(stack) {
		formatted = make([]string, 0, len(t.Variables))
	}
	size := 0
	for _, v := range t.Variables {
		raw := vars[v.Name]
		if raw == "" {
			formatted = append(formatted, "")
			continue
		}
		s, problem := v.format(raw, t.format)
		if problem != "" {
			return "", t.errorf(CodeInvalidVariable, "variable %q %s", v.Name, problem)
		}
		formatted = append(formatted, s)
		size += len(s)
	}

	var b strings.Builder
	b.Grow(len(t.Body) + size)
	for _, p := range t.parts {
		if p.v < 0 {
			b.WriteString(p.text)
			continue
		}
		if t.Variables[p.v].Sensitive { // refused at load; kept as a second line of defence
			return "", t.errorf(CodeSensitiveVariable, "the body renders sensitive variable %q", t.Variables[p.v].Name)
		}
		b.WriteString(formatted[p.v])
	}
	body := b.String()
	for _, v := range t.Variables {
		if !v.Sensitive {
			continue
		}
		if raw := strings.TrimSpace(vars[v.Name]); utf8.RuneCountInString(raw) >= minSensitiveLen && containsFold(body, raw) {
			return "", t.errorf(CodeSensitiveVariable,
				"the body would carry the value of sensitive variable %q; keep protected data out of messages", v.Name)
		}
	}
	return body, nil
}

func (t *Template) errorf(code, format string, args ...any) error {
	e := switchboard.Errorf(switchboard.EINVALID, code, format, args...)
	e.Message = "template " + t.String() + ": " + e.Message
	return e
}

func (t *Template) declared() string {
	if len(t.Variables) == 0 {
		return "no variables"
	}
	names := make([]string, len(t.Variables))
	for i, v := range t.Variables {
		names[i] = v.Name
	}
	return quoteList(names)
}

func quoteList(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('"')
		b.WriteString(n)
		b.WriteByte('"')
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// containsFold reports whether s contains substr, ignoring case.
func containsFold(s, substr string) bool {
	if strings.Contains(s, substr) {
		return true
	}
	return strings.Contains(strings.ToLower(s), strings.ToLower(substr))
}

// format checks a non-empty value against the variable and returns it as the body shows it in a
// locale. A non-empty problem says what is wrong, as a phrase following the variable's name; it
// never quotes the value.
func (v *Variable) format(raw string, lf *localeFormat) (string, string) {
	if !utf8.ValidString(raw) {
		return "", "is not valid UTF-8"
	}
	n := utf8.RuneCountInString(raw)
	if v.MaxLength > 0 && n > v.MaxLength {
		return "", "is " + itoa(n) + " characters long; the limit is " + itoa(v.MaxLength)
	}
	if n > MaxBodyChars {
		return "", "is longer than a whole message (" + itoa(MaxBodyChars) + " characters)"
	}
	switch v.Type {
	case TypeString:
		for _, r := range raw {
			if unicode.IsControl(r) {
				return "", "contains a control character (such as a line break); send one line of text"
			}
		}
		return raw, ""
	case TypeEnum:
		for _, a := range v.Values {
			if raw == a {
				if v.Labels != nil {
					return v.Labels[raw], ""
				}
				return raw, ""
			}
		}
		return "", "must be one of " + quoteList(v.Values)
	case TypeInt:
		if !isInt(raw) {
			return "", "must be an integer: an optional - and up to 18 digits"
		}
		return raw, ""
	case TypeDecimal:
		frac, ok := decimalFraction(raw)
		if !ok {
			return "", "must be a decimal number such as 12.50 (digits, an optional - and a point)"
		}
		if frac > v.Precision {
			return "", "has " + itoa(frac) + " digits after the point; at most " + itoa(v.Precision) + " are allowed"
		}
		if lf.decimal != '.' && frac > 0 {
			return strings.Replace(raw, ".", string(lf.decimal), 1), ""
		}
		return raw, ""
	case TypeDate:
		y, m, d, ok := parseDate(raw)
		if !ok {
			return "", "must be an ISO 8601 date: YYYY-MM-DD"
		}
		return string(lf.formatDate(nil, y, m, d)), ""
	case TypeTime:
		h, mi, ok := parseClock(raw)
		if !ok {
			return "", "must be an ISO 8601 time: HH:MM or HH:MM:SS"
		}
		return string(lf.formatTime(nil, h, mi)), ""
	case TypeDateTime:
		y, m, d, h, mi, ok := parseDateTime(raw)
		if !ok {
			return "", "must be an ISO 8601 date and time: YYYY-MM-DDTHH:MM[:SS][Z or ±HH:MM]"
		}
		b := lf.formatDate(make([]byte, 0, 32), y, m, d)
		b = append(b, ", "...)
		return string(lf.formatTime(b, h, mi)), ""
	case TypePhone:
		e164, err := content.NormalizePhone(raw)
		if err != nil {
			return "", "is not a valid phone number: " + switchboard.ErrorMessage(err)
		}
		return e164, ""
	case TypeURL:
		if problem := checkURL(raw); problem != "" {
			return "", problem
		}
		return raw, ""
	}
	return "", "has an unknown type"
}

// checkURL checks an absolute https URL without credentials or white space.
func checkURL(raw string) string {
	for _, r := range raw {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "must be a URL without spaces or control characters"
		}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "":
		return "must be an absolute https URL, such as https://example.com/a"
	case u.Scheme != "https":
		return "must be an https URL: links in messages must not be http"
	case u.User != nil:
		return "must not carry credentials (user:password@)"
	}
	return ""
}

func itoa(n int) string { return string(appendPadded(nil, n, 1)) }

// isInt reports whether s is an optional "-" and 1 to 18 ASCII digits (always fits an int64).
func isInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return len(s) <= 18 && isDigits(s)
}

// decimalFraction checks an optional "-", 1 to 18 digits, and optionally a point and 1 to 18
// digits, and returns how many digits follow the point.
func decimalFraction(s string) (int, bool) {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if !isInt(whole) || (hasPoint && (len(frac) > 18 || !isDigits(frac))) {
		return 0, false
	}
	return len(frac), true
}

// parseDate parses YYYY-MM-DD, a real calendar date.
func parseDate(s string) (int, time.Month, int, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y == 0 || m < 1 || m > 12 || d < 1 {
		return 0, 0, 0, false
	}
	// time.Date normalizes overflowing days: February 30 becomes March 2.
	if d > time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return 0, 0, 0, false
	}
	return y, time.Month(m), d, true
}

// parseClock parses HH:MM or HH:MM:SS, optionally followed (after seconds) by a fraction.
func parseClock(s string) (hour, minute int, ok bool) {
	if len(s) < 5 || s[2] != ':' {
		return 0, 0, false
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, 0, false
	}
	rest := s[5:]
	if rest == "" {
		return h, m, true
	}
	if len(rest) < 3 || rest[0] != ':' {
		return 0, 0, false
	}
	if sec, ok := digits(rest[1:3]); !ok || sec > 59 {
		return 0, 0, false
	}
	rest = rest[3:]
	if rest == "" {
		return h, m, true
	}
	if rest[0] != '.' || len(rest) > 10 || !isDigits(rest[1:]) {
		return 0, 0, false
	}
	return h, m, true
}

// parseDateTime parses YYYY-MM-DDTHH:MM[:SS[.fff]] with an optional Z or ±HH:MM offset.
func parseDateTime(s string) (y int, mo time.Month, d, h, mi int, ok bool) {
	if len(s) < 16 || (s[10] != 'T' && s[10] != 't') {
		return 0, 0, 0, 0, 0, false
	}
	if y, mo, d, ok = parseDate(s[:10]); !ok {
		return 0, 0, 0, 0, 0, false
	}
	clock := s[11:]
	switch n := len(clock); {
	case clock[n-1] == 'Z' || clock[n-1] == 'z':
		clock = clock[:n-1]
	case n > 6 && (clock[n-6] == '+' || clock[n-6] == '-') && clock[n-3] == ':':
		oh, ok1 := digits(clock[n-5 : n-3])
		om, ok2 := digits(clock[n-2:])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, 0, 0, 0, 0, false
		}
		clock = clock[:n-6]
	}
	if h, mi, ok = parseClock(clock); !ok {
		return 0, 0, 0, 0, 0, false
	}
	return y, mo, d, h, mi, true
}

// digits parses a short string of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, s != ""
}
