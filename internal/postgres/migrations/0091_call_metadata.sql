-- Calls are found by a metadata key and value (job_id=1042) through this index, as messages are
-- through message_metadata (0090): one row per key of a call's metadata, written in the
-- transaction that creates the call; the primary key lists the calls with one pair newest first
-- (call_id has the collation of calls.id, so the order is ListCalls' order). A call's metadata
-- never changes after creation; a deleted call takes its rows with it.
CREATE TABLE call_metadata (
	key     text NOT NULL,
	value   text NOT NULL,
	call_id text NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	PRIMARY KEY (key, value, call_id)
);
CREATE INDEX call_metadata_call ON call_metadata (call_id);

-- Backfill the calls stored before this index existed (their metadata is in data), string values
-- only.
INSERT INTO call_metadata (key, value, call_id)
	SELECT j.key, j.value #>> '{}', c.id FROM calls c, jsonb_each(c.data -> 'metadata') j
	WHERE jsonb_typeof(c.data -> 'metadata') = 'object' AND jsonb_typeof(j.value) = 'string';
