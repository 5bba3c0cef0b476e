package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qInsertCallback = `INSERT INTO webhook_events (dedupe_key, provider_sid, provider_status, status, error_code,
			error_message, message_id, payload, applied, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`
	qPendingCallbacks = `SELECT provider_status, status, error_code, error_message, payload, received_at
		FROM webhook_events WHERE provider_sid = ? AND applied = 0 ORDER BY id`
	qMarkApplied = `UPDATE webhook_events SET applied = 1, message_id = ? WHERE provider_sid = ? AND applied = 0`
)

// qCallbackTarget reads, of the message a callback names by its SID, what applying the callback
// and its events needs (applyCallback, saveStatus, statusEvent): not the body, media or
// options, which a callback never touches.
const qCallbackTarget = `SELECT id, status, error_code, error_message, updated_at, provider_sid, to_number,
	from_number, channel, attempts, metadata FROM messages WHERE provider_sid = ?`

// scanCallbackTarget scans a qCallbackTarget row into a message with those fields set.
func scanCallbackTarget(s scanner) (*switchboard.Message, error) {
	var (
		m       switchboard.Message
		updated int64
		meta    sql.NullString
	)
	if err := s.Scan(&m.ID, &m.Status, &m.ErrorCode, &m.ErrorMessage, &updated, &m.ProviderSID, &m.To, &m.From,
		&m.Channel, &m.Attempts, &meta); err != nil {
		return nil, err
	}
	if meta.Valid {
		if err := json.Unmarshal([]byte(meta.String), &m.Metadata); err != nil {
			return nil, fmt.Errorf("sqlite: message %s: metadata: %w", m.ID, err)
		}
	}
	m.UpdatedAt = fromMicros(updated)
	return &m, nil
}

// IngestCallback durably records a provider status callback and applies it to its message; see
// switchboard.Store.
func (db *DB) IngestCallback(ctx context.Context, cb *switchboard.Callback) (switchboard.CallbackResult, error) {
	var res switchboard.CallbackResult
	if err := switchboard.CheckCallback(cb); err != nil {
		return res, err
	}
	err := db.write(ctx, func(t *wtx) error {
		res = switchboard.CallbackResult{}
		m, err := scanCallbackTarget(t.queryRow(qCallbackTarget, cb.ProviderSID))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: callback: %w", err)
		}
		adopt := false
		if m == nil && cb.MessageID != "" {
			// The callback names our message: if that message never learned its SID (the
			// provider's answer was lost), the callback tells it.
			hinted, err := scanMessage(t.queryRow(qMessageByID, cb.MessageID))
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlite: callback: %w", err)
			}
			if hinted != nil && hinted.ProviderSID == "" {
				m, adopt = hinted, true
			}
		}
		msgID := cb.MessageID
		if m != nil {
			msgID = m.ID
		}
		r, err := t.exec(qInsertCallback, cb.DedupeKey(), cb.ProviderSID, cb.ProviderStatus, cb.Status, cb.ErrorCode,
			cb.ErrorMessage, msgID, sqlstore.RawJSON(cb.Payload), boolInt(m != nil), micros(cb.ReceivedAt))
		if err != nil {
			return fmt.Errorf("sqlite: record callback: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: record callback: %w", err)
		} else if n == 0 {
			res = switchboard.DuplicateCallback(m, adopt)
			return nil
		}
		var pending []switchboard.RecordedCallback
		if adopt {
			// Callbacks that arrived for the SID before this one (without our ID) come first.
			if pending, err = pendingCallbacks(t, cb.ProviderSID); err != nil {
				return err
			}
		}
		c, err := switchboard.IngestCallback(m, adopt, pending, cb)
		if err != nil || m == nil {
			res = c.Result
			return err
		}
		// The timeline first, then the message: a delivery's event is in place when the status
		// moves, so the charts' running totals (migration 0100) count its latency in the one
		// upsert of the status change (chart_message_update) instead of a second one when the
		// event follows (chart_event_insert, whose WHEN is false while the message is not yet
		// delivered).
		if err := insertChange(t, c.Events, c.AppEvents); err != nil {
			return err
		}
		switch {
		case c.Adopted:
			if err := saveMessage(t, m); err != nil {
				return err
			}
			if len(pending) > 0 {
				if _, err := t.exec(qMarkApplied, m.ID, m.ProviderSID); err != nil {
					return fmt.Errorf("sqlite: mark callbacks applied: %w", err)
				}
			}
		case c.Moved:
			if err := saveStatus(t, m); err != nil {
				return err
			}
		}
		res = c.Result
		return nil
	})
	if err != nil {
		return switchboard.CallbackResult{}, err
	}
	return res, nil
}

// pendingCallbacks reads the callbacks recorded for sid before any message had it, in arrival
// order.
func pendingCallbacks(t *wtx, sid string) ([]switchboard.RecordedCallback, error) {
	rows, err := t.query(qPendingCallbacks, sid)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending callbacks: %w", err)
	}
	defer rows.Close()
	var pending []switchboard.RecordedCallback
	for rows.Next() {
		var (
			p        switchboard.RecordedCallback
			payload  sql.NullString
			received int64
		)
		if err := rows.Scan(&p.ProviderStatus, &p.Status, &p.ErrorCode, &p.ErrorMessage, &payload, &received); err != nil {
			return nil, fmt.Errorf("sqlite: pending callbacks: %w", err)
		}
		if payload.Valid {
			p.Payload = json.RawMessage(payload.String)
		}
		p.ReceivedAt = fromMicros(received)
		pending = append(pending, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pending callbacks: %w", err)
	}
	return pending, rows.Close()
}
