-- usage_daily (0140) counted a statement at a time, as chart_counts is (0100).
--
-- 0140's triggers upserted usage_daily once per inserted or deleted row. A statement that writes
-- many rows of one tenant and day (`switchboard db copy`, whose COPY of the messages is one
-- statement; a batch insert) updated the same usage_daily row once per row, and each update
-- walks the versions of that row the earlier ones left (they stay until the transaction ends):
-- n rows cost O(n²). 50,000 messages in one INSERT took 21 s (3.6 s now), and a db copy of 50,000
-- messages 18 s (5.3 s now; docs/performance.md). These triggers read the statement's rows from
-- its transition table and upsert each tenant and day (in this backend's shard) once per
-- statement.
--
-- Updates stay a row at a time: a price is recorded one message at a time, and PostgreSQL allows
-- no transition table on a trigger with a column list (UPDATE OF) — a statement trigger on every
-- UPDATE of messages would copy the rows of every claim and save.
--
-- The old triggers are dropped and the new ones created in this migration's transaction, which
-- holds the tables' locks from the first DROP TRIGGER to its commit: every row is counted by
-- exactly one of them, so usage_daily needs no recount.
DROP TRIGGER usage_messages_inserted ON messages;
DROP TRIGGER usage_messages_deleted ON messages;
DROP TRIGGER usage_calls_changed ON calls;
DROP TRIGGER usage_verifications_changed ON verifications;
DROP FUNCTION usage_messages_inserted();
DROP FUNCTION usage_messages_deleted();
DROP FUNCTION usage_calls_changed();
DROP FUNCTION usage_verifications_changed();

-- The quotas of 0140, checked for a statement's messages of each tenant and day together: when
-- one of them is a new message an application asked for (an API key's: key_…; queued or
-- scheduled; not the SMS leg of a WhatsApp message accepted before), the statement is refused
-- if its messages would take the day over daily_messages or daily_segments, or if the day's
-- spend (before the statement) reached daily_spend_cents. For the one message of an accept this
-- is 0140's rule, and SQLite's. (SQLite's BEFORE trigger checks a statement's messages one by
-- one, each counting those before it: a statement of many could differ only where its last
-- messages are not checked themselves, or are priced. The store writes one message per
-- statement.) The tenant's advisory lock (taken in tenant order, so that two statements of
-- several tenants cannot deadlock) makes its creates take turns, and the sum is read after it
-- with a fresh snapshot: concurrent creates never overshoot. The error's text names the limit
-- (switchboard.QuotaFromDBError).
CREATE FUNCTION usage_messages_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	q record;
	used record;
