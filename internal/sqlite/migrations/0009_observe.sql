-- Observability (issue 7): built-in alerts and traces.
--
-- Delivery outcomes per sender over a sliding window (built-in delivery-rate alerts) are counted
-- from this covering index of the messages that reached an outcome, ranged on updated_at, so that
-- an evaluation reads the index entries of its window and never the finished messages before it.
-- It costs one index entry per message reaching an outcome.
CREATE INDEX messages_outcome ON messages (updated_at, from_number, status)
	WHERE status IN ('delivered', 'read', 'undelivered', 'failed');

-- A trace lists the deliveries of a message's events: by event.
CREATE INDEX deliveries_event ON deliveries (event_seq);

-- The state of each built-in alert. A transition is a compare-and-set on this row, written in the
-- transaction that appends its event, so that with several nodes evaluating the same alert each
-- transition is written once.
CREATE TABLE alert_states (
	key        TEXT    PRIMARY KEY,
	state      TEXT    NOT NULL,
	changed_at INTEGER NOT NULL
) WITHOUT ROWID;
