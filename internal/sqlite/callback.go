package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-gw/switchboard"
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

// callbackActor is the actor of callback events on timelines.
const callbackActor = "provider"

// IngestCallback durably records a provider status callback and applies it to its message; see
// switchboard.Store.
func (db *DB) IngestCallback(ctx context.Context, cb *switchboard.Callback) (switchboard.CallbackResult, error) {
	var res switchboard.CallbackResult
	if cb == nil || cb.ProviderSID == "" {
		return res, switchboard.Errorf(switchboard.EINVALID, "invalid_callback", "callback has no provider SID")
	}
	if !cb.Status.Valid() {
		return res, switchboard.Errorf(switchboard.EINVALID, "invalid_callback", "callback for %s: unknown status %q", cb.ProviderSID, cb.Status)
	}
	if cb.ReceivedAt.IsZero() {
		return res, switchboard.Errorf(switchboard.EINVALID, "invalid_callback", "callback for %s has no receive time", cb.ProviderSID)
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
			cb.ErrorMessage, msgID, rawJSON(cb.Payload), boolInt(m != nil), micros(cb.ReceivedAt))
		if err != nil {
			return fmt.Errorf("sqlite: record callback: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: record callback: %w", err)
		} else if n == 0 {
			res.Duplicate = true
			if m != nil && !adopt {
				res.MessageID, res.Status, res.ErrorCode = m.ID, m.Status, m.ErrorCode
			}
			return nil
		}
		if m == nil {
			res.Pending = true
			return nil
		}
		var (
			evs  []*switchboard.Event
			apps []*switchboard.AppEvent
		)
		if adopt {
			m.ProviderSID = cb.ProviderSID
			m.AttemptInFlight = false
			if cb.ReceivedAt.After(m.UpdatedAt) {
				m.UpdatedAt = cb.ReceivedAt
			}
			// Callbacks that arrived for the SID before this one (without our ID) come first.
			if evs, apps, err = applyPending(t, m, cb.ReceivedAt); err != nil {
				return err
			}
		}
		prev := m.Status
		ev, moved := applyCallback(m, pendingCallback{
			ProviderStatus: cb.ProviderStatus, Status: cb.Status, ErrorCode: cb.ErrorCode,
			ErrorMessage: cb.ErrorMessage, Payload: cb.Payload, ReceivedAt: cb.ReceivedAt,
		}, cb.ReceivedAt)
		if adopt {
			ev.Detail = fmt.Sprintf("provider SID %s adopted from the callback; %s", cb.ProviderSID, ev.Detail)
		}
		evs = append(evs, ev)
		switch {
		case adopt:
			if err := saveMessage(t, m); err != nil {
				return err
			}
		case moved:
			if err := saveStatus(t, m); err != nil {
				return err
			}
		}
		for _, ev := range evs {
			if err := insertEvent(t, ev); err != nil {
				return err
			}
		}
		if app, err := statusEvent(m, prev, cb.ReceivedAt); err != nil {
			return err
		} else if app != nil {
			apps = append(apps, app)
		}
		for _, ev := range apps {
			if err := insertAppEvent(t, ev); err != nil {
				return err
			}
		}
		res.Applied, res.MessageID, res.Status, res.ErrorCode = moved, m.ID, m.Status, m.ErrorCode
		return nil
	})
	if err != nil {
		return switchboard.CallbackResult{}, err
	}
	return res, nil
}

// pendingCallback is a recorded callback about to be applied.
type pendingCallback struct {
	ProviderStatus string
	Status         switchboard.Status
	ErrorCode      int
	ErrorMessage   string
	Payload        json.RawMessage
	ReceivedAt     time.Time
}

// applyPending applies, in arrival order, the callbacks recorded for m's provider SID before any
// message had it, marks them applied and returns their timeline events and the
// message.status_changed event of each status move.
func applyPending(t *wtx, m *switchboard.Message, at time.Time) ([]*switchboard.Event, []*switchboard.AppEvent, error) {
	rows, err := t.query(qPendingCallbacks, m.ProviderSID)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: pending callbacks: %w", err)
	}
	var pending []pendingCallback
	for rows.Next() {
		var (
			p        pendingCallback
			payload  sql.NullString
			received int64
		)
		if err := rows.Scan(&p.ProviderStatus, &p.Status, &p.ErrorCode, &p.ErrorMessage, &payload, &received); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("sqlite: pending callbacks: %w", err)
		}
		if payload.Valid {
			p.Payload = json.RawMessage(payload.String)
		}
		p.ReceivedAt = fromMicros(received)
		pending = append(pending, p)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, nil, fmt.Errorf("sqlite: pending callbacks: %w", err)
	}
	if err := rows.Close(); err != nil {
		return nil, nil, fmt.Errorf("sqlite: pending callbacks: %w", err)
	}
	if len(pending) == 0 {
		return nil, nil, nil
	}
	evs := make([]*switchboard.Event, 0, len(pending))
	var apps []*switchboard.AppEvent
	for _, p := range pending {
		prev := m.Status
		ev, _ := applyCallback(m, p, at)
		ev.Detail = fmt.Sprintf("received %s, before the provider SID was recorded; %s",
			p.ReceivedAt.Format(time.RFC3339Nano), ev.Detail)
		evs = append(evs, ev)
		app, err := statusEvent(m, prev, at)
		if err != nil {
			return nil, nil, err
		}
		if app != nil {
			apps = append(apps, app)
		}
	}
	if _, err := t.exec(qMarkApplied, m.ID, m.ProviderSID); err != nil {
		return nil, nil, fmt.Errorf("sqlite: mark callbacks applied: %w", err)
	}
	return evs, apps, nil
}

// applyCallback moves m as far as the callback allows and returns the timeline event that
// records it, applied or ignored, and whether the status moved.
func applyCallback(m *switchboard.Message, cb pendingCallback, at time.Time) (*switchboard.Event, bool) {
	prev := m.Status
	ev := &switchboard.Event{MessageID: m.ID, Type: switchboard.EventCallback, Actor: callbackActor,
		ErrorCode: cb.ErrorCode, Payload: cb.Payload, At: at}
	moved := prev.CanMoveTo(cb.Status)
	if moved {
		m.Status = cb.Status
		if (cb.Status == switchboard.StatusFailed || cb.Status == switchboard.StatusUndelivered) && cb.ErrorCode != 0 {
			m.ErrorCode, m.ErrorMessage = cb.ErrorCode, cb.ErrorMessage
		}
		if at.After(m.UpdatedAt) {
			m.UpdatedAt = at
		}
		ev.Detail = fmt.Sprintf("%s → %s (provider status %q)", prev, cb.Status, cb.ProviderStatus)
	} else {
		ev.Detail = ignoredDetail(prev, cb.Status, cb.ProviderStatus)
	}
	if cb.ErrorMessage != "" {
		ev.Detail += ": " + fmt.Sprint(cb.ErrorCode) + " " + cb.ErrorMessage
	}
	ev.Status = m.Status
	return ev, moved
}

// ignoredDetail explains why a callback did not move a message from status s to t.
func ignoredDetail(s, t switchboard.Status, providerStatus string) string {
	var why string
	switch {
	case s == t:
		why = "already " + string(s)
	case s.Terminal() && t.Terminal():
		why = fmt.Sprintf("%s is final, %s comes too late", s, t)
	default:
		why = fmt.Sprintf("%s cannot move back to %s", s, t)
	}
	return fmt.Sprintf("ignored: %s (provider status %q)", why, providerStatus)
}
