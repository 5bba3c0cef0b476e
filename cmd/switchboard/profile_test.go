package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// `switchboard sim --profile FILE --profile-time-scale N` runs the profile from the start, N
// times faster; a profile the parser refuses stops the simulator before it listens, with the
// parser's error.
func TestSimProfileFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	example, err := filepath.Abs(filepath.Join("..", "..", "examples", "profiles", "twilio-outage.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	start(t, dir, nil, "sim", "--addr", addr, "--profile", example, "--profile-time-scale", "600")
	waitHTTP(t, "http://"+addr+"/sim/v1/profile")
	status := func() twiliosim.ProfileStatus {
		resp, err := http.Get("http://" + addr + "/sim/v1/profile")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st twiliosim.ProfileStatus
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := status(); st.Name != "twilio-outage" || st.TimeScale != 600 || st.Seed != 20261002 {
		t.Fatalf("status %+v", st)
	}
	// 5 minutes of profile are half a second at 600 times.
	waitFor(t, 20*time.Second, "the outage phase", func() bool {
		st := status()
		return len(st.ActivePhases) == 1 && st.ActivePhases[0] == "twilio 5xx" && st.Faults.Status500Ratio == 1
	})

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nphases:\n  - at: 1m\n    faults: {status_500: 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := command("", nil, "sim", "--addr", freeAddr(t), "--profile", bad)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `line 4: faults: unknown field "status_500"`) {
		t.Fatalf("sim with a bad profile: %v\n%s", err, out)
	}
}

// The README's traffic profile examples parse.
func TestDocsProfilesParse(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile("(?m)^```yaml\\n(# traffic profile[\\s\\S]*?)^```").FindAllStringSubmatch(string(readme), -1) {
		n++
		if _, err := twiliosim.ParseProfile([]byte(m[1])); err != nil {
			t.Errorf("README profile %d: %v\n%s", n, err, m[1])
		}
	}
	if n == 0 {
		t.Fatal("the README shows no traffic profile")
	}
}
