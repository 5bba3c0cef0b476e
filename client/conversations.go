package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Conversation is a thread between one of the gateway's numbers and one person's number on one
// channel (SMS and MMS share one).
type Conversation struct {
	switchboard.Conversation
	// Window is WhatsApp's customer-service window; nil on other channels.
	Window *ConversationWindow `json:"window,omitempty"`
}

// ConversationWindow says whether free-form WhatsApp messages may go now, and until when.
type ConversationWindow struct {
	Open     bool       `json:"open"`
	ClosesAt *time.Time `json:"closes_at,omitempty"`
}

// ConversationOptions selects conversations; empty fields do not filter.
type ConversationOptions struct {
	OurNumber, TheirNumber string
	Channel                switchboard.Channel
	Cursor                 string
	Limit                  int
}

// ConversationPage is one page of conversations, most recently active first.
type ConversationPage struct {
	Conversations []*Conversation `json:"conversations"`
	NextCursor    string          `json:"next_cursor,omitempty"`
}

// ThreadPage is one page of a conversation's messages, newest first: each is Outbound or
// Inbound, as its Direction says.
type ThreadPage struct {
	Messages   []*switchboard.ConversationMessage `json:"messages"`
	NextCursor string                             `json:"next_cursor,omitempty"`
}

func conversationPath(id string) string { return "/v1/conversations/" + url.PathEscape(id) }

// Conversations returns one page of the conversations opts selects.
func (c *Client) Conversations(ctx context.Context, opts ConversationOptions) (*ConversationPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"our_number": opts.OurNumber, "their_number": opts.TheirNumber,
		"channel": string(opts.Channel), "cursor": opts.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var p ConversationPage
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/conversations", query: q}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Conversation returns one conversation.
func (c *Client) Conversation(ctx context.Context, id string) (*Conversation, error) {
	if id == "" {
		return nil, errors.New("switchboard: Conversation: empty ID")
	}
	var out Conversation
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: conversationPath(id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Thread returns one page of a conversation's messages in both directions, newest first.
func (c *Client) Thread(ctx context.Context, id, cursor string, limit int) (*ThreadPage, error) {
	if id == "" {
		return nil, errors.New("switchboard: Thread: empty ID")
	}
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p ThreadPage
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: conversationPath(id) + "/messages", query: q}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Reply sends a message in a conversation: to its person, from its number, on its channel. req
// must leave To, From and Pool empty; like Send, it is idempotent (a key is generated when
// req.IdempotencyKey is empty).
func (c *Client) Reply(ctx context.Context, conversationID string, req *SendRequest) (*switchboard.Message, error) {
	if req == nil || conversationID == "" {
		return nil, errors.New("switchboard: Reply: nil request or empty conversation ID")
	}
	key := req.IdempotencyKey
	if key == "" {
		key = NewIdempotencyKey()
	}
	var m switchboard.Message
	_, err := c.do(ctx, &request{
		method: http.MethodPost,
		path:   conversationPath(conversationID) + "/messages",
		body:   newSendBody(req),
		header: http.Header{"Idempotency-Key": {key}},
	}, &m)
	if err != nil {
		return nil, err
	}
	return &m, nil
}
