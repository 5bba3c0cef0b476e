package client

import (
	"context"
	"net/http"
	"net/url"
)

// UsageDay is one tenant's use of one UTC day: what GET /v1/usage lists.
type UsageDay struct {
	Day           string `json:"day"`
	Tenant        string `json:"tenant"`
	Messages      int64  `json:"messages"`
	Segments      int64  `json:"segments"`
	Calls         int64  `json:"calls"`
	Verifications int64  `json:"verifications"`
	// Spend is what the provider charged for the day's messages, a decimal amount of PriceUnit.
	Spend       string `json:"spend"`
	PriceUnit   string `json:"price_unit"`
	SpendMicros int64  `json:"spend_micros"`
}

// UsageReport is the answer of GET /v1/usage: the range it covers and its rows, by day then tenant.
type UsageReport struct {
	From  string     `json:"from"`
	To    string     `json:"to"`
	Usage []UsageDay `json:"usage"`
}

// UsageOptions selects a usage report: UTC days From to To (YYYY-MM-DD; empty: the last 31 days
// to today) and, for a platform key, one Tenant (empty: every tenant; an admin key always reads
// its own).
type UsageOptions struct {
	From, To, Tenant string
}

// Usage returns the usage per tenant and UTC day (an admin or platform key).
func (c *Client) Usage(ctx context.Context, opts UsageOptions) (*UsageReport, error) {
	q := url.Values{}
	for k, v := range map[string]string{"from": opts.From, "to": opts.To, "tenant": opts.Tenant} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out UsageReport
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/usage", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
