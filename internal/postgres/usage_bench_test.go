package postgres

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkBulkInsert times one INSERT … SELECT of n messages (bulkMessages: two tenants, two
// days, two senders) into a fresh schema, with the triggers that keep usage_daily and
// chart_counts. 0140's per-row usage trigger made it quadratic in n (see docs/performance.md).
// Run it with
//
//	SWITCHBOARD_TEST_POSTGRES_URL=... go test ./internal/postgres -run '^$' -bench BulkInsert -benchtime 1x
func BenchmarkBulkInsert(b *testing.B) {
	day := time.Date(2031, 3, 4, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{50_000, 200_000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				db := newTestDB(b)
				b.StartTimer()
				if _, err := db.pool.Exec(b.Context(), bulkMessages, n, day, "", "a"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "messages/s")
		})
	}
}

// BenchmarkInsertsInOneTransaction times n single-row INSERTs (a PL/pgSQL loop) in one
// transaction: the triggers' upserts (of usage_daily and chart_counts) run once per statement,
// so here once per row, and each walks the versions of its row the earlier statements left.
// Switchboard's own paths do not write this way (an accept is a transaction; db copy one COPY per
// table); the benchmark shows what a script that did would pay.
func BenchmarkInsertsInOneTransaction(b *testing.B) {
	day := time.Date(2031, 3, 4, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{10_000, 20_000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				db := newTestDB(b)
				b.StartTimer()
				q := fmt.Sprintf(`DO $$ BEGIN FOR i IN 1..%d LOOP
					INSERT INTO messages (id, status, channel, category, to_number, from_number, body, segments, encoding,
						next_attempt_at, created_at, updated_at)
					VALUES ('msg_tx' || i, 'queued', 'sms', 'transactional', '+14155550100', '+15005550006', 'one', 1, 'GSM-7',
						'%s'::timestamptz, '%[2]s'::timestamptz, '%[2]s'::timestamptz);
				END LOOP; END $$`, n, day.Format(time.RFC3339))
				if _, err := db.pool.Exec(b.Context(), q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "messages/s")
		})
	}
}
