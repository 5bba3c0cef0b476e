package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// TestChartsMatchScan: the charts' running totals (chart_counts, kept by the triggers of
// migration 0100) give exactly what reading every message gives, through creation, status changes,
// redaction and pruning.
func TestChartsMatchScan(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	storetest.ChartsMatchScan(t, db, db.deliveryStatsScan)
}

// TestChartsBackfill: migration 0100 fills chart_counts from the messages already stored. The
// table and its triggers are dropped and the migration forgotten, then the store reopened
// migrates again: the backfilled totals match reading every message.
func TestChartsBackfill(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "backfill.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.ChartsMatchScan(t, db, db.deliveryStatsScan)
	if err := db.write(t.Context(), func(w *wtx) error {
		for _, q := range []string{`DROP TABLE chart_counts`, `DROP TRIGGER chart_message_insert`, `DROP TRIGGER chart_message_update`,
			`DROP TRIGGER chart_message_delete`, `DROP TRIGGER chart_event_insert`, `DROP TRIGGER chart_event_delete`} {
			if _, err := w.exec(q); err != nil {
				return err
			}
		}
		_, err := w.exec(`DELETE FROM schema_migrations WHERE version = 100`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.ChartsStatsEqual(t, db, db.deliveryStatsScan)
}
