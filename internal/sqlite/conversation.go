package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	// Upserting a conversation never moves its times backwards: messages of one conversation may
	// commit out of their time order.
	qConvOutbound = `INSERT INTO conversations (id, channel, our_number, their_number, last_message_at,
		last_outbound_at, outbound_count, created_at, tenant) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
		ON CONFLICT (tenant, channel, our_number, their_number) DO UPDATE SET
			last_message_at = max(last_message_at, excluded.last_message_at),
			last_outbound_at = max(coalesce(last_outbound_at, 0), excluded.last_outbound_at),
			outbound_count = outbound_count + 1`
	qConvInbound = `INSERT INTO conversations (id, channel, our_number, their_number, last_message_at,
		last_inbound_at, inbound_count, created_at, tenant) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
		ON CONFLICT (tenant, channel, our_number, their_number) DO UPDATE SET
			last_message_at = max(last_message_at, excluded.last_message_at),
			last_inbound_at = max(coalesce(last_inbound_at, 0), excluded.last_inbound_at),
			inbound_count = inbound_count + 1`
	qConvByID = `SELECT ` + sqlstore.ConversationCols + ` FROM conversations WHERE id = ?`
	// The conversations of one pair of numbers, one per tenant (through conversations_their: a
	// person's conversations are few), to attribute an inbound message (InboundTenant).
	qConvsOfPair = `SELECT ` + sqlstore.ConversationCols + ` FROM conversations
		WHERE their_number = ? AND our_number = ? AND channel = ?`
	// A conversation's messages, newest first, after a (time, ID) cursor.
	qConvMessages = `SELECT ` + sqlstore.MessageCols + ` FROM messages
		WHERE tenant = ? AND to_number = ? AND from_number = ? AND channel IN (?, ?) AND (created_at < ? OR (created_at = ? AND id < ?))
		ORDER BY created_at DESC, id DESC LIMIT ?`
	qConvInbounds = `SELECT ` + sqlstore.InboundCols + ` FROM inbound_messages
		WHERE tenant = ? AND from_number = ? AND to_number = ? AND channel IN (?, ?) AND (received_at < ? OR (received_at = ? AND id < ?))
		ORDER BY received_at DESC, id DESC LIMIT ?`
)

// The conversation statements join those prepared at Open.
func init() {
	writeQueries = append(writeQueries, qConvOutbound, qConvInbound)
	readQueries = append(readQueries, qConvByID, qConvMessages, qConvInbounds)
	writeQueries = append(writeQueries, qConvsOfPair)
}

// threadOutbound records m in its conversation, in t.
func threadOutbound(t *wtx, m *switchboard.Message) error {
	if m.From == "" || m.To == "" {
		return nil
	}
	at := micros(m.CreatedAt)
	if _, err := t.exec(qConvOutbound, switchboard.NewID("conv"), switchboard.ThreadChannel(m.Channel), m.From, m.To, at, at, at,
		switchboard.TenantOr(m.Tenant)); err != nil {
		return fmt.Errorf("sqlite: conversation: %w", err)
	}
	return nil
}

// attributeInbound gives in, when it has no tenant, the tenant switchboard.InboundTenant decides
// from the conversations of its pair of numbers, read in t.
func attributeInbound(t *wtx, in *switchboard.InboundMessage) error {
	if in.Tenant != "" {
		return nil
	}
	rows, err := t.query(qConvsOfPair, in.From, in.To, switchboard.ThreadChannel(in.Channel))
	convs, err := collect(rows, err, scanConversation)
	if err != nil {
		return fmt.Errorf("sqlite: inbound tenant: %w", err)
	}
	in.Tenant = switchboard.InboundTenant(convs)
	return nil
}

// threadInbound records in in its conversation, in t.
func threadInbound(t *wtx, in *switchboard.InboundMessage) error {
	at := micros(in.ReceivedAt)
	if _, err := t.exec(qConvInbound, switchboard.NewID("conv"), switchboard.ThreadChannel(in.Channel), in.To, in.From, at, at, at,
		switchboard.TenantOr(in.Tenant)); err != nil {
		return fmt.Errorf("sqlite: conversation: %w", err)
	}
	return nil
}

func scanConversation(s scanner) (*switchboard.Conversation, error) {
	var (
		c               switchboard.Conversation
		last, created   int64
		lastIn, lastOut sql.NullInt64
	)
	if err := s.Scan(&c.ID, &c.Channel, &c.OurNumber, &c.TheirNumber, &last, &lastIn, &lastOut, &c.InboundCount,
		&c.OutboundCount, &created, &c.Tenant); err != nil {
		return nil, err
	}
	c.LastMessageAt, c.CreatedAt = fromMicros(last), fromMicros(created)
	if lastIn.Valid {
		t := fromMicros(lastIn.Int64)
		c.LastInboundAt = &t
	}
	if lastOut.Valid {
		t := fromMicros(lastOut.Int64)
		c.LastOutboundAt = &t
	}
	return &c, nil
}

