package postgres_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestBinaryWithoutTesting keeps the test helpers (pgtest) out of the production binary: the
// package testing registers its flags and pulls its runtime into whatever imports it.
func TestBinaryWithoutTesting(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/switchboard-gw/switchboard/cmd/switchboard").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if deps := strings.Fields(string(out)); slices.Contains(deps, "testing") {
		t.Error("cmd/switchboard depends on package testing")
	}
}
