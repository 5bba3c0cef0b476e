package bench_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/bench"
)

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestSmoke runs every bench briefly with few clients, to keep them working (not to judge the
// figures): each must measure something, with sane percentiles, ceilings and a passing check.
func TestSmoke(t *testing.T) {
	t.Parallel()
	for _, name := range bench.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := bench.Config{
				Duration: 300 * time.Millisecond, Concurrency: 4, Messages: 300,
				Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
			}
			rs, err := bench.Run(t.Context(), name, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := 1
			if name == "dispatch" {
				want = 2 // with and without status callbacks
			}
			if len(rs) != want {
				t.Fatalf("%d results, want %d", len(rs), want)
			}
			for _, r := range rs {
				checkResult(t, r)
			}
		})
	}
}

func checkResult(t *testing.T, r *bench.Result) {
	t.Helper()
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", text.String())
	if r.Ops <= 0 || r.OpsPerSec <= 0 || r.ElapsedS <= 0 {
		t.Errorf("%s: %d ops, %.0f ops/s in %.2fs: nothing measured", r.Bench, r.Ops, r.OpsPerSec, r.ElapsedS)
	}
	if r.Errors != 0 {
		t.Errorf("%s: %d operations failed: %s", r.Bench, r.Errors, r.FirstError)
	}
	l := r.Latency
	if !(l.P50 > 0 && l.P90 >= l.P50 && l.P99 >= l.P90 && l.Max >= l.P99) {
		t.Errorf("%s: latency percentiles out of order: %+v", r.Bench, l)
	}
	if r.CPUS < 0 || r.CPUPercent < 0 || r.PeakRSSBytes < 0 {
		t.Errorf("%s: negative resource figures: cpu %.2fs %.0f%%, rss %d", r.Bench, r.CPUS, r.CPUPercent, r.PeakRSSBytes)
	}
	names := map[string]bool{}
	for _, c := range r.Ceilings {
		names[c.Name] = true
		if c.OpsPerSec <= 0 || c.Ratio <= 0 || c.Latency.P99 < c.Latency.P50 {
			t.Errorf("%s: ceiling %s: %.0f ops/s, ratio %.2f, p50 %.2f p99 %.2f", r.Bench, c.Name, c.OpsPerSec, c.Ratio, c.Latency.P50, c.Latency.P99)
		}
	}
	if !names[bench.CeilingStoreInsert] || !names[bench.CeilingEmptyHandler] {
		t.Errorf("%s: ceilings %v lack the raw store insert or the empty handler", r.Bench, names)
	}
	if !r.Verified {
		t.Errorf("%s: check failed: %s", r.Bench, r.Check)
	}
	if !strings.Contains(text.String(), r.Bench+" = ") || !strings.Contains(text.String(), "% of an empty handler") {
		t.Errorf("%s: the text lacks the ratio sentence", r.Bench)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"ops_per_s"`, `"p99_ms"`, `"cpu_s"`, `"peak_rss_bytes"`, `"ratio"`} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("%s: JSON lacks %s", r.Bench, key)
		}
	}
	var table bytes.Buffer
	if err := bench.WriteTable(&table, []*bench.Result{r}); err != nil || !strings.Contains(table.String(), r.Bench) {
		t.Errorf("%s: table: %v\n%s", r.Bench, err, table.String())
	}
}
