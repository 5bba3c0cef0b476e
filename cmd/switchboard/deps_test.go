package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoTestkit: the shared test helpers (internal/testkit) boot nodes and processes
// for tests only; the production binary must not link them.
func TestBinaryLinksNoTestkit(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed %d packages: %s", len(deps), out)
	}
	for _, p := range deps {
		if strings.HasSuffix(p, "/internal/testkit") {
			t.Errorf("the switchboard binary links %s", p)
		}
	}
}
