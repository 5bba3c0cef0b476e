-- Switchboard's SQLite schema.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC: compact, ordered, exact to the
-- microsecond and cheap to convert. Read one with datetime(col / 1000000, 'unixepoch').
-- JSON values are TEXT. An absent value is NULL rather than '' where an index depends on it.

-- messages is the outbox: the dispatcher claims due rows from it with leases.
CREATE TABLE messages (
	id                 TEXT PRIMARY KEY,
	status             TEXT NOT NULL,
	channel            TEXT NOT NULL,
	category           TEXT NOT NULL,
	to_number          TEXT NOT NULL,
	from_number        TEXT NOT NULL,
	pool               TEXT NOT NULL DEFAULT '',
	body               TEXT NOT NULL,
	media_urls         TEXT,                       -- JSON array
	segments           INTEGER NOT NULL DEFAULT 0,
	encoding           TEXT NOT NULL DEFAULT '',
	metadata           TEXT,                       -- JSON object
	send_at            INTEGER,
	valid_until        INTEGER,
	provider_sid       TEXT,
	error_code         INTEGER NOT NULL DEFAULT 0,
	error_message      TEXT NOT NULL DEFAULT '',
	attempts           INTEGER NOT NULL DEFAULT 0,
	next_attempt_at    INTEGER NOT NULL,
	attempt_in_flight  INTEGER NOT NULL DEFAULT 0,
	attempt_started_at INTEGER,
	lease_owner        TEXT,
	lease_until        INTEGER,
	api_key_id         TEXT NOT NULL DEFAULT '',
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL
);

-- Claiming: the due messages of one sender, oldest first. Only claimable rows are indexed, so
-- a claim reads a batch of index entries whatever the size of the table. DueSenders walks the
-- distinct senders of the same index.
CREATE INDEX messages_due ON messages (from_number, next_attempt_at)
	WHERE status IN ('queued', 'scheduled');
-- NextDueAt: the earliest claimable message of any sender.
CREATE INDEX messages_next ON messages (next_attempt_at)
	WHERE status IN ('queued', 'scheduled');
-- Leased rows are few (a batch per dispatcher): ReleaseLeases and NextDueAt read them here.
CREATE INDEX messages_leased ON messages (lease_owner) WHERE lease_owner IS NOT NULL;
-- StaleSending: messages at the provider whose status has not moved; few at any time.
CREATE INDEX messages_sending ON messages (updated_at) WHERE status = 'sending';
-- Callbacks find their message by the provider's SID.
CREATE UNIQUE INDEX messages_provider_sid ON messages (provider_sid) WHERE provider_sid IS NOT NULL;
-- "Did this customer get the text?": a recipient's messages, newest first.
CREATE INDEX messages_to ON messages (to_number, id);

-- message_events is each message's append-only timeline.
CREATE TABLE message_events (
	id         INTEGER PRIMARY KEY,
	message_id TEXT NOT NULL REFERENCES messages (id),
	type       TEXT NOT NULL,
	status     TEXT NOT NULL DEFAULT '',
	actor      TEXT NOT NULL DEFAULT '',
	error_code INTEGER NOT NULL DEFAULT 0,
	detail     TEXT NOT NULL DEFAULT '',
	payload    TEXT,                               -- JSON, e.g. the raw provider callback
	at         INTEGER NOT NULL
);
CREATE INDEX message_events_message ON message_events (message_id, id);

-- idempotency_keys remembers which message a create request with an Idempotency-Key made.
CREATE TABLE idempotency_keys (
	api_key_id   TEXT NOT NULL,
	key          TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	message_id   TEXT NOT NULL REFERENCES messages (id),
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (api_key_id, key)
) WITHOUT ROWID;

-- api_keys holds API credentials; only a hash of each secret is stored.
CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	revoked_at   INTEGER,
	last_used_at INTEGER
);

-- senders records the configured senders, in configuration order (configuration is the source
-- of truth; the table serves audits and joins).
CREATE TABLE senders (
	from_number TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	rate        REAL NOT NULL,
	burst       INTEGER NOT NULL,
	pool        TEXT NOT NULL,
	position    INTEGER NOT NULL
);

-- sticky_senders keeps a recipient on the same sender of a pool.
CREATE TABLE sticky_senders (
	pool        TEXT NOT NULL,
	to_number   TEXT NOT NULL,
	from_number TEXT NOT NULL,
	PRIMARY KEY (pool, to_number)
) WITHOUT ROWID;

-- inbound_messages are messages people sent to our numbers, deduplicated by provider SID.
CREATE TABLE inbound_messages (
	id           TEXT PRIMARY KEY,
	provider_sid TEXT NOT NULL UNIQUE,
	channel      TEXT NOT NULL,
	from_number  TEXT NOT NULL,
	to_number    TEXT NOT NULL,
	body         TEXT NOT NULL,
	num_media    INTEGER NOT NULL DEFAULT 0,
	media_urls   TEXT,                             -- JSON array
	payload      TEXT,                             -- JSON, the raw webhook
	received_at  INTEGER NOT NULL
);
CREATE INDEX inbound_messages_from ON inbound_messages (from_number, id);
CREATE INDEX inbound_messages_to ON inbound_messages (to_number, id);

-- webhook_events records every provider status callback once (dedupe_key is SID/provider
-- status). applied is 0 while no message has its SID (pending) and 1 once it has been matched
-- to a message, whether it moved the status or was ignored.
CREATE TABLE webhook_events (
	id              INTEGER PRIMARY KEY,
	dedupe_key      TEXT NOT NULL UNIQUE,
	provider_sid    TEXT NOT NULL,
	provider_status TEXT NOT NULL,
	status          TEXT NOT NULL,
	error_code      INTEGER NOT NULL DEFAULT 0,
	error_message   TEXT NOT NULL DEFAULT '',
	message_id      TEXT NOT NULL DEFAULT '',      -- the message it was applied to, or the hint it carried
	payload         TEXT,                          -- JSON, the raw callback
	applied         INTEGER NOT NULL DEFAULT 0,
	received_at     INTEGER NOT NULL
);
CREATE INDEX webhook_events_pending ON webhook_events (provider_sid, id) WHERE applied = 0;
