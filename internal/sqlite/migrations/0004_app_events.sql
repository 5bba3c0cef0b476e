-- Events to applications.
--
-- app_events is the event log, the transactional outbox of events to applications: each row is
-- written in the same transaction as the change it reports (a status move, an inbound message, a
-- consent record), so an event exists if and only if its change committed. seq orders the log;
-- fanned_out is set once the event's deliveries have been created.
CREATE TABLE app_events (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT    NOT NULL UNIQUE,
	type       TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	at         INTEGER NOT NULL,
	data       TEXT    NOT NULL,                  -- JSON, the payload
	fanned_out INTEGER NOT NULL DEFAULT 0
);
-- The fan-out reads the events not fanned out yet, oldest first; few at any time.
CREATE INDEX app_events_fanout ON app_events (seq) WHERE fanned_out = 0;
CREATE INDEX app_events_type ON app_events (type, seq);

-- endpoints are where applications receive events (webhook URLs, or the NATS bus).
CREATE TABLE endpoints (
	id            TEXT    PRIMARY KEY,
	url           TEXT    NOT NULL,
	description   TEXT    NOT NULL DEFAULT '',
	event_types   TEXT    NOT NULL,               -- JSON array of patterns
	secrets       TEXT    NOT NULL,               -- JSON array of {secret, expires_at}
	source        TEXT    NOT NULL,               -- api | config
	failing_since INTEGER,
	disabled_at   INTEGER,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);

-- deliveries are events on their way to endpoints, one row per (event, endpoint), claimed with
-- leases like the messages of the outbox. A dead delivery is a dead letter.
CREATE TABLE deliveries (
	id               TEXT    PRIMARY KEY,
	event_id         TEXT    NOT NULL REFERENCES app_events (id),
	endpoint_id      TEXT    NOT NULL REFERENCES endpoints (id),
	status           TEXT    NOT NULL,            -- pending | delivered | dead
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  INTEGER NOT NULL,
	last_attempt_at  INTEGER,
	last_status_code INTEGER NOT NULL DEFAULT 0,
	last_error       TEXT    NOT NULL DEFAULT '',
	lease_owner      TEXT,
	lease_until      INTEGER,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
);
-- Claiming: the pending deliveries, by due time.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
-- An endpoint's deliveries (dead letters, replay), newest first.
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_endpoint_status ON deliveries (endpoint_id, status, id);
CREATE INDEX deliveries_leased ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;
