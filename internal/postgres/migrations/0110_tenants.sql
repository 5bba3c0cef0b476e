-- Tenants (issue 18): every resource belongs to exactly one tenant. The tenant columns are
-- NOT NULL DEFAULT 'default' (a constant default: PostgreSQL 11 and later add such a column
-- without rewriting the table), so every row stored before belongs to tenant default, created
-- here. Stores write the tenant of every new row; an empty tenant on create is the default
-- tenant's. Tenant IDs are ASCII and compared byte for byte (COLLATE "C"), as SQLite does.
CREATE TABLE tenants (
	id                 text COLLATE "C" PRIMARY KEY,
	name               text   NOT NULL DEFAULT '',
	environment        text   NOT NULL,             -- production | staging
	staging_mode       text   NOT NULL DEFAULT '',  -- allowlist | simulator ('' reads as allowlist)
	allowed_recipients jsonb,                       -- array of E.164 numbers
	daily_messages     bigint NOT NULL DEFAULT 0,   -- 0: no limit
	daily_segments     bigint NOT NULL DEFAULT 0,
	daily_spend_cents  bigint NOT NULL DEFAULT 0,   -- 0: no cap
	created_at         timestamptz NOT NULL,
	updated_at         timestamptz NOT NULL
);
INSERT INTO tenants (id, name, environment, created_at, updated_at)
	VALUES ('default', 'Default', 'production', date_trunc('second', now()), date_trunc('second', now()));

ALTER TABLE messages ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE inbound_messages ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE conversations ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE calls ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE verifications ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE consent_records ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE endpoints ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE app_events ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE api_keys ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
-- Existing keys keep what they could do (everything), inside tenant default.
ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'admin';

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
-- two, and each lists by its own activity and reads its own messages. (The pair stays a plain
-- index, see 0071: the conversation's ID, derived from its tenant and pair, keeps one row per
-- thread; tenant default's IDs are derived as before, so existing conversations keep theirs.)
DROP INDEX conversations_pair;
CREATE INDEX conversations_pair ON conversations (tenant, channel, our_number, their_number);
DROP INDEX conversations_recent;
CREATE INDEX conversations_recent ON conversations (tenant, last_message_at, id);
DROP INDEX messages_thread;
CREATE INDEX messages_thread ON messages (tenant, to_number, from_number, created_at, id);
DROP INDEX inbound_messages_thread;
CREATE INDEX inbound_messages_thread ON inbound_messages (tenant, from_number, to_number, received_at, id);

-- An idempotency key is the tenant's: two tenants (or two keys) may use one independently.
ALTER TABLE idempotency_keys ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (tenant, api_key_id, key);
DROP INDEX calls_idempotency;
CREATE UNIQUE INDEX calls_idempotency ON calls (tenant, api_key_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Metadata lookups are the tenant's: the pair indexes gain the tenant first, so a tenant's
-- job_id=1042 is a range of its own entries.
ALTER TABLE message_metadata ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE message_metadata DROP CONSTRAINT message_metadata_pkey;
ALTER TABLE message_metadata ADD PRIMARY KEY (tenant, key, value, message_id);
ALTER TABLE call_metadata ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE call_metadata DROP CONSTRAINT call_metadata_pkey;
ALTER TABLE call_metadata ADD PRIMARY KEY (tenant, key, value, call_id);
