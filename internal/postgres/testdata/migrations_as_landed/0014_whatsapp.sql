-- WhatsApp (issue 10). A message's WhatsApp options (content template, fallback policy, the link
-- of an SMS leg to its WhatsApp message) as JSON; the fallback bookkeeping as columns, so that
-- the fallback worker finds unsettled messages through a small partial index.
ALTER TABLE messages ADD COLUMN whatsapp jsonb;
-- fallback_pending is true while a WhatsApp message with an SMS fallback has not been settled
-- (delivered, or its SMS leg created), NULL otherwise.
ALTER TABLE messages ADD COLUMN fallback_pending boolean;
-- fallback_due_at: when the WhatsApp message must have been delivered before the SMS leg goes.
ALTER TABLE messages ADD COLUMN fallback_due_at timestamptz;
ALTER TABLE messages ADD COLUMN fallback_message_id text;
CREATE INDEX messages_fallback ON messages (created_at) WHERE fallback_pending;

-- window_notified_for is the last_inbound_at whose window conversation.window_closing was
-- written for: each window is announced once, across nodes.
ALTER TABLE conversations ADD COLUMN window_notified_for timestamptz;
CREATE INDEX conversations_window ON conversations (last_inbound_at) WHERE channel = 'whatsapp';

-- Inbound media: downloaded after the webhook answered, checked, scanned and stored by content.
CREATE TABLE inbound_media (
	id              text PRIMARY KEY,
	inbound_id      text NOT NULL,
	idx             integer NOT NULL,
	source_url      text NOT NULL,
	declared_type   text NOT NULL DEFAULT '',
	status          text NOT NULL,
	content_type    text NOT NULL DEFAULT '',
	size            bigint NOT NULL DEFAULT 0,
	sha256          text NOT NULL DEFAULT '',
	reason          text NOT NULL DEFAULT '',
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	lease_owner     text,
	lease_until     timestamptz,
	created_at      timestamptz NOT NULL,
	updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX inbound_media_item ON inbound_media (inbound_id, idx);
CREATE INDEX inbound_media_due ON inbound_media (next_attempt_at) WHERE status = 'pending';
