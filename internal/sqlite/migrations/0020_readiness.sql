-- One row that /readyz writes: readiness is a write that really commits (a transaction that
-- writes nothing commits even when the disk is full).
CREATE TABLE readiness (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
