-- Calls are found by a metadata key and value (job_id=1042) through this index, as messages are
-- through message_metadata (0090): one row per key of a call's metadata, written in the
-- transaction that creates the call; the primary key lists the calls with one pair newest first.
-- A call's metadata never changes after creation; a deleted call takes its rows with it.
CREATE TABLE call_metadata (
	key     TEXT NOT NULL,
	value   TEXT NOT NULL,
	call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	PRIMARY KEY (key, value, call_id)
) WITHOUT ROWID;
CREATE INDEX call_metadata_call ON call_metadata (call_id);

-- Backfill the calls stored before this index existed (their metadata is in the JSON of data).
INSERT INTO call_metadata (key, value, call_id)
	SELECT j.key, j.value, c.id FROM calls c, json_each(c.data, '$.metadata') j
	WHERE json_valid(c.data) AND json_type(c.data, '$.metadata') = 'object' AND j.type = 'text';
