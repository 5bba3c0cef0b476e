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

// Endpoint is where an application receives events. Secret is set only by CreateEndpoint and
// RotateEndpointSecret: the gateway shows a secret once.
type Endpoint struct {
	ID            string     `json:"id"`
	URL           string     `json:"url"`
	Description   string     `json:"description,omitempty"`
	EventTypes    []string   `json:"event_types"`
	Source        string     `json:"source"`
	FailingSince  *time.Time `json:"failing_since,omitempty"`
	DisabledAt    *time.Time `json:"disabled_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	ActiveSecrets int        `json:"active_secrets"`
	Secret        string     `json:"secret,omitempty"`
}

// EndpointRequest registers an endpoint.
type EndpointRequest struct {
	// URL receives the signed POSTs.
	URL string `json:"url"`
	// EventTypes are patterns: "*", a type such as "message.received" or a prefix such as
	// "message.*". Empty means every event.
	EventTypes  []string `json:"event_types,omitempty"`
	Description string   `json:"description,omitempty"`
	// Secret is the signing secret ("whsec_…"); the gateway generates one when empty.
	Secret string `json:"secret,omitempty"`
}

// DeadLetterPage is one page of an endpoint's dead letters, newest first.
type DeadLetterPage struct {
	DeadLetters []*switchboard.Delivery `json:"dead_letters"`
	NextCursor  string                  `json:"next_cursor,omitempty"`
}

func endpointPath(id string) string { return "/v1/endpoints/" + url.PathEscape(id) }

// CreateEndpoint registers an endpoint and returns it with its secret. A call retried after a
// lost answer may register it twice; list the endpoints to check.
func (c *Client) CreateEndpoint(ctx context.Context, req *EndpointRequest) (*Endpoint, error) {
	if req == nil {
		return nil, errors.New("switchboard: CreateEndpoint: nil request")
	}
	var out Endpoint
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/endpoints", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Endpoints lists every endpoint, oldest first.
func (c *Client) Endpoints(ctx context.Context) ([]*Endpoint, error) {
	var out struct {
		Endpoints []*Endpoint `json:"endpoints"`
	}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/endpoints"}, &out); err != nil {
		return nil, err
	}
	return out.Endpoints, nil
}

// GetEndpoint returns an endpoint (without its secret).
func (c *Client) GetEndpoint(ctx context.Context, id string) (*Endpoint, error) {
	var out Endpoint
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: endpointPath(id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteEndpoint deletes an endpoint registered through the API, with its deliveries.
func (c *Client) DeleteEndpoint(ctx context.Context, id string) error {
	attempts, err := c.do(ctx, &request{method: http.MethodDelete, path: endpointPath(id)}, nil)
	if attempts > 1 && IsNotFound(err) {
		return nil // an earlier attempt deleted it
	}
	return err
}

// RotateEndpointSecret adds a new secret (secret, or a generated one when empty) and returns the
// endpoint with it. The previous secrets keep signing for overlap beside it; a negative overlap
// keeps the gateway's default (a day).
func (c *Client) RotateEndpointSecret(ctx context.Context, id, secret string, overlap time.Duration) (*Endpoint, error) {
	body := map[string]any{}
	if secret != "" {
		body["secret"] = secret
	}
	if overlap >= 0 {
		body["expire_previous_after_seconds"] = int(overlap.Seconds())
	}
	var out Endpoint
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: endpointPath(id) + "/rotate", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeadLetters returns a page of an endpoint's dead letters: deliveries that exhausted the retry
// schedule or were stopped by the endpoint's disabling, each with its event and last error.
// cursor is the previous page's NextCursor ("" for the first); limit 0 means the default.
func (c *Client) DeadLetters(ctx context.Context, id, cursor string, limit int) (*DeadLetterPage, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out DeadLetterPage
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: endpointPath(id) + "/dead-letters", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReplayDeadLetters makes an endpoint's dead letters pending again (enabling the endpoint if it
// was disabled) and returns how many.
func (c *Client) ReplayDeadLetters(ctx context.Context, id string) (int, error) {
	var out struct {
		Replayed int `json:"replayed"`
	}
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: endpointPath(id) + "/replay"}, &out); err != nil {
		return 0, err
	}
	return out.Replayed, nil
}
