package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
)

const (
	// qLockHinted locks the message a callback names when no message has the callback's SID and
	// the named one has none yet: the callback will tell it its SID. Once locked, the row is
	// re-checked, so a SID set meanwhile by another transaction rules the adoption out.
	qLockHinted = `SELECT ` + messageCols + ` FROM messages
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

// callbackActor is the actor of callback events on timelines.
const callbackActor = "provider"

// IngestCallback durably records a provider status callback and applies it to its message; see
// switchboard.Store.
//
// The callback's SID is locked first (an advisory lock), then its message row. The same callback
// delivered to two nodes at once is therefore recorded by one of them and is a duplicate for the
// other; two callbacks of one message apply one after the other.
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
	b := newBatch(txOptions)
	b.Queue(qLockSID, lockSIDNamespace, sidLockKey(cb.ProviderSID))
	b.Queue(qLockMessageBySID, cb.ProviderSID)
	if cb.MessageID != "" {
		b.Queue(qLockHinted, cb.MessageID, cb.ProviderSID)
		b.Queue(qPendingCallbacks, cb.ProviderSID)
	}
	b.Queue(qInsertCallback, cb.DedupeKey(), cb.ProviderSID, cb.ProviderStatus, cb.Status, cb.ErrorCode,
		cb.ErrorMessage, cb.MessageID, rawJSON(cb.Payload), cb.ReceivedAt)
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
	var pending []pendingCallback
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
		res.Duplicate = true
		if m != nil && !adopt {
			res.MessageID, res.Status, res.ErrorCode = m.ID, m.Status, m.ErrorCode
		}
		return res, nil // nothing written; the deferred rollback ends the transaction
	} else if err != nil {
		return res, wrap("record callback", err)
	}
	if err := br.Close(); err != nil {
		return res, wrap("record callback", err)
	}
	if m == nil {
		res.Pending = true
		return res, commit(ctx, tx)
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
		if evs, apps, err = applyPending(m, pending, cb.ReceivedAt); err != nil {
			return switchboard.CallbackResult{}, err
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
	if app, err := statusEvent(m, prev, cb.ReceivedAt); err != nil {
		return switchboard.CallbackResult{}, err
	} else if app != nil {
		apps = append(apps, app)
	}
	w := &pgx.Batch{}
	if moved || adopt {
		queueSave(w, m)
	}
	if adopt && len(pending) > 0 {
		w.Queue(qMarkApplied, m.ID, m.ProviderSID)
	}
	queueAppEvents(w, apps)
	queueEvents(w, evs)
	if err := sendWrites(ctx, tx, w, m, evs); err != nil {
		return switchboard.CallbackResult{}, err
	}
	if err := commit(ctx, tx); err != nil {
		return switchboard.CallbackResult{}, err
	}
	res.Applied, res.MessageID, res.Status, res.ErrorCode = moved, m.ID, m.Status, m.ErrorCode
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

// scanPending reads the rows of qPendingCallbacks.
func scanPending(rows pgx.Rows, err error) ([]pendingCallback, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pendingCallback
	for rows.Next() {
		var (
			p       pendingCallback
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

// applyPending applies, in arrival order, the callbacks recorded for m's provider SID before any
// message had it and returns their timeline events and the message.status_changed event of each
// status move. The caller marks them applied (qMarkApplied).
func applyPending(m *switchboard.Message, pending []pendingCallback, at time.Time) ([]*switchboard.Event, []*switchboard.AppEvent, error) {
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