BEGIN
	FOR q IN SELECT n.tenant, n.day, n.messages, n.segments, t.daily_messages, t.daily_segments, t.daily_spend_cents
		FROM (SELECT tenant, (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS messages, sum(segments) AS segments,
				bool_or(substr(api_key_id, 1, 4) = 'key_' AND status IN ('queued', 'scheduled')
					AND (whatsapp IS NULL OR whatsapp->>'fallback_of' IS NULL)) AS asked
			FROM usage_new_messages GROUP BY 1, 2) n
		JOIN tenants t ON t.id = n.tenant
		WHERE n.asked AND (t.daily_messages > 0 OR t.daily_segments > 0 OR t.daily_spend_cents > 0)
		ORDER BY n.tenant, n.day
	LOOP
		PERFORM pg_advisory_xact_lock(hashtextextended('switchboard_usage:' || q.tenant, 0));
		SELECT coalesce(sum(messages), 0) AS messages, coalesce(sum(segments), 0) AS segments,
				coalesce(sum(spend_micros), 0) AS spend
			INTO used FROM usage_daily WHERE tenant = q.tenant AND day = q.day;
		IF q.daily_messages > 0 AND used.messages + q.messages > q.daily_messages THEN
			RAISE EXCEPTION 'switchboard_quota:daily_messages';
		END IF;
		IF q.daily_segments > 0 AND used.segments + q.segments > q.daily_segments THEN
			RAISE EXCEPTION 'switchboard_quota:daily_segments';
		END IF;
		IF q.daily_spend_cents > 0 AND used.spend >= q.daily_spend_cents * 10000 THEN
			RAISE EXCEPTION 'switchboard_quota:daily_spend_cents';
		END IF;
	END LOOP;
	-- In tenant and day order, so that two statements sharing a shard lock its rows in one order.
	INSERT INTO usage_daily AS u (tenant, day, shard, messages, segments, spend_micros, price_unit)
	SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 16, count(*), sum(segments),
		coalesce(sum(price_micros), 0), coalesce(max(nullif(price_unit, '')), '')
	FROM usage_new_messages GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (tenant, day, shard) DO UPDATE SET messages = u.messages + excluded.messages,
		segments = u.segments + excluded.segments, spend_micros = u.spend_micros + excluded.spend_micros,
		price_unit = CASE WHEN excluded.price_unit <> '' THEN excluded.price_unit ELSE u.price_unit END;
	RETURN NULL;
END $$;
-- Named to fire before chart_messages_insert (a table's triggers fire in the order of their
-- names), as 0140's row trigger did: a create waits for its tenant's lock holding no row of
-- chart_counts, and a refused one does not write it.
CREATE TRIGGER a_usage_messages_inserted AFTER INSERT ON messages
	REFERENCING NEW TABLE AS usage_new_messages FOR EACH STATEMENT EXECUTE FUNCTION usage_messages_inserted();

CREATE FUNCTION usage_messages_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO usage_daily AS u (tenant, day, shard, messages, segments, spend_micros)
	SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 16, -count(*), -sum(segments),
		-coalesce(sum(price_micros), 0)
	FROM usage_old_messages GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (tenant, day, shard) DO UPDATE SET messages = u.messages + excluded.messages,
		segments = u.segments + excluded.segments, spend_micros = u.spend_micros + excluded.spend_micros;
	RETURN NULL;
END $$;
CREATE TRIGGER usage_messages_deleted AFTER DELETE ON messages
	REFERENCING OLD TABLE AS usage_old_messages FOR EACH STATEMENT EXECUTE FUNCTION usage_messages_deleted();

-- Calls and verifications: +1 for each row inserted, -1 for each row deleted.
CREATE FUNCTION usage_calls_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO usage_daily AS u (tenant, day, shard, calls)
		SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 16, count(*)
		FROM usage_new_calls GROUP BY 1, 2 ORDER BY 1, 2
		ON CONFLICT (tenant, day, shard) DO UPDATE SET calls = u.calls + excluded.calls;
	ELSE
		INSERT INTO usage_daily AS u (tenant, day, shard, calls)
		SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 16, -count(*)
		FROM usage_old_calls GROUP BY 1, 2 ORDER BY 1, 2
		ON CONFLICT (tenant, day, shard) DO UPDATE SET calls = u.calls + excluded.calls;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER usage_calls_inserted AFTER INSERT ON calls
	REFERENCING NEW TABLE AS usage_new_calls FOR EACH STATEMENT EXECUTE FUNCTION usage_calls_changed();
CREATE TRIGGER usage_calls_deleted AFTER DELETE ON calls
	REFERENCING OLD TABLE AS usage_old_calls FOR EACH STATEMENT EXECUTE FUNCTION usage_calls_changed();

CREATE FUNCTION usage_verifications_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO usage_daily AS u (tenant, day, shard, verifications)
		SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 16, count(*)
		FROM usage_new_verifications GROUP BY 1, 2 ORDER BY 1, 2
		ON CONFLICT (tenant, day, shard) DO UPDATE SET verifications = u.verifications + excluded.verifications;
	ELSE
		INSERT INTO usage_daily AS u (tenant, day, shard, verifications)
		SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 16, -count(*)
		FROM usage_old_verifications GROUP BY 1, 2 ORDER BY 1, 2
		ON CONFLICT (tenant, day, shard) DO UPDATE SET verifications = u.verifications + excluded.verifications;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER usage_verifications_inserted AFTER INSERT ON verifications
	REFERENCING NEW TABLE AS usage_new_verifications FOR EACH STATEMENT EXECUTE FUNCTION usage_verifications_changed();
CREATE TRIGGER usage_verifications_deleted AFTER DELETE ON verifications
	REFERENCING OLD TABLE AS usage_old_verifications FOR EACH STATEMENT EXECUTE FUNCTION usage_verifications_changed();

-- TRUNCATE fires no DELETE trigger: emptying messages, calls or verifications (`switchboard db
-- copy --force` onto a database that held rows) takes what they counted out of usage_daily, as
-- chart_messages_truncate does for chart_counts. Rows left with nothing are removed.
CREATE FUNCTION usage_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'messages' THEN
		UPDATE usage_daily SET messages = 0, segments = 0, spend_micros = 0, price_unit = '';
	ELSIF TG_TABLE_NAME = 'calls' THEN
		UPDATE usage_daily SET calls = 0;
	ELSE
		UPDATE usage_daily SET verifications = 0;
	END IF;
	DELETE FROM usage_daily WHERE messages = 0 AND segments = 0 AND calls = 0 AND verifications = 0 AND spend_micros = 0;
	RETURN NULL;
END $$;
CREATE TRIGGER usage_messages_truncated AFTER TRUNCATE ON messages FOR EACH STATEMENT EXECUTE FUNCTION usage_truncated();
CREATE TRIGGER usage_calls_truncated AFTER TRUNCATE ON calls FOR EACH STATEMENT EXECUTE FUNCTION usage_truncated();
CREATE TRIGGER usage_verifications_truncated AFTER TRUNCATE ON verifications FOR EACH STATEMENT EXECUTE FUNCTION usage_truncated();
