package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// BenchmarkDashboardPages serves every dashboard page from a store holding 1,000,000 messages
// (and a call, a conversation, an endpoint and a verification), through HTTP with a logged-in
// session (storetest.BenchDashboardPages). Each page must stay well under 200 ms, which only
// index-backed queries allow. The fill takes tens of seconds; run it with
//
//	go test ./internal/sqlite -run '^$' -bench DashboardPages -benchtime 10x
func BenchmarkDashboardPages(b *testing.B) {
	const from = "+15005550006"
	ctx := b.Context()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "dashboard.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := fillQueue(ctx, db, 1_000_000, from, time.Now().UTC().Add(-48*time.Hour)); err != nil {
		b.Fatal(err)
	}
	storetest.BenchDashboardPages(b, db, from)
}
