-- What a message carries for policy and privacy: the recipient's time zone given with the
-- request (quiet hours), the template it was rendered from, and what outlives a redacted body.
ALTER TABLE messages ADD COLUMN timezone text NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN template text NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN template_version integer NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN body_sha256 text NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN body_length integer NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN redacted_at timestamptz;
-- Retention walks messages by age that still hold a body.
CREATE INDEX messages_unredacted ON messages (created_at) WHERE redacted_at IS NULL;
