// Package pgtest gives tests a fresh PostgreSQL schema or store on the server named by
// SWITCHBOARD_TEST_POSTGRES_URL. It lives apart from package postgres so that the `testing`
// package stays out of the production binary.
package pgtest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/postgres"
)

// URLEnv names the environment variable that points tests at a PostgreSQL server, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Tests need to create schemas there.
const URLEnv = "SWITCHBOARD_TEST_POSTGRES_URL"

// URL creates a fresh, empty schema on the test server and returns a URL whose connections
// use it (their search_path), for tests that start a separate process on it, such as
// `switchboard serve` with SWITCHBOARD_DATABASE_URL. cleanup drops the schema; it also runs when
// t ends, and running it twice is harmless.
//
// Without URLEnv the test is skipped, unless CI is set (CI=true, as CI services set it): CI
// must never skip these silently.
func URL(t testing.TB) (dbURL string, cleanup func()) {
	t.Helper()
	base := BaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema, err := postgres.CreateSchema(ctx, base, "sbtest_")
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

// BaseURL returns the test server's URL from URLEnv, skipping the test when it is not set
// (failing it in CI, see URL).
func BaseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(URLEnv)
	if base == "" {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatalf("%s is not set; CI must run the PostgreSQL tests", URLEnv)
		}
		t.Skipf("%s is not set; skipping the PostgreSQL test", URLEnv)
	}
	return base
}

// NewDB opens a store, migrated, on a fresh schema of the test server (see URL); the store is
// closed and the schema dropped when t ends.
func NewDB(t testing.TB, opts ...postgres.Option) *postgres.DB {
	t.Helper()
	u, _ := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, u, opts...)
	if err != nil {
		t.Fatalf("postgres: open test store: %v", err)
	}
	t.Cleanup(func() { db.Close() }) // runs before the schema is dropped
	return db
}
