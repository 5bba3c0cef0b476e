-- Deliveries refer to events by seq, as in the SQLite schema, where the event ID lost its index
-- so that appending an event costs fewer pages (internal/sqlite/migrations/0006_app_events_lean.sql).
-- The index by type goes too: only listings used it.
ALTER TABLE deliveries ADD COLUMN event_seq bigint;
UPDATE deliveries d SET event_seq = e.seq FROM app_events e WHERE e.id = d.event_id;
ALTER TABLE deliveries ALTER COLUMN event_seq SET NOT NULL;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_seq_fkey FOREIGN KEY (event_seq) REFERENCES app_events (seq);
ALTER TABLE deliveries DROP COLUMN event_id;
DROP INDEX app_events_type;
