package twiliosim_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// FuzzParseProfile feeds the profile parser untrusted YAML: it must never panic, and a profile
// it accepts must run and report its status.
func FuzzParseProfile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "examples", "profiles", "*.yaml"))
	for _, p := range files {
		if doc, err := os.ReadFile(p); err == nil {
			f.Add(doc)
		}
	}
	for _, s := range []string{
		"",
		"seed: 1\ntime_scale: 1e6\nphases: [{at: 8760h, for: 8760h, faults: {latency_ms: 3600000}}]\n",
		"faults: {carrier_errors: {30007: 1}, carriers: [{prefixes: [\"+1\"], carrier_errors: {}}]}\n",
		"phases: [{at: 1.5, faults: {sender_mps: {\"+15005550006\": 2}}}]\n",
		"faults: &a {latency_ms: 5}\nphases: [{at: 1m, faults: *a}]\n",
		"faults: {carrier_errors: {? [1]: 0.5}}\n",
		"faults: {whatsapp_errors: {63018: 0.5}}\nphases: [{at: 1m, faults: {whatsapp_errors: {63003: 1, 63018: 0}}}]\n",
		"faults: {send_at: 2026-01-01}\n",
		"time_scale: .nan\n",
		"phases: [{at: 1m, faults: {throughput_scale: 1e6}}]\ntime_scale: 2\n",
		"{\"seed\": 3, \"phases\": [{\"at\": \"1m\", \"faults\": {\"status_500_ratio\": 0.5}}]}",
	} {
		f.Add([]byte(s))
	}
	sim := fuzzSim(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := twiliosim.ParseProfile(doc)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		st, err := sim.RunProfile(p)
		if err != nil {
			t.Fatalf("a parsed profile does not run: %v", err)
		}
		if st.Seed == 0 {
			t.Fatal("a running profile without a seed")
		}
		if _, ok := sim.ProfileStatus(); !ok {
			t.Fatal("no status for the running profile")
		}
		sim.StopProfile()
	})
}
