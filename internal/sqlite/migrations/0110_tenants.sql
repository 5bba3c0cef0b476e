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
