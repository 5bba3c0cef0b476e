-- Verifications carry the application's metadata (job_id=1042) and are found by one pair through
-- this index, as messages are through message_metadata and calls through call_metadata (issue
-- #18): one row per key, written in the transaction that creates the verification; the primary
-- key leads with the tenant, so a tenant's verifications with one pair, newest first, are a range
-- of its own entries (verification_id has the collation of verifications.id, so the order is
-- ListVerifications' order). Metadata never changes after creation and redaction keeps it; a
-- deleted verification takes its rows with it. Online-safe: a nullable column (no rewrite) and a
-- new table; the verifications stored before had no metadata, so there is nothing to backfill.
ALTER TABLE verifications ADD COLUMN metadata jsonb;
CREATE TABLE verification_metadata (
	tenant          text COLLATE "C" NOT NULL,
	key             text NOT NULL,
	value           text NOT NULL,
	verification_id text NOT NULL REFERENCES verifications (id) ON DELETE CASCADE,
	PRIMARY KEY (tenant, key, value, verification_id)
);
-- The foreign key's cascade looks the rows of one verification up by its ID.
CREATE INDEX verification_metadata_verification ON verification_metadata (verification_id);
