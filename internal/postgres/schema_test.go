package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
)

// TestCreateSchema: a store opened on the schema's URL migrates into the schema, and Drop takes
// the schema and its tables away (twice is harmless).
func TestCreateSchema(t *testing.T) {
	t.Parallel()
	base, _ := pgtest.URL(t) // its own search_path is replaced by the new schema's
	ctx := t.Context()
	s, err := postgres.CreateSchema(ctx, base, "sbschematest_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Drop(context.Background()) })
	if rest, ok := strings.CutPrefix(s.Name, "sbschematest_"); !ok || len(rest) != 16 {
		t.Fatalf("schema name %q", s.Name)
	}
	db, err := postgres.Open(ctx, s.URL, postgres.WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	count := func(q string) (n int) {
		t.Helper()
		if err := conn.QueryRow(ctx, q, s.Name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const (
		qTables  = `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'messages'`
		qSchemas = `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`
	)
	if n := count(qTables); n != 1 {
		t.Fatalf("%d messages tables in %s, want 1", n, s.Name)
	}
	for range 2 {
		if err := s.Drop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(qSchemas); n != 0 {
		t.Fatalf("schema %s still there after Drop", s.Name)
	}
}

func TestCreateSchemaPrefix(t *testing.T) {
	t.Parallel()
	// Refused before any connection is made: the URL names no server.
	for _, p := range []string{"", "Bench_", "1bench_", "bench-", "bench_;drop", strings.Repeat("b", 48)} {
		if _, err := postgres.CreateSchema(t.Context(), "postgres://nobody@127.0.0.1:1/none", p); err == nil || !strings.Contains(err.Error(), "schema prefix") {
			t.Errorf("prefix %q: %v, want refused", p, err)
		}
	}
}
