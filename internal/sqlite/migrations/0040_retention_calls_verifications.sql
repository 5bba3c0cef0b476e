-- Retention covers calls and verifications (issue 16): redacted_at records when retention removed
-- a finished call's variables and inputs, or a finished verification's code material.
ALTER TABLE calls ADD COLUMN redacted_at INTEGER;
ALTER TABLE verifications ADD COLUMN redacted_at INTEGER;
CREATE INDEX calls_unredacted ON calls (created_at) WHERE redacted_at IS NULL;
CREATE INDEX verifications_unredacted ON verifications (created_at) WHERE redacted_at IS NULL;
