-- sender_buckets is the cluster-wide rate limiter (PostgreSQL only; see limiter.go): one row per
-- rate-limited sender holding its GCRA state, updated by one statement per reservation.
--
-- Times are integer nanoseconds since the Unix epoch rather than timestamptz so that the
-- arithmetic is exactly that of the in-process limiter (dispatch.GCRA), whose emission interval
-- (1 s / rate) is rarely a whole number of microseconds.
CREATE TABLE sender_buckets (
	from_number text COLLATE "C" PRIMARY KEY,
	tat_ns      bigint NOT NULL, -- theoretical arrival time: when the bucket is full again
	last_at_ns  bigint NOT NULL  -- the time granted to the latest reservation
);
