-- media_downloads is the durable queue of inbound media (issue 16): one row per attachment of an
-- inbound message, written before the webhook answers and claimed with leases like the other
-- background work, so that a crash loses no download. Keyed by the provider SID (the inbound
-- message's deduplication key) and the attachment's index: a webhook delivered again adds
-- nothing, even after the download finished (done = 1 rows are kept for that).
CREATE TABLE media_downloads (
	provider_sid    TEXT NOT NULL,
	idx             INTEGER NOT NULL,
	inbound_id      TEXT NOT NULL,
	channel         TEXT NOT NULL,
	from_number     TEXT NOT NULL,
	to_number       TEXT NOT NULL,
	url             TEXT NOT NULL,
	declared_type   TEXT NOT NULL DEFAULT '',
	done            INTEGER NOT NULL DEFAULT 0,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	lease_owner     TEXT,
	lease_until     INTEGER,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	PRIMARY KEY (provider_sid, idx)
);
CREATE INDEX media_downloads_due ON media_downloads (next_attempt_at) WHERE done = 0;
CREATE INDEX media_downloads_leased ON media_downloads (lease_owner) WHERE lease_owner IS NOT NULL;
