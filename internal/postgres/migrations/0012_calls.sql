-- Voice calls (see the SQLite migration for the design): one JSON document per call, written
-- with optimistic concurrency on version, beside the columns it is looked up and claimed by.
CREATE TABLE calls (
	id              TEXT        PRIMARY KEY,
	token           TEXT        NOT NULL UNIQUE,
	status          TEXT        NOT NULL,
	provider_sid    TEXT,
	api_key_id      TEXT,
	idempotency_key TEXT,
	request_hash    TEXT,
	next_attempt_at TIMESTAMPTZ,
	lease_owner     TEXT,
	lease_until     TIMESTAMPTZ,
	version         BIGINT      NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	data            JSONB       NOT NULL
);
CREATE UNIQUE INDEX calls_idempotency ON calls (api_key_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX calls_due ON calls (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
