-- dashboard_sessions are the dashboard's login sessions. Only a SHA-256 of the cookie's secret is
-- stored; every node on the database recognizes a session, and logout deletes the row.
CREATE TABLE dashboard_sessions (
	hash         text COLLATE "C" PRIMARY KEY,
	subject      text NOT NULL,
	api_key_hash text NOT NULL DEFAULT '',
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);
-- The dashboard's failures page: failed messages by when they changed.
CREATE INDEX messages_failed ON messages (updated_at) WHERE status IN ('failed', 'undelivered');
-- The dashboard's charts read messages by creation time.
CREATE INDEX messages_created ON messages (created_at);
