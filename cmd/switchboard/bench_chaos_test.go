package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard/internal/bench"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
)

// runBench runs `switchboard bench ARGS --json` and decodes its one JSON result into out. The
// command fails when its own check fails; the output is logged either way. It returns the
// command's standard error (its progress lines).
func runBench(t *testing.T, out any, args ...string) string {
	t.Helper()
	cmd := command(t.TempDir(), nil, append(append([]string{"bench"}, args...), "--json")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("switchboard bench %v:\n%s%s", args, stderr.String(), stdout.String())
	if err != nil {
		t.Fatalf("switchboard bench %v: %v", args, err)
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("bench output is not one JSON object: %v", err)
	}
	return stderr.String()
}

func checkChaos(t *testing.T, r *bench.ChaosResult, kills, nodes int) {
	t.Helper()
	if !r.Verified || r.Lost != 0 || r.Duplicated != 0 || r.IdempotencyMismatches != 0 {
		t.Fatalf("chaos check: %s", r.Check)
	}
	if r.Kills != kills || r.Nodes != nodes || r.Accepted == 0 || r.Sent+r.FailedEntitled != r.Accepted || r.Delivered == 0 {
		t.Fatalf("chaos figures: %d kills, %d nodes, %d accepted, %d sent, %d failed as entitled, %d delivered",
			r.Kills, r.Nodes, r.Accepted, r.Sent, r.FailedEntitled, r.Delivered)
	}
}

// The bench smoke tests do not run in parallel: they load the machine (child processes, a
// steady request rate), and run before the parallel process tests rather than beside them.

// TestBenchChaosSmoke runs the chaos soak briefly on SQLite (two kills) so that it keeps working;
// the 20-kill runs are manual (docs/performance.md).
func TestBenchChaosSmoke(t *testing.T) {
	var r bench.ChaosResult
	runBench(t, &r, "chaos", "--duration", "4s", "--kills", "2", "--rate", "40", "--drain-timeout", "90s")
	checkChaos(t, &r, 2, 1)
	if r.Database != "sqlite" {
		t.Fatalf("database %q", r.Database)
	}
}

// TestBenchChaosSmokeCluster: the same on three nodes sharing PostgreSQL (one kill: starting three
// nodes is most of its time), in one fresh schema of the given database that is gone afterwards.
func TestBenchChaosSmokeCluster(t *testing.T) {
	dbURL, _ := pgtest.URL(t)
	var r bench.ChaosResult
	progress := runBench(t, &r, "chaos", "--duration", "3s", "--kills", "1", "--rate", "30", "--nodes", "3", "--database", dbURL, "--drain-timeout", "90s")
	checkChaos(t, &r, 1, 3)
	if r.Database != "postgres" {
		t.Fatalf("database %q", r.Database)
	}
	schemas := regexp.MustCompile(`switchboard_bench_[0-9a-f]{16}`).FindAllString(progress, -1)
	if len(schemas) != 1 {
		t.Fatalf("schemas named in the progress lines: %v, want one", schemas)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schemas[0]).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("schema %s left behind", schemas[0])
	}
}

// TestBenchOutageSmoke runs the provider outage drill briefly: the circuit opens, only probes
// reach the provider, nothing fails, and the backlog drains with nothing lost or sent twice.
func TestBenchOutageSmoke(t *testing.T) {
	var r bench.OutageResult
	runBench(t, &r, "outage", "--outage", "4s", "--before", "2s", "--rate", "40", "--breaker-max-open", "1s", "--drain-timeout", "90s")
	if !r.Verified || r.Lost != 0 || r.Duplicated != 0 || r.EndedDuringOutage != 0 || r.AcceptedDuringOutage == 0 {
		t.Fatalf("outage check: %s", r.Check)
	}
	// One probe a second at most (breaker-max-open 1s), plus the calls in flight when it opened.
	if r.CallsWhileOpen > int64(r.OutageS)+2+64 || len(r.CircuitEvents) < 2 || r.Backlog == 0 || r.Sent != r.Accepted {
		t.Fatalf("outage figures: %d calls while open, events %v, backlog %d, %d sent of %d", r.CallsWhileOpen, r.CircuitEvents, r.Backlog, r.Sent, r.Accepted)
	}
}
