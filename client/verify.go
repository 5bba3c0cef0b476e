package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	switchboard "github.com/switchboard-gw/switchboard"
)

// VerificationRequest starts a verification (POST /v1/verifications).
type VerificationRequest struct {
	To string `json:"to"`
	// Channel is sms (default), whatsapp or call.
	Channel string `json:"channel,omitempty"`
	Locale  string `json:"locale,omitempty"`
	// UserRef and ClientIP identify the end user for per-user and per-IP limits.
	UserRef  string `json:"user_ref,omitempty"`
	ClientIP string `json:"client_ip,omitempty"`
	// Metadata is stored with a new verification and returned with it, for your own references
	// (find verifications by one pair with VerificationListOptions.Metadata). A resend returns
	// the pending verification with the metadata it was started with.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// VerificationListOptions selects the verifications ListVerifications returns. Zero fields do not
// filter.
type VerificationListOptions struct {
	// To keeps the verifications of this number; Status those in this status.
	To     string
	Status switchboard.VerificationStatus
	// Metadata keeps verifications whose metadata has this key with exactly this value (sent as
	// metadata[KEY]=VALUE). The gateway answers it from an index.
	Metadata *switchboard.MetadataMatch
	// Cursor continues a listing where the previous page ended: its NextCursor.
	Cursor string
	// Limit is the page size; zero lets the gateway choose.
	Limit int
}

// VerificationPage is one page of verifications, newest first.
type VerificationPage struct {
	Verifications []*switchboard.Verification `json:"verifications"`
	// NextCursor continues the listing (as VerificationListOptions.Cursor); empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// CheckResult is the answer of a check: the verification and whether the code matched.
type CheckResult struct {
	switchboard.Verification
	Valid bool `json:"valid"`
}

// RefusalPage is a page of refused verification requests.
type RefusalPage struct {
	Refusals   []*switchboard.Refusal `json:"refusals"`
	NextCursor string                 `json:"next_cursor"`
}

// StartVerification starts a verification, or sends the code of the number's pending
// verification again (the same code). It is never retried: a retry would count against the
// rate limits. A refusal is an *Error with status 429 (or 403 for geo permissions) whose
// SupportReference names the recorded refusal and RetryAfter says how long to wait.
func (c *Client) StartVerification(ctx context.Context, req *VerificationRequest) (*switchboard.Verification, error) {
	if req == nil {
		return nil, errors.New("switchboard: StartVerification: nil request")
	}
	var v switchboard.Verification
	if _, err := c.once(ctx, &request{method: http.MethodPost, path: "/v1/verifications", body: req}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// CheckVerification checks a code.
func (c *Client) CheckVerification(ctx context.Context, id, code string) (*CheckResult, error) {
	if id == "" {
		return nil, errors.New("switchboard: CheckVerification: empty verification ID")
	}
	var r CheckResult
	if _, err := c.once(ctx, &request{method: http.MethodPost, path: "/v1/verifications/" + url.PathEscape(id) + "/check",
		body: map[string]string{"code": code}}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// CancelVerification cancels a pending verification.
func (c *Client) CancelVerification(ctx context.Context, id string) (*switchboard.Verification, error) {
	var v switchboard.Verification
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/verifications/" + url.PathEscape(id) + "/cancel"}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// GetVerification returns a verification.
func (c *Client) GetVerification(ctx context.Context, id string) (*switchboard.Verification, error) {
	var v switchboard.Verification
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/verifications/" + url.PathEscape(id)}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ListVerifications returns one page of the verifications opts selects, newest first.
func (c *Client) ListVerifications(ctx context.Context, opts VerificationListOptions) (*VerificationPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"to": opts.To, "status": string(opts.Status), "cursor": opts.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if opts.Metadata != nil {
		q.Set("metadata["+opts.Metadata.Key+"]", opts.Metadata.Value)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var p VerificationPage
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/verifications", query: q}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ListRefusals lists refused verification requests of the key's tenant (a platform key: of
// every tenant), newest first; to and reason filter when not empty.
func (c *Client) ListRefusals(ctx context.Context, to, reason, cursor string, limit int) (*RefusalPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"to": to, "reason": reason, "cursor": cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p RefusalPage
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/verifications/refusals", query: q}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// once sends req once, without retries (starts and checks count against limits).
func (c *Client) once(ctx context.Context, req *request, out any) (int, error) {
	cc := *c
	cc.retries = 0
	return cc.do(ctx, req, out)
}
