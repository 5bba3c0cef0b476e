-- Tenants (issue 18): every resource belongs to exactly one tenant. The tenant columns are
-- NOT NULL DEFAULT 'default', so the upgrade of an existing installation is an ALTER TABLE per
-- table that rewrites no row (SQLite stores the default in the schema) and every row stored
-- before belongs to tenant default, created here. Stores write the tenant of every new row;
-- an empty tenant on create is the default tenant's.
CREATE TABLE tenants (
	id                 TEXT PRIMARY KEY,
	name               TEXT    NOT NULL DEFAULT '',
	environment        TEXT    NOT NULL,             -- production | staging
	staging_mode       TEXT    NOT NULL DEFAULT '',  -- allowlist | simulator ('' reads as allowlist)
	allowed_recipients TEXT,                         -- JSON array of E.164 numbers
	daily_messages     INTEGER NOT NULL DEFAULT 0,   -- 0: no limit
	daily_segments     INTEGER NOT NULL DEFAULT 0,
	daily_spend_cents  INTEGER NOT NULL DEFAULT 0,   -- 0: no cap
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL
);
INSERT INTO tenants (id, name, environment, created_at, updated_at)
	VALUES ('default', 'Default', 'production', CAST(strftime('%s', 'now') AS INTEGER) * 1000000,
		CAST(strftime('%s', 'now') AS INTEGER) * 1000000);

ALTER TABLE messages ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE inbound_messages ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE conversations ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE calls ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE verifications ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE consent_records ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE endpoints ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE app_events ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE api_keys ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
-- Existing keys keep what they could do (everything), inside tenant default.
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';

-- Listings are index ranges with the tenant first: a tenant's page reads its own entries only.
-- The recipient index is replaced rather than joined by a second one (every accepted message
-- writes one entry per index); a listing of every tenant by recipient reads it tenant by tenant.
CREATE INDEX messages_tenant ON messages (tenant, id);
DROP INDEX messages_to;
CREATE INDEX messages_to ON messages (tenant, to_number, id);
DROP INDEX inbound_messages_from;
DROP INDEX inbound_messages_to;
CREATE INDEX inbound_messages_tenant ON inbound_messages (tenant, id);
CREATE INDEX inbound_messages_from ON inbound_messages (tenant, from_number, id);
CREATE INDEX inbound_messages_to ON inbound_messages (tenant, to_number, id);
CREATE INDEX calls_tenant ON calls (tenant, id);
CREATE INDEX verifications_tenant ON verifications (tenant, id);
DROP INDEX verifications_phone;
CREATE INDEX verifications_phone ON verifications (tenant, phone, id);

-- A conversation is one tenant's thread: two tenants writing to one person from one number have
-- two, and each lists by its own activity and reads its own messages.
DROP INDEX conversations_pair;
CREATE UNIQUE INDEX conversations_pair ON conversations (tenant, channel, our_number, their_number);
DROP INDEX conversations_recent;
CREATE INDEX conversations_recent ON conversations (tenant, last_message_at, id);
DROP INDEX messages_thread;
CREATE INDEX messages_thread ON messages (tenant, to_number, from_number, created_at, id);
DROP INDEX inbound_messages_thread;
CREATE INDEX inbound_messages_thread ON inbound_messages (tenant, from_number, to_number, received_at, id);

-- An idempotency key is the tenant's: two tenants (or two keys) may use one independently. The
-- key's table is rebuilt for its new primary key (a WITHOUT ROWID table's key cannot change).
CREATE TABLE idempotency_keys_new (
	tenant       TEXT NOT NULL DEFAULT 'default',
	api_key_id   TEXT NOT NULL,
	key          TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	message_id   TEXT NOT NULL REFERENCES messages (id),
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (tenant, api_key_id, key)
) WITHOUT ROWID;
INSERT INTO idempotency_keys_new (tenant, api_key_id, key, request_hash, message_id, created_at)
	SELECT 'default', api_key_id, key, request_hash, message_id, created_at FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_new RENAME TO idempotency_keys;
DROP INDEX calls_idempotency;
CREATE UNIQUE INDEX calls_idempotency ON calls (tenant, api_key_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Metadata lookups are the tenant's: the pair indexes gain the tenant first, so a tenant's
-- job_id=1042 is a range of its own entries.
CREATE TABLE message_metadata_new (
	tenant     TEXT NOT NULL DEFAULT 'default',
	key        TEXT NOT NULL,
	value      TEXT NOT NULL,
	message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	PRIMARY KEY (tenant, key, value, message_id)
) WITHOUT ROWID;
INSERT INTO message_metadata_new (tenant, key, value, message_id)
	SELECT 'default', key, value, message_id FROM message_metadata;
DROP TABLE message_metadata;
ALTER TABLE message_metadata_new RENAME TO message_metadata;
CREATE INDEX message_metadata_message ON message_metadata (message_id);

CREATE TABLE call_metadata_new (
	tenant  TEXT NOT NULL DEFAULT 'default',
	key     TEXT NOT NULL,
	value   TEXT NOT NULL,
	call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	PRIMARY KEY (tenant, key, value, call_id)
) WITHOUT ROWID;
INSERT INTO call_metadata_new (tenant, key, value, call_id)
	SELECT 'default', key, value, call_id FROM call_metadata;
DROP TABLE call_metadata;
ALTER TABLE call_metadata_new RENAME TO call_metadata;
CREATE INDEX call_metadata_call ON call_metadata (call_id);
