package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestURLEnv names the environment variable that points tests at a PostgreSQL server, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Tests need to create schemas there.
const TestURLEnv = "SWITCHBOARD_TEST_POSTGRES_URL"

// TestURL creates a fresh, empty schema on the test server and returns a URL whose connections
// use it (their search_path), for tests that start a separate process on it, such as
// `switchboard serve` with SWITCHBOARD_DATABASE_URL. cleanup drops the schema; it also runs when
// t ends, and running it twice is harmless.
//
// Without TestURLEnv the test is skipped, unless CI is set (CI=true, as CI services set it): CI
// must never skip these silently.
func TestURL(t testing.TB) (dbURL string, cleanup func()) {
	t.Helper()
	base := os.Getenv(TestURLEnv)
	if base == "" {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatalf("%s is not set; CI must run the PostgreSQL tests", TestURLEnv)
		}
		t.Skipf("%s is not set; skipping the PostgreSQL test", TestURLEnv)
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "sbtest_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, base, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("postgres: create test schema: %v", err)
	}
	var once sync.Once
	cleanup = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := adminExec(ctx, base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
				t.Errorf("postgres: drop test schema %s: %v", schema, err)
			}
		})
	}
	t.Cleanup(cleanup)
	return withSearchPath(base, schema), cleanup
}

// NewTestDB opens a store, migrated, on a fresh schema of the test server (see TestURL); the
// store is closed and the schema dropped when t ends.
func NewTestDB(t testing.TB, opts ...Option) *DB {
	t.Helper()
	u, _ := TestURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := Open(ctx, u, opts...)
	if err != nil {
		t.Fatalf("postgres: open test store: %v", err)
	}
	t.Cleanup(func() { db.Close() }) // runs before the schema is dropped
	return db
}

// withSearchPath returns base with its connections' search_path set to schema, in the libpq
// "options" parameter that pgx, psql and other clients understand.
func withSearchPath(base, schema string) string {
	opt := "-c search_path=" + schema
	if u, err := url.Parse(base); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("options", opt)
		// Spaces as %20: pgx, like libpq, does not read "+" as a space.
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return u.String()
	}
	return strings.TrimSpace(base) + " options='" + opt + "'" // key=value form
}

func adminExec(ctx context.Context, base, sql string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
