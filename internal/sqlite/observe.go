package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	// qQueueStats walks the distinct senders of the outbox index messages_due (from_number,
	// next_attempt_at over queued and scheduled messages) as qDueSenders does, then counts each
	// sender's ready and deferred entries of the same index, at most ?2 of each (-1: all), and
	// reads its earliest entry.
	qQueueStats = `WITH RECURSIVE s(f) AS (
			SELECT (SELECT from_number FROM messages WHERE status IN ('queued', 'scheduled')
				ORDER BY from_number LIMIT 1)
			UNION ALL
			SELECT (SELECT from_number FROM messages WHERE status IN ('queued', 'scheduled')
				AND from_number > s.f ORDER BY from_number LIMIT 1)
			FROM s WHERE s.f IS NOT NULL)
		SELECT f,
			(SELECT count(*) FROM (SELECT 1 FROM messages WHERE status IN ('queued', 'scheduled')
				AND from_number = s.f AND next_attempt_at <= ?1 LIMIT ?2)),
			(SELECT count(*) FROM (SELECT 1 FROM messages WHERE status IN ('queued', 'scheduled')
				AND from_number = s.f AND next_attempt_at > ?1 LIMIT ?2)),
			(SELECT next_attempt_at FROM messages WHERE status IN ('queued', 'scheduled') AND from_number = s.f
				ORDER BY next_attempt_at LIMIT 1)
		FROM s WHERE f IS NOT NULL ORDER BY f`
	// qOutcomes reads the covering index messages_outcome over the window.
	qOutcomes = `SELECT from_number, SUM(status IN ('delivered', 'read')), SUM(status IN ('undelivered', 'failed'))
		FROM messages WHERE status IN ('delivered', 'read', 'undelivered', 'failed') AND updated_at > ? AND updated_at <= ?
		GROUP BY from_number ORDER BY from_number`
	qAlertState    = `SELECT state FROM alert_states WHERE key = ?`
	qUpsertAlert   = `INSERT INTO alert_states (key, state, changed_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at`
	qAlertStates   = `SELECT key, state FROM alert_states ORDER BY key`
	qMaxEventSeq   = `SELECT COALESCE(MAX(seq), 0) FROM app_events`
	qFirstEventAt  = `SELECT seq, at FROM app_events WHERE seq >= ? ORDER BY seq LIMIT 1`
	qMessageEvents = `SELECT ` + sqlstore.AppEventCols + ` FROM app_events WHERE seq >= ? AND seq < ? AND type = 'message.status_changed'
		AND json_extract(data, '$.message_id') = ? ORDER BY seq`
	qEventDeliveries = `SELECT ` + sqlstore.DeliveryCols + ` FROM deliveries WHERE event_seq = ? ORDER BY created_at, id`
)

var _ switchboard.ObservabilityStore = (*DB)(nil)

// QueueStats returns the waiting messages per sender; see switchboard.ObservabilityStore.
func (db *DB) QueueStats(ctx context.Context, now time.Time, limit int64) ([]switchboard.SenderQueue, error) {
	bound := int64(-1) // SQLite: no limit
	if limit > 0 {
		bound = limit + 1 // one more than the limit tells a capped count from an exact one
	}
	rows, err := db.r.QueryContext(ctx, qQueueStats, micros(now), bound)
	if err != nil {
		return nil, fmt.Errorf("sqlite: queue stats: %w", err)
	}
	defer rows.Close()
	out := []switchboard.SenderQueue{}
	for rows.Next() {
		var q switchboard.SenderQueue
		var oldest int64
		if err := rows.Scan(&q.Sender, &q.Ready, &q.Deferred, &oldest); err != nil {
			return nil, fmt.Errorf("sqlite: queue stats: %w", err)
		}
		q.Ready, q.ReadyCapped = capCount(q.Ready, limit)
		q.Deferred, q.DeferredCapped = capCount(q.Deferred, limit)
		if q.Ready > 0 {
			t := fromMicros(oldest)
			q.OldestDueAt = &t
		}
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: queue stats: %w", err)
	}
	return out, nil
}

// capCount turns a count read with LIMIT limit+1 into the count shown and whether it is capped.
func capCount(n, limit int64) (int64, bool) {
	if limit > 0 && n > limit {
		return limit, true
	}
	return n, false
}

