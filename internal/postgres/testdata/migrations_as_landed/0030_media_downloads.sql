-- media_downloads is the durable queue of inbound media (issue 16): one row per attachment of an
-- inbound message, written before the webhook answers and claimed with leases (FOR UPDATE SKIP
-- LOCKED) like the other background work, so that a crash or a dead node loses no download.
-- Keyed by the provider SID (the inbound message's deduplication key) and the attachment's
-- index: a webhook delivered again adds nothing, even after the download finished (done rows
-- are kept for that).
CREATE TABLE media_downloads (
	provider_sid    text COLLATE "C" NOT NULL,
	idx             integer NOT NULL,
	inbound_id      text COLLATE "C" NOT NULL,
	channel         text NOT NULL,
	from_number     text NOT NULL,
	to_number       text NOT NULL,
	url             text NOT NULL,
	declared_type   text NOT NULL DEFAULT '',
	done            boolean NOT NULL DEFAULT false,
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	last_error      text NOT NULL DEFAULT '',
	lease_owner     text,
	lease_until     timestamptz,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL,
	PRIMARY KEY (provider_sid, idx)
);
CREATE INDEX media_downloads_due ON media_downloads (next_attempt_at) WHERE NOT done;
CREATE INDEX media_downloads_leased ON media_downloads (lease_owner) WHERE lease_owner IS NOT NULL;
