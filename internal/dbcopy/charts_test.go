package dbcopy

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard"
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

// TestCopyKeepsUsage: usage_daily is not copied either; after a forced copy onto a target that
// held other messages the target's usage equals the source's (on PostgreSQL the target's
// messages go by TRUNCATE, which fires no DELETE trigger: migration 0170's TRUNCATE triggers
// take them out).
func TestCopyKeepsUsage(t *testing.T) {
	t.Parallel()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "source.db")
			src := must[*sqlite.DB](t, "sqlite.Open")(sqlite.Open(ctx, path))
			t.Cleanup(func() { src.Close() })
			dst, store, _ := tg.open(t)
			for i, s := range []switchboard.Store{src, src, src, store, store} {
				m := newMessage(fmt.Sprintf("msg_usage%d", i), at(time.Duration(i)*24*time.Hour))
				m.Segments = 1 + i
				if _, _, err := s.CreateMessage(ctx, m, nil); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := Copy(ctx, openReader(t, path), dst, Options{Force: true}); err != nil {
				t.Fatal(err)
			}
			want := must[[]*switchboard.Usage](t, "ListUsage")(src.ListUsage(ctx, switchboard.UsageFilter{}))
			got := must[[]*switchboard.Usage](t, "ListUsage")(store.ListUsage(ctx, switchboard.UsageFilter{}))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("the target's usage differs from the source's (-source +target):\n%s", diff)
			}
		})
	}
}
