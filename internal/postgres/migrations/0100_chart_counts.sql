-- Running totals for the dashboard's delivery charts (issue 21): the charts page of the last 7
-- days read every message of the week (12 s at 1,000,000 messages); it now sums these rows, one per
-- five minutes (microseconds since the epoch, less their remainder by 300000000), sender, category
-- and shard, and reads messages only for the minutes at the edges of its range (see charts.go).
--
-- A row holds what DeliveryStats reports for its messages: how many, how many delivered (or
-- read) and failed (or undelivered), and the delivered ones' latency from acceptance to their
-- first delivered or read event, summed and counted by the bounds of switchboard.LatencyBounds
-- (1 s, 5 s, 30 s, 2 min, 10 min). Triggers keep the rows true in the transaction of every
-- change: a message's contribution is taken away before a change and added after it. They do
-- work only when what a row counts changes (a status moving between pending, delivered and
-- failed; a delivered or read event of a delivered message), not for every save. Redaction and
-- retention change neither statuses nor event times. Rows whose counts fall to zero are kept and
-- skipped by the reader. The table is derived: `switchboard db copy` does not copy it (the
-- triggers fill the target's from the copied messages), and truncating messages empties it.
--
-- shard spreads the updates of one bucket, sender and category over rows by connection
-- (pg_backend_pid() % 64): a row is locked by an update until its transaction commits, and
-- concurrent transactions (the API's creates, the webhook's callbacks, several nodes) would
-- otherwise queue on the one row of the current five minutes. A connection runs one transaction
-- at a time, so they meet only when two backends share a shard.
CREATE TABLE chart_counts (
	bucket      bigint NOT NULL,
	from_number text COLLATE "C" NOT NULL,
	category    text NOT NULL,
	shard       integer NOT NULL,
	total       bigint NOT NULL,
	delivered   bigint NOT NULL,
	failed      bigint NOT NULL,
	lat_sum     bigint NOT NULL,
	lat0        bigint NOT NULL,
	lat1        bigint NOT NULL,
	lat2        bigint NOT NULL,
	lat3        bigint NOT NULL,
	lat4        bigint NOT NULL,
	lat5        bigint NOT NULL,
	PRIMARY KEY (bucket, from_number, category, shard)
);

-- Backfill the messages stored before this table existed.
INSERT INTO chart_counts AS c (bucket, from_number, category, shard, total, delivered, failed, lat_sum,
		lat0, lat1, lat2, lat3, lat4, lat5)
SELECT cu - cu % 300000000, from_number, category, 0, sum(s)::bigint,
	sum(CASE WHEN status IN ('delivered', 'read') THEN s ELSE 0 END)::bigint, sum(CASE WHEN status IN ('failed', 'undelivered') THEN s ELSE 0 END)::bigint,
	sum(s * coalesce(lat, 0))::bigint,
	sum(CASE WHEN lat >= 0 AND lat < 1000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 1000000 AND lat < 5000000 THEN s ELSE 0 END)::bigint,
	sum(CASE WHEN lat >= 5000000 AND lat < 30000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 30000000 AND lat < 120000000 THEN s ELSE 0 END)::bigint,
	sum(CASE WHEN lat >= 120000000 AND lat < 600000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 600000000 THEN s ELSE 0 END)::bigint
FROM (SELECT (extract(epoch FROM x.created_at) * 1000000)::bigint AS cu, x.from_number, x.category, x.status, x.s,
		CASE WHEN x.status IN ('delivered', 'read') THEN (extract(epoch FROM x.first_at - x.created_at) * 1000000)::bigint END AS lat
	FROM (SELECT m.created_at, m.from_number, m.category, m.status, 1 AS s,
			(SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) AS first_at
		FROM messages m) x) y
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- chart_first_delivery is the time of a message's first delivered or read event (NULL: none).
CREATE FUNCTION chart_first_delivery(msg text) RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT min(at) FROM message_events WHERE message_id = msg AND status IN ('delivered', 'read')
$$;

-- Inserted and deleted messages are counted a statement at a time (an import, or a benchmark's
-- fill, writes many in one), updated ones a row at a time, and only when the WHEN clause of their
-- trigger says their contribution changed. A message's row and its events are written by
-- separate statements (a batch of them, or a transaction): a single statement that inserted a
-- delivered message with its delivered event would count the latency twice.
CREATE FUNCTION chart_messages_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO chart_counts AS c (bucket, from_number, category, shard, total, delivered, failed, lat_sum,
			lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT cu - cu % 300000000, from_number, category, pg_backend_pid() % 64, sum(s)::bigint,
		sum(CASE WHEN status IN ('delivered', 'read') THEN s ELSE 0 END)::bigint, sum(CASE WHEN status IN ('failed', 'undelivered') THEN s ELSE 0 END)::bigint,
		sum(s * coalesce(lat, 0))::bigint,
		sum(CASE WHEN lat >= 0 AND lat < 1000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 1000000 AND lat < 5000000 THEN s ELSE 0 END)::bigint,
		sum(CASE WHEN lat >= 5000000 AND lat < 30000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 30000000 AND lat < 120000000 THEN s ELSE 0 END)::bigint,
		sum(CASE WHEN lat >= 120000000 AND lat < 600000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 600000000 THEN s ELSE 0 END)::bigint
	FROM (SELECT (extract(epoch FROM x.created_at) * 1000000)::bigint AS cu, x.from_number, x.category, x.status, x.s,
			CASE WHEN x.status IN ('delivered', 'read') THEN (extract(epoch FROM x.first_at - x.created_at) * 1000000)::bigint END AS lat
		FROM (SELECT m.created_at, m.from_number, m.category, m.status, 1 AS s,
				(SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) AS first_at
			FROM chart_new m) x) y
	GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
	ON CONFLICT (bucket, from_number, category, shard) DO UPDATE SET total = c.total + excluded.total,
		delivered = c.delivered + excluded.delivered, failed = c.failed + excluded.failed,
		lat_sum = c.lat_sum + excluded.lat_sum, lat0 = c.lat0 + excluded.lat0, lat1 = c.lat1 + excluded.lat1,
		lat2 = c.lat2 + excluded.lat2, lat3 = c.lat3 + excluded.lat3, lat4 = c.lat4 + excluded.lat4,
		lat5 = c.lat5 + excluded.lat5;
	RETURN NULL;
END $$;

CREATE FUNCTION chart_messages_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO chart_counts AS c (bucket, from_number, category, shard, total, delivered, failed, lat_sum,
			lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT cu - cu % 300000000, from_number, category, pg_backend_pid() % 64, sum(s)::bigint,
		sum(CASE WHEN status IN ('delivered', 'read') THEN s ELSE 0 END)::bigint, sum(CASE WHEN status IN ('failed', 'undelivered') THEN s ELSE 0 END)::bigint,
		sum(s * coalesce(lat, 0))::bigint,
		sum(CASE WHEN lat >= 0 AND lat < 1000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 1000000 AND lat < 5000000 THEN s ELSE 0 END)::bigint,
		sum(CASE WHEN lat >= 5000000 AND lat < 30000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 30000000 AND lat < 120000000 THEN s ELSE 0 END)::bigint,
		sum(CASE WHEN lat >= 120000000 AND lat < 600000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 600000000 THEN s ELSE 0 END)::bigint
	FROM (SELECT (extract(epoch FROM x.created_at) * 1000000)::bigint AS cu, x.from_number, x.category, x.status, x.s,
			CASE WHEN x.status IN ('delivered', 'read') THEN (extract(epoch FROM x.first_at - x.created_at) * 1000000)::bigint END AS lat
		FROM (SELECT m.created_at, m.from_number, m.category, m.status, -1 AS s,
				(SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) AS first_at
			FROM chart_old m) x) y
	GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
	ON CONFLICT (bucket, from_number, category, shard) DO UPDATE SET total = c.total + excluded.total,
		delivered = c.delivered + excluded.delivered, failed = c.failed + excluded.failed,
		lat_sum = c.lat_sum + excluded.lat_sum, lat0 = c.lat0 + excluded.lat0, lat1 = c.lat1 + excluded.lat1,
		lat2 = c.lat2 + excluded.lat2, lat3 = c.lat3 + excluded.lat3, lat4 = c.lat4 + excluded.lat4,
		lat5 = c.lat5 + excluded.lat5;
	RETURN NULL;
END $$;

-- An updated message's contribution is taken away and added back in one upsert of its row.
CREATE FUNCTION chart_message_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO chart_counts AS c (bucket, from_number, category, shard, total, delivered, failed, lat_sum,
			lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT cu - cu % 300000000, from_number, category, pg_backend_pid() % 64, sum(s)::bigint,
		sum(CASE WHEN status IN ('delivered', 'read') THEN s ELSE 0 END)::bigint, sum(CASE WHEN status IN ('failed', 'undelivered') THEN s ELSE 0 END)::bigint,
		sum(s * coalesce(lat, 0))::bigint,
		sum(CASE WHEN lat >= 0 AND lat < 1000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 1000000 AND lat < 5000000 THEN s ELSE 0 END)::bigint,
		sum(CASE WHEN lat >= 5000000 AND lat < 30000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 30000000 AND lat < 120000000 THEN s ELSE 0 END)::bigint,
		sum(CASE WHEN lat >= 120000000 AND lat < 600000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 600000000 THEN s ELSE 0 END)::bigint
	FROM (SELECT (extract(epoch FROM x.created_at) * 1000000)::bigint AS cu, x.from_number, x.category, x.status, x.s,
			CASE WHEN x.status IN ('delivered', 'read') THEN (extract(epoch FROM x.first_at - x.created_at) * 1000000)::bigint END AS lat
		FROM (SELECT OLD.created_at, OLD.from_number, OLD.category, OLD.status, -1 AS s, chart_first_delivery(OLD.id) AS first_at
				UNION ALL
				SELECT NEW.created_at, NEW.from_number, NEW.category, NEW.status, 1, chart_first_delivery(NEW.id)) x) y
	GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
	ON CONFLICT (bucket, from_number, category, shard) DO UPDATE SET total = c.total + excluded.total,
		delivered = c.delivered + excluded.delivered, failed = c.failed + excluded.failed,
		lat_sum = c.lat_sum + excluded.lat_sum, lat0 = c.lat0 + excluded.lat0, lat1 = c.lat1 + excluded.lat1,
		lat2 = c.lat2 + excluded.lat2, lat3 = c.lat3 + excluded.lat3, lat4 = c.lat4 + excluded.lat4,
		lat5 = c.lat5 + excluded.lat5;
	RETURN NULL;
END $$;

-- A delivered or read event of a delivered message may be its first (or, deleted, have been):
-- its latency changes. Events are counted a statement at a time: AFTER ROW triggers of
-- PostgreSQL fire when the statement ends, when the other events it wrote are already visible.
CREATE FUNCTION chart_events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO chart_counts AS c (bucket, from_number, category, shard, total, delivered, failed, lat_sum,
			lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT cu - cu % 300000000, from_number, category, pg_backend_pid() % 64, sum(s)::bigint,
		sum(CASE WHEN status IN ('delivered', 'read') THEN s ELSE 0 END)::bigint, sum(CASE WHEN status IN ('failed', 'undelivered') THEN s ELSE 0 END)::bigint,
		sum(s * coalesce(lat, 0))::bigint,
		sum(CASE WHEN lat >= 0 AND lat < 1000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 1000000 AND lat < 5000000 THEN s ELSE 0 END)::bigint,
		sum(CASE WHEN lat >= 5000000 AND lat < 30000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 30000000 AND lat < 120000000 THEN s ELSE 0 END)::bigint,
		sum(CASE WHEN lat >= 120000000 AND lat < 600000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 600000000 THEN s ELSE 0 END)::bigint
	FROM (SELECT (extract(epoch FROM x.created_at) * 1000000)::bigint AS cu, x.from_number, x.category, x.status, x.s,
			CASE WHEN x.status IN ('delivered', 'read') THEN (extract(epoch FROM x.first_at - x.created_at) * 1000000)::bigint END AS lat
		FROM (WITH k AS (SELECT DISTINCT message_id FROM chart_new_events WHERE status IN ('delivered', 'read')),
				ch AS (SELECT m.created_at, m.from_number, m.category, m.status,
						(SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')
							AND e.id NOT IN (SELECT id FROM chart_new_events)) AS t_before,
						(SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) AS t_after
					FROM messages m JOIN k ON k.message_id = m.id WHERE m.status IN ('delivered', 'read'))
				SELECT created_at, from_number, category, status, -1 AS s, t_before AS first_at FROM ch WHERE t_before IS DISTINCT FROM t_after
				UNION ALL
				SELECT created_at, from_number, category, status, 1, t_after FROM ch WHERE t_before IS DISTINCT FROM t_after) x) y
	GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
	ON CONFLICT (bucket, from_number, category, shard) DO UPDATE SET total = c.total + excluded.total,
		delivered = c.delivered + excluded.delivered, failed = c.failed + excluded.failed,
		lat_sum = c.lat_sum + excluded.lat_sum, lat0 = c.lat0 + excluded.lat0, lat1 = c.lat1 + excluded.lat1,
		lat2 = c.lat2 + excluded.lat2, lat3 = c.lat3 + excluded.lat3, lat4 = c.lat4 + excluded.lat4,
		lat5 = c.lat5 + excluded.lat5;
	RETURN NULL;
END $$;

CREATE FUNCTION chart_events_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO chart_counts AS c (bucket, from_number, category, shard, total, delivered, failed, lat_sum,
			lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT cu - cu % 300000000, from_number, category, pg_backend_pid() % 64, sum(s)::bigint,
		sum(CASE WHEN status IN ('delivered', 'read') THEN s ELSE 0 END)::bigint, sum(CASE WHEN status IN ('failed', 'undelivered') THEN s ELSE 0 END)::bigint,
		sum(s * coalesce(lat, 0))::bigint,
		sum(CASE WHEN lat >= 0 AND lat < 1000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 1000000 AND lat < 5000000 THEN s ELSE 0 END)::bigint,
		sum(CASE WHEN lat >= 5000000 AND lat < 30000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 30000000 AND lat < 120000000 THEN s ELSE 0 END)::bigint,
		sum(CASE WHEN lat >= 120000000 AND lat < 600000000 THEN s ELSE 0 END)::bigint, sum(CASE WHEN lat >= 600000000 THEN s ELSE 0 END)::bigint
	FROM (SELECT (extract(epoch FROM x.created_at) * 1000000)::bigint AS cu, x.from_number, x.category, x.status, x.s,
			CASE WHEN x.status IN ('delivered', 'read') THEN (extract(epoch FROM x.first_at - x.created_at) * 1000000)::bigint END AS lat
		FROM (WITH k AS (SELECT message_id, min(at) AS gone FROM chart_old_events WHERE status IN ('delivered', 'read') GROUP BY message_id),
				ch AS (SELECT m.created_at, m.from_number, m.category, m.status, least(k.gone, c.t_after) AS t_before, c.t_after
					FROM messages m JOIN k ON k.message_id = m.id,
						LATERAL (SELECT min(e.at) AS t_after FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) c
					WHERE m.status IN ('delivered', 'read'))
				SELECT created_at, from_number, category, status, -1 AS s, t_before AS first_at FROM ch WHERE t_before IS DISTINCT FROM t_after
				UNION ALL
				SELECT created_at, from_number, category, status, 1, t_after FROM ch WHERE t_before IS DISTINCT FROM t_after) x) y
	GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
	ON CONFLICT (bucket, from_number, category, shard) DO UPDATE SET total = c.total + excluded.total,
		delivered = c.delivered + excluded.delivered, failed = c.failed + excluded.failed,
		lat_sum = c.lat_sum + excluded.lat_sum, lat0 = c.lat0 + excluded.lat0, lat1 = c.lat1 + excluded.lat1,
		lat2 = c.lat2 + excluded.lat2, lat3 = c.lat3 + excluded.lat3, lat4 = c.lat4 + excluded.lat4,
		lat5 = c.lat5 + excluded.lat5;
	RETURN NULL;
END $$;

CREATE FUNCTION chart_messages_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM chart_counts;
	RETURN NULL;
END $$;

CREATE TRIGGER chart_messages_insert AFTER INSERT ON messages
	REFERENCING NEW TABLE AS chart_new FOR EACH STATEMENT EXECUTE FUNCTION chart_messages_inserted();
CREATE TRIGGER chart_messages_delete AFTER DELETE ON messages
	REFERENCING OLD TABLE AS chart_old FOR EACH STATEMENT EXECUTE FUNCTION chart_messages_deleted();
CREATE TRIGGER chart_message_update AFTER UPDATE OF status, from_number, category, created_at ON messages
	FOR EACH ROW WHEN ((OLD.status IN ('delivered', 'read')) <> (NEW.status IN ('delivered', 'read'))
		OR (OLD.status IN ('failed', 'undelivered')) <> (NEW.status IN ('failed', 'undelivered'))
		OR OLD.from_number <> NEW.from_number OR OLD.category <> NEW.category
		OR OLD.created_at <> NEW.created_at)
	EXECUTE FUNCTION chart_message_updated();
CREATE TRIGGER chart_events_insert AFTER INSERT ON message_events
	REFERENCING NEW TABLE AS chart_new_events FOR EACH STATEMENT EXECUTE FUNCTION chart_events_inserted();
CREATE TRIGGER chart_events_delete AFTER DELETE ON message_events
	REFERENCING OLD TABLE AS chart_old_events FOR EACH STATEMENT EXECUTE FUNCTION chart_events_deleted();
CREATE TRIGGER chart_messages_truncate AFTER TRUNCATE ON messages
	FOR EACH STATEMENT EXECUTE FUNCTION chart_messages_truncated();

