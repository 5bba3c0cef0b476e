package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	qPrunable = `SELECT seq, at, fanned_out FROM app_events
		WHERE seq < (SELECT max(seq) FROM app_events) ORDER BY seq LIMIT $1`
	qFirstPending    = `SELECT min(event_seq) FROM deliveries WHERE event_seq BETWEEN $1 AND $2 AND status = 'pending'`
	qPruneDeliveries = `DELETE FROM deliveries WHERE event_seq BETWEEN $1 AND $2 AND status <> 'pending'`
	// Deliveries made pending again meanwhile (a dead-letter replay on another node) keep their
	// event: it is deleted only when nothing refers to it.
	qPruneEvents = `DELETE FROM app_events e WHERE seq BETWEEN $1 AND $2
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq)`
)

// PruneEvents deletes the oldest finished events and their deliveries; see switchboard.Store.
// The newest event is kept as on SQLite, although an identity column never reuses a value.
func (db *DB) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qPrunable, limit)
		if err != nil {
			return wrap("prune events", err)
		}
		var lo, hi int64 = 0, -1
		for rows.Next() {
			var (
				seq    int64
				at     time.Time
				fanned bool
			)
			if err := rows.Scan(&seq, &at, &fanned); err != nil {
				rows.Close()
				return wrap("prune events", err)
			}
			if !at.Before(before) || !fanned {
				break
			}
			if hi < lo {
				lo = seq
			}
			hi = seq
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return wrap("prune events", err)
		}
		if lo > hi {
			return nil
		}
		var first *int64
		if err := tx.QueryRow(ctx, qFirstPending, lo, hi).Scan(&first); err != nil {
			return wrap("prune events", err)
		}
		if first != nil {
			hi = *first - 1
		}
		if lo > hi {
			return nil
		}
		if _, err := tx.Exec(ctx, qPruneDeliveries, lo, hi); err != nil {
			return wrap("prune deliveries", err)
		}
		tag, err := tx.Exec(ctx, qPruneEvents, lo, hi)
		if err != nil {
			return wrap("prune events", err)
		}
		n = int(tag.RowsAffected())
		return nil
	})
	return n, err
}
