package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/bench"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/testkit"
)

// TestSmoke runs every bench briefly with few clients, to keep them working (not to judge the
// figures): each must measure something, with sane percentiles, ceilings and a passing check.
func TestSmoke(t *testing.T) {
	t.Parallel()
	for _, name := range bench.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := bench.Config{
				Duration: 300 * time.Millisecond, Concurrency: 4, Messages: 300,
				Logger: testkit.Logger(t, slog.LevelWarn),
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

// TestDispatchPostgresSchemas runs the dispatch bench twice on one PostgreSQL database that an
// earlier, interrupted bench left a queued message in. The dispatch bench refuses a store with
// waiting messages (it counts what reaches the simulator), so each of its nodes must get a fresh
// schema of its own; and each schema must be dropped when its node closes.
func TestDispatchPostgresSchemas(t *testing.T) {
	t.Parallel()
	dbURL, _ := pgtest.URL(t)
	ctx := t.Context()
	db, err := postgres.Open(ctx, dbURL, postgres.WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	_, _, err = db.CreateMessage(ctx, &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: "+15551230001", From: "+15005550006", Pool: switchboard.DefaultPool,
		Body: "left by an earlier bench", Segments: 1, Encoding: switchboard.EncodingGSM7,
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}, nil)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	var progress testkit.SyncBuffer
	cfg := bench.Config{
		Duration: time.Second, Concurrency: 4, Messages: 500, DatabaseURL: dbURL, Progress: &progress,
		Logger: testkit.Logger(t, slog.LevelWarn),
	}
	for run := 1; run <= 2; run++ {
		rs, err := bench.Run(ctx, "dispatch", cfg)
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, progress.String())
		}
		if len(rs) != 2 {
			t.Fatalf("run %d: %d results, want 2", run, len(rs))
		}
		for _, r := range rs {
			if r.Database != "postgres" || !r.Verified || r.Ops != int64(cfg.Messages) {
				t.Fatalf("run %d: %s on %s: %d of %d handed over, check: %s", run, r.Bench, r.Database, r.Ops, cfg.Messages, r.Check)
			}
		}
	}

	// Every node said which schema it ran in; four nodes (two phases, two runs), four schemas.
	used := regexp.MustCompile(`switchboard_bench_[0-9a-f]{16}`).FindAllString(progress.String(), -1)
	ours := map[string]bool{}
	for _, s := range used {
		ours[s] = true
	}
	if len(ours) != 4 {
		t.Fatalf("schemas %v, want 4 distinct ones\n%s", used, progress.String())
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'switchboard\_bench\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range left {
		// Others' schemas may be there (a bench running beside this test); ours must not.
		if ours[s] {
			t.Errorf("schema %s left behind", s)
		}
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
