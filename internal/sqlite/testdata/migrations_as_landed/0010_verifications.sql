-- verifications are one-time-code verifications (issue 8). The code is kept only as a keyed hash
-- and a sealed copy for resends; see verification.go.
CREATE TABLE verifications (
	id            TEXT    PRIMARY KEY,
	status        TEXT    NOT NULL,
	phone         TEXT    NOT NULL,
	channel       TEXT    NOT NULL,
	locale        TEXT    NOT NULL DEFAULT '',
	country       TEXT    NOT NULL DEFAULT '',
	user_ref      TEXT    NOT NULL DEFAULT '',
	client_ip     TEXT    NOT NULL DEFAULT '',
	backend       TEXT    NOT NULL,
	provider_sid  TEXT    NOT NULL DEFAULT '',
	code_length   INTEGER NOT NULL,
	sends         INTEGER NOT NULL,
	checks        INTEGER NOT NULL,
	max_sends     INTEGER NOT NULL,
	max_checks    INTEGER NOT NULL,
	send_attempts TEXT    NOT NULL DEFAULT '[]',
	fallback_at   INTEGER,
	expires_at    INTEGER NOT NULL,
	api_key_id    TEXT    NOT NULL DEFAULT '',
	code_hash     TEXT    NOT NULL DEFAULT '',
	code_salt     TEXT    NOT NULL DEFAULT '',
	code_sealed   TEXT    NOT NULL DEFAULT '',
	version       INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);
CREATE INDEX verifications_pending_phone ON verifications (phone, created_at) WHERE status = 'pending';
CREATE INDEX verifications_due_fallback ON verifications (fallback_at) WHERE status = 'pending' AND fallback_at IS NOT NULL;
CREATE INDEX verifications_due_expiry ON verifications (expires_at) WHERE status = 'pending';

-- verify_rate_hits are fixed-window counters of verification starts, shared by every process.
CREATE TABLE verify_rate_hits (
	key          TEXT    NOT NULL,
	window_start INTEGER NOT NULL,
	window_end   INTEGER NOT NULL,
	hits         INTEGER NOT NULL,
	PRIMARY KEY (key, window_start)
);
CREATE INDEX verify_rate_hits_end ON verify_rate_hits (window_end);

-- verify_refusals record every refused verification request; the ID is the support reference.
CREATE TABLE verify_refusals (
	id              TEXT    PRIMARY KEY,
	reason          TEXT    NOT NULL,
	detail          TEXT    NOT NULL DEFAULT '',
	phone           TEXT    NOT NULL DEFAULT '',
	country         TEXT    NOT NULL DEFAULT '',
	user_ref        TEXT    NOT NULL DEFAULT '',
	client_ip       TEXT    NOT NULL DEFAULT '',
	verification_id TEXT    NOT NULL DEFAULT '',
	retry_after     INTEGER NOT NULL DEFAULT 0,
	at              INTEGER NOT NULL
);
CREATE INDEX verify_refusals_phone ON verify_refusals (phone, id);

-- verify_blocks are prefixes blocked for suspected SMS pumping.
CREATE TABLE verify_blocks (
	prefix     TEXT    PRIMARY KEY,
	reason     TEXT    NOT NULL,
	until      INTEGER NOT NULL,
	at         INTEGER NOT NULL
);
