-- Retention redacts the text and media of message.received events as it does the inbound
-- messages they report (redacted_at set); the partial index finds the ones left to redact.
ALTER TABLE app_events ADD COLUMN redacted_at timestamptz;
CREATE INDEX app_events_unredacted ON app_events (at) WHERE type = 'message.received' AND redacted_at IS NULL;
