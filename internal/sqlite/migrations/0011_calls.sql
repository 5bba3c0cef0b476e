-- Voice calls.
--
-- A call's whole state (flow progress, timeline, variables) is one JSON document in data, written
-- with optimistic concurrency on version: any node answers the next webhook of a call from it.
-- The columns beside it are what is looked up or claimed by: the opaque webhook token, the
-- idempotency key, and the due time of an attempt waiting to be placed with its lease.
CREATE TABLE calls (
	id              TEXT    PRIMARY KEY,
	token           TEXT    NOT NULL UNIQUE,
	status          TEXT    NOT NULL,
	provider_sid    TEXT,
	api_key_id      TEXT,
	idempotency_key TEXT,
	request_hash    TEXT,
	next_attempt_at INTEGER,
	lease_owner     TEXT,
	lease_until     INTEGER,
	version         INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	data            TEXT    NOT NULL
);
CREATE UNIQUE INDEX calls_idempotency ON calls (api_key_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX calls_due ON calls (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
