package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// BenchmarkClaim measures what the dispatcher's loop costs the store at several depths of the
// queue, as the SQLite store's benchmark of the same name does: ClaimMessages of a batch of 100,
// ReleaseLeases, then DueSenders and NextDueAt. The claim's cost must not grow with the queue.
// Run it with -bench Claim -benchtime 200x (the 1,000,000 case fills its queue first).
func BenchmarkClaim(b *testing.B) {
	const from = "+15005550006"
	due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := due.Add(24 * time.Hour)
	for _, queued := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("queued=%d", queued), func(b *testing.B) {
			db := newTestDB(b)
			ctx := b.Context()
			for _, q := range []string{
				`INSERT INTO messages (id, status, channel, category, to_number, from_number, body, segments,
					encoding, next_attempt_at, created_at, updated_at)
				SELECT 'msg_bench' || lpad(i::text, 12, '0'), 'queued', 'sms', 'transactional',
					'+1415555' || lpad((100 + i % 100)::text, 4, '0'), $2,
					'Job #' || i || ' assigned to you: 42 Elm St, 09:30-11:00. Reply HELP for help.', 1, 'GSM-7',
					$3::timestamptz + i * interval '1 microsecond', $3::timestamptz, $3::timestamptz
				FROM generate_series(1, $1::int) i`,
				`ANALYZE messages`,
			} {
				var args []any
				if q[0] == 'I' {
					args = []any{queued, from, due}
				}
				if _, err := db.pool.Exec(ctx, q, args...); err != nil {
					b.Fatal(err)
				}
			}
			var claim, release, scan time.Duration
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				msgs, err := db.ClaimMessages(ctx, switchboard.ClaimParams{
					From: from, Owner: "bench", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 100,
				})
				if err != nil || len(msgs) != 100 {
					b.Fatalf("claim: %d messages, %v", len(msgs), err)
				}
				t1 := time.Now()
				if n, err := db.ReleaseLeases(ctx, "bench"); err != nil || n != 100 {
					b.Fatalf("release: %d, %v", n, err)
				}
				t2 := time.Now()
				if s, err := db.DueSenders(ctx, now); err != nil || len(s) != 1 {
					b.Fatalf("due senders: %v, %v", s, err)
				}
				if at, err := db.NextDueAt(ctx); err != nil || at == nil {
					b.Fatalf("next due: %v, %v", at, err)
				}
				t3 := time.Now()
				claim, release, scan = claim+t1.Sub(t0), release+t2.Sub(t1), scan+t3.Sub(t2)
			}
			n := float64(b.N)
			b.ReportMetric(float64(claim.Microseconds())/n, "claim-µs")
			b.ReportMetric(float64(release.Microseconds())/n, "release-µs")
			b.ReportMetric(float64(scan.Microseconds())/n, "scan-µs")
		})
	}
}
