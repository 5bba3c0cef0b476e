-- A tenant's own Twilio account (issue #18): its messages, calls and verifications go out
-- through it instead of the node's. secret (the auth token, or the API key's secret) and
-- webhook_token (the account's auth token beside an API key, '' when none) are stored as the
-- secrets-at-rest wrapper hands them over: sealed with SWITCHBOARD_SECRET_KEY
-- ("sbenc:v1:..."), or plaintext when the node runs without a key. One tenant, one account; an
-- account belongs to one tenant at most, so that a webhook's AccountSid names its tenant.
-- Nodes poll max(updated_at) to rebuild their providers when credentials change.
CREATE TABLE tenant_credentials (
	tenant        text COLLATE "C" PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
	account_sid   text NOT NULL UNIQUE,
	auth_kind     text NOT NULL CHECK (auth_kind IN ('token', 'api_key')),
	api_key_sid   text NOT NULL DEFAULT '',
	secret        text NOT NULL,
	webhook_token text NOT NULL DEFAULT '',
	validated_at  timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
);
