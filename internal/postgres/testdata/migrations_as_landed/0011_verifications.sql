-- verifications are one-time-code verifications (issue 8). The code is kept only as a keyed hash
-- and a sealed copy for resends; see verification.go.
CREATE TABLE verifications (
	id            text PRIMARY KEY,
	status        text NOT NULL,
	phone         text COLLATE "C" NOT NULL,
	channel       text NOT NULL,
	locale        text NOT NULL DEFAULT '',
	country       text NOT NULL DEFAULT '',
	user_ref      text NOT NULL DEFAULT '',
	client_ip     text NOT NULL DEFAULT '',
	backend       text NOT NULL,
	provider_sid  text NOT NULL DEFAULT '',
	code_length   integer NOT NULL,
	sends         integer NOT NULL,
	checks        integer NOT NULL,
	max_sends     integer NOT NULL,
	max_checks    integer NOT NULL,
	send_attempts jsonb NOT NULL DEFAULT '[]',
	fallback_at   timestamptz,
	expires_at    timestamptz NOT NULL,
	api_key_id    text NOT NULL DEFAULT '',
	code_hash     text NOT NULL DEFAULT '',
	code_salt     text NOT NULL DEFAULT '',
	code_sealed   text NOT NULL DEFAULT '',
	version       integer NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
);
CREATE INDEX verifications_pending_phone ON verifications (phone, created_at) WHERE status = 'pending';
CREATE INDEX verifications_due_fallback ON verifications (fallback_at) WHERE status = 'pending' AND fallback_at IS NOT NULL;
CREATE INDEX verifications_due_expiry ON verifications (expires_at) WHERE status = 'pending';

-- verify_rate_hits are fixed-window counters of verification starts, shared by every node.
CREATE TABLE verify_rate_hits (
	key          text COLLATE "C" NOT NULL,
	window_start timestamptz NOT NULL,
	window_end   timestamptz NOT NULL,
	hits         integer NOT NULL,
	PRIMARY KEY (key, window_start)
);
CREATE INDEX verify_rate_hits_end ON verify_rate_hits (window_end);

-- verify_refusals record every refused verification request; the ID is the support reference.
CREATE TABLE verify_refusals (
	id              text PRIMARY KEY,
	reason          text NOT NULL,
	detail          text NOT NULL DEFAULT '',
	phone           text COLLATE "C" NOT NULL DEFAULT '',
	country         text NOT NULL DEFAULT '',
	user_ref        text NOT NULL DEFAULT '',
	client_ip       text NOT NULL DEFAULT '',
	verification_id text NOT NULL DEFAULT '',
	retry_after     integer NOT NULL DEFAULT 0,
	at              timestamptz NOT NULL
);
CREATE INDEX verify_refusals_phone ON verify_refusals (phone, id);

-- verify_blocks are prefixes blocked for suspected SMS pumping.
CREATE TABLE verify_blocks (
	prefix text COLLATE "C" PRIMARY KEY,
	reason text NOT NULL,
	until  timestamptz NOT NULL,
	at     timestamptz NOT NULL
);
