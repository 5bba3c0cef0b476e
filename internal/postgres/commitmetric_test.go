package postgres

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// TestCommitObserver: every transaction's COMMIT is reported with its duration; a statement
// outside a transaction (CreateMessage's one statement, a read) is not.
func TestCommitObserver(t *testing.T) {
	t.Parallel()
	var commits, nanos atomic.Int64
	db := newTestDB(t, WithCommitObserver(func(d time.Duration) {
		commits.Add(1)
		nanos.Add(int64(d))
	}))
	before, beforeNanos := commits.Load(), nanos.Load()
	now := time.Now().UTC()
	m := &switchboard.Message{ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: "+14155550123", From: "+15005550006", Body: "hello",
		Segments: 1, Encoding: switchboard.EncodingGSM7, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now, BodyLength: 5}
	if _, _, err := db.CreateMessage(t.Context(), m, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(t.Context(), `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	if n := commits.Load() - before; n != 0 {
		t.Fatalf("statements outside a transaction were observed as %d commits", n)
	}
	sid := "SMcommit"
	if _, err := db.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSending, ProviderSID: &sid, At: now}); err != nil {
		t.Fatal(err)
	}
	if n := commits.Load() - before; n != 1 || nanos.Load() <= beforeNanos {
		t.Fatalf("UpdateMessage: %d commits observed (%d ns), want 1", n, nanos.Load()-beforeNanos)
	}
}
