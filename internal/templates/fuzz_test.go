package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
)

var renderCodes = map[string]bool{
	CodeMissingVariable: true, CodeUnknownVariable: true, CodeInvalidVariable: true,
	CodeSensitiveVariable: true, CodeBodyTooLong: true,
}

// FuzzRender renders arbitrary bodies with arbitrary values for variables of every type, in
// several locales. Render must never panic, must fail only with its documented codes, and must
// never produce a body over the limit or one that shows a sensitive value.
func FuzzRender(f *testing.F) {
	f.Add("Hi {{name}}, see you {{ day }}", "2026-03-05", uint8(0))
	f.Add("{{a}}{{a}}{{b}}", "+14155550100", uint8(6))
	f.Add("Pay {{amount}} by {{when}}", "12.50", uint8(2))
	f.Add("{{x}} at {{y}}", "2026-03-05T15:30:00-06:00", uint8(5))
	f.Add("no placeholders", "", uint8(1))
	f.Add("link {{u}}", "https://example.com/a", uint8(7))
	f.Add("{{e}}", "a", uint8(8))
	f.Add("{{s}} secret", "secret", uint8(0))
	f.Add("ñ {{a", "x", uint8(3))
	f.Add(strings.Repeat("é", 1599)+"{{v}}", "xy", uint8(0))
	locales := []string{"en", "en-GB", "es", "pt-BR", "fr", "de", "it", "ja"}
	f.Fuzz(func(t *testing.T, body, value string, kind uint8) {
		raw, err := parseBody(body)
		if err != nil {
			return
		}
		tmpl := &Template{Name: "f", Version: 1, Locale: locales[int(kind)%len(locales)], Body: body}
		vars := map[string]string{}
		for i, p := range raw {
			if p.name == "" || vars[p.name] != "" {
				continue
			}
			typ := Types[(int(kind)+i)%len(Types)]
			v := &Variable{Name: p.name, Type: typ, Required: kind%2 == 0, Precision: int(kind % 4)}
			if typ == TypeEnum {
				v.Values = []string{"a", value}
			}
			if kind%3 == 0 {
				v.MaxLength = int(kind)
			}
			tmpl.Variables = append(tmpl.Variables, v)
			vars[p.name] = value
		}
		// A sensitive variable the body does not name, with the same value: Render must refuse
		// whenever the value would show.
		_, named := vars["secret"]
		if !named {
			tmpl.Variables = append(tmpl.Variables, &Variable{Name: "secret", Type: TypeString, Sensitive: true})
			vars["secret"] = value
		}
		if problems := compile(tmpl); len(problems) > 0 {
			return
		}
		out, err := tmpl.Render(vars)
		if err != nil {
			if switchboard.ErrorKindOf(err) != switchboard.EINVALID || !renderCodes[switchboard.ErrorCodeOf(err)] {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if n := utf8.RuneCountInString(out); n > MaxBodyChars {
			t.Fatalf("rendered %d characters", n)
		}
		if s := strings.TrimSpace(value); !named && utf8.RuneCountInString(s) >= minSensitiveLen && containsFold(out, s) {
			t.Fatalf("the body %q shows the sensitive value %q", out, value)
		}
	})
}

// FuzzParseFile feeds arbitrary bytes to the catalog file parser, and lints what it accepts.
func FuzzParseFile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(exampleDir, "*", "*.yaml"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimal))
	f.Add([]byte("- &a {name: x}\n- *a\n"))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("variables: {a: {type: enum, values: {x: y}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, problems := parseFile("f.yaml", data)
		for _, p := range problems {
			if p.Severity != SeverityError || p.Rule == "" || p.Message == "" {
				t.Fatalf("malformed problem %+v", p)
			}
		}
		for _, tmpl := range ts {
			vars := map[string]string{}
			for _, v := range tmpl.Variables {
				vars[v.Name] = v.Example
			}
			_, _ = tmpl.Render(vars)
			lintTemplate(tmpl, DefaultMaxSegments)
		}
		c := &Catalog{defaultLocale: DefaultLocale, maxSegments: DefaultMaxSegments, scope: newScope("")}
		c.add(ts)
		Lint(c)
	})
}