// DeliveryOutcomes counts delivery outcomes per sender in (since, until].
func (db *DB) DeliveryOutcomes(ctx context.Context, since, until time.Time) ([]switchboard.SenderOutcomes, error) {
	rows, err := db.r.QueryContext(ctx, qOutcomes, micros(since), micros(until))
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery outcomes: %w", err)
	}
	defer rows.Close()
	out := []switchboard.SenderOutcomes{}
	for rows.Next() {
		var o switchboard.SenderOutcomes
		if err := rows.Scan(&o.Sender, &o.Delivered, &o.Failed); err != nil {
			return nil, fmt.Errorf("sqlite: delivery outcomes: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: delivery outcomes: %w", err)
	}
	return out, nil
}

// TransitionAlert applies an alert transition if the alert is in its From state. The single
// writer serializes transitions; the row is read and written in one transaction.
func (db *DB) TransitionAlert(ctx context.Context, tr switchboard.AlertTransition) (bool, error) {
	if err := tr.Validate(); err != nil {
		return false, err
	}
	applied := false
	err := db.write(ctx, func(t *wtx) error {
		state := switchboard.AlertOK
		if err := t.queryRow(qAlertState, tr.Key).Scan(&state); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: alert state: %w", err)
		}
		if state != tr.From {
			return nil
		}
		if _, err := t.exec(qUpsertAlert, tr.Key, tr.To, micros(tr.At)); err != nil {
			return fmt.Errorf("sqlite: alert state: %w", err)
		}
		if tr.Event != nil {
			if err := insertAppEvent(t, tr.Event); err != nil {
				return err
			}
		}
		applied = true
		return nil
	})
	return applied, err
}

// AlertStates returns every recorded alert state.
func (db *DB) AlertStates(ctx context.Context) (map[string]switchboard.AlertState, error) {
	rows, err := db.r.QueryContext(ctx, qAlertStates)
	if err != nil {
		return nil, fmt.Errorf("sqlite: alert states: %w", err)
	}
	defer rows.Close()
	out := map[string]switchboard.AlertState{}
	for rows.Next() {
		var k string
		var s switchboard.AlertState
		if err := rows.Scan(&k, &s); err != nil {
			return nil, fmt.Errorf("sqlite: alert states: %w", err)
		}
		out[k] = s
	}
	return out, rows.Err()
}

// MessageAppEvents returns the status events of m with their deliveries; see
// switchboard.ObservabilityStore.
func (db *DB) MessageAppEvents(ctx context.Context, m *switchboard.Message) ([]*switchboard.MessageAppEvent, bool, error) {
	// One read transaction: the bounds and the scan see one snapshot.
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: message events: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var last int64
	if err := tx.QueryRowContext(ctx, qMaxEventSeq).Scan(&last); err != nil {
		return nil, false, fmt.Errorf("sqlite: message events: %w", err)
	}
	first := func(seq int64) (int64, time.Time, bool, error) {
		var s, at int64
		err := tx.QueryRowContext(ctx, qFirstEventAt, seq).Scan(&s, &at)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, time.Time{}, false, nil
		}
		return s, fromMicros(at), err == nil, err
	}
	lo, err := switchboard.SearchEventLog(1, last, m.CreatedAt.Add(-switchboard.TraceSlack), first)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: message events: %w", err)
	}
	hi, err := switchboard.SearchEventLog(lo, last, m.UpdatedAt.Add(switchboard.TraceSlack), first)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: message events: %w", err)
	}
	truncated := false
	if hi-lo > switchboard.TraceScanLimit {
		hi, truncated = lo+switchboard.TraceScanLimit, true
	}
	rows, err := tx.QueryContext(ctx, qMessageEvents, lo, hi, m.ID)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: message events: %w", err)
	}
	var out []*switchboard.MessageAppEvent
	for rows.Next() {
		e, err := scanAppEvent(rows)
		if err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("sqlite: message events: %w", err)
		}
		out = append(out, &switchboard.MessageAppEvent{Event: e, Deliveries: []*switchboard.Delivery{}})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("sqlite: message events: %w", err)
	}
	for _, me := range out {
		rows, err := tx.QueryContext(ctx, qEventDeliveries, me.Event.Seq)
		if err != nil {
			return nil, false, fmt.Errorf("sqlite: message deliveries: %w", err)
		}
		for rows.Next() {
			r := &deliveryRow{}
			if err := rows.Scan(r.dest()...); err != nil {
				rows.Close()
				return nil, false, fmt.Errorf("sqlite: message deliveries: %w", err)
			}
			d := r.delivery()
			d.EventID = me.Event.ID
			me.Deliveries = append(me.Deliveries, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, false, fmt.Errorf("sqlite: message deliveries: %w", err)
		}
	}
	return out, truncated, nil
}
