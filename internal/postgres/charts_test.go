package postgres

import (
	"testing"

	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// TestChartsMatchScan: the charts' running totals (chart_counts, kept by the triggers of
// migration 0100) give exactly what reading every message gives, through creation, status changes,
// redaction and pruning.
func TestChartsMatchScan(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	storetest.ChartsMatchScan(t, db, db.deliveryStatsScan)
}

// TestChartsBackfill: migration 0100 fills chart_counts from the messages already stored. The
// table, its triggers and functions are dropped and the migration forgotten, then a store opened on
// the schema migrates again: the backfilled totals match reading every message.
func TestChartsBackfill(t *testing.T) {
	t.Parallel()
	u := testURL(t)
	db, err := Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	storetest.ChartsMatchScan(t, db, db.deliveryStatsScan)
	for _, q := range []string{
		`DROP TABLE chart_counts`,
		`DROP FUNCTION chart_first_delivery, chart_messages_inserted, chart_messages_deleted,
			chart_message_updated, chart_events_inserted, chart_events_deleted, chart_messages_truncated CASCADE`,
		`DELETE FROM schema_migrations WHERE version = 100`,
	} {
		if _, err := db.pool.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err = Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.ChartsStatsEqual(t, db, db.deliveryStatsScan)
}
