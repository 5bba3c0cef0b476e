package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	switchboard "github.com/switchboard-gw/switchboard"
)

// SenderRequest adds a sender (POST /v1/senders). Omitted fields take the gateway's defaults:
// kind from From (MG...: messaging_service, else long_code), the kind's default rate (long_code
// 1, toll_free 3, short_code 100 segments/s), burst 1, pool "default", every tenant.
type SenderRequest struct {
	// From is an E.164 number or a Messaging Service SID.
	From string                 `json:"from"`
	Kind switchboard.SenderKind `json:"kind,omitempty"`
	// Rate is in segments per second (-1: unlimited); nil or 0 is the kind's default.
	Rate  *float64 `json:"rate,omitempty"`
	Burst *int     `json:"burst,omitempty"`
	Pool  string   `json:"pool,omitempty"`
	// Tenants may send from it; empty: every tenant.
	Tenants []string `json:"tenants,omitempty"`
}

// SenderUpdate changes a sender (PATCH /v1/senders/{from}): nil fields keep their value.
type SenderUpdate = switchboard.SenderUpdate

func senderPath(from string) string { return "/v1/senders/" + url.PathEscape(from) }

// Senders lists the senders: the configuration file's first, then those added through the API.
func (c *Client) Senders(ctx context.Context) ([]switchboard.Sender, error) {
	var out struct {
		Senders []switchboard.Sender `json:"senders"`
	}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/senders"}, &out); err != nil {
		return nil, err
	}
	return out.Senders, nil
}

// GetSender returns one sender (an error with IsNotFound when there is none).
func (c *Client) GetSender(ctx context.Context, from string) (*switchboard.Sender, error) {
	var out switchboard.Sender
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: senderPath(from)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateSender adds a sender and returns it as stored. Every node of the cluster sends from it
// within the gateway's sender_refresh_interval (default 2 s). An error with code sender_exists
// means it exists (a retry after a lost answer returns the stored sender instead).
func (c *Client) CreateSender(ctx context.Context, req *SenderRequest) (*switchboard.Sender, error) {
	if req == nil {
		return nil, errors.New("switchboard: CreateSender: nil request")
	}
	var out switchboard.Sender
	attempts, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/senders", body: req}, &out)
	if attempts > 1 && IsCode(err, "sender_exists") {
		return c.GetSender(ctx, req.From) // an earlier attempt created it
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateSender changes the fields of u that are set and returns the sender as stored. A sender of
// the gateway's configuration file changed here is the database's from then on.
func (c *Client) UpdateSender(ctx context.Context, from string, u SenderUpdate) (*switchboard.Sender, error) {
	var out switchboard.Sender
	if _, err := c.do(ctx, &request{method: http.MethodPatch, path: senderPath(from), body: u}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteSender removes a sender. It fails with code sender_has_queued while messages from it are
// queued or scheduled.
func (c *Client) DeleteSender(ctx context.Context, from string) error {
	attempts, err := c.do(ctx, &request{method: http.MethodDelete, path: senderPath(from)}, nil)
	if attempts > 1 && IsNotFound(err) {
		return nil // an earlier attempt removed it
	}
	return err
}
