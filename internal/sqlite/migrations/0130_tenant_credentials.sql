-- A tenant's own Twilio account (issue #18): its messages, calls and verifications go out
-- through it instead of the node's. secret (the auth token, or the API key's secret) and
-- webhook_token (the account's auth token beside an API key, '' when none) are stored as the
-- secrets-at-rest wrapper hands them over: sealed with SWITCHBOARD_SECRET_KEY
-- ("sbenc:v1:..."), or plaintext when the node runs without a key. One tenant, one account; an
-- account belongs to one tenant at most, so that a webhook's AccountSid names its tenant.
-- Times are microseconds since the epoch, as everywhere in this schema.
CREATE TABLE tenant_credentials (
	tenant        TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
	account_sid   TEXT NOT NULL UNIQUE,
	auth_kind     TEXT NOT NULL CHECK (auth_kind IN ('token', 'api_key')),
	api_key_sid   TEXT NOT NULL DEFAULT '',
	secret        TEXT NOT NULL,
	webhook_token TEXT NOT NULL DEFAULT '',
	validated_at  INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);
