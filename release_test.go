package switchboard_test

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestGoDirectiveIsMinimum checks that go.mod asks for the lowest Go that can build Switchboard:
// the highest go directive among the modules it requires (a dependency's go line is a hard floor),
// not a patch release of whatever toolchain the last editor had. README's install section names
// the same version.
func TestGoDirectiveIsMinimum(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	ours := string(m[1])
	out, err := exec.Command("go", "list", "-m", "-f", "{{if not .Main}}{{.Path}} {{.GoVersion}}{{end}}", "all").Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	floor, by := "1", ""
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, v, _ := strings.Cut(line, " ")
		if v != "" && compareGo(v, floor) > 0 {
			floor, by = v, path
		}
	}
	if ours != floor {
		t.Errorf("go.mod says go %s; the minimum that builds is go %s (required by %s)", ours, floor, by)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if minor := strings.TrimSuffix(floor, ".0"); !strings.Contains(string(readme), "Go "+minor+" or later") {
		t.Errorf("README.md does not say \"Go %s or later\"", minor)
	}
}

// compareGo compares Go versions such as "1.26", "1.26.0" and "1.25.3" numerically ("1.26" is
// taken as "1.26.0").
func compareGo(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 3; i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
