-- Verifications carry the application's metadata (job_id=1042) and are found by one pair through
-- this index, as messages are through message_metadata and calls through call_metadata (issue
-- #18): one row per key, written in the transaction that creates the verification; the primary
-- key leads with the tenant, so a tenant's verifications with one pair, newest first, are a range
-- of its own entries. Metadata never changes after creation and redaction keeps it; a deleted
-- verification takes its rows with it. Online-safe: a nullable column and a new table; the
-- verifications stored before had no metadata, so there is nothing to backfill.
ALTER TABLE verifications ADD COLUMN metadata TEXT;
CREATE TABLE verification_metadata (
	tenant          TEXT NOT NULL,
	key             TEXT NOT NULL,
	value           TEXT NOT NULL,
	verification_id TEXT NOT NULL REFERENCES verifications (id) ON DELETE CASCADE,
	PRIMARY KEY (tenant, key, value, verification_id)
) WITHOUT ROWID;
-- The foreign key's cascade looks the rows of one verification up by its ID.
CREATE INDEX verification_metadata_verification ON verification_metadata (verification_id);
