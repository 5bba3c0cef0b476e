package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// fillWithMetadata stores n messages as fillQueue does, each with metadata
// {"job_id": i % jobs, "customer": "c" + i % 1000}, and indexes that metadata with the statement
// of migration 0090's backfill.
func fillWithMetadata(ctx context.Context, db *DB, n, jobs int, due time.Time) error {
	return db.write(ctx, func(t *wtx) error {
		if _, err := t.exec(`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?1)
			INSERT INTO messages (id, status, channel, category, to_number, from_number, body, segments,
				encoding, metadata, next_attempt_at, created_at, updated_at)
			SELECT printf('msg_bench%012d', i), 'delivered', 'sms', 'transactional',
				printf('+1415555%04d', 100 + i % 100), '+15005550006',
				'Job #' || i || ' assigned to you: 42 Elm St, 09:30-11:00. Reply HELP for help.', 1, 'GSM-7',
				json_object('job_id', CAST(i % ?2 AS TEXT), 'customer', 'c' || (i % 1000)), ?3 + i, ?3 + i, ?3 + i
			FROM g`, n, jobs, micros(due)); err != nil {
			return err
		}
		_, err := t.exec(`INSERT INTO message_metadata (key, value, message_id)
			SELECT j.key, j.value, m.id FROM messages m, json_each(m.metadata) j
			WHERE m.metadata IS NOT NULL AND json_valid(m.metadata) AND json_type(m.metadata) = 'object'
				AND j.type = 'text'`)
		return err
	})
}

// BenchmarkListByMetadata measures ListMessages by one metadata pair on 1,000,000 messages (the
// fill takes a minute; run it with -bench ListByMetadata -benchtime 2000x), and reports the p50
// and p99 of one lookup: a rare pair (job_id, 10 messages: the whole answer), the first page of
// a common one (customer, 1,000 messages) and a page deep inside it (a cursor). The target is a
// p99 under 50 ms; the index makes each a range read of its page, whatever the table's size.
func BenchmarkListByMetadata(b *testing.B) {
	const n, jobs = 1_000_000, 100_000
	due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := b.Context()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	t0 := time.Now()
	if err := fillWithMetadata(ctx, db, n, jobs, due); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d messages with metadata in %v", n, time.Since(t0).Round(time.Millisecond))
	for _, tc := range []struct {
		name string
		f    func(i int) (switchboard.MessageFilter, int)
	}{
		{"rare pair", func(i int) (switchboard.MessageFilter, int) {
			return switchboard.MessageFilter{Metadata: &switchboard.MetadataMatch{Key: "job_id", Value: fmt.Sprint(i * 7919 % jobs)}, Limit: 50}, n / jobs
		}},
		{"common pair, first page", func(i int) (switchboard.MessageFilter, int) {
			return switchboard.MessageFilter{Metadata: &switchboard.MetadataMatch{Key: "customer", Value: fmt.Sprintf("c%d", i%1000)}, Limit: 50}, 50
		}},
		{"common pair, deep page", func(i int) (switchboard.MessageFilter, int) {
			c := i % 1000
			// The 500th newest message of customer c (IDs of c are those with i % 1000 == c).
			cursor := fmt.Sprintf("msg_bench%012d", n-n%1000+c-500*1000)
			if c > n%1000 {
				cursor = fmt.Sprintf("msg_bench%012d", n-n%1000-1000+c-499*1000)
			}
			return switchboard.MessageFilter{Metadata: &switchboard.MetadataMatch{Key: "customer", Value: fmt.Sprintf("c%d", c)}, Limit: 50, Cursor: cursor}, 50
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var took []time.Duration
			i := 0
			for b.Loop() {
				f, want := tc.f(i)
				i++
				t0 := time.Now()
				msgs, _, err := db.ListMessages(ctx, f)
				took = append(took, time.Since(t0))
				if err != nil || len(msgs) != want {
					b.Fatalf("%+v: %d messages, %v; want %d", f, len(msgs), err, want)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
