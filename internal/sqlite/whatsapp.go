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
	// A pair of numbers has a conversation per tenant that used it; the customer-service window is
	// the numbers' (the person wrote to the number, whichever tenant the message went to), so the
	// one with the latest inbound message answers.
	qConvByPair = `SELECT ` + sqlstore.ConversationCols + ` FROM conversations WHERE channel = ? AND our_number = ? AND their_number = ?
		ORDER BY last_inbound_at IS NULL, last_inbound_at DESC, tenant LIMIT 1`
	qMarkFallback = `UPDATE messages SET fallback_pending = 1, fallback_due_at = ? WHERE id = ?`
	// Unsettled fallbacks that need a decision: finished, or past their fallback time.
	qFallbackCandidates = `SELECT ` + sqlstore.MessageCols + `, fallback_due_at FROM messages
		WHERE fallback_pending = 1 AND (
			status IN ('delivered', 'read', 'undelivered', 'failed', 'canceled', 'blocked', 'expired')
			OR (fallback_due_at IS NOT NULL AND fallback_due_at <= ?))
		ORDER BY created_at LIMIT ?`
	qSettleFallback = `UPDATE messages SET fallback_pending = NULL, fallback_message_id = ?
		WHERE id = ? AND fallback_pending = 1`
	// Conversations whose window closes within the lead time and was not announced: the window
	// of last_inbound_at closes at last_inbound_at + 24 h.
	qWindowClosing = `SELECT ` + sqlstore.ConversationCols + ` FROM conversations
		WHERE channel = 'whatsapp' AND last_inbound_at IS NOT NULL
			AND last_inbound_at <= ?1 AND last_inbound_at > ?2
			AND (window_notified_for IS NULL OR window_notified_for <> last_inbound_at)
		ORDER BY last_inbound_at LIMIT ?3`
	qWindowNotified = `UPDATE conversations SET window_notified_for = ? WHERE id = ? AND last_inbound_at = ?`
)

func init() {
	writeQueries = append(writeQueries, qMarkFallback, qSettleFallback, qWindowNotified)
	readQueries = append(readQueries, qConvByPair, qFallbackCandidates)
}

var _ switchboard.WhatsAppStore = (*DB)(nil)

// markFallback starts the fallback bookkeeping of a new message that has the SMS fallback, in t.
func markFallback(t *wtx, m *switchboard.Message) error {
	pending, due := switchboard.FallbackDue(m)
	if !pending {
		return nil
	}
	if _, err := t.exec(qMarkFallback, microsPtr(due), m.ID); err != nil {
		return fmt.Errorf("sqlite: fallback: %w", err)
	}
	return nil
}

// FindConversation returns the conversation of (channel's thread, ours, theirs), or ENOTFOUND.
func (db *DB) FindConversation(ctx context.Context, channel switchboard.Channel, ours, theirs string) (*switchboard.Conversation, error) {
	c, err := scanConversation(db.rstmts[qConvByPair].QueryRowContext(ctx, switchboard.ThreadChannel(channel), ours, theirs))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrNoConversation(channel)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find conversation: %w", err)
	}
	return c, nil
}

// FallbackCandidates lists unsettled fallbacks that need a decision at now.
func (db *DB) FallbackCandidates(ctx context.Context, now time.Time, limit int) ([]*switchboard.FallbackCandidate, error) {
	rows, err := db.rstmts[qFallbackCandidates].QueryContext(ctx, micros(now), sqlstore.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: fallback candidates: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.FallbackCandidate
	for rows.Next() {
		var due sql.NullInt64
		m, err := scanMessage(scanTail{rows, &due})
		if err != nil {
			return nil, fmt.Errorf("sqlite: fallback candidates: %w", err)
		}
		out = append(out, &switchboard.FallbackCandidate{Message: m, Due: fromNullMicros(due)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: fallback candidates: %w", err)
	}
	return out, nil
}

// scanTail scans a message row followed by extra columns.
type scanTail struct {
	s     scanner
	extra any
}

func (t scanTail) Scan(dest ...any) error { return t.s.Scan(append(dest, t.extra)...) }

// SettleFallback marks a message's fallback settled and appends ev to its timeline.
func (db *DB) SettleFallback(ctx context.Context, id, legID string, ev *switchboard.Event) (bool, error) {
	settled := false
	err := db.write(ctx, func(t *wtx) error {
		settled = false
		res, err := t.exec(qSettleFallback, sqlstore.NullString(legID), id)
		if err != nil {
			return fmt.Errorf("sqlite: settle fallback: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		settled = true
		if ev != nil {
			ev.MessageID = id
			return insertEvent(t, ev)
		}
		return nil
	})
	return settled, err
}

// ClaimWindowClosing announces the WhatsApp windows that close within lead of now, once each.
func (db *DB) ClaimWindowClosing(ctx context.Context, now time.Time, lead time.Duration, limit int) ([]*switchboard.Conversation, error) {
	// A window of last_inbound_at closes at last_inbound_at + 24h: it closes within lead when
	// last_inbound_at <= now + lead - 24h, and is still open when last_inbound_at > now - 24h.
	upper := micros(now.Add(lead - switchboard.WhatsAppWindow))
	lower := micros(now.Add(-switchboard.WhatsAppWindow))
	var out []*switchboard.Conversation
	err := db.write(ctx, func(t *wtx) error {
		out = out[:0]
		rows, err := t.query(qWindowClosing, upper, lower, sqlstore.Limit(limit))
		if err != nil {
			return fmt.Errorf("sqlite: window closing: %w", err)
		}
		var convs []*switchboard.Conversation
		for rows.Next() {
			c, err := scanConversation(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: window closing: %w", err)
			}
			convs = append(convs, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: window closing: %w", err)
		}
		for _, c := range convs {
			if _, err := t.exec(qWindowNotified, micros(*c.LastInboundAt), c.ID, micros(*c.LastInboundAt)); err != nil {
				return fmt.Errorf("sqlite: window closing: %w", err)
			}
			ev, err := switchboard.WindowClosingEvent(c, now)
			if err != nil {
				return err
			}
			if err := insertAppEvent(t, ev); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// RecordAppEvent writes one event to the events outbox.
func (db *DB) RecordAppEvent(ctx context.Context, ev *switchboard.AppEvent) error {
	return db.write(ctx, func(t *wtx) error { return insertAppEvent(t, ev) })
}
