-- What a message carries for policy and privacy: the recipient's time zone given with the
-- request (quiet hours), the template it was rendered from, and what outlives a redacted body.
ALTER TABLE messages ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN template TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN template_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN body_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN body_length INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN redacted_at INTEGER;
-- Retention walks messages by age that still hold a body.
CREATE INDEX messages_unredacted ON messages (created_at) WHERE redacted_at IS NULL;
