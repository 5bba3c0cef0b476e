-- Quotas and usage per tenant and UTC day (issue 18, points 6 and 7).
--
-- usage_daily holds, per tenant and UTC day (YYYY-MM-DD of created_at), how many messages, calls
-- and verifications were created, the messages' segments, and the spend the provider reported
-- for the day's messages (millionths of price_unit). Triggers keep it true in the transaction of
-- every change that moves it, so it is derived: `switchboard db copy` does not copy it (the
-- target's triggers count the copied rows in).
CREATE TABLE usage_daily (
	tenant        TEXT    NOT NULL,
	day           TEXT    NOT NULL,
	messages      INTEGER NOT NULL DEFAULT 0,
	segments      INTEGER NOT NULL DEFAULT 0,
	calls         INTEGER NOT NULL DEFAULT 0,
	verifications INTEGER NOT NULL DEFAULT 0,
	spend_micros  INTEGER NOT NULL DEFAULT 0,
	price_unit    TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (tenant, day)
) WITHOUT ROWID;

-- The price the provider reported for a message (Twilio's price and price_unit, as text), the
-- charge in millionths, and the bookkeeping of fetching it: status callbacks carry no price, so
-- the dispatcher fetches it once the message is finished (price_due_at), at most 5 times.
-- Existing rows get no price_due_at: the upgrade fetches no history.
ALTER TABLE messages ADD COLUMN price TEXT;
ALTER TABLE messages ADD COLUMN price_unit TEXT;
ALTER TABLE messages ADD COLUMN price_micros INTEGER;
ALTER TABLE messages ADD COLUMN price_fetches INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN price_due_at INTEGER;
CREATE INDEX messages_price_due ON messages (price_due_at) WHERE price_due_at IS NOT NULL;

-- Count what was stored before this table existed.
INSERT INTO usage_daily (tenant, day, messages, segments)
	SELECT tenant, date(created_at / 1000000, 'unixepoch'), count(*), sum(segments)
	FROM messages GROUP BY 1, 2;
INSERT INTO usage_daily (tenant, day, calls)
	SELECT tenant, date(created_at / 1000000, 'unixepoch'), count(*) FROM calls WHERE true GROUP BY 1, 2
	ON CONFLICT (tenant, day) DO UPDATE SET calls = excluded.calls;
INSERT INTO usage_daily (tenant, day, verifications)
	SELECT tenant, date(created_at / 1000000, 'unixepoch'), count(*) FROM verifications WHERE true GROUP BY 1, 2
	ON CONFLICT (tenant, day) DO UPDATE SET verifications = excluded.verifications;

-- The quotas: a new message an application asked for (an API key's: its api_key_id is a key's
-- ID, key_…, not one of Switchboard's own actors such as system or verify; queued or scheduled;
-- not the SMS leg of a WhatsApp message accepted before) is
-- refused when it would take its tenant's day over daily_messages or daily_segments, or when the
-- day's spend reached daily_spend_cents (0: no limit). SQLite has one writer, so the check and the
-- count below never race. The error's text names the limit (switchboard.QuotaFromDBError).
CREATE TRIGGER usage_quota BEFORE INSERT ON messages
	WHEN substr(NEW.api_key_id, 1, 4) = 'key_' AND NEW.status IN ('queued', 'scheduled')
		AND (NEW.whatsapp IS NULL OR json_extract(NEW.whatsapp, '$.fallback_of') IS NULL)
BEGIN
	SELECT RAISE(ABORT, 'switchboard_quota:daily_messages') FROM tenants t
		WHERE t.id = NEW.tenant AND t.daily_messages > 0 AND coalesce((SELECT u.messages FROM usage_daily u
			WHERE u.tenant = NEW.tenant AND u.day = date(NEW.created_at / 1000000, 'unixepoch')), 0) + 1 > t.daily_messages;
	SELECT RAISE(ABORT, 'switchboard_quota:daily_segments') FROM tenants t
		WHERE t.id = NEW.tenant AND t.daily_segments > 0 AND coalesce((SELECT u.segments FROM usage_daily u
			WHERE u.tenant = NEW.tenant AND u.day = date(NEW.created_at / 1000000, 'unixepoch')), 0) + NEW.segments > t.daily_segments;
	SELECT RAISE(ABORT, 'switchboard_quota:daily_spend_cents') FROM tenants t
		WHERE t.id = NEW.tenant AND t.daily_spend_cents > 0 AND coalesce((SELECT u.spend_micros FROM usage_daily u
			WHERE u.tenant = NEW.tenant AND u.day = date(NEW.created_at / 1000000, 'unixepoch')), 0) >= t.daily_spend_cents * 10000;
END;

CREATE TRIGGER usage_message_insert AFTER INSERT ON messages
BEGIN
	INSERT INTO usage_daily (tenant, day, messages, segments, spend_micros, price_unit)
	VALUES (NEW.tenant, date(NEW.created_at / 1000000, 'unixepoch'), 1, NEW.segments,
		coalesce(NEW.price_micros, 0), coalesce(NEW.price_unit, ''))
	ON CONFLICT (tenant, day) DO UPDATE SET messages = messages + 1, segments = segments + excluded.segments,
		spend_micros = spend_micros + excluded.spend_micros,
		price_unit = CASE WHEN excluded.price_unit <> '' THEN excluded.price_unit ELSE price_unit END;
END;

CREATE TRIGGER usage_message_delete AFTER DELETE ON messages
BEGIN
	UPDATE usage_daily SET messages = messages - 1, segments = segments - OLD.segments,
		spend_micros = spend_micros - coalesce(OLD.price_micros, 0)
	WHERE tenant = OLD.tenant AND day = date(OLD.created_at / 1000000, 'unixepoch');
END;

-- A price recorded (once: RecordPrice sets it only where none is) adds to its day's spend.
CREATE TRIGGER usage_message_priced AFTER UPDATE OF price_micros ON messages
	WHEN OLD.price_micros IS NULL AND NEW.price_micros IS NOT NULL
BEGIN
	INSERT INTO usage_daily (tenant, day, spend_micros, price_unit)
	VALUES (NEW.tenant, date(NEW.created_at / 1000000, 'unixepoch'), NEW.price_micros, coalesce(NEW.price_unit, ''))
	ON CONFLICT (tenant, day) DO UPDATE SET spend_micros = spend_micros + excluded.spend_micros,
		price_unit = CASE WHEN excluded.price_unit <> '' THEN excluded.price_unit ELSE price_unit END;
END;

-- A message handed to the provider that finishes is due for its price.
CREATE TRIGGER usage_message_finished AFTER UPDATE OF status ON messages
	WHEN NEW.status IN ('delivered', 'read', 'undelivered', 'failed') AND NEW.provider_sid IS NOT NULL
		AND NEW.price_micros IS NULL AND NEW.price_due_at IS NULL AND NEW.price_fetches = 0
BEGIN
	UPDATE messages SET price_due_at = NEW.updated_at WHERE id = NEW.id;
END;

CREATE TRIGGER usage_call_insert AFTER INSERT ON calls
BEGIN
	INSERT INTO usage_daily (tenant, day, calls) VALUES (NEW.tenant, date(NEW.created_at / 1000000, 'unixepoch'), 1)
	ON CONFLICT (tenant, day) DO UPDATE SET calls = calls + 1;
END;

CREATE TRIGGER usage_call_delete AFTER DELETE ON calls
BEGIN
	UPDATE usage_daily SET calls = calls - 1 WHERE tenant = OLD.tenant AND day = date(OLD.created_at / 1000000, 'unixepoch');
END;

CREATE TRIGGER usage_verification_insert AFTER INSERT ON verifications
BEGIN
	INSERT INTO usage_daily (tenant, day, verifications) VALUES (NEW.tenant, date(NEW.created_at / 1000000, 'unixepoch'), 1)
	ON CONFLICT (tenant, day) DO UPDATE SET verifications = verifications + 1;
END;

CREATE TRIGGER usage_verification_delete AFTER DELETE ON verifications
BEGIN
	UPDATE usage_daily SET verifications = verifications - 1
	WHERE tenant = OLD.tenant AND day = date(OLD.created_at / 1000000, 'unixepoch');
END;
