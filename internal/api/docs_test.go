package api_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryErrorCodeDocumented keeps docs/errors.md true: every code the API and the packages it
// calls can answer with is listed there.
func TestEveryErrorCodeDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`Errorf\(switchboard\.E[A-Z]+, "([a-z_]+)"|Code[A-Za-z]* += "([a-z_]+)"|invalid\("([a-z_]+)"`)
	for _, dir := range []string{".", "../content", "../consent", "../templates", "../events", "../verify"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, _ := os.ReadFile(f)
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				code := m[1] + m[2] + m[3]
				if !strings.Contains(string(doc), "`"+code+"`") {
					t.Errorf("%s: error code %q is not in docs/errors.md", f, code)
				}
			}
		}
	}
}
