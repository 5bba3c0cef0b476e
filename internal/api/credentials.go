package api

import (
	"net/http"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/tenantcreds"
)

// CredentialsRequest is the body of PUT /v1/tenants/{id}/credentials: a tenant's own Twilio
// account. With api_key_sid the account is used through that API key (api_key_secret) and
// auth_token is optional: it is then only the key that checks the signatures of the account's
// webhooks (without it they are refused). Without api_key_sid, auth_token is the credential.
type CredentialsRequest struct {
	AccountSID   string `json:"account_sid"`
	AuthToken    string `json:"auth_token,omitempty"`
	APIKeySID    string `json:"api_key_sid,omitempty"`
	APIKeySecret string `json:"api_key_secret,omitempty"`
	// SyncWebhooks points the SMS webhook of every number of the account at this node (default
	// true).
	SyncWebhooks *bool `json:"sync_webhooks,omitempty"`
}

// CredentialsView is a tenant's credentials as the API shows them: never a secret.
type CredentialsView struct {
	Tenant     string                     `json:"tenant"`
	AccountSID string                     `json:"account_sid"`
	AuthKind   switchboard.CredentialKind `json:"auth_kind"`
	APIKeySID  string                     `json:"api_key_sid,omitempty"`
	// WebhooksVerifiable says whether this node can check the signatures of the account's
	// webhooks (it holds the account's auth token); when false they are refused.
	WebhooksVerifiable bool      `json:"webhooks_verifiable"`
	ValidatedAt        time.Time `json:"validated_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	// WebhookSync is what the save did to the account's numbers (PUT only).
	WebhookSync *WebhookSyncView `json:"webhook_sync,omitempty"`
}

// WebhookSyncView says how the account's numbers were pointed at this node.
type WebhookSyncView struct {
	// Numbers counts the account's phone numbers, Changed those whose SMS webhook was changed.
	Numbers int `json:"numbers"`
	Changed int `json:"changed"`
	// Error says why some numbers could not be changed (the credentials are saved all the same).
	Error string `json:"error,omitempty"`
}

func credentialsView(c *switchboard.TenantCredentials) CredentialsView {
	return CredentialsView{Tenant: c.Tenant, AccountSID: c.AccountSID, AuthKind: c.Kind, APIKeySID: c.APIKeySID,
		WebhooksVerifiable: c.SigningToken() != "", ValidatedAt: c.ValidatedAt, UpdatedAt: c.UpdatedAt}
}

func (s *Server) credentialRoutes() {
	s.mux.HandleFunc("PUT /v1/tenants/{id}/credentials", s.handle(s.authed(s.putCredentials)))
	s.mux.HandleFunc("GET /v1/tenants/{id}/credentials", s.handle(s.authed(s.getCredentials)))
	s.mux.HandleFunc("DELETE /v1/tenants/{id}/credentials", s.handle(s.authed(s.deleteCredentials)))
}

// credentials is the tenants' accounts service, or the refusal when the node has none.
func (s *Server) credentials(r *http.Request) (*tenantcreds.Cache, string, error) {
	id := r.PathValue("id")
	if err := switchboard.ValidTenantID(id); err != nil {
		return nil, "", err
	}
	// A key reaches its own tenant's credentials only (a platform key every tenant's); another
	// tenant's answer 404, as if it did not exist, so that a key learns nothing of other tenants.
	// The role (admin) is the route's declared x-switchboard-role, checked with every route's.
	if p := principal(r.Context()); p.Role != switchboard.RolePlatform && !sameTenant(p.Tenant, id) {
		return nil, "", switchboard.ErrTenantNotFound(id)
	}
	if s.cfg.Credentials == nil {
		return nil, "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "credentials_not_configured", "this node does not keep tenants' provider credentials")
	}
	return s.cfg.Credentials, id, nil
}

func (s *Server) putCredentials(w http.ResponseWriter, r *http.Request) error {
	// The body first: a malformed one is 400 whatever else is wrong.
	var req CredentialsRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	cc, tenant, err := s.credentials(r)
	if err != nil {
		return err
	}
	c := &switchboard.TenantCredentials{Tenant: tenant, AccountSID: req.AccountSID, Kind: switchboard.CredentialToken, Secret: req.AuthToken}
	if req.APIKeySID != "" || req.APIKeySecret != "" {
		c.Kind, c.APIKeySID, c.Secret, c.WebhookToken = switchboard.CredentialAPIKey, req.APIKeySID, req.APIKeySecret, req.AuthToken
	}
	res, err := cc.Put(r.Context(), c, tenantcreds.PutOptions{SkipWebhookSync: req.SyncWebhooks != nil && !*req.SyncWebhooks})
	if err != nil {
		return err
	}
	v := credentialsView(c)
	if res.Synced {
		v.WebhookSync = &WebhookSyncView{Numbers: res.Numbers, Changed: res.Changed, Error: res.SyncError}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) getCredentials(w http.ResponseWriter, r *http.Request) error {
	cc, tenant, err := s.credentials(r)
	if err != nil {
		return err
	}
	c, err := cc.Get(r.Context(), tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, credentialsView(c))
	return nil
}

func (s *Server) deleteCredentials(w http.ResponseWriter, r *http.Request) error {
	cc, tenant, err := s.credentials(r)
	if err != nil {
		return err
	}
	if err := cc.Delete(r.Context(), tenant); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
