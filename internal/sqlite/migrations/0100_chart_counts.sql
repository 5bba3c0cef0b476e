-- Running totals for the dashboard's delivery charts (issue 21): the charts page of the last 7
-- days read every message of the week (12 s at 1,000,000 messages); it now sums these rows, one per
-- five minutes (created_at - created_at % 300000000 microseconds), sender and category, and reads
-- messages only for the minutes at the edges of its range (see charts.go).
--
-- A row holds what DeliveryStats reports for its messages: how many, how many delivered (or
-- read) and failed (or undelivered), and the delivered ones' latency from acceptance to their
-- first delivered or read event, summed and counted by the bounds of switchboard.LatencyBounds
-- (1 s, 5 s, 30 s, 2 min, 10 min). Triggers keep the rows true in the transaction of every
-- change: a message's contribution is taken away before a change and added after it, in one
-- upsert. They fire only when what a row counts changes (a status moving between pending,
-- delivered and failed; the first delivered or read event of a delivered message), not for every
-- save. Redaction and retention
-- change neither statuses nor event times. Rows whose counts fall to zero are kept and skipped by
-- the reader. The table is derived: `switchboard db copy` does not copy it (the triggers fill the
-- target's from the copied messages).
CREATE TABLE chart_counts (
	bucket      INTEGER NOT NULL,
	from_number TEXT NOT NULL,
	category    TEXT NOT NULL,
	total       INTEGER NOT NULL,
	delivered   INTEGER NOT NULL,
	failed      INTEGER NOT NULL,
	lat_sum     INTEGER NOT NULL,
	lat0        INTEGER NOT NULL,
	lat1        INTEGER NOT NULL,
	lat2        INTEGER NOT NULL,
	lat3        INTEGER NOT NULL,
	lat4        INTEGER NOT NULL,
	lat5        INTEGER NOT NULL,
	PRIMARY KEY (bucket, from_number, category)
) WITHOUT ROWID;

-- Backfill the messages stored before this table existed.
INSERT INTO chart_counts (bucket, from_number, category, total, delivered, failed, lat_sum,
		lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT b - b % 300000000, f, c, sum(s), sum(s * d), sum(s * x), sum(s * coalesce(l, 0)),
		sum(s * coalesce(l >= 0 AND l < 1000000, 0)), sum(s * coalesce(l >= 1000000 AND l < 5000000, 0)),
		sum(s * coalesce(l >= 5000000 AND l < 30000000, 0)), sum(s * coalesce(l >= 30000000 AND l < 120000000, 0)),
		sum(s * coalesce(l >= 120000000 AND l < 600000000, 0)), sum(s * coalesce(l >= 600000000, 0))
	FROM (SELECT m.created_at AS b, m.from_number AS f, m.category AS c, 1 AS s,
		m.status IN ('delivered', 'read') AS d, m.status IN ('failed', 'undelivered') AS x,
		CASE WHEN m.status IN ('delivered', 'read') THEN (SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) - m.created_at END AS l
		FROM messages m)
	GROUP BY 1, 2, 3;

CREATE TRIGGER chart_message_insert AFTER INSERT ON messages
BEGIN
	INSERT INTO chart_counts (bucket, from_number, category, total, delivered, failed, lat_sum,
		lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT b - b % 300000000, f, c, s, s * d, s * x, s * coalesce(l, 0),
		s * coalesce(l >= 0 AND l < 1000000, 0), s * coalesce(l >= 1000000 AND l < 5000000, 0),
		s * coalesce(l >= 5000000 AND l < 30000000, 0), s * coalesce(l >= 30000000 AND l < 120000000, 0),
		s * coalesce(l >= 120000000 AND l < 600000000, 0), s * coalesce(l >= 600000000, 0)
	FROM (SELECT NEW.created_at AS b, NEW.from_number AS f, NEW.category AS c, 1 AS s,
			NEW.status IN ('delivered', 'read') AS d, NEW.status IN ('failed', 'undelivered') AS x,
			CASE WHEN NEW.status IN ('delivered', 'read') THEN (SELECT min(e.at) FROM message_events e WHERE e.message_id = NEW.id AND e.status IN ('delivered', 'read')) - NEW.created_at END AS l)
	WHERE true
	ON CONFLICT (bucket, from_number, category) DO UPDATE SET total = total + excluded.total,
		delivered = delivered + excluded.delivered, failed = failed + excluded.failed,
		lat_sum = lat_sum + excluded.lat_sum, lat0 = lat0 + excluded.lat0, lat1 = lat1 + excluded.lat1,
		lat2 = lat2 + excluded.lat2, lat3 = lat3 + excluded.lat3, lat4 = lat4 + excluded.lat4,
		lat5 = lat5 + excluded.lat5;
END;

CREATE TRIGGER chart_message_update AFTER UPDATE OF status, from_number, category, created_at ON messages
	WHEN (OLD.status IN ('delivered', 'read')) <> (NEW.status IN ('delivered', 'read'))
		OR (OLD.status IN ('failed', 'undelivered')) <> (NEW.status IN ('failed', 'undelivered'))
		OR OLD.from_number <> NEW.from_number OR OLD.category <> NEW.category
		OR OLD.created_at <> NEW.created_at
BEGIN
	INSERT INTO chart_counts (bucket, from_number, category, total, delivered, failed, lat_sum,
		lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT b - b % 300000000, f, c, sum(s), sum(s * d), sum(s * x), sum(s * coalesce(l, 0)),
		sum(s * coalesce(l >= 0 AND l < 1000000, 0)), sum(s * coalesce(l >= 1000000 AND l < 5000000, 0)),
		sum(s * coalesce(l >= 5000000 AND l < 30000000, 0)), sum(s * coalesce(l >= 30000000 AND l < 120000000, 0)),
		sum(s * coalesce(l >= 120000000 AND l < 600000000, 0)), sum(s * coalesce(l >= 600000000, 0))
	FROM (SELECT OLD.created_at AS b, OLD.from_number AS f, OLD.category AS c, -1 AS s,
			OLD.status IN ('delivered', 'read') AS d, OLD.status IN ('failed', 'undelivered') AS x,
			CASE WHEN OLD.status IN ('delivered', 'read') THEN (SELECT min(e.at) FROM message_events e WHERE e.message_id = OLD.id AND e.status IN ('delivered', 'read')) - OLD.created_at END AS l
		UNION ALL
		SELECT NEW.created_at AS b, NEW.from_number AS f, NEW.category AS c, 1 AS s,
			NEW.status IN ('delivered', 'read') AS d, NEW.status IN ('failed', 'undelivered') AS x,
			CASE WHEN NEW.status IN ('delivered', 'read') THEN (SELECT min(e.at) FROM message_events e WHERE e.message_id = NEW.id AND e.status IN ('delivered', 'read')) - NEW.created_at END AS l)
	WHERE true GROUP BY 1, 2, 3
	ON CONFLICT (bucket, from_number, category) DO UPDATE SET total = total + excluded.total,
		delivered = delivered + excluded.delivered, failed = failed + excluded.failed,
		lat_sum = lat_sum + excluded.lat_sum, lat0 = lat0 + excluded.lat0, lat1 = lat1 + excluded.lat1,
		lat2 = lat2 + excluded.lat2, lat3 = lat3 + excluded.lat3, lat4 = lat4 + excluded.lat4,
		lat5 = lat5 + excluded.lat5;
END;

CREATE TRIGGER chart_message_delete AFTER DELETE ON messages
BEGIN
	INSERT INTO chart_counts (bucket, from_number, category, total, delivered, failed, lat_sum,
		lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT b - b % 300000000, f, c, s, s * d, s * x, s * coalesce(l, 0),
		s * coalesce(l >= 0 AND l < 1000000, 0), s * coalesce(l >= 1000000 AND l < 5000000, 0),
		s * coalesce(l >= 5000000 AND l < 30000000, 0), s * coalesce(l >= 30000000 AND l < 120000000, 0),
		s * coalesce(l >= 120000000 AND l < 600000000, 0), s * coalesce(l >= 600000000, 0)
	FROM (SELECT OLD.created_at AS b, OLD.from_number AS f, OLD.category AS c, -1 AS s,
			OLD.status IN ('delivered', 'read') AS d, OLD.status IN ('failed', 'undelivered') AS x,
			CASE WHEN OLD.status IN ('delivered', 'read') THEN (SELECT min(e.at) FROM message_events e WHERE e.message_id = OLD.id AND e.status IN ('delivered', 'read')) - OLD.created_at END AS l)
	WHERE true
	ON CONFLICT (bucket, from_number, category) DO UPDATE SET total = total + excluded.total,
		delivered = delivered + excluded.delivered, failed = failed + excluded.failed,
		lat_sum = lat_sum + excluded.lat_sum, lat0 = lat0 + excluded.lat0, lat1 = lat1 + excluded.lat1,
		lat2 = lat2 + excluded.lat2, lat3 = lat3 + excluded.lat3, lat4 = lat4 + excluded.lat4,
		lat5 = lat5 + excluded.lat5;
END;

-- A delivered or read event of a delivered message that is (or, deleted, was) its earliest
-- changes its latency; a later one (a read receipt after the delivery) changes nothing.
CREATE TRIGGER chart_event_insert AFTER INSERT ON message_events
	WHEN NEW.status IN ('delivered', 'read')
		AND EXISTS (SELECT 1 FROM messages WHERE id = NEW.message_id AND status IN ('delivered', 'read'))
		AND NOT EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = NEW.message_id
			AND e.status IN ('delivered', 'read') AND e.id <> NEW.id AND e.at <= NEW.at)
BEGIN
	INSERT INTO chart_counts (bucket, from_number, category, total, delivered, failed, lat_sum,
		lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT b - b % 300000000, f, c, sum(s), sum(s * d), sum(s * x), sum(s * coalesce(l, 0)),
		sum(s * coalesce(l >= 0 AND l < 1000000, 0)), sum(s * coalesce(l >= 1000000 AND l < 5000000, 0)),
		sum(s * coalesce(l >= 5000000 AND l < 30000000, 0)), sum(s * coalesce(l >= 30000000 AND l < 120000000, 0)),
		sum(s * coalesce(l >= 120000000 AND l < 600000000, 0)), sum(s * coalesce(l >= 600000000, 0))
	FROM (SELECT m.created_at AS b, m.from_number AS f, m.category AS c, -1 AS s,
			m.status IN ('delivered', 'read') AS d, m.status IN ('failed', 'undelivered') AS x,
			CASE WHEN m.status IN ('delivered', 'read') THEN (SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read') AND e.id <> NEW.id) - m.created_at END AS l
		FROM messages m WHERE m.id = NEW.message_id
		UNION ALL
		SELECT m.created_at AS b, m.from_number AS f, m.category AS c, 1 AS s,
			m.status IN ('delivered', 'read') AS d, m.status IN ('failed', 'undelivered') AS x,
			CASE WHEN m.status IN ('delivered', 'read') THEN (SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) - m.created_at END AS l
		FROM messages m WHERE m.id = NEW.message_id)
	WHERE true GROUP BY 1, 2, 3
	ON CONFLICT (bucket, from_number, category) DO UPDATE SET total = total + excluded.total,
		delivered = delivered + excluded.delivered, failed = failed + excluded.failed,
		lat_sum = lat_sum + excluded.lat_sum, lat0 = lat0 + excluded.lat0, lat1 = lat1 + excluded.lat1,
		lat2 = lat2 + excluded.lat2, lat3 = lat3 + excluded.lat3, lat4 = lat4 + excluded.lat4,
		lat5 = lat5 + excluded.lat5;
END;

CREATE TRIGGER chart_event_delete AFTER DELETE ON message_events
	WHEN OLD.status IN ('delivered', 'read')
		AND EXISTS (SELECT 1 FROM messages WHERE id = OLD.message_id AND status IN ('delivered', 'read'))
		AND NOT EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = OLD.message_id
			AND e.status IN ('delivered', 'read') AND e.at <= OLD.at)
BEGIN
	INSERT INTO chart_counts (bucket, from_number, category, total, delivered, failed, lat_sum,
		lat0, lat1, lat2, lat3, lat4, lat5)
	SELECT b - b % 300000000, f, c, sum(s), sum(s * d), sum(s * x), sum(s * coalesce(l, 0)),
		sum(s * coalesce(l >= 0 AND l < 1000000, 0)), sum(s * coalesce(l >= 1000000 AND l < 5000000, 0)),
		sum(s * coalesce(l >= 5000000 AND l < 30000000, 0)), sum(s * coalesce(l >= 30000000 AND l < 120000000, 0)),
		sum(s * coalesce(l >= 120000000 AND l < 600000000, 0)), sum(s * coalesce(l >= 600000000, 0))
	FROM (SELECT m.created_at AS b, m.from_number AS f, m.category AS c, -1 AS s,
			m.status IN ('delivered', 'read') AS d, m.status IN ('failed', 'undelivered') AS x,
			CASE WHEN m.status IN ('delivered', 'read') THEN min(OLD.at, coalesce((SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')), OLD.at)) - m.created_at END AS l
		FROM messages m WHERE m.id = OLD.message_id
		UNION ALL
		SELECT m.created_at AS b, m.from_number AS f, m.category AS c, 1 AS s,
			m.status IN ('delivered', 'read') AS d, m.status IN ('failed', 'undelivered') AS x,
			CASE WHEN m.status IN ('delivered', 'read') THEN (SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) - m.created_at END AS l
		FROM messages m WHERE m.id = OLD.message_id)
	WHERE true GROUP BY 1, 2, 3
	ON CONFLICT (bucket, from_number, category) DO UPDATE SET total = total + excluded.total,
		delivered = delivered + excluded.delivered, failed = failed + excluded.failed,
		lat_sum = lat_sum + excluded.lat_sum, lat0 = lat0 + excluded.lat0, lat1 = lat1 + excluded.lat1,
		lat2 = lat2 + excluded.lat2, lat3 = lat3 + excluded.lat3, lat4 = lat4 + excluded.lat4,
		lat5 = lat5 + excluded.lat5;
END;

