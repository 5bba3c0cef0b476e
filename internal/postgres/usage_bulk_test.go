package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
)

// bulkMessages inserts $1 messages in one statement, created from $2 on, one a second: tenants
// acme and default, senders +15005550006 and +15005550007, statuses queued, delivered and failed,
// 1 to 3 segments, some priced. api_key_id is $3 (empty: none); $4 keeps batches' IDs apart.
const bulkMessages = `INSERT INTO messages (id, status, channel, category, to_number, from_number, body, segments,
		encoding, next_attempt_at, created_at, updated_at, tenant, api_key_id, price, price_unit, price_micros)
	SELECT 'msg_bulk' || $4::text || lpad(i::text, 9, '0'),
		CASE i % 3 WHEN 0 THEN 'queued' WHEN 1 THEN 'delivered' ELSE 'failed' END,
		'sms', CASE WHEN i % 5 = 0 THEN 'marketing' ELSE 'transactional' END,
		'+1415555' || lpad((i % 1000)::text, 4, '0'), '+150055500' || (6 + i % 2)::text, 'bulk', 1 + i % 3, 'GSM-7',
		$2::timestamptz + i * interval '1 second', $2::timestamptz + i * interval '1 second', $2::timestamptz + i * interval '1 second',
		CASE WHEN i % 4 = 0 THEN 'acme' ELSE 'default' END, $3::text,
		CASE WHEN i % 7 = 0 THEN '-0.00790' END, CASE WHEN i % 7 = 0 THEN 'USD' END, CASE WHEN i % 7 = 0 THEN 7900 END
	FROM generate_series(1, $1::int) i`

