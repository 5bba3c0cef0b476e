package postgres

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
)

// qReserve is GCRA (see dispatch.MemoryLimiter) as one statement on the sender's row, times in
// nanoseconds since the epoch: $2 the caller's now, $3 (burst-cost)·interval, $4 cost·interval,
// $5 the longest wait, $6 how far the caller's now may be from the database's clock
// (clock_timestamp()) and still be used; beyond it the database's is used instead, so that a
// caller whose clock is wrong can move the bucket by at most $6. A new sender's bucket is full,
// so its request goes now. Otherwise the request may go at at = max(now, tat - $3); when
// at - now <= $5 the row moves to tat = max(tat, at) + $4 and the wait at - now is returned,
// else the row is left alone and no row is returned. ON CONFLICT DO UPDATE reads and locks the
// latest committed row, so reservations of all nodes apply one after the other; the row is
// locked for this statement only. The CTE is evaluated once (it is referenced twice, and
// clock_timestamp() is volatile), so both mentions of now are the same instant.
const qReserve = `WITH n AS (
		SELECT CASE WHEN abs($2::bigint - d.db_ns) <= $6::bigint THEN $2::bigint ELSE d.db_ns END AS now_ns
		FROM (SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000000)::bigint AS db_ns) d)
	INSERT INTO sender_buckets AS b (from_number, tat_ns, last_at_ns)
	SELECT $1, n.now_ns + $4::bigint, n.now_ns FROM n
	ON CONFLICT (from_number) DO UPDATE SET
		last_at_ns = GREATEST(EXCLUDED.last_at_ns, b.tat_ns - $3),
		tat_ns = GREATEST(b.tat_ns, GREATEST(EXCLUDED.last_at_ns, b.tat_ns - $3)) + $4
	WHERE GREATEST(EXCLUDED.last_at_ns, b.tat_ns - $3) - EXCLUDED.last_at_ns <= $5
	RETURNING last_at_ns - (SELECT now_ns FROM n)`

// bucketClockTolerance is how far a caller's now may be from the database's clock and still be
// the bucket's now. Nodes run on the database's clock (internal/clocksync), within a round trip,
// so their own times are used and their reservations are exact to the nanosecond in their time;
// a node whose correction is wrong moves the bucket by at most this much.
const bucketClockTolerance = time.Second

// Reserve reserves cost segments of sender s's budget at the earliest time not before now, for
// the whole cluster: it has the signature of dispatch.Limiter's method, and a DB is the
// dispatcher's limiter when several nodes share one database. When that time is more than
// maxWait away it reserves nothing and returns ok=false. A negative rate means unlimited and
// costs no query.
//
// The arithmetic is dispatch.GCRA's, to the nanosecond, on a row of sender_buckets: over any
// window W the cluster sends at most Burst + Rate·W segments of a sender, and a backlog drains
// at exactly Rate. The bucket runs on the callers' times only while they are within
// bucketClockTolerance of the database's clock, else on the database's: the answer is the wait,
// added to the caller's now, so a node whose clock is off gets the same spacing as the others and
// cannot push the bucket into the future (WithCallerClock, for tests with a virtual clock, always
// uses the callers' times).
func (db *DB) Reserve(ctx context.Context, s switchboard.Sender, cost int, now time.Time, maxWait time.Duration) (at time.Time, ok bool, err error) {
	if s.Rate < 0 {
		return now, true, nil
	}
	if maxWait < 0 {
		return time.Time{}, false, nil // a reservation never goes before now
	}
	cost, burst := max(cost, 1), max(s.Burst, 1)
	fInterval := float64(time.Second) / s.Rate
	if math.IsNaN(fInterval) || fInterval >= math.MaxInt64/(1<<20) {
		return time.Time{}, false, switchboard.Errorf(switchboard.EINVALID, "invalid_rate",
			"sender %s has rate %v, which is neither negative (unlimited) nor positive", s.From, s.Rate)
	}
	interval := time.Duration(fInterval)
	tolerance := int64(bucketClockTolerance)
	if db.callerClock {
		tolerance = math.MaxInt64
	}
	var waitNS int64
	err = db.pool.QueryRow(ctx, qReserve, s.From, now.UnixNano(), int64(time.Duration(burst-cost)*interval),
		int64(time.Duration(cost)*interval), int64(maxWait), tolerance).Scan(&waitNS)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return time.Time{}, false, nil
		}
		return time.Time{}, false, wrap("reserve", err)
	}
	// Derived from now, so that at keeps now's location and monotonic clock reading.
	return now.Add(time.Duration(waitNS)), true, nil
}
