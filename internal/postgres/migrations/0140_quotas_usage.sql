-- Quotas and usage per tenant and UTC day (issue 18, points 6 and 7).
--
-- usage_daily holds, per tenant and UTC day of created_at, how many messages, calls and
-- verifications were created, the messages' segments, and the spend the provider reported for
-- the day's messages (millionths of price_unit). Like chart_counts (0100) its rows are spread
-- over shards (the backend's pid modulo 16), so concurrent accepts of one tenant do not queue on
-- one row; a day's usage is the sum of its shards. Triggers keep it true in the transaction of
-- every change that moves it, so it is derived: `switchboard db copy` does not copy it.
CREATE TABLE usage_daily (
	tenant        text COLLATE "C" NOT NULL,
	day           date    NOT NULL,
	shard         integer NOT NULL,
	messages      bigint  NOT NULL DEFAULT 0,
	segments      bigint  NOT NULL DEFAULT 0,
	calls         bigint  NOT NULL DEFAULT 0,
	verifications bigint  NOT NULL DEFAULT 0,
	spend_micros  bigint  NOT NULL DEFAULT 0,
	price_unit    text    NOT NULL DEFAULT '',
	PRIMARY KEY (tenant, day, shard)
);

-- The price the provider reported for a message (Twilio's price and price_unit, as text), the
-- charge in millionths, and the bookkeeping of fetching it: status callbacks carry no price, so
-- the dispatcher fetches it once the message is finished (price_due_at), at most 5 times.
-- Existing rows get no price_due_at: the upgrade fetches no history. Adding nullable columns
-- and a constant default rewrites no row.
ALTER TABLE messages ADD COLUMN price text, ADD COLUMN price_unit text, ADD COLUMN price_micros bigint,
	ADD COLUMN price_fetches integer NOT NULL DEFAULT 0, ADD COLUMN price_due_at timestamptz;
CREATE INDEX messages_price_due ON messages (price_due_at) WHERE price_due_at IS NOT NULL;

-- Count what was stored before this table existed.
INSERT INTO usage_daily (tenant, day, shard, messages, segments)
	SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, 0, count(*), sum(segments)
	FROM messages GROUP BY 1, 2;
INSERT INTO usage_daily AS u (tenant, day, shard, calls)
	SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, 0, count(*) FROM calls GROUP BY 1, 2
	ON CONFLICT (tenant, day, shard) DO UPDATE SET calls = excluded.calls;
INSERT INTO usage_daily AS u (tenant, day, shard, verifications)
	SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, 0, count(*) FROM verifications GROUP BY 1, 2
	ON CONFLICT (tenant, day, shard) DO UPDATE SET verifications = excluded.verifications;

-- usage_add adds to a tenant's day, in this backend's shard.
CREATE FUNCTION usage_add(t text, d date, msgs bigint, segs bigint, cls bigint, vers bigint, spend bigint, unit text)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO usage_daily AS u (tenant, day, shard, messages, segments, calls, verifications, spend_micros, price_unit)
	VALUES (t, d, pg_backend_pid() % 16, msgs, segs, cls, vers, spend, coalesce(unit, ''))
	ON CONFLICT (tenant, day, shard) DO UPDATE SET messages = u.messages + excluded.messages,
		segments = u.segments + excluded.segments, calls = u.calls + excluded.calls,
		verifications = u.verifications + excluded.verifications, spend_micros = u.spend_micros + excluded.spend_micros,
		price_unit = CASE WHEN excluded.price_unit <> '' THEN excluded.price_unit ELSE u.price_unit END
$$;

-- The quotas: a new message an application asked for (an API key's: its api_key_id is a key's
-- ID, key_…, not one of Switchboard's own actors such as system or verify; queued or scheduled;
-- not the SMS leg of a WhatsApp message accepted before) is
-- refused when it would take its tenant's day over daily_messages or daily_segments, or when the
-- day's spend reached daily_spend_cents (0: no limit). Only a tenant with a limit pays for the
-- check: a transaction-scoped advisory lock per tenant makes its creates take turns, and since a
-- trigger function's statements each take a fresh snapshot (READ COMMITTED), the sum read after
-- the lock includes every create that held it before. Concurrent creates never overshoot. The
-- error's text names the limit (switchboard.QuotaFromDBError).
CREATE FUNCTION usage_messages_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	d date := (NEW.created_at AT TIME ZONE 'UTC')::date;
	lim record;
	used record;
BEGIN
	IF substr(NEW.api_key_id, 1, 4) = 'key_' AND NEW.status IN ('queued', 'scheduled')
			AND (NEW.whatsapp IS NULL OR NEW.whatsapp->>'fallback_of' IS NULL) THEN
		SELECT daily_messages, daily_segments, daily_spend_cents INTO lim FROM tenants WHERE id = NEW.tenant;
		IF FOUND AND (lim.daily_messages > 0 OR lim.daily_segments > 0 OR lim.daily_spend_cents > 0) THEN
			PERFORM pg_advisory_xact_lock(hashtextextended('switchboard_usage:' || NEW.tenant, 0));
			SELECT coalesce(sum(messages), 0) AS messages, coalesce(sum(segments), 0) AS segments,
					coalesce(sum(spend_micros), 0) AS spend
				INTO used FROM usage_daily WHERE tenant = NEW.tenant AND day = d;
			IF lim.daily_messages > 0 AND used.messages + 1 > lim.daily_messages THEN
				RAISE EXCEPTION 'switchboard_quota:daily_messages';
			END IF;
			IF lim.daily_segments > 0 AND used.segments + NEW.segments > lim.daily_segments THEN
				RAISE EXCEPTION 'switchboard_quota:daily_segments';
			END IF;
			IF lim.daily_spend_cents > 0 AND used.spend >= lim.daily_spend_cents * 10000 THEN
				RAISE EXCEPTION 'switchboard_quota:daily_spend_cents';
			END IF;
		END IF;
	END IF;
	-- Written out rather than through usage_add: this runs for every message created.
	INSERT INTO usage_daily AS u (tenant, day, shard, messages, segments, spend_micros, price_unit)
	VALUES (NEW.tenant, d, pg_backend_pid() % 16, 1, NEW.segments, coalesce(NEW.price_micros, 0), coalesce(NEW.price_unit, ''))
	ON CONFLICT (tenant, day, shard) DO UPDATE SET messages = u.messages + 1, segments = u.segments + excluded.segments,
		spend_micros = u.spend_micros + excluded.spend_micros,
		price_unit = CASE WHEN excluded.price_unit <> '' THEN excluded.price_unit ELSE u.price_unit END;
	RETURN NULL;
END $$;
CREATE TRIGGER usage_messages_inserted AFTER INSERT ON messages
	FOR EACH ROW EXECUTE FUNCTION usage_messages_inserted();

CREATE FUNCTION usage_messages_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM usage_add(OLD.tenant, (OLD.created_at AT TIME ZONE 'UTC')::date, -1, -OLD.segments, 0, 0,
		-coalesce(OLD.price_micros, 0), '');
	RETURN NULL;
END $$;
CREATE TRIGGER usage_messages_deleted AFTER DELETE ON messages
	FOR EACH ROW EXECUTE FUNCTION usage_messages_deleted();

-- A price recorded (once: RecordPrice sets it only where none is) adds to its day's spend.
CREATE FUNCTION usage_messages_priced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM usage_add(NEW.tenant, (NEW.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, NEW.price_micros, NEW.price_unit);
	RETURN NULL;
END $$;
CREATE TRIGGER usage_messages_priced AFTER UPDATE OF price_micros ON messages
	FOR EACH ROW WHEN (OLD.price_micros IS NULL AND NEW.price_micros IS NOT NULL)
	EXECUTE FUNCTION usage_messages_priced();

-- A message handed to the provider that finishes is due for its price.
CREATE FUNCTION usage_messages_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.price_due_at := NEW.updated_at;
	RETURN NEW;
END $$;
CREATE TRIGGER usage_messages_finished BEFORE UPDATE OF status ON messages
	FOR EACH ROW WHEN (NEW.status IN ('delivered', 'read', 'undelivered', 'failed') AND NEW.provider_sid IS NOT NULL
		AND NEW.price_micros IS NULL AND NEW.price_due_at IS NULL AND NEW.price_fetches = 0)
	EXECUTE FUNCTION usage_messages_finished();

CREATE FUNCTION usage_calls_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		PERFORM usage_add(NEW.tenant, (NEW.created_at AT TIME ZONE 'UTC')::date, 0, 0, 1, 0, 0, '');
	ELSE
		PERFORM usage_add(OLD.tenant, (OLD.created_at AT TIME ZONE 'UTC')::date, 0, 0, -1, 0, 0, '');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER usage_calls_changed AFTER INSERT OR DELETE ON calls
	FOR EACH ROW EXECUTE FUNCTION usage_calls_changed();

CREATE FUNCTION usage_verifications_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		PERFORM usage_add(NEW.tenant, (NEW.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 1, 0, '');
	ELSE
		PERFORM usage_add(OLD.tenant, (OLD.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, -1, 0, '');
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER usage_verifications_changed AFTER INSERT OR DELETE ON verifications
	FOR EACH ROW EXECUTE FUNCTION usage_verifications_changed();
