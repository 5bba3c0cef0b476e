package postgres

import (
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// BenchmarkDashboardPages is the SQLite store's benchmark of the same name on PostgreSQL: every
// dashboard page served from 1,000,000 messages (filled with INSERT … SELECT generate_series, as
// BenchmarkClaim's), through HTTP with a logged-in session. Run it with
//
//	SWITCHBOARD_TEST_POSTGRES_URL=... go test ./internal/postgres -run '^$' -bench DashboardPages -benchtime 10x
func BenchmarkDashboardPages(b *testing.B) {
	const from = "+15005550006"
	db := newTestDB(b)
	ctx := b.Context()
	created := time.Now().UTC().Add(-48 * time.Hour)
	for _, q := range []string{
		`INSERT INTO messages (id, status, channel, category, to_number, from_number, body, segments,
			encoding, next_attempt_at, created_at, updated_at)
		SELECT 'msg_bench' || lpad(i::text, 12, '0'), 'queued', 'sms', 'transactional',
			'+1415555' || lpad((100 + i % 100)::text, 4, '0'), $2,
			'Job #' || i || ' assigned to you: 42 Elm St, 09:30-11:00. Reply HELP for help.', 1, 'GSM-7',
			$3::timestamptz + i * interval '1 microsecond', $3::timestamptz + i * interval '1 microsecond',
			$3::timestamptz + i * interval '1 microsecond'
		FROM generate_series(1, $1::int) i`,
		`ANALYZE messages`,
	} {
		var args []any
		if q[0] == 'I' {
			args = []any{1_000_000, from, created}
		}
		if _, err := db.pool.Exec(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	storetest.BenchDashboardPages(b, db, from)
}
