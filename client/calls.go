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

// CallRequest places a call that runs a flow (POST /v1/calls).
type CallRequest struct {
	To               string            `json:"to"`
	From             string            `json:"from,omitempty"`
	Sender           string            `json:"sender,omitempty"`
	Flow             string            `json:"flow"`
	FlowVersion      int               `json:"flow_version,omitempty"`
	Locale           string            `json:"locale,omitempty"`
	Variables        map[string]string `json:"variables,omitempty"`
	MachineDetection bool              `json:"machine_detection,omitempty"`
	RingTimeout      int               `json:"ring_timeout,omitempty"`
	MaxAttempts      int               `json:"max_attempts,omitempty"`
	RetryDelay       int               `json:"retry_delay,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
	// SendAt defers the call until that time (zero: now); quiet hours may defer it further.
	SendAt time.Time `json:"send_at,omitzero"`
	// Timezone is the callee's IANA time zone, for quiet hours (default: guessed from the number).
	Timezone string `json:"timezone,omitempty"`
	// IdempotencyKey is sent as the Idempotency-Key header (a new one when empty), so that a
	// retried request places one call.
	IdempotencyKey string `json:"-"`
}

// CallPage is one page of calls, newest first.
type CallPage struct {
	Calls      []*switchboard.Call `json:"calls"`
	NextCursor string              `json:"next_cursor,omitempty"`
}

func callPath(id string) string { return "/v1/calls/" + url.PathEscape(id) }

// CreateCall places a call.
func (c *Client) CreateCall(ctx context.Context, req *CallRequest) (*switchboard.Call, error) {
	if req == nil {
		return nil, errors.New("switchboard: CreateCall: nil request")
	}
	key := req.IdempotencyKey
	if key == "" {
		key = NewIdempotencyKey()
	}
	var out switchboard.Call
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/calls", body: req,
		header: http.Header{"Idempotency-Key": {key}}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Call returns a call with its timeline.
func (c *Client) Call(ctx context.Context, id string) (*switchboard.Call, error) {
	var out switchboard.Call
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: callPath(id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Calls lists calls, newest first; cursor is the NextCursor of the previous page.
func (c *Client) Calls(ctx context.Context, cursor string, limit int) (*CallPage, error) {
	return c.calls(ctx, url.Values{}, cursor, limit)
}

// CallsByMetadata lists the calls whose metadata has m.Key with exactly m.Value, newest first
// (sent as metadata[KEY]=VALUE; the gateway answers it from an index).
func (c *Client) CallsByMetadata(ctx context.Context, m switchboard.MetadataMatch, cursor string, limit int) (*CallPage, error) {
	return c.calls(ctx, url.Values{"metadata[" + m.Key + "]": {m.Value}}, cursor, limit)
}

func (c *Client) calls(ctx context.Context, q url.Values, cursor string, limit int) (*CallPage, error) {
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out CallPage
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/calls", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelCall cancels a call (or hangs it up) and returns it.
func (c *Client) CancelCall(ctx context.Context, id string) (*switchboard.Call, error) {
	var out switchboard.Call
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: callPath(id) + "/cancel"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
