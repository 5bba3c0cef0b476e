package switchboard

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

// TestHTTPStatusOfEveryKind: every ErrorKind constant declared in error.go (found by parsing the
// file, so a kind added later is checked too) maps to the status its comment names, a real HTTP
// status, and only EINTERNAL maps to 500. Two of the three copies this function replaced forgot
// kinds (the dashboard answered a rate limit 500; voice webhooks a full disk 500).
func TestHTTPStatusOfEveryKind(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "error.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]ErrorKind{
		"EINVALID": EINVALID, "EUNAUTHORIZED": EUNAUTHORIZED, "EFORBIDDEN": EFORBIDDEN, "ENOTFOUND": ENOTFOUND,
		"ECONFLICT": ECONFLICT, "ETOOLARGE": ETOOLARGE, "EMEDIATYPE": EMEDIATYPE, "EUNPROCESSABLE": EUNPROCESSABLE,
		"ERATELIMITED": ERATELIMITED, "EUNAVAILABLE": EUNAVAILABLE, "EINTERNAL": EINTERNAL,
	}
	inComment := regexp.MustCompile(`\((\d{3})\)`)
	seen := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "ErrorKind" {
				continue
			}
			for _, name := range vs.Names {
				seen++
				kind, ok := kinds[name.Name]
				if !ok {
					t.Fatalf("error kind %s is not in this test's table: add it", name.Name)
				}
				m := inComment.FindStringSubmatch(vs.Comment.Text())
				if m == nil {
					t.Fatalf("error kind %s: its comment names no status such as (400)", name.Name)
				}
				want, _ := strconv.Atoi(m[1])
				got := kind.HTTPStatus()
				if got != want || http.StatusText(got) == "" {
					t.Errorf("%s.HTTPStatus() = %d, want %d (%s)", name.Name, got, want, vs.Comment.Text())
				}
				if got == http.StatusInternalServerError && kind != EINTERNAL {
					t.Errorf("%s maps to 500", name.Name)
				}
			}
		}
	}
	if seen != len(kinds) {
		t.Fatalf("found %d ErrorKind constants in error.go, the table has %d", seen, len(kinds))
	}
	if got := ErrorKind("no_such_kind").HTTPStatus(); got != http.StatusInternalServerError {
		t.Errorf("an unknown kind maps to %d, want 500", got)
	}
	if got := HTTPStatusOf(Errorf(ERATELIMITED, "x", "y")); got != http.StatusTooManyRequests {
		t.Errorf("HTTPStatusOf(rate limited) = %d", got)
	}
}
