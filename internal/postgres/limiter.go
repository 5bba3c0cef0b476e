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
// nanoseconds since the epoch: now is the database's clock (now()), or $2 when the store runs
// on its callers' clock (WithCallerClock); $3 (burst-cost)·interval, $4 cost·interval, $5 the
// longest wait. A new sender's bucket is full, so its request goes now. Otherwise the request
// may go at at = max(now, tat - $3); when at - now <= $5 the row moves to tat = max(tat, at) + $4
// and the wait at - now is returned, else the row is left alone and no row is returned. ON
// CONFLICT DO UPDATE reads and locks the latest committed row, so reservations of all nodes apply
// one after the other; the row is locked for this statement only. now() is fixed for the
// statement, so every mention of it is the same instant.
const qReserve = `INSERT INTO sender_buckets AS b (from_number, tat_ns, last_at_ns)
	SELECT $1, n.now_ns + $4::bigint, n.now_ns
	FROM (SELECT COALESCE($2::bigint, (EXTRACT(EPOCH FROM now()) * 1000000000)::bigint) AS now_ns) n
	ON CONFLICT (from_number) DO UPDATE SET
		last_at_ns = GREATEST(EXCLUDED.last_at_ns, b.tat_ns - $3),
		tat_ns = GREATEST(b.tat_ns, GREATEST(EXCLUDED.last_at_ns, b.tat_ns - $3)) + $4
	WHERE GREATEST(EXCLUDED.last_at_ns, b.tat_ns - $3) - EXCLUDED.last_at_ns <= $5
	RETURNING last_at_ns - COALESCE($2::bigint, (EXTRACT(EPOCH FROM now()) * 1000000000)::bigint)`

// Reserve reserves cost segments of sender s's budget at the earliest time not before now, for
// the whole cluster: it has the signature of dispatch.Limiter's method, and a DB is the
// dispatcher's limiter when several nodes share one database. When that time is more than
// maxWait away it reserves nothing and returns ok=false. A negative rate means unlimited and
// costs no query.
//
// The arithmetic is dispatch.GCRA's, to the nanosecond, on a row of sender_buckets: over any
// window W the cluster sends at most Burst + Rate·W segments of a sender, and a backlog drains
// at exactly Rate. The bucket runs on the database's clock, not the callers': the answer is the
// wait the database computed, added to the caller's now, so a node whose clock is off gets the
// same spacing as the others and cannot move the bucket (WithCallerClock, for tests, compares
// the callers' times instead).
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
	var nowNS *int64
	if db.callerClock {
		n := now.UnixNano()
		nowNS = &n
	}
	var waitNS int64
	err = db.pool.QueryRow(ctx, qReserve, s.From, nowNS, int64(time.Duration(burst-cost)*interval),
		int64(time.Duration(cost)*interval), int64(maxWait)).Scan(&waitNS)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return time.Time{}, false, nil
		}
		return time.Time{}, false, wrap("reserve", err)
	}
	// Derived from now, so that at keeps now's location and monotonic clock reading.
	return now.Add(time.Duration(waitNS)), true, nil
}
