-- Messages are found by a metadata key and value (job_id=1042) through this index, not by
-- scanning the JSON column messages.metadata, which stays the message's own copy. One row per
-- key of a message's metadata, written in the transaction that creates the message; the primary
-- key (key, value, message_id) lists the messages with one pair newest first (IDs are
-- time-ordered), so a page and its cursor are a range of the index. Metadata never changes after
-- creation and redaction keeps it; a deleted message takes its rows with it.
CREATE TABLE message_metadata (
	key        TEXT NOT NULL,
	value      TEXT NOT NULL,
	message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	PRIMARY KEY (key, value, message_id)
) WITHOUT ROWID;
-- The foreign key's cascade looks the rows of one message up by its ID.
CREATE INDEX message_metadata_message ON message_metadata (message_id);

-- Backfill the messages stored before this index existed.
INSERT INTO message_metadata (key, value, message_id)
	SELECT j.key, j.value, m.id FROM messages m, json_each(m.metadata) j
	WHERE m.metadata IS NOT NULL AND json_valid(m.metadata) AND json_type(m.metadata) = 'object'
		AND j.type = 'text';
