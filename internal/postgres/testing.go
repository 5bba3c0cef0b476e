package postgres

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema, err := CreateSchema(ctx, base, "sbtest_")
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	cleanup = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := schema.Drop(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(cleanup)
	return schema.URL, cleanup
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