// GetConversation returns a conversation, or ENOTFOUND.
func (db *DB) GetConversation(ctx context.Context, id string) (*switchboard.Conversation, error) {
	c, err := scanConversation(db.rstmts[qConvByID].QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrConversationNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: get conversation: %w", err)
	}
	return c, nil
}

// ListConversations lists conversations by last activity, newest first.
func (db *DB) ListConversations(ctx context.Context, f switchboard.ConversationFilter) ([]*switchboard.Conversation, string, error) {
	var (
		where []string
		args  []any
	)
	if f.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, f.Tenant)
	}
	if f.OurNumber != "" {
		where, args = append(where, "our_number = ?"), append(args, f.OurNumber)
	}
	if f.TheirNumber != "" {
		where, args = append(where, "their_number = ?"), append(args, f.TheirNumber)
	}
	if f.Channel != "" {
		where, args = append(where, "channel = ?"), append(args, switchboard.ThreadChannel(f.Channel))
	}
	if f.Cursor != "" {
		at, id, err := switchboard.ParseTimeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(last_message_at < ? OR (last_message_at = ? AND id < ?))")
		args = append(args, micros(at), micros(at), id)
	}
	limit := sqlstore.Limit(f.Limit)
	q := "SELECT " + sqlstore.ConversationCols + " FROM conversations"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY last_message_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := db.r.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanConversation)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list conversations: %w", err)
	}
	out, next := sqlstore.Page(out, limit, func(x *switchboard.Conversation) string { return switchboard.TimeCursor(x.LastMessageAt, x.ID) })
	return out, next, nil
}

// ConversationMessages lists a conversation's messages in both directions, newest first. It
// reads both directions in one snapshot, a page of each, and merges them.
func (db *DB) ConversationMessages(ctx context.Context, id, cursor string, limit int) ([]*switchboard.ConversationMessage, string, error) {
	beforeAt, beforeID := int64(math.MaxInt64), "\uffff"
	if cursor != "" {
		at, cid, err := switchboard.ParseTimeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		beforeAt, beforeID = micros(at), cid
	}
	limit = sqlstore.Limit(limit)
	var out []*switchboard.ConversationMessage
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		c, err := scanConversation(tx.StmtContext(ctx, db.rstmts[qConvByID]).QueryRowContext(ctx, id))
		if errors.Is(err, sql.ErrNoRows) {
			return switchboard.ErrConversationNotFound(id)
		} else if err != nil {
			return fmt.Errorf("sqlite: conversation messages: %w", err)
		}
		ch1, ch2 := switchboard.ThreadChannels(c.Channel)
		rows, err := tx.StmtContext(ctx, db.rstmts[qConvMessages]).QueryContext(ctx, c.Tenant, c.TheirNumber, c.OurNumber, ch1, ch2,
			beforeAt, beforeAt, beforeID, limit+1)
		if err != nil {
			return fmt.Errorf("sqlite: conversation messages: %w", err)
		}
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: conversation messages: %w", err)
			}
			out = append(out, &switchboard.ConversationMessage{Direction: switchboard.DirectionOutbound, At: m.CreatedAt, Outbound: m})
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("sqlite: conversation messages: %w", err)
		}
		rows, err = tx.StmtContext(ctx, db.rstmts[qConvInbounds]).QueryContext(ctx, c.Tenant, c.TheirNumber, c.OurNumber, ch1, ch2,
			beforeAt, beforeAt, beforeID, limit+1)
		if err != nil {
			return fmt.Errorf("sqlite: conversation messages: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			in, err := scanInbound(rows)
			if err != nil {
				return fmt.Errorf("sqlite: conversation messages: %w", err)
			}
			out = append(out, &switchboard.ConversationMessage{Direction: switchboard.DirectionInbound, At: in.ReceivedAt, Inbound: in})
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	out, next := switchboard.MergeConversationPage(out, limit)
	return out, next, nil
}

// scanInbound reads the sqlstore.InboundCols of a row.
func scanInbound(s scanner) (*switchboard.InboundMessage, error) {
	var (
		in             switchboard.InboundMessage
		media, payload sql.NullString
		received       int64
	)
	if err := s.Scan(&in.ID, &in.ProviderSID, &in.Channel, &in.From, &in.To, &in.Body, &in.NumMedia,
		&media, &payload, &received, &in.Tenant); err != nil {
		return nil, err
	}
	if media.Valid {
		if err := json.Unmarshal([]byte(media.String), &in.MediaURLs); err != nil {
			return nil, fmt.Errorf("inbound %s: media_urls: %w", in.ID, err)
		}
	}
	if payload.Valid {
		in.Payload = json.RawMessage(payload.String)
	}
	in.ReceivedAt = fromMicros(received)
	return &in, nil
}
