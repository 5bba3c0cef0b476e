-- One row that /readyz writes: readiness is a write that really commits (a database whose disk
-- is full still answers a ping).
CREATE TABLE readiness (
    id integer PRIMARY KEY CHECK (id = 1),
    checked_at timestamptz NOT NULL
);
