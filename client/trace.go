package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Trace is a message's story: the message with its timeline (oldest first), and the events
// that reported it to applications, each with its deliveries to endpoints.
type Trace struct {
	Message   *switchboard.Message           `json:"message"`
	AppEvents []*switchboard.MessageAppEvent `json:"app_events"`
	// AppEventsTruncated says that the event log around the message was too long to search
	// whole: some of its events may be missing.
	AppEventsTruncated bool `json:"app_events_truncated"`
}

// GetBySID returns the message the provider knows by sid (Twilio's SM… or MM…), with its
// timeline. An unknown SID is an *Error with status 404.
func (c *Client) GetBySID(ctx context.Context, sid string) (*switchboard.Message, error) {
	if sid == "" {
		return nil, errors.New("switchboard: GetBySID: empty SID")
	}
	var m switchboard.Message
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/provider-messages/" + url.PathEscape(sid)}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Trace returns the trace of message id.
func (c *Client) Trace(ctx context.Context, id string) (*Trace, error) {
	if id == "" {
		return nil, errors.New("switchboard: Trace: empty message ID")
	}
	var t Trace
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/messages/" + url.PathEscape(id) + "/trace"}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}
