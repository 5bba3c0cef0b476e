-- Messages are found by a metadata key and value (job_id=1042) through this index, not by
-- scanning the jsonb column messages.metadata, which stays the message's own copy. One row per
-- key of a message's metadata, written by the statement that creates the message; the primary
-- key (key, value, message_id) lists the messages with one pair newest first (IDs are
-- time-ordered, COLLATE "C"), so a page and its cursor are a range of the index. A GIN index on
-- the jsonb column was not chosen: it finds the matching rows but not in page order, so a page of
-- a common pair would sort every match. Metadata never changes after creation and redaction keeps
-- it; a deleted message takes its rows with it.
CREATE TABLE message_metadata (
	key        text NOT NULL,
	value      text NOT NULL,
	message_id text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	PRIMARY KEY (key, value, message_id)
);
-- The foreign key's cascade looks the rows of one message up by its ID.
CREATE INDEX message_metadata_message ON message_metadata (message_id);

-- Backfill the messages stored before this index existed.
INSERT INTO message_metadata (key, value, message_id)
	SELECT j.key, j.value, m.id FROM messages m, jsonb_each_text(m.metadata) j
	WHERE m.metadata IS NOT NULL AND jsonb_typeof(m.metadata) = 'object' AND j.value IS NOT NULL;
