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
	qConvByID = `SELECT ` + sqlstore.ConversationCols + ` FROM conversations WHERE id = $1`
	// The conversations of one pair of numbers, one per tenant (through conversations_their: a
	// person's conversations are few), to attribute an inbound message (InboundTenant).
	qConvsOfPair = `SELECT ` + sqlstore.ConversationCols + ` FROM conversations
		WHERE their_number = $1 AND our_number = $2 AND channel = $3`
	// A conversation's messages, newest first, after a (time, ID) cursor.
	qConvMessages = `SELECT ` + sqlstore.MessageCols + ` FROM messages
		WHERE tenant = $8 AND to_number = $1 AND from_number = $2 AND channel IN ($3, $4) AND (created_at, id) < ($5, $6)
		ORDER BY created_at DESC, id DESC LIMIT $7`
	qConvInbounds = `SELECT ` + sqlstore.InboundCols + ` FROM inbound_messages
		WHERE tenant = $8 AND from_number = $1 AND to_number = $2 AND channel IN ($3, $4) AND (received_at, id) < ($5, $6)
		ORDER BY received_at DESC, id DESC LIMIT $7`
)

func scanConversation(r sqlstore.Scanner) (*switchboard.Conversation, error) {
	var c switchboard.Conversation
	if err := r.Scan(&c.ID, &c.Channel, &c.OurNumber, &c.TheirNumber, &c.LastMessageAt, &c.LastInboundAt,
		&c.LastOutboundAt, &c.InboundCount, &c.OutboundCount, &c.CreatedAt, &c.Tenant); err != nil {
		return nil, err
	}
	c.LastMessageAt, c.CreatedAt = utc(c.LastMessageAt), utc(c.CreatedAt)
	for _, t := range []*time.Time{c.LastInboundAt, c.LastOutboundAt} {
		if t != nil {
			*t = utc(*t)
		}
	}
	return &c, nil
}

func conversationNotFound(id string) error {
	return switchboard.ErrConversationNotFound(id)
}

// GetConversation returns a conversation, or ENOTFOUND.
func (db *DB) GetConversation(ctx context.Context, id string) (*switchboard.Conversation, error) {
	c, err := scanConversation(db.pool.QueryRow(ctx, qConvByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, conversationNotFound(id)
	} else if err != nil {
		return nil, wrap("get conversation", err)
	}
	return c, nil
}

// ListConversations lists conversations by last activity, newest first.
func (db *DB) ListConversations(ctx context.Context, f switchboard.ConversationFilter) ([]*switchboard.Conversation, string, error) {
	w := sqlstore.Where{Numbered: true}
	if f.Tenant != "" {
		w.Add("tenant = ?", f.Tenant)
	}
	if f.OurNumber != "" {
		w.Add("our_number = ?", f.OurNumber)
	}
	if f.TheirNumber != "" {
		w.Add("their_number = ?", f.TheirNumber)
	}
	if f.Channel != "" {
		w.Add("channel = ?", string(switchboard.ThreadChannel(f.Channel)))
	}
	if f.Cursor != "" {
		at, id, err := switchboard.ParseTimeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		w.Add("(last_message_at, id) < (?, ?)", at, id)
	}
	limit := sqlstore.Limit(f.Limit)
	cond, n := w.SQL(), w.Next()
	q := "SELECT " + sqlstore.ConversationCols + " FROM conversations" + cond + " ORDER BY last_message_at DESC, id DESC LIMIT " + n
	rows, err := db.pool.Query(ctx, q, append(w.Args, limit+1)...)
	out, err := collect(rows, err, scanConversation)
	if err != nil {
		return nil, "", wrap("list conversations", err)
	}
	out, next := sqlstore.Page(out, limit, func(x *switchboard.Conversation) string { return switchboard.TimeCursor(x.LastMessageAt, x.ID) })
	return out, next, nil
}

// ConversationMessages lists a conversation's messages in both directions, newest first: a page
// of each direction read in one snapshot, merged.
func (db *DB) ConversationMessages(ctx context.Context, id, cursor string, limit int) ([]*switchboard.ConversationMessage, string, error) {
	beforeAt, beforeID := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), "\uffff"
	if cursor != "" {
		at, cid, err := switchboard.ParseTimeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		beforeAt, beforeID = at, cid
	}
	limit = sqlstore.Limit(limit)
	tx, err := db.pool.BeginTx(ctx, readOptions)
	if err != nil {
		return nil, "", wrap("conversation messages", err)
	}
	defer rollback(ctx, tx)
	c, err := scanConversation(tx.QueryRow(ctx, qConvByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", conversationNotFound(id)
	} else if err != nil {
		return nil, "", wrap("conversation messages", err)
	}
	var out []*switchboard.ConversationMessage
	ch1, ch2 := switchboard.ThreadChannels(c.Channel)
	msgs, err := scanMessages(tx.Query(ctx, qConvMessages, c.TheirNumber, c.OurNumber, string(ch1), string(ch2), beforeAt, beforeID, limit+1, c.Tenant))
	if err != nil {
		return nil, "", wrap("conversation messages", err)
	}
	for _, m := range msgs {
		out = append(out, &switchboard.ConversationMessage{Direction: switchboard.DirectionOutbound, At: m.CreatedAt, Outbound: m})
	}
	rows, err := tx.Query(ctx, qConvInbounds, c.TheirNumber, c.OurNumber, string(ch1), string(ch2), beforeAt, beforeID, limit+1, c.Tenant)
	if err != nil {
		return nil, "", wrap("conversation messages", err)
	}
	defer rows.Close()
	for rows.Next() {
		in, err := scanInbound(rows)
		if err != nil {
			return nil, "", wrap("conversation messages", err)
		}
		out = append(out, &switchboard.ConversationMessage{Direction: switchboard.DirectionInbound, At: in.ReceivedAt, Inbound: in})
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap("conversation messages", err)
	}
	out, next := switchboard.MergeConversationPage(out, limit)
	return out, next, nil
}

// scanInbound reads the sqlstore.InboundCols of a row.
func scanInbound(r sqlstore.Scanner) (*switchboard.InboundMessage, error) {
	var (
		in             switchboard.InboundMessage
		media, payload []byte
	)
	if err := r.Scan(&in.ID, &in.ProviderSID, &in.Channel, &in.From, &in.To, &in.Body, &in.NumMedia,
		&media, &payload, &in.ReceivedAt, &in.Tenant); err != nil {
		return nil, err
	}
	if media != nil {
		if err := json.Unmarshal(media, &in.MediaURLs); err != nil {
			return nil, errors.New("inbound " + in.ID + ": media_urls: " + err.Error())
		}
	}
	if payload != nil {
		in.Payload = json.RawMessage(payload)
	}
	in.ReceivedAt = utc(in.ReceivedAt)
	return &in, nil
}
