package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// TenantCredentials are a tenant's own Twilio account as the gateway shows them: never a secret.
type TenantCredentials struct {
	Tenant     string `json:"tenant"`
	AccountSID string `json:"account_sid"`
	// AuthKind is "token" or "api_key".
	AuthKind  string `json:"auth_kind"`
	APIKeySID string `json:"api_key_sid,omitempty"`
	// WebhooksVerifiable says whether the gateway holds the account's auth token, which checks
	// the signatures of the account's webhooks (with an API key and no auth_token it does not,
	// and refuses them).
	WebhooksVerifiable bool      `json:"webhooks_verifiable"`
	ValidatedAt        time.Time `json:"validated_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	// WebhookSync is what saving did to the account's numbers (SetTenantCredentials only).
	WebhookSync *WebhookSync `json:"webhook_sync,omitempty"`
}

// WebhookSync says how many of the account's numbers were pointed at the gateway.
type WebhookSync struct {
	Numbers int    `json:"numbers"`
	Changed int    `json:"changed"`
	Error   string `json:"error,omitempty"`
}

// TenantCredentialsRequest sets a tenant's own Twilio account. With APIKeySID the account is
// used through that key (APIKeySecret) and AuthToken, optional, only checks the signatures of
// its webhooks; without it, AuthToken is the credential.
type TenantCredentialsRequest struct {
	AccountSID   string `json:"account_sid"`
	AuthToken    string `json:"auth_token,omitempty"`
	APIKeySID    string `json:"api_key_sid,omitempty"`
	APIKeySecret string `json:"api_key_secret,omitempty"`
	// SyncWebhooks, when false, leaves the account's numbers as they are (default: point their
	// SMS webhook at the gateway).
	SyncWebhooks *bool `json:"sync_webhooks,omitempty"`
}

func credentialsPath(tenant string) string {
	return "/v1/tenants/" + url.PathEscape(tenant) + "/credentials"
}

// SetTenantCredentials saves a tenant's own Twilio account after Twilio has accepted the
// credentials (a refusal changes nothing: an *Error coded credentials_rejected), and points the
// account's numbers at the gateway. Saving again rotates them: every node uses the new ones
// within seconds, without a restart.
func (c *Client) SetTenantCredentials(ctx context.Context, tenant string, req *TenantCredentialsRequest) (*TenantCredentials, error) {
	if req == nil {
		return nil, errors.New("switchboard: SetTenantCredentials: nil request")
	}
	var out TenantCredentials
	if _, err := c.do(ctx, &request{method: http.MethodPut, path: credentialsPath(tenant), body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TenantCredentials returns a tenant's own Twilio account (an *Error coded
// credentials_not_found when it sends through the gateway's account).
func (c *Client) TenantCredentials(ctx context.Context, tenant string) (*TenantCredentials, error) {
	var out TenantCredentials
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: credentialsPath(tenant)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveTenantCredentials removes a tenant's own account: its messages go out through the
// gateway's account again.
func (c *Client) RemoveTenantCredentials(ctx context.Context, tenant string) error {
	_, err := c.do(ctx, &request{method: http.MethodDelete, path: credentialsPath(tenant)}, nil)
	return err
}
