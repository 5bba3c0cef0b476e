package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	// A pair of numbers has a conversation per tenant that used it; the customer-service window is
	// the numbers' (the person wrote to the number, whichever tenant the message went to), so the
	// one with the latest inbound message answers.
	qConvByPair = `SELECT ` + sqlstore.ConversationCols + ` FROM conversations WHERE channel = $1 AND our_number = $2 AND their_number = $3
		ORDER BY last_inbound_at DESC NULLS LAST, tenant LIMIT 1`
	// Unsettled fallbacks that need a decision: finished, or past their fallback time.
	qFallbackCandidates = `SELECT ` + sqlstore.MessageCols + `, fallback_due_at FROM messages
		WHERE fallback_pending AND (
			status IN ('delivered', 'read', 'undelivered', 'failed', 'canceled', 'blocked', 'expired')
			OR (fallback_due_at IS NOT NULL AND fallback_due_at <= $1))
		ORDER BY created_at LIMIT $2`
	qSettleFallback = `UPDATE messages SET fallback_pending = NULL, fallback_message_id = $1
		WHERE id = $2 AND fallback_pending`
	// The windows closing within the lead time that were not announced, locked (others skipped)
	// and marked in one statement; the outer condition is checked again on the locked row, so
	// two nodes never announce one window.
	qWindowClosing = `UPDATE conversations SET window_notified_for = last_inbound_at
		WHERE id IN (
			SELECT id FROM conversations
			WHERE channel = 'whatsapp' AND last_inbound_at IS NOT NULL
				AND last_inbound_at <= $1 AND last_inbound_at > $2
				AND window_notified_for IS DISTINCT FROM last_inbound_at
			ORDER BY last_inbound_at LIMIT $3
			FOR UPDATE SKIP LOCKED)
			AND window_notified_for IS DISTINCT FROM last_inbound_at
		RETURNING ` + sqlstore.ConversationCols
)

var _ switchboard.WhatsAppStore = (*DB)(nil)

// FindConversation returns the conversation of (channel's thread, ours, theirs), or ENOTFOUND.
func (db *DB) FindConversation(ctx context.Context, channel switchboard.Channel, ours, theirs string) (*switchboard.Conversation, error) {
	c, err := scanConversation(db.pool.QueryRow(ctx, qConvByPair, switchboard.ThreadChannel(channel), ours, theirs))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.ErrNoConversation(channel)
	} else if err != nil {
		return nil, wrap("find conversation", err)
	}
	return c, nil
}

// scanTail scans a message row followed by extra columns.
type scanTail struct {
	r     pgx.Row
	extra any
}

func (t scanTail) Scan(dest ...any) error { return t.r.Scan(append(dest, t.extra)...) }

// FallbackCandidates lists unsettled fallbacks that need a decision at now.
func (db *DB) FallbackCandidates(ctx context.Context, now time.Time, limit int) ([]*switchboard.FallbackCandidate, error) {
	rows, err := db.pool.Query(ctx, qFallbackCandidates, now, sqlstore.Limit(limit))
	if err != nil {
		return nil, wrap("fallback candidates", err)
	}
	defer rows.Close()
	var out []*switchboard.FallbackCandidate
	for rows.Next() {
		var due *time.Time
		m, err := scanMessage(scanTail{rows, &due})
		if err != nil {
			return nil, wrap("fallback candidates", err)
		}
		out = append(out, &switchboard.FallbackCandidate{Message: m, Due: utcPtr(due)})
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("fallback candidates", err)
	}
	return out, nil
}

// SettleFallback marks a message's fallback settled and appends ev to its timeline.
func (db *DB) SettleFallback(ctx context.Context, id, legID string, ev *switchboard.Event) (bool, error) {
	settled := false
	err := pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		settled = false
		tag, err := tx.Exec(ctx, qSettleFallback, sqlstore.NullString(legID), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		settled = true
		if ev == nil {
			return nil
		}
		ev.MessageID = id
		return tx.QueryRow(ctx, qInsertEvent, ev.MessageID, ev.Type, ev.Status, ev.Actor, ev.ErrorCode, ev.Detail,
			sqlstore.RawJSON(ev.Payload), ev.At).Scan(&ev.ID)
	})
	if err != nil {
		return false, wrap("settle fallback", err)
	}
	return settled, nil
}

// ClaimWindowClosing announces the WhatsApp windows that close within lead of now, once each.
func (db *DB) ClaimWindowClosing(ctx context.Context, now time.Time, lead time.Duration, limit int) ([]*switchboard.Conversation, error) {
	upper := now.Add(lead - switchboard.WhatsAppWindow)
	lower := now.Add(-switchboard.WhatsAppWindow)
	var out []*switchboard.Conversation
	err := pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, qWindowClosing, upper, lower, sqlstore.Limit(limit))
		if err != nil {
			return err
		}
		var convs []*switchboard.Conversation
		for rows.Next() {
			c, err := scanConversation(rows)
			if err != nil {
				rows.Close()
				return err
			}
			convs = append(convs, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var evs []*switchboard.AppEvent
		for _, c := range convs {
			ev, err := switchboard.WindowClosingEvent(c, now)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		if len(evs) > 0 {
			b := &pgx.Batch{}
			queueAppEvents(b, evs)
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		out = append(out, convs...)
		return nil
	})
	if err != nil {
		return nil, wrap("window closing", err)
	}
	return out, nil
}

// RecordAppEvent writes one event to the events outbox.
func (db *DB) RecordAppEvent(ctx context.Context, ev *switchboard.AppEvent) error {
	if _, err := db.pool.Exec(ctx, qInsertAppEvent, appEventArgs(ev)...); err != nil {
		return wrap("record event", err)
	}
	return nil
}