// usageRows is usage_daily summed per tenant and day, and what it should hold: the same sums
// counted from the messages, calls and verifications stored.
func usageRows(ctx context.Context, t *testing.T, q queryer) (got, want string) {
	t.Helper()
	read := func(sql string) string {
		rows, err := q.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	got = read(`SELECT concat_ws(' ', tenant, day, sum(messages), sum(segments), sum(calls), sum(verifications), sum(spend_micros))
		FROM usage_daily GROUP BY tenant, day
		HAVING sum(messages) <> 0 OR sum(calls) <> 0 OR sum(verifications) <> 0 OR sum(spend_micros) <> 0
		ORDER BY tenant, day`)
	want = read(`SELECT concat_ws(' ', tenant, day, sum(m), sum(s), sum(c), sum(v), sum(p)) FROM (
			SELECT tenant, (created_at AT TIME ZONE 'UTC')::date AS day, 1 AS m, segments AS s, 0 AS c, 0 AS v,
				coalesce(price_micros, 0) AS p FROM messages
			UNION ALL SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, 0, 0, 1, 0, 0 FROM calls
			UNION ALL SELECT tenant, (created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 1, 0 FROM verifications) x
		GROUP BY tenant, day ORDER BY tenant, day`)
	return got, want
}

// chartRows is chart_counts summed per five minutes, sender and category, and what it should
// hold for messages without events (no latencies).
func chartRows(ctx context.Context, t *testing.T, q queryer) (got, want string) {
	t.Helper()
	read := func(sql string) string {
		rows, err := q.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	got = read(`SELECT concat_ws(' ', bucket, from_number, category, sum(total), sum(delivered), sum(failed))
		FROM chart_counts GROUP BY bucket, from_number, category HAVING sum(total) <> 0
		ORDER BY bucket, from_number, category`)
	want = read(`SELECT concat_ws(' ', bucket, from_number, category, count(*),
			count(*) FILTER (WHERE status IN ('delivered', 'read')), count(*) FILTER (WHERE status IN ('failed', 'undelivered')))
		FROM (SELECT cu - cu % 300000000 AS bucket, from_number, category, status
			FROM (SELECT (extract(epoch FROM created_at) * 1000000)::bigint AS cu, * FROM messages) m) x
		GROUP BY bucket, from_number, category ORDER BY bucket, from_number, category`)
	return got, want
}

// TestUsageBulkStatements: usage_daily and chart_counts stay exact through statements of many
// rows (an INSERT … SELECT, a DELETE, TRUNCATE), and a statement counts its rows with one upsert
// per tenant and day (migration 0170): 0140's triggers upserted once per row, which made a
// statement of n rows cost O(n²). pg_stat_xact_user_tables counts the rows this transaction
// wrote to usage_daily.
func TestUsageBulkStatements(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	day := time.Date(2031, 3, 4, 23, 0, 0, 0, time.UTC) // the rows run into the next UTC day
	const n = 6000

	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, bulkMessages, n, day, "", "a"); err != nil {
		t.Fatal(err)
	}
	written := func(table string) int64 {
		t.Helper()
		var w int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) FROM pg_stat_xact_user_tables
			WHERE schemaname = current_schema() AND relname = $1`, table).Scan(&w); err != nil {
			t.Fatal(err)
		}
		return w
	}
	// 2 tenants × 2 days.
	if w := written("usage_daily"); w != 4 {
		t.Errorf("%d messages in one statement wrote %d rows of usage_daily, want 4 (one per tenant and day)", n, w)
	}
	var buckets int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT DISTINCT ((extract(epoch FROM created_at) * 1000000)::bigint / 300000000),
		from_number, category FROM messages) x`).Scan(&buckets); err != nil {
		t.Fatal(err)
	}
	if w := written("chart_counts"); w != buckets {
		t.Errorf("%d messages in one statement wrote %d rows of chart_counts, want %d (one per five minutes, sender and category)", n, w, buckets)
	}
	for _, q := range []string{
		`INSERT INTO calls (id, token, status, version, created_at, data, tenant)
		SELECT 'call_bulk' || i, 'tok_bulk' || i, 'completed', 1, $1::timestamptz + i * interval '1 minute', '{}',
			CASE WHEN i % 2 = 0 THEN 'acme' ELSE 'default' END
		FROM generate_series(1, 200) i`,
		`INSERT INTO verifications (id, status, phone, channel, backend, code_length, sends, checks, max_sends, max_checks,
			expires_at, version, created_at, updated_at, tenant)
		SELECT 'ver_bulk' || i, 'approved', '+1555' || i, 'sms', 'builtin', 6, 1, 0, 5, 5,
			$1::timestamptz, 1, $1::timestamptz + i * interval '1 minute', $1::timestamptz, CASE WHEN i % 3 = 0 THEN 'acme' ELSE 'default' END
		FROM generate_series(1, 300) i`,
	} {
		if _, err := tx.Exec(ctx, q, day); err != nil {
			t.Fatal(err)
		}
	}
	if w := written("usage_daily"); w != 4+4+4 {
		t.Errorf("with 200 calls and 300 verifications in a statement each, %d rows of usage_daily written, want 12", w)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	exact := func(stage string) {
		t.Helper()
		if got, want := usageRows(ctx, t, db.pool); got != want {
			t.Errorf("%s: usage_daily\n%s\nwant\n%s", stage, got, want)
		}
		if got, want := chartRows(ctx, t, db.pool); got != want {
			t.Errorf("%s: chart_counts\n%s\nwant\n%s", stage, got, want)
		}
	}
	exact("inserted")

	for _, q := range []string{
		`DELETE FROM messages WHERE id LIKE 'msg_bulka%' AND substr(id, length(id), 1) IN ('1', '4', '7')`,
		`DELETE FROM calls WHERE tenant = 'acme'`,
		`DELETE FROM verifications WHERE created_at < $1::timestamptz + interval '30 minutes'`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = []any{day}
		}
		if _, err := db.pool.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exact("deleted")

	// TRUNCATE fires no DELETE trigger: its own triggers take the rows out.
	for _, table := range []string{"calls", "verifications", "messages"} {
		if _, err := db.pool.Exec(ctx, "TRUNCATE "+table+" CASCADE"); err != nil {
			t.Fatal(err)
		}
		exact("truncated " + table)
	}
	if _, err := db.pool.Exec(ctx, bulkMessages, 100, day, "", "b"); err != nil {
		t.Fatal(err)
	}
	exact("inserted after TRUNCATE")
}

// TestQuotaBulkStatement: a statement of several messages an application asked for is checked
// with all of them: it is stored whole when they fit in the tenant's day and refused whole when
// they do not.
func TestQuotaBulkStatement(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	day := time.Date(2031, 3, 4, 0, 0, 0, 0, time.UTC)
	if err := db.CreateTenant(ctx, &switchboard.Tenant{ID: "acme", Name: "acme", Environment: switchboard.EnvProduction,
		DailyMessages: 100, CreatedAt: day, UpdatedAt: day}); err != nil {
		t.Fatal(err)
	}
	// Statuses cycle through queued, delivered and failed: one in three is checked, and the
	// statement with one is checked with all its messages of the tenant's day.
	insert := func(n int, batch string) error {
		_, err := db.pool.Exec(ctx, bulkMessages, n, day, "key_acme", batch)
		return err
	}
	// 400 messages: 100 of acme (i % 4 = 0), 300 of default.
	if err := insert(400, "a"); err != nil {
		t.Fatalf("100 messages of acme against a limit of 100: %v", err)
	}
	err := insert(12, "b") // acme's 4th, 8th and 12th: the 12th is queued
	if err == nil || !strings.Contains(err.Error(), "switchboard_quota:daily_messages") {
		t.Fatalf("one more message of acme: %v, want the daily_messages quota", err)
	}
	if refused := switchboard.QuotaFromDBError(err, "acme", day); refused == nil || switchboard.ErrorCodeOf(refused) != switchboard.CodeQuotaExceeded {
		t.Errorf("QuotaFromDBError(%v) = %v, want quota_exceeded", err, refused)
	}
	var stored int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE tenant = 'acme'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 100 {
		t.Errorf("%d messages of acme stored, want 100", stored)
	}
	if got, want := usageRows(ctx, t, db.pool); got != want {
		t.Errorf("usage_daily\n%s\nwant\n%s", got, want)
	}
	// Another day starts over, but not for 101 messages at once, even when the last of them are
	// not checked themselves (acme's 400th is delivered, its 404th failed).
	day = day.Add(48 * time.Hour)
	if err := insert(404, "c"); err == nil || !strings.Contains(err.Error(), "daily_messages") {
		t.Errorf("101 messages of acme in one statement: %v, want the daily_messages quota", err)
	}
	if err := insert(403, "d"); err != nil {
		t.Errorf("100 messages of acme in one statement: %v", err)
	}
}
