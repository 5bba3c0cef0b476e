package postgres

import (
	"context"
	"os"
	"testing"
	"time"
)

// newTestDB opens a store on a fresh schema for this package's internal tests, which cannot
// import pgtest (it imports this package); the external tests use pgtest.NewDB.
func newTestDB(tb testing.TB, opts ...Option) *DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := Open(ctx, testURL(tb), opts...)
	if err != nil {
		tb.Fatalf("postgres: open test store: %v", err)
	}
	tb.Cleanup(func() { db.Close() }) // runs before the schema is dropped
	return db
}

// testURL creates a fresh schema, dropped when the test ends, and returns its URL.
func testURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("SWITCHBOARD_TEST_POSTGRES_URL")
	if base == "" {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			tb.Fatal("SWITCHBOARD_TEST_POSTGRES_URL is not set; CI must run the PostgreSQL tests")
		}
		tb.Skip("SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping the PostgreSQL test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	schema, err := CreateSchema(ctx, base, "sbtest_")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := schema.Drop(ctx); err != nil {
			tb.Error(err)
		}
	})
	return schema.URL
}
