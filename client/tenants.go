package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TenantRequest creates a tenant (POST /v1/tenants, platform keys only). Left out:
// environment production, staging mode allowlist, no limits.
type TenantRequest struct {
	ID                string                  `json:"id"`
	Name              string                  `json:"name,omitempty"`
	Environment       switchboard.Environment `json:"environment,omitempty"`
	StagingMode       switchboard.StagingMode `json:"staging_mode,omitempty"`
	AllowedRecipients []string                `json:"allowed_recipients,omitempty"`
	DailyMessages     int                     `json:"daily_messages,omitempty"`
	DailySegments     int                     `json:"daily_segments,omitempty"`
	DailySpendCents   int64                   `json:"daily_spend_cents,omitempty"`
}

// TenantPatch changes a tenant's settings (PATCH /v1/tenants/{id}): the fields set (not nil)
// are changed, the others kept. AllowedRecipients replaces the whole list.
type TenantPatch struct {
	Name              *string                  `json:"name,omitempty"`
	Environment       *switchboard.Environment `json:"environment,omitempty"`
	StagingMode       *switchboard.StagingMode `json:"staging_mode,omitempty"`
	AllowedRecipients *[]string                `json:"allowed_recipients,omitempty"`
	DailyMessages     *int                     `json:"daily_messages,omitempty"`
	DailySegments     *int                     `json:"daily_segments,omitempty"`
	DailySpendCents   *int64                   `json:"daily_spend_cents,omitempty"`
}

// KeyRequest creates an API key (POST /v1/keys, admin keys). Tenant is for platform keys; any
// other key makes keys of its own tenant.
type KeyRequest struct {
	Name   string           `json:"name"`
	Role   switchboard.Role `json:"role"`
	Tenant string           `json:"tenant,omitempty"`
}

// CreatedKey is a new API key with its secret, which the gateway shows only this once.
type CreatedKey struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Tenant    string           `json:"tenant"`
	Role      switchboard.Role `json:"role"`
	CreatedAt time.Time        `json:"created_at"`
	Secret    string           `json:"secret"`
}

func tenantPath(id string) string { return "/v1/tenants/" + url.PathEscape(id) }

// Tenants lists every tenant (platform keys only).
func (c *Client) Tenants(ctx context.Context) ([]*switchboard.Tenant, error) {
	var out struct {
		Tenants []*switchboard.Tenant `json:"tenants"`
	}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/tenants"}, &out); err != nil {
		return nil, err
	}
	return out.Tenants, nil
}

// Tenant returns a tenant (platform keys only).
func (c *Client) Tenant(ctx context.Context, id string) (*switchboard.Tenant, error) {
	var out switchboard.Tenant
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: tenantPath(id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateTenant creates a tenant (platform keys only). A call retried after a lost answer may
// answer 409 tenant_exists for the tenant it made.
func (c *Client) CreateTenant(ctx context.Context, req *TenantRequest) (*switchboard.Tenant, error) {
	if req == nil {
		return nil, errors.New("switchboard: CreateTenant: nil request")
	}
	var out switchboard.Tenant
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/tenants", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateTenant changes a tenant's settings and returns it as changed (platform keys only).
func (c *Client) UpdateTenant(ctx context.Context, id string, p *TenantPatch) (*switchboard.Tenant, error) {
	if p == nil {
		return nil, errors.New("switchboard: UpdateTenant: nil patch")
	}
	var out switchboard.Tenant
	if _, err := c.do(ctx, &request{method: http.MethodPatch, path: tenantPath(id), body: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Keys lists the API keys of the caller's tenant, or of tenant (platform keys only; "" is the
// caller's), newest first, revoked ones included.
func (c *Client) Keys(ctx context.Context, tenant string) ([]*switchboard.APIKey, error) {
	var out struct {
		Keys []*switchboard.APIKey `json:"keys"`
	}
	req := &request{method: http.MethodGet, path: "/v1/keys"}
	if tenant != "" {
		req.query = url.Values{"tenant": {tenant}}
	}
	if _, err := c.do(ctx, req, &out); err != nil {
		return nil, err
	}
	return out.Keys, nil
}

// CreateKey creates an API key and returns it with its secret. A call retried after a lost
// answer may create two keys; revoke the one not used.
func (c *Client) CreateKey(ctx context.Context, req *KeyRequest) (*CreatedKey, error) {
	if req == nil {
		return nil, errors.New("switchboard: CreateKey: nil request")
	}
	var out CreatedKey
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/keys", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeKey revokes an API key of the caller's tenant (a platform key: of any tenant).
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	_, err := c.do(ctx, &request{method: http.MethodDelete, path: "/v1/keys/" + url.PathEscape(id)}, nil)
	return err
}
