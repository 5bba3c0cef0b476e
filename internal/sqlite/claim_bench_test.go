package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// fillQueue inserts n queued messages in one transaction: the backlog a claim benchmark runs
// against. They belong to one sender (the worst case for a claim: its whole backlog is in one
// range of messages_due), are due in the past in creation order, and carry an ordinary body.
func fillQueue(ctx context.Context, db *DB, n int, from string, due time.Time) error {
	return db.write(ctx, func(t *wtx) error {
		_, err := t.exec(`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?1)
			INSERT INTO messages (id, status, channel, category, to_number, from_number, body, segments,
				encoding, next_attempt_at, created_at, updated_at)
			SELECT printf('msg_bench%012d', i), 'queued', 'sms', 'transactional',
				printf('+1415555%04d', 100 + i % 100), ?2,
				'Job #' || i || ' assigned to you: 42 Elm St, 09:30-11:00. Reply HELP for help.', 1, 'GSM-7',
				?3 + i, ?3 + i, ?3 + i
			FROM g`, n, from, micros(due))
		return err
	})
}

// BenchmarkClaim measures what the dispatcher's loop costs the store at several depths of the
// queue: ClaimMessages of a batch of 100 (the store's claim cost), then ReleaseLeases so that the
// next iteration claims again, and DueSenders and NextDueAt as every scan calls them. The claim's
// cost must not grow with the queue (the messages_due index makes it read a batch of entries
// whatever the table's size). The 1,000,000 case fills its queue first (tens of seconds); run it
// with -bench Claim -benchtime 200x.
func BenchmarkClaim(b *testing.B) {
	const from = "+15005550006"
	due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := due.Add(24 * time.Hour)
	for _, queued := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("queued=%d", queued), func(b *testing.B) {
			ctx := b.Context()
			db, err := Open(ctx, filepath.Join(b.TempDir(), "claim.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := fillQueue(ctx, db, queued, from, due); err != nil {
				b.Fatal(err)
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
