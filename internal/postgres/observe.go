package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	// qQueueStats walks the distinct senders of the outbox index messages_due (from_number,
	// next_attempt_at over queued and scheduled messages) as qDueSenders does, then counts each
	// sender's ready and deferred entries of the same index, at most $2 of each (NULL: all), and
	// reads its earliest ready entry.
	qQueueStats = `WITH RECURSIVE s(f) AS (
			(SELECT from_number FROM messages WHERE status IN ('queued', 'scheduled')
				ORDER BY from_number LIMIT 1)
			UNION ALL
			SELECT (SELECT from_number FROM messages WHERE status IN ('queued', 'scheduled')
				AND from_number > s.f ORDER BY from_number LIMIT 1)
			FROM s WHERE s.f IS NOT NULL)
		SELECT f,
			(SELECT count(*) FROM (SELECT 1 FROM messages WHERE status IN ('queued', 'scheduled')
				AND from_number = s.f AND next_attempt_at <= $1 LIMIT $2) AS r),
			(SELECT count(*) FROM (SELECT 1 FROM messages WHERE status IN ('queued', 'scheduled')
				AND from_number = s.f AND next_attempt_at > $1 LIMIT $2) AS d),
			(SELECT min(next_attempt_at) FROM messages WHERE status IN ('queued', 'scheduled')
				AND from_number = s.f AND next_attempt_at <= $1)
		FROM s WHERE f IS NOT NULL ORDER BY f`
	// qOutcomes reads the covering index messages_outcome over the window.
	qOutcomes = `SELECT from_number, count(*) FILTER (WHERE status IN ('delivered', 'read')), count(*) FILTER (WHERE status IN ('undelivered', 'failed'))
		FROM messages WHERE status IN ('delivered', 'read', 'undelivered', 'failed') AND updated_at > $1 AND updated_at <= $2
		GROUP BY from_number ORDER BY from_number`
	// qAlertFromOK fires an alert that is ok or was never recorded. Under concurrent callers the
	// conflict clause re-reads the row: only one of them sees it ok.
	qAlertFromOK = `INSERT INTO alert_states AS a (key, state, changed_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at WHERE a.state = 'ok'
		RETURNING key`
	qAlertFrom       = `UPDATE alert_states SET state = $2, changed_at = $3 WHERE key = $1 AND state = $4 RETURNING key`
	qAlertStates     = `SELECT key, state FROM alert_states ORDER BY key`
	qEventSeqBounds  = `SELECT COALESCE(MIN(seq), 1), COALESCE(MAX(seq), 0) FROM app_events`
	qFirstEventAt    = `SELECT seq, at FROM app_events WHERE seq >= $1 ORDER BY seq LIMIT 1`
	qMessageEvents   = `SELECT ` + sqlstore.AppEventCols + ` FROM app_events WHERE seq >= $1 AND seq < $2 AND type = 'message.status_changed' AND data->>'message_id' = $3 ORDER BY seq`
	qEventDeliveries = `SELECT ` + sqlstore.DeliveryCols + ` FROM deliveries WHERE event_seq = ANY($1) ORDER BY created_at, id`
)

var _ switchboard.ObservabilityStore = (*DB)(nil)

// QueueStats returns the waiting messages per sender; see switchboard.ObservabilityStore.
func (db *DB) QueueStats(ctx context.Context, now time.Time, limit int64) ([]switchboard.SenderQueue, error) {
	var bound *int64 // NULL: no limit
	if limit > 0 {
		b := limit + 1 // one more than the limit tells a capped count from an exact one
		bound = &b
	}
	rows, err := db.pool.Query(ctx, qQueueStats, now, bound)
	if err != nil {
		return nil, wrap("queue stats", err)
	}
	defer rows.Close()
	out := []switchboard.SenderQueue{}
	for rows.Next() {
		var q switchboard.SenderQueue
		if err := rows.Scan(&q.Sender, &q.Ready, &q.Deferred, &q.OldestDueAt); err != nil {
			return nil, wrap("queue stats", err)
		}
		q.OldestDueAt = utcPtr(q.OldestDueAt)
		if limit > 0 && q.Ready > limit {
			q.Ready, q.ReadyCapped = limit, true
		}
		if limit > 0 && q.Deferred > limit {
			q.Deferred, q.DeferredCapped = limit, true
		}
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("queue stats", err)
	}
	return out, nil
}

