package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	// qLockHinted locks the message a callback names when no message has the callback's SID and
	// the named one has none yet: the callback will tell it its SID. Once locked, the row is
	// re-checked, so a SID set meanwhile by another transaction rules the adoption out.
	qLockHinted = `SELECT ` + sqlstore.MessageCols + ` FROM messages
		WHERE id = $1 AND provider_sid IS NULL
			AND NOT EXISTS (SELECT 1 FROM messages WHERE provider_sid = $2)
		FOR UPDATE`
	// qInsertCallback records a callback once per dedupe key. It belongs to the message with its
	// SID, else to the message it names if that one can adopt the SID (the rows the statements
	// before it locked); applied says whether it found one. No row comes back for a duplicate.
	qInsertCallback = `INSERT INTO webhook_events (dedupe_key, provider_sid, provider_status, status, error_code,
			error_message, message_id, payload, applied, received_at)
		SELECT $1::text, $2::text, $3::text, $4::text, $5::integer, $6::text, COALESCE(t.id, $7::text), $8::json,
			t.id IS NOT NULL, $9::timestamptz
		FROM (SELECT COALESCE(
			(SELECT id FROM messages WHERE provider_sid = $2::text),
			(SELECT id FROM messages WHERE id = $7::text AND provider_sid IS NULL)) AS id) t
		ON CONFLICT (dedupe_key) DO NOTHING
		RETURNING id`
	qPendingCallbacks = `SELECT provider_status, status, error_code, error_message, payload, received_at
		FROM webhook_events WHERE provider_sid = $1 AND NOT applied ORDER BY id`
	qMarkApplied = `UPDATE webhook_events SET applied = true, message_id = $1 WHERE provider_sid = $2 AND NOT applied`
)

// IngestCallback durably records a provider status callback and applies it to its message; see
// switchboard.Store.
//
// The callback's SID is locked first (an advisory lock), then its message row. The same callback
// delivered to two nodes at once is therefore recorded by one of them and is a duplicate for the
// other; two callbacks of one message apply one after the other.
func (db *DB) IngestCallback(ctx context.Context, cb *switchboard.Callback) (switchboard.CallbackResult, error) {
	var res switchboard.CallbackResult
	if err := switchboard.CheckCallback(cb); err != nil {
		return res, err
	}
	b := newBatch(txOptions)
	b.Queue(qLockSID, lockSIDNamespace, sidLockKey(cb.ProviderSID))
	b.Queue(qLockMessageBySID, cb.ProviderSID)
	if cb.MessageID != "" {
		b.Queue(qLockHinted, cb.MessageID, cb.ProviderSID)
		b.Queue(qPendingCallbacks, cb.ProviderSID)
	}
	b.Queue(qInsertCallback, cb.DedupeKey(), cb.ProviderSID, cb.ProviderStatus, cb.Status, cb.ErrorCode,
		cb.ErrorMessage, cb.MessageID, sqlstore.RawJSON(cb.Payload), cb.ReceivedAt)
	tx, br, err := db.begin(ctx, b)
	if err != nil {
		return res, err
	}
	defer rollback(ctx, tx)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return res, wrap("callback: lock SID", err)
	}
	m, err := scanMessage(br.QueryRow())
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return res, wrap("callback", err)
	}
	adopt := false
	var pending []switchboard.RecordedCallback
	if cb.MessageID != "" {
		// The callback names our message: if that message never learned its SID (the provider's
		// answer was lost), the callback tells it.
		hinted, err := scanMessage(br.QueryRow())
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return res, wrap("callback", err)
		}
		if m == nil && hinted != nil {
			m, adopt = hinted, true
		}
		if pending, err = scanPending(br.Query()); err != nil {
			return res, wrap("pending callbacks", err)
		}
	}
	var eventID int64
	if err := br.QueryRow().Scan(&eventID); errors.Is(err, pgx.ErrNoRows) {
		res = switchboard.DuplicateCallback(m, adopt)
		return res, nil // nothing written; the deferred rollback ends the transaction
	} else if err != nil {
		return res, wrap("record callback", err)
	}
	if err := br.Close(); err != nil {
		return res, wrap("record callback", err)
	}
	c, err := switchboard.IngestCallback(m, adopt, pending, cb)
	if err != nil {
		return switchboard.CallbackResult{}, err
	}
	if m == nil {
		return c.Result, commit(ctx, tx)
	}
	w := &pgx.Batch{}
	if c.Moved || c.Adopted {
		queueSave(w, m)
	}
	if c.Adopted && len(pending) > 0 {
		w.Queue(qMarkApplied, m.ID, m.ProviderSID)
	}
	queueAppEvents(w, c.AppEvents)
	queueEvents(w, c.Events)
	if err := sendWrites(ctx, tx, w, m, c.Events); err != nil {
		return switchboard.CallbackResult{}, err
	}
	if err := commit(ctx, tx); err != nil {
		return switchboard.CallbackResult{}, err
	}
	return c.Result, nil
}

// scanPending reads the rows of qPendingCallbacks.
func scanPending(rows pgx.Rows, err error) ([]switchboard.RecordedCallback, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []switchboard.RecordedCallback
	for rows.Next() {
		var (
			p       switchboard.RecordedCallback
			payload []byte
		)
		if err := rows.Scan(&p.ProviderStatus, &p.Status, &p.ErrorCode, &p.ErrorMessage, &payload, &p.ReceivedAt); err != nil {
			return nil, err
		}
		if payload != nil {
			p.Payload = json.RawMessage(payload)
		}
		p.ReceivedAt = utc(p.ReceivedAt)
		out = append(out, p)
	}
	return out, rows.Err()
}
