package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const (
	// qPrunable walks the event log from its oldest event, never reaching the newest: SQLite
	// gives a new row the highest rowid plus one, so deleting the newest could reuse its seq.
	qPrunable = `SELECT seq, at, fanned_out FROM app_events
		WHERE seq < (SELECT max(seq) FROM app_events) ORDER BY seq LIMIT ?`
	qFirstPending    = `SELECT min(event_seq) FROM deliveries WHERE event_seq BETWEEN ? AND ? AND status = 'pending'`
	qPruneDeliveries = `DELETE FROM deliveries WHERE event_seq BETWEEN ? AND ? AND status <> 'pending'`
	qPruneEvents     = `DELETE FROM app_events WHERE seq BETWEEN ? AND ?
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = app_events.seq)`
)

// PruneEvents deletes the oldest finished events and their deliveries; see switchboard.Store.
func (db *DB) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int
	err := db.write(ctx, func(t *wtx) error {
		n = 0
		lo, hi, err := prunableRange(t, micros(before), limit)
		if err != nil || lo > hi {
			return err
		}
		var first sql.NullInt64
		if err := t.queryRow(qFirstPending, lo, hi).Scan(&first); err != nil {
			return fmt.Errorf("sqlite: prune events: %w", err)
		}
		if first.Valid {
			hi = first.Int64 - 1 // the log is pruned from its start: keep this event and those after
		}
		if lo > hi {
			return nil
		}
		if _, err := t.exec(qPruneDeliveries, lo, hi); err != nil {
			return fmt.Errorf("sqlite: prune deliveries: %w", err)
		}
		r, err := t.exec(qPruneEvents, lo, hi)
		if err != nil {
			return fmt.Errorf("sqlite: prune events: %w", err)
		}
		k, err := r.RowsAffected()
		n = int(k)
		return err
	})
	return n, err
}

// prunableRange returns the seqs [lo, hi] of the oldest events that are older than before (in
// microseconds) and fanned out, at most limit; lo > hi when there are none.
func prunableRange(t *wtx, before int64, limit int) (lo, hi int64, err error) {
	rows, err := t.query(qPrunable, limit)
	if err != nil {
		return 0, -1, fmt.Errorf("sqlite: prune events: %w", err)
	}
	defer rows.Close()
	lo, hi = 0, -1
	for rows.Next() {
		var (
			seq, at int64
			fanned  bool
		)
		if err := rows.Scan(&seq, &at, &fanned); err != nil {
			return 0, -1, fmt.Errorf("sqlite: prune events: %w", err)
		}
		if at >= before || !fanned {
			break
		}
		if hi < lo {
			lo = seq
		}
		hi = seq
	}
	if err := rows.Err(); err != nil {
		return 0, -1, fmt.Errorf("sqlite: prune events: %w", err)
	}
	return lo, hi, nil
}