// DeliveryOutcomes counts delivery outcomes per sender in (since, until].
func (db *DB) DeliveryOutcomes(ctx context.Context, since, until time.Time) ([]switchboard.SenderOutcomes, error) {
	rows, err := db.pool.Query(ctx, qOutcomes, since, until)
	if err != nil {
		return nil, wrap("delivery outcomes", err)
	}
	defer rows.Close()
	out := []switchboard.SenderOutcomes{}
	for rows.Next() {
		var o switchboard.SenderOutcomes
		if err := rows.Scan(&o.Sender, &o.Delivered, &o.Failed); err != nil {
			return nil, wrap("delivery outcomes", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("delivery outcomes", err)
	}
	return out, nil
}

// TransitionAlert applies an alert transition if the alert is in its From state, with its event
// in the same transaction.
func (db *DB) TransitionAlert(ctx context.Context, tr switchboard.AlertTransition) (bool, error) {
	if err := tr.Validate(); err != nil {
		return false, err
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, wrap("alert transition", err)
	}
	defer rollback(ctx, tx)
	var key string
	if tr.From == switchboard.AlertOK {
		err = tx.QueryRow(ctx, qAlertFromOK, tr.Key, tr.To, tr.At).Scan(&key)
	} else {
		err = tx.QueryRow(ctx, qAlertFrom, tr.Key, tr.To, tr.At, tr.From).Scan(&key)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, wrap("alert transition", err)
	}
	if ev := tr.Event; ev != nil {
		if _, err := tx.Exec(ctx, qInsertAppEvent, appEventArgs(ev)...); err != nil {
			return false, wrap("alert transition", err)
		}
	}
	if err := commit(ctx, tx); err != nil {
		return false, err
	}
	return true, nil
}

// AlertStates returns every recorded alert state.
func (db *DB) AlertStates(ctx context.Context) (map[string]switchboard.AlertState, error) {
	rows, err := db.pool.Query(ctx, qAlertStates)
	if err != nil {
		return nil, wrap("alert states", err)
	}
	defer rows.Close()
	out := map[string]switchboard.AlertState{}
	for rows.Next() {
		var k string
		var s switchboard.AlertState
		if err := rows.Scan(&k, &s); err != nil {
			return nil, wrap("alert states", err)
		}
		out[k] = s
	}
	return out, rows.Err()
}

// MessageAppEvents returns the status events of m with their deliveries; see
// switchboard.ObservabilityStore.
func (db *DB) MessageAppEvents(ctx context.Context, m *switchboard.Message) ([]*switchboard.MessageAppEvent, bool, error) {
	tx, err := db.pool.BeginTx(ctx, readOptions)
	if err != nil {
		return nil, false, wrap("message events", err)
	}
	defer rollback(ctx, tx)
	var first, last int64
	if err := tx.QueryRow(ctx, qEventSeqBounds).Scan(&first, &last); err != nil {
		return nil, false, wrap("message events", err)
	}
	probe := func(seq int64) (int64, time.Time, bool, error) {
		var s int64
		var at time.Time
		err := tx.QueryRow(ctx, qFirstEventAt, seq).Scan(&s, &at)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, time.Time{}, false, nil
		}
		return s, at, err == nil, err
	}
	lo, err := switchboard.SearchEventLog(first, last, m.CreatedAt.Add(-switchboard.TraceSlack), probe)
	if err != nil {
		return nil, false, wrap("message events", err)
	}
	hi, err := switchboard.SearchEventLog(lo, last, m.UpdatedAt.Add(switchboard.TraceSlack), probe)
	if err != nil {
		return nil, false, wrap("message events", err)
	}
	truncated := false
	if hi-lo > switchboard.TraceScanLimit {
		hi, truncated = lo+switchboard.TraceScanLimit, true
	}
	rows, err := tx.Query(ctx, qMessageEvents, lo, hi, m.ID)
	if err != nil {
		return nil, false, wrap("message events", err)
	}
	var out []*switchboard.MessageAppEvent
	bySeq := map[int64]*switchboard.MessageAppEvent{}
	var seqs []int64
	for rows.Next() {
		var e switchboard.AppEvent
		var data []byte
		if err := rows.Scan(scanAppEventInto(&e, &data)...); err != nil {
			rows.Close()
			return nil, false, wrap("message events", err)
		}
		e.At, e.Data = utc(e.At), json.RawMessage(data)
		me := &switchboard.MessageAppEvent{Event: &e, Deliveries: []*switchboard.Delivery{}}
		out = append(out, me)
		bySeq[e.Seq] = me
		seqs = append(seqs, e.Seq)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, wrap("message events", err)
	}
	if len(seqs) == 0 {
		return out, truncated, nil
	}
	rows, err = tx.Query(ctx, qEventDeliveries, seqs)
	if err != nil {
		return nil, false, wrap("message deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			d                       switchboard.Delivery
			seq                     int64
			lastAttempt, leaseUntil *time.Time
			leaseOwner              *string
		)
		if err := rows.Scan(deliveryDest(&d, &seq, &lastAttempt, &leaseUntil, &leaseOwner)...); err != nil {
			return nil, false, wrap("message deliveries", err)
		}
		d.NextAttemptAt, d.LastAttemptAt = utc(d.NextAttemptAt), utcPtr(lastAttempt)
		d.LeaseOwner, d.LeaseUntil = deref(leaseOwner), utcPtr(leaseUntil)
		d.CreatedAt, d.UpdatedAt = utc(d.CreatedAt), utc(d.UpdatedAt)
		me := bySeq[seq]
		d.EventID = me.Event.ID
		me.Deliveries = append(me.Deliveries, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, false, wrap("message deliveries", err)
	}
	return out, truncated, nil
}
