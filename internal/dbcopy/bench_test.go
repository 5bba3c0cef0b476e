package dbcopy

import (
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// BenchmarkCopyToPostgres times `switchboard db copy` (Copy) of a SQLite database holding
// SWITCHBOARD_BENCH_MESSAGES messages (50,000 unless set), each with its created event, over two
// tenants and two days, into a fresh PostgreSQL schema: one COPY per table in one transaction,
// whose triggers fill usage_daily and chart_counts. Run it with
//
//	SWITCHBOARD_TEST_POSTGRES_URL=... go test ./internal/dbcopy -run '^$' -bench CopyToPostgres -benchtime 1x
func BenchmarkCopyToPostgres(b *testing.B) {
	n := 50_000
	if v := os.Getenv("SWITCHBOARD_BENCH_MESSAGES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	pgtest.BaseURL(b) // skips without a server, before the fill
	ctx := b.Context()
	path := filepath.Join(b.TempDir(), "source.db")
	src, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	created := time.Date(2031, 3, 4, 12, 0, 0, 0, time.UTC)
	m := &switchboard.Message{
		ID: "msg_template", Status: switchboard.StatusDelivered, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: toA, From: fromA, Pool: switchboard.DefaultPool,
		Body: "Your technician is on the way", Segments: 1, Encoding: switchboard.EncodingGSM7, APIKeyID: "key_bench",
		NextAttemptAt: created, CreatedAt: created, UpdatedAt: created,
	}
	if _, _, err := src.CreateMessage(ctx, m, nil); err != nil {
		b.Fatal(err)
	}
	src.Close()
	// The template's rows copied n times: messages 2 s apart (n = 50,000 spans more than a
	// day), every fourth of tenant acme.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	series := `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ` + strconv.Itoa(n) + `) `
	dup := func(table, where string, set map[string]string) {
		b.Helper()
		rows, err := raw.QueryContext(ctx, "SELECT name FROM pragma_table_info('"+table+"')")
		if err != nil {
			b.Fatal(err)
		}
		var cols, vals []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				b.Fatal(err)
			}
			if c == "id" && table == "message_events" {
				continue // an INTEGER PRIMARY KEY: numbered anew
			}
			cols = append(cols, c)
			if v, ok := set[c]; ok {
				vals = append(vals, v)
			} else {
				vals = append(vals, "t."+c)
			}
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		q := series + "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(vals, ", ") +
			" FROM s, " + table + " t WHERE " + where
		if _, err := raw.ExecContext(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	id := `'msg_bench' || printf('%09d', s.i)`
	at := `t.created_at + s.i * 2000000`
	dup("messages", "t.id = 'msg_template'", map[string]string{"id": id, "provider_sid": "NULL", "created_at": at,
		"updated_at": at, "next_attempt_at": at, "tenant": "CASE WHEN s.i % 4 = 0 THEN 'acme' ELSE 'default' END"})
	dup("message_events", "t.message_id = 'msg_template'", map[string]string{"message_id": id, "at": `t.at + s.i * 2000000`})
	for _, q := range []string{`DELETE FROM message_events WHERE message_id = 'msg_template'`, `DELETE FROM messages WHERE id = 'msg_template'`} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	raw.Close()

	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dst := pgtest.NewDB(b)
		r, err := sqlite.OpenReader(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := Copy(ctx, r, dst, Options{})
		b.StopTimer()
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		var copied int64
		for _, t := range rep.Tables {
			if t.Table == "messages" {
				copied = t.Copied
			}
		}
		if copied != int64(n) {
			b.Fatalf("%d messages copied, want %d", copied, n)
		}
		u, err := dst.ListUsage(ctx, switchboard.UsageFilter{})
		if err != nil {
			b.Fatal(err)
		}
		var counted int64
		for _, d := range u {
			counted += d.Messages
		}
		if counted != int64(n) {
			b.Fatalf("usage counts %d messages, want %d", counted, n)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "messages/s")
}
