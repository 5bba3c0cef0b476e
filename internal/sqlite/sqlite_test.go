package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/migrate"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/storetest"
)

// open opens a new database in a temporary directory, closed when the test ends.
func open(t *testing.T, opts ...sqlite.Option) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "switchboard.db"), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) switchboard.Store { return open(t) })
}

var t0 = time.Date(2031, 1, 2, 3, 4, 5, 678901000, time.UTC)

func testMessage(id string) *switchboard.Message {
	return &switchboard.Message{
		ID: id, Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: "+15551230001", From: "+15005550006",
		Body: "Job #42 assigned", Segments: 1, Encoding: switchboard.EncodingGSM7,
		NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0,
	}
}

// TestReopen writes, closes and reopens the file: what was accepted is there, and opening again
// applies no migration twice.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dir", "switchboard.db") // the directory is created
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := db.CreateMessage(ctx, testMessage("msg_1"), &switchboard.Idempotency{APIKeyID: "k", Key: "a", RequestHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateMessage(ctx, switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSending,
		ProviderSID: ptr("SM1"), At: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		db, err = sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		got, err := db.GetMessage(ctx, "msg_1")
		if err != nil {
			t.Fatalf("after reopen: %v", err)
		}
		if got.Status != switchboard.StatusSending || got.ProviderSID != "SM1" || !got.CreatedAt.Equal(t0) || len(got.Events) != 1 {
			t.Fatalf("after reopen: %+v", got)
		}
		// The idempotency key survived too.
		again, replayed, err := db.CreateMessage(ctx, testMessage("msg_2"), &switchboard.Idempotency{APIKeyID: "k", Key: "a", RequestHash: "h"})
		if err != nil || !replayed || again.ID != "msg_1" {
			t.Fatalf("replay after reopen: %v %v %v", again, replayed, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// Every migration is recorded once, and running them again applies none.
	raw, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := raw.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != len(ms) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, len(ms))
	}
	applied, err := migrate.Up(ctx, raw, migrate.SQLite, ms)
	if err != nil || len(applied) != 0 {
		t.Fatalf("migrating again applied %v, %v", applied, err)
	}
}

// TestTwoHandles opens the file twice, as `serve` and a CLI command on the same machine do: both
// write, neither fails on the other's lock.
func TestTwoHandles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "switchboard.db")
	a, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	for i := range 40 {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() {
			if _, _, err := db.CreateMessage(ctx, testMessage(fmt.Sprintf("msg_%03d", i)), nil); err != nil {
				t.Errorf("create %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	msgs, _, err := b.ListMessages(ctx, switchboard.MessageFilter{Limit: 100})
	if err != nil || len(msgs) != 40 {
		t.Fatalf("listed %d messages (%v), want 40", len(msgs), err)
	}
}

// TestOpenNewFileConcurrently opens one new file from several handles at once, as serve and
// `keys create` can on a fresh install: switching a new file to WAL can meet SQLITE_BUSY without
// the busy handler, which Open retries.
func TestOpenNewFileConcurrently(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for round := range 20 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("r%d.db", round))
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				db, err := sqlite.Open(ctx, path)
				if err != nil {
					t.Errorf("round %d: Open: %v", round, err)
					return
				}
				db.Close()
			})
		}
		wg.Wait()
	}
}

func TestOpenRejectsMemory(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if db, err := sqlite.Open(t.Context(), p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkCreateMessage measures durable accepts (synchronous=FULL) from many goroutines, as
// the HTTP API produces them; group commit is what makes this more than one fsync per message.
func BenchmarkCreateMessage(b *testing.B) {
	for _, mode := range []string{"FULL", "NORMAL"} {
		b.Run(mode, func(b *testing.B) {
			db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), sqlite.WithSynchronous(mode))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			var n atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					m := testMessage(fmt.Sprintf("msg_%012d", i))
					idem := &switchboard.Idempotency{APIKeyID: "k", Key: fmt.Sprint(i), RequestHash: "h"}
					if _, _, err := db.CreateMessage(b.Context(), m, idem); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkIngestCallback measures status callbacks applied to known messages.
func BenchmarkIngestCallback(b *testing.B) {
	ctx := b.Context()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const msgs = 5000
	for i := range msgs {
		m := testMessage(fmt.Sprintf("msg_%06d", i))
		m.Status, m.ProviderSID = switchboard.StatusSending, fmt.Sprintf("SM%06d", i)
		if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
			b.Fatal(err)
		}
	}
	statuses := []switchboard.Status{switchboard.StatusSent, switchboard.StatusDelivered, switchboard.StatusRead}
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			sid := fmt.Sprintf("SM%06d", i%msgs)
			st := statuses[(i/msgs)%3]
			_, err := db.IngestCallback(ctx, &switchboard.Callback{
				ProviderSID: sid, ProviderStatus: fmt.Sprintf("%s-%d", st, i/(3*msgs)), Status: st,
				Payload:    []byte(`{"MessageSid":"` + sid + `","MessageStatus":"` + string(st) + `","AccountSid":"AC123"}`),
				ReceivedAt: t0.Add(time.Duration(i) * time.Microsecond),
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "callbacks/s")
}
