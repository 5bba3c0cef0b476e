package client

import (
	"context"
	"net/http"
	"net/url"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Consent is a recipient's consent: the current record per scope ("*" or a pool) and the
// append-only history, oldest first.
type Consent struct {
	Phone   string                                `json:"phone"`
	Current map[string]*switchboard.ConsentRecord `json:"current"`
	History []*switchboard.ConsentRecord          `json:"history"`
}

// ConsentChange records a recipient's choice. Scope is "*" (every pool, the default) or a pool.
type ConsentChange struct {
	State    switchboard.ConsentState `json:"state"`
	Scope    string                   `json:"scope,omitempty"`
	Evidence string                   `json:"evidence,omitempty"`
}

// ConsentOf returns a recipient's consent.
func (c *Client) ConsentOf(ctx context.Context, phone string) (*Consent, error) {
	var out Consent
	_, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/consent/" + url.PathEscape(phone)}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SetConsent records an opt-in or an opt-out for a recipient, with its evidence.
func (c *Client) SetConsent(ctx context.Context, phone string, ch ConsentChange) (*switchboard.ConsentRecord, error) {
	var out switchboard.ConsentRecord
	_, err := c.do(ctx, &request{method: http.MethodPut, path: "/v1/consent/" + url.PathEscape(phone), body: ch}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ClearConsent withdraws a recorded choice in scope ("" means "*"): the recipient is then
// neither opted out nor opted in.
func (c *Client) ClearConsent(ctx context.Context, phone, scope string) (*switchboard.ConsentRecord, error) {
	var q url.Values
	if scope != "" {
		q = url.Values{"scope": {scope}}
	}
	var out switchboard.ConsentRecord
	_, err := c.do(ctx, &request{method: http.MethodDelete, path: "/v1/consent/" + url.PathEscape(phone), query: q}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ImportConsent records every row of a CSV file (header phone,state[,scope[,evidence]]); one bad
// row refuses the whole file. It returns how many rows were recorded.
func (c *Client) ImportConsent(ctx context.Context, csv []byte) (int, error) {
	var out struct {
		Imported int `json:"imported"`
	}
	_, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/consent/import", raw: csv, contentType: "text/csv"}, &out)
	return out.Imported, err
}
