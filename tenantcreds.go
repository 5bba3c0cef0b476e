package switchboard

import (
	"context"
	"regexp"
	"time"
)

// CredentialKind is how a tenant's own provider credentials authenticate: with the account's
// auth token, or with an API key (its SID and secret) of that account.
type CredentialKind string

// Credential kinds.
const (
	CredentialToken  CredentialKind = "token"
	CredentialAPIKey CredentialKind = "api_key"
)

// TenantCredentials are a tenant's own Twilio account (typically a subaccount of the node's):
// its messages, calls and verifications go out through this account instead of the node's.
// Secret is the auth token (kind token) or the API key's secret (kind api_key); WebhookToken is
// the account's auth token when the kind is api_key (Twilio signs webhooks with the account's
// auth token, never with an API key): without it, webhooks of that account are refused. Both
// secrets are sealed at rest (internal/secretbox) and never leave the node: JSON leaves them
// out, and the API answers with HasWebhookToken only.
type TenantCredentials struct {
	Tenant     string         `json:"tenant"`
	AccountSID string         `json:"account_sid"`
	Kind       CredentialKind `json:"auth_kind"`
	// APIKeySID is the API key (SK...) when Kind is api_key; empty otherwise.
	APIKeySID    string `json:"api_key_sid,omitempty"`
	Secret       string `json:"-"`
	WebhookToken string `json:"-"`
	// ValidatedAt is when the provider last accepted the credentials (on save).
	ValidatedAt time.Time `json:"validated_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// TenantCredentialStore keeps the tenants' own provider credentials, one set per tenant.
type TenantCredentialStore interface {
	// PutTenantCredentials stores c as its tenant's credentials, replacing any earlier ones
	// (c.Tenant must exist: ENOTFOUND otherwise). The store keeps what it is given: sealing the
	// secrets is the caller's (internal/secretbox wraps the store).
	PutTenantCredentials(ctx context.Context, c *TenantCredentials) error
	// GetTenantCredentials returns a tenant's credentials, or ENOTFOUND/credentials_not_found.
	GetTenantCredentials(ctx context.Context, tenant string) (*TenantCredentials, error)
	// ListTenantCredentials lists every tenant's credentials, by tenant.
	ListTenantCredentials(ctx context.Context) ([]*TenantCredentials, error)
	// DeleteTenantCredentials removes a tenant's credentials, or fails with ENOTFOUND.
	DeleteTenantCredentials(ctx context.Context, tenant string) error
	// ReplaceTenantSecrets swaps a tenant's stored secrets for next only while they are still
	// exactly old (secret and webhook token), so that re-sealing with a new key never overwrites
	// a rotation: ECONFLICT/secrets_changed otherwise, ENOTFOUND when there are none.
	ReplaceTenantSecrets(ctx context.Context, tenant string, old, next [2]string) error
}

// ErrCredentialsNotFound is the ENOTFOUND error (credentials_not_found).
func ErrCredentialsNotFound(tenant string) *Error {
	return Errorf(ENOTFOUND, "credentials_not_found", "tenant %s has no provider credentials of its own", tenant)
}

var (
	accountSIDRe = regexp.MustCompile(`^AC[0-9a-zA-Z]{32}$`)
	apiKeySIDRe  = regexp.MustCompile(`^SK[0-9a-zA-Z]{32}$`)
	secretRe     = regexp.MustCompile(`^[0-9a-zA-Z]{8,128}$`)
)

// Validate checks the credentials' form (not whether the provider accepts them): an account SID
// (AC and 32 letters or digits), a kind, for api_key a key SID (SK...), and secrets of letters
// and digits (what Twilio issues; a quote or a new line pasted along is refused here, never
// echoed). Errors are EINVALID/invalid_credentials, name the fields as the API does (auth_token,
// api_key_sid, api_key_secret) and never quote a secret.
func (c *TenantCredentials) Validate() error {
	bad := func(msg string) error { return &Error{Kind: EINVALID, Code: "invalid_credentials", Message: msg} }
	const form = "must be 8 to 128 letters or digits (check for quotes, spaces or a trailing newline)"
	if !accountSIDRe.MatchString(c.AccountSID) {
		return bad("account_sid must be a Twilio account SID: AC and 32 letters or digits")
	}
	switch c.Kind {
	case CredentialToken:
		if c.APIKeySID != "" || c.WebhookToken != "" {
			return bad("api_key_sid and a webhook token go only with auth_kind api_key")
		}
		if !secretRe.MatchString(c.Secret) {
			return bad("auth_token " + form)
		}
	case CredentialAPIKey:
		if !apiKeySIDRe.MatchString(c.APIKeySID) {
			return bad("api_key_sid must be a Twilio API key SID: SK and 32 letters or digits")
		}
		if !secretRe.MatchString(c.Secret) {
			return bad("api_key_secret " + form)
		}
		if c.WebhookToken != "" && !secretRe.MatchString(c.WebhookToken) {
			return bad("auth_token " + form)
		}
	default:
		return bad("auth_kind must be token or api_key")
	}
	return nil
}

// SigningToken is the auth token that signs the account's webhooks: the secret for kind token,
// the webhook token for kind api_key ("" when none was given).
func (c *TenantCredentials) SigningToken() string {
	if c.Kind == CredentialToken {
		return c.Secret
	}
	return c.WebhookToken
}

// ErrAccountInUse is the ECONFLICT error (account_in_use): an account serves one tenant at most,
// so that a webhook's AccountSid names its tenant.
func ErrAccountInUse(accountSID string) *Error {
	return Errorf(ECONFLICT, "account_in_use", "account %s is already another tenant's", accountSID)
}

// ErrCredentialSecretsChanged is the ECONFLICT error (secrets_changed) of ReplaceTenantSecrets.
func ErrCredentialSecretsChanged(tenant string) *Error {
	return Errorf(ECONFLICT, "secrets_changed", "the credentials of tenant %s changed; read them again", tenant)
}
