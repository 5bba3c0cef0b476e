package node_test

import (
	"context"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
)

// TestStoreCommitMetricPostgres: a node on PostgreSQL times its transactions' commits under
// engine="postgres" (TestMetricsEndToEnd covers SQLite's group commits); PostgreSQL does not
// batch requests, so it has no batch size series.
func TestStoreCommitMetricPostgres(t *testing.T) {
	t.Parallel()
	u, _ := pgtest.URL(t)
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_DATABASE_URL": u}})
	m, err := n.client.Send(context.Background(), &client.SendRequest{To: "+14155550130", Body: "commit metric"})
	if err != nil {
		t.Fatal(err)
	}
	n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
	out := scrape(t, n)
	if !atLeast(out, `switchboard_store_commit_duration_seconds_count{engine="postgres"}`, 1) {
		t.Errorf("metrics lack switchboard_store_commit_duration_seconds_count{engine=\"postgres\"}:\n%s", grepLines(out, "switchboard_store_"))
	}
	if atLeast(out, `switchboard_store_commit_batch_size_count{engine="postgres"}`, 0) {
		t.Errorf("PostgreSQL reported batch sizes:\n%s", grepLines(out, "switchboard_store_"))
	}
}
