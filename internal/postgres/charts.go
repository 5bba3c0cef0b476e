package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// chartBucket is the span of one chart_counts row (migration 0100): the running totals of the
// messages created in five minutes. The charts page's buckets (5 min, 1 h, 6 h) are multiples of it.
const chartBucket = 5 * time.Minute

// chartLatencyRow counts one message, lat being its latency in microseconds (NULL when not
// delivered), into the buckets of switchboard.LatencyBounds, as latencyColumns does for a group.
func chartLatencyRow() string {
	var b strings.Builder
	lo := int64(-1)
	for _, bound := range switchboard.LatencyBounds {
		hi := bound.Microseconds()
		fmt.Fprintf(&b, ", CASE WHEN lat > %d AND lat <= %d THEN 1 ELSE 0 END", lo, hi-1)
		lo = hi - 1
	}
	fmt.Fprintf(&b, ", CASE WHEN lat > %d THEN 1 ELSE 0 END", lo)
	return b.String()
}

// qChartStats adds up the chart_counts rows of the whole five minutes in [$4, $5) (as
// microseconds $6, $7) and the messages themselves of the edges [$2, $4) and [$5, $3) (at most
// five minutes each: the last one is the minutes of the current, unfinished row), read as
// deliveryStatsScan reads them.
var qChartStats = `WITH d AS (
		SELECT (extract(epoch FROM m.created_at) * 1000000)::bigint AS cu, m.from_number, m.category, m.status,
			CASE WHEN m.status IN ('delivered', 'read') THEN
				(extract(epoch FROM (SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) - m.created_at) * 1000000)::bigint
			END AS lat
		FROM messages m WHERE m.created_at >= $2 AND m.created_at < $4
		UNION ALL
		SELECT (extract(epoch FROM m.created_at) * 1000000)::bigint, m.from_number, m.category, m.status,
			CASE WHEN m.status IN ('delivered', 'read') THEN
				(extract(epoch FROM (SELECT min(e.at) FROM message_events e WHERE e.message_id = m.id AND e.status IN ('delivered', 'read')) - m.created_at) * 1000000)::bigint
			END
		FROM messages m WHERE m.created_at >= $5 AND m.created_at < $3),
	r (b, from_number, category, total, delivered, failed, lat_sum, lat0, lat1, lat2, lat3, lat4, lat5) AS (
		SELECT cu - (cu % $1), from_number, category, 1,
			CASE WHEN status IN ('delivered', 'read') THEN 1 ELSE 0 END,
			CASE WHEN status IN ('failed', 'undelivered') THEN 1 ELSE 0 END,
			coalesce(lat, 0)` + chartLatencyRow() + `
		FROM d
		UNION ALL
		SELECT bucket - (bucket % $1), from_number, category, total, delivered, failed, lat_sum,
			lat0, lat1, lat2, lat3, lat4, lat5
		FROM chart_counts WHERE bucket >= $6 AND bucket < $7)
	SELECT b, from_number, category, sum(total)::bigint, sum(delivered)::bigint, sum(failed)::bigint,
		sum(lat_sum)::bigint, sum(lat0)::bigint, sum(lat1)::bigint, sum(lat2)::bigint, sum(lat3)::bigint,
		sum(lat4)::bigint, sum(lat5)::bigint
	FROM r GROUP BY b, from_number, category HAVING sum(total) > 0 ORDER BY b, from_number, category`

// DeliveryStats aggregates messages by time bucket, sender and category. A bucket that is a
// multiple of five minutes is read from the running totals of chart_counts, kept by the triggers
// of migration 0100 in the transaction of every change, plus the messages of the range's edges
// that do not fill five minutes; the result is the one reading every message gives
// (deliveryStatsScan), which other buckets still do.
func (db *DB) DeliveryStats(ctx context.Context, since, until time.Time, bucket time.Duration) ([]switchboard.DeliveryStat, error) {
	bu, s, u := bucket.Microseconds(), since.UnixMicro(), until.UnixMicro()
	base := chartBucket.Microseconds()
	if bu <= 0 || bu%base != 0 || s < 0 {
		return db.deliveryStatsScan(ctx, since, until, bucket)
	}
	// [lo, hi): the whole rows within [s, u).
	lo, hi := s+(base-s%base)%base, u-u%base
	if lo >= hi {
		lo, hi = u, u
	}
	loT, hiT := time.UnixMicro(lo).UTC(), time.UnixMicro(hi).UTC()
	if lo == u {
		loT, hiT = until, until
	}
	rows, err := db.pool.Query(ctx, qChartStats, bu, since, until, loT, hiT, lo, hi)
	if err != nil {
		return nil, wrap("delivery stats", err)
	}
	defer rows.Close()
	var out []switchboard.DeliveryStat
	for rows.Next() {
		var (
			st                               switchboard.DeliveryStat
			b, sum, total, delivered, failed int64
			lat                              [6]int64
			from, category                   string
		)
		dst := []any{&b, &from, &category, &total, &delivered, &failed, &sum}
		for i := range lat {
			dst = append(dst, &lat[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, wrap("delivery stats", err)
		}
		st.Bucket, st.From, st.Category = time.UnixMicro(b).UTC(), from, switchboard.Category(category)
		st.Total, st.Delivered, st.Failed = int(total), int(delivered), int(failed)
		st.LatencySum = time.Duration(sum) * time.Microsecond
		for i := range lat {
			st.Latency[i] = int(lat[i])
		}
		out = append(out, st)
	}
	return out, rowsErr("delivery stats", rows)
}
