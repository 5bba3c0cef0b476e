-- Senders managed at run time (issue 18): the senders table becomes the source of truth. The
-- configuration file's senders are recorded at every start-up (source 'config'); a sender created,
-- changed or removed through the API is source 'api' and the file no longer changes it. A removed
-- sender keeps its row as a tombstone (deleted_at set) so that the file does not bring it back.
-- tenants is a JSON array of tenant IDs ('[]': every tenant), text as in SQLite so that
-- `switchboard db copy` moves it unchanged. Adding columns with constant defaults is instant.
ALTER TABLE senders ADD COLUMN tenants text NOT NULL DEFAULT '[]';
ALTER TABLE senders ADD COLUMN source text NOT NULL DEFAULT 'config';
ALTER TABLE senders ADD COLUMN updated_at timestamptz NOT NULL DEFAULT 'epoch';
ALTER TABLE senders ADD COLUMN deleted_at timestamptz;

-- senders_version is the change marker every node polls (sender_refresh_interval): one row
-- (none before the first change: version 0), upserted in the transaction of every change of
-- senders (the bump also serializes concurrent changes: they queue on its row lock).
CREATE TABLE senders_version (
	id      integer PRIMARY KEY CHECK (id = 1),
	version bigint NOT NULL
);
