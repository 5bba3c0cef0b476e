package dbcopy

import (
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// TestCopyKeepsChartTotals: chart_counts is not copied, yet after a forced copy onto a target
// that held other messages the target's charts equal the source's: its triggers took the emptied
// messages out (SQLite's DELETE, PostgreSQL's TRUNCATE) and counted the copied ones in.
func TestCopyKeepsChartTotals(t *testing.T) {
	t.Parallel()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "source.db")
			src := must[*sqlite.DB](t, "sqlite.Open")(sqlite.Open(ctx, path))
			t.Cleanup(func() { src.Close() })
			// Filled by the scenario of the engines' own tests, which check the totals against
			// reading every message; here each store is only compared with itself.
			storetest.ChartsMatchScan(t, src, src.DeliveryStats)
			dst, store, _ := tg.open(t)
			storetest.ChartsMatchScan(t, store, store.DeliveryStats)
			if _, err := Copy(ctx, openReader(t, path), dst, Options{Force: true}); err != nil {
				t.Fatal(err)
			}
			storetest.ChartsStatsEqual(t, store, src.DeliveryStats)
		})
	}
}
