-- WhatsApp (issue 10). A message's WhatsApp options (content template, fallback policy, the link
-- of an SMS leg to its WhatsApp message) as JSON; the fallback bookkeeping as columns, so that
-- the fallback worker finds unsettled messages through a small partial index.
ALTER TABLE messages ADD COLUMN whatsapp TEXT;
-- fallback_pending is 1 while a WhatsApp message with an SMS fallback has not been settled
-- (delivered, or its SMS leg created), NULL otherwise.
ALTER TABLE messages ADD COLUMN fallback_pending INTEGER;
-- fallback_due_at: when the WhatsApp message must have been delivered before the SMS leg goes.
ALTER TABLE messages ADD COLUMN fallback_due_at INTEGER;
ALTER TABLE messages ADD COLUMN fallback_message_id TEXT;
CREATE INDEX messages_fallback ON messages (created_at) WHERE fallback_pending = 1;

-- window_notified_for is the last_inbound_at whose window conversation.window_closing was
-- written for: each window is announced once, across nodes.
ALTER TABLE conversations ADD COLUMN window_notified_for INTEGER;
CREATE INDEX conversations_window ON conversations (last_inbound_at) WHERE channel = 'whatsapp';

-- Inbound media: downloaded after the webhook answered, checked, scanned and stored by content.
CREATE TABLE inbound_media (
	id            TEXT PRIMARY KEY,
	inbound_id    TEXT NOT NULL,
	idx           INTEGER NOT NULL,
	source_url    TEXT NOT NULL,
	declared_type TEXT NOT NULL DEFAULT '',
	status        TEXT NOT NULL,
	content_type  TEXT NOT NULL DEFAULT '',
	size          INTEGER NOT NULL DEFAULT 0,
	sha256        TEXT NOT NULL DEFAULT '',
	reason        TEXT NOT NULL DEFAULT '',
	attempts      INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	lease_owner   TEXT,
	lease_until   INTEGER,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX inbound_media_item ON inbound_media (inbound_id, idx);
CREATE INDEX inbound_media_due ON inbound_media (next_attempt_at) WHERE status = 'pending';
