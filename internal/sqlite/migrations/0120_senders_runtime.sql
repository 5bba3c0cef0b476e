-- Senders managed at run time (issue 18): the senders table becomes the source of truth. The
-- configuration file's senders are recorded at every start-up (source 'config'); a sender created,
-- changed or removed through the API is source 'api' and the file no longer changes it. A removed
-- sender keeps its row as a tombstone (deleted_at set) so that the file does not bring it back.
-- tenants is a JSON array of tenant IDs ('[]': every tenant). updated_at is microseconds since
-- the epoch (0 for rows recorded before this migration).
ALTER TABLE senders ADD COLUMN tenants TEXT NOT NULL DEFAULT '[]';
ALTER TABLE senders ADD COLUMN source TEXT NOT NULL DEFAULT 'config';
ALTER TABLE senders ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE senders ADD COLUMN deleted_at INTEGER;

-- senders_version is the change marker every node polls (sender_refresh_interval): one row
-- (none before the first change: version 0), upserted in the transaction of every change of senders.
CREATE TABLE senders_version (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
);
