package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) switchboard.Store { return pgtest.NewDB(t) })
}

var t0 = time.Date(2031, 1, 2, 3, 4, 5, 678901000, time.UTC)

// seq makes message IDs that order like their creation.
var seq atomic.Int64

func testMessage() *switchboard.Message {
	return &switchboard.Message{
		ID: fmt.Sprintf("msg_%012d", seq.Add(1)), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: "+15551230001", From: "+15005550006",
		Body: "Job #42 assigned", Segments: 1, Encoding: switchboard.EncodingGSM7,
		NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0,
	}
}

func ptr[T any](v T) *T { return &v }

// nodes opens n stores on one fresh schema, as n Switchboard nodes sharing a database. The
// first migrates the schema.
func nodes(t *testing.T, n int, opts ...postgres.Option) []*postgres.DB {
	t.Helper()
	u, _ := pgtest.URL(t)
	dbs := make([]*postgres.DB, n)
	for i := range dbs {
		db, err := postgres.Open(t.Context(), u, opts...)
		if err != nil {
			t.Fatalf("Open node %d: %v", i, err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return dbs
}

// race runs fn(i) for i in [0, n) in goroutines released at once.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func countRows(t *testing.T, db *postgres.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := pgtest.URL(t)
	db, err := postgres.Open(t.Context(), u, postgres.WithoutMigrate())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	applied, err := db.Migrate(t.Context())
	if err != nil || applied != len(ms) {
		t.Fatalf("first Migrate = %d, %v; want %d", applied, err, len(ms))
	}
	applied, err = db.Migrate(t.Context())
	if err != nil || applied != 0 {
		t.Fatalf("second Migrate = %d, %v; want 0", applied, err)
	}
	// Open migrates by default, and finds nothing to do.
	again, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if n := countRows(t, db, "SELECT count(*) FROM schema_migrations"); n != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(ms))
	}
	if _, _, err := again.CreateMessage(t.Context(), testMessage(), nil); err != nil {
		t.Fatalf("store unusable after migrating twice: %v", err)
	}
}

func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := pgtest.URL(t)
	const n = 4
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	race(n, func(i int) { dbs[i], errs[i] = postgres.Open(t.Context(), u) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if got := countRows(t, dbs[0], "SELECT count(*) FROM schema_migrations"); got != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want %d", got, len(ms))
	}
	for i, db := range dbs {
		if applied, err := db.Migrate(t.Context()); err != nil || applied != 0 {
			t.Fatalf("node %d: Migrate after concurrent opens = %d, %v", i, applied, err)
		}
	}
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(t.Context(), "postgres://user:s3cret@[::1:5432/db")
	if err == nil {
		t.Fatal("Open of a malformed URL succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error reveals the password: %v", err)
	}
}

// TestNodesClaim: dispatchers of three nodes claim one sender's messages concurrently; none is
// claimed twice and all are claimed.
func TestNodesClaim(t *testing.T) {
	t.Parallel()
	dbs := nodes(t, 3)
	const n = 300
	for range n {
		if _, _, err := dbs[0].CreateMessage(t.Context(), testMessage(), nil); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu    sync.Mutex
		owner = map[string]string{}
		dups  []string
	)
	now := t0.Add(time.Minute)
	race(6, func(w int) {
		db, name := dbs[w%len(dbs)], fmt.Sprintf("node-%d", w)
		for {
			msgs, err := db.ClaimMessages(t.Context(), switchboard.ClaimParams{
				From: "+15005550006", Owner: name, Now: now, LeaseUntil: now.Add(time.Minute), Limit: 7})
			if err != nil {
				t.Errorf("%s: claim: %v", name, err)
				return
			}
			if len(msgs) == 0 {
				return
			}
			mu.Lock()
			for _, m := range msgs {
				if prev, ok := owner[m.ID]; ok {
					dups = append(dups, m.ID+" by "+prev+" and "+name)
				}
				owner[m.ID] = name
			}
			mu.Unlock()
		}
	})
	if len(dups) > 0 {
		t.Fatalf("claimed twice: %v", dups)
	}
	if len(owner) != n {
		t.Fatalf("claimed %d distinct messages, want %d", len(owner), n)
	}
	if got := countRows(t, dbs[1], "SELECT count(*) FROM messages WHERE lease_owner IS NULL"); got != 0 {
		t.Fatalf("%d messages left unleased", got)
	}
}

// TestNodesIdempotency: requests with one idempotency key reach several nodes at once, a
// quarter of them with a different body. The first to commit creates the message; every request
// like it replays that message and every other one is refused.
func TestNodesIdempotency(t *testing.T) {
	t.Parallel()
	dbs := nodes(t, 2)
	type outcome struct {
		hash     string
		id       string
		replayed bool
		err      error
	}
	for round := range 5 {
		key := fmt.Sprintf("order-%d", round)
		const n = 24
		out := make([]outcome, n)
		race(n, func(i int) {
			hash := "h"
			if i%4 == 3 {
				hash = "other request"
			}
			m, replayed, err := dbs[i%2].CreateMessage(t.Context(), testMessage(), &switchboard.Idempotency{APIKeyID: "key_1", Key: key, RequestHash: hash})
			out[i] = outcome{hash: hash, replayed: replayed, err: err}
			if err == nil {
				out[i].id = m.ID
			}
		})
		var winner outcome
		for _, o := range out {
			if o.err == nil && !o.replayed {
				if winner.id != "" {
					t.Fatalf("round %d: two requests created a message: %s and %s", round, winner.id, o.id)
				}
				winner = o
			}
		}
		if winner.id == "" {
			t.Fatalf("round %d: no request created the message: %+v", round, out)
		}
		for i, o := range out {
			switch {
			case o.hash == winner.hash && (o.err != nil || o.id != winner.id):
				t.Fatalf("round %d, request %d like the first: %s, %v; want a replay of %s", round, i, o.id, o.err, winner.id)
			case o.hash != winner.hash && switchboard.ErrorCodeOf(o.err) != "idempotency_key_reused":
				t.Fatalf("round %d, request %d unlike the first: %s, %v; want idempotency_key_reused", round, i, o.id, o.err)
			}
		}
	}
	if got := countRows(t, dbs[0], "SELECT count(*) FROM messages"); got != 5 {
		t.Fatalf("%d messages stored, want 5", got)
	}
	if got := countRows(t, dbs[0], "SELECT count(*) FROM message_events"); got != 5 {
		t.Fatalf("%d events stored, want 5", got)
	}
}

// TestNodesDuplicateCallback: Twilio delivers the same status callback to several nodes at the
// same moment; it is applied once.
func TestNodesDuplicateCallback(t *testing.T) {
	t.Parallel()
	dbs := nodes(t, 2)
	for round := range 20 {
		m, _, err := dbs[0].CreateMessage(t.Context(), testMessage(), nil)
		if err != nil {
			t.Fatal(err)
		}
		sid := fmt.Sprintf("SMdup%d", round)
		if _, err := dbs[1].UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSending,
			ProviderSID: ptr(sid), At: t0.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		var applied, duplicates atomic.Int64
		for _, st := range []switchboard.Status{switchboard.StatusSent, switchboard.StatusDelivered} {
			race(4, func(i int) {
				r, err := dbs[i%2].IngestCallback(t.Context(), &switchboard.Callback{
					ProviderSID: sid, ProviderStatus: string(st), Status: st, MessageID: m.ID,
					Payload: []byte(`{"MessageSid":"` + sid + `"}`), ReceivedAt: t0.Add(2 * time.Second),
				})
				switch {
				case err != nil:
					t.Errorf("ingest: %v", err)
				case r.Applied && !r.Duplicate:
					applied.Add(1)
				case r.Duplicate && !r.Applied && r.MessageID == m.ID:
					duplicates.Add(1)
				default:
					t.Errorf("ingest result %+v", r)
				}
			})
		}
		if applied.Load() != 2 || duplicates.Load() != 6 {
			t.Fatalf("round %d: %d applied, %d duplicates; want 2 and 6", round, applied.Load(), duplicates.Load())
		}
		got, err := dbs[0].GetMessage(t.Context(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		var callbacks int
		for _, e := range got.Events {
			if e.Type == switchboard.EventCallback {
				callbacks++
			}
		}
		if got.Status != switchboard.StatusDelivered || callbacks != 2 {
			t.Fatalf("round %d: status %s with %d callback events; want delivered with 2", round, got.Status, callbacks)
		}
	}
}

// TestNodesCallbackOutrunsSID: a node records the SID the provider gave a message while another
// node receives that message's first callbacks, which name only the SID (or also the message).
// Whichever commits first, the callbacks end up applied to the message: none stays pending.
func TestNodesCallbackOutrunsSID(t *testing.T) {
	t.Parallel()
	dbs := nodes(t, 2)
	const n = 40
	msgs := make([]*switchboard.Message, n)
	for i := range msgs {
		m, _, err := dbs[0].CreateMessage(t.Context(), testMessage(), nil)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = m
	}
	race(3*n, func(j int) {
		i, m := j/3, msgs[j/3]
		sid := fmt.Sprintf("SMrace%03d", i)
		var err error
		switch j % 3 {
		case 0: // the dispatcher, on node 0
			_, err = dbs[0].UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusSending,
				ProviderSID: ptr(sid), AttemptInFlight: ptr(false), At: t0.Add(time.Second)})
		case 1, 2: // callbacks, on node 1; every other message's callbacks carry its ID
			st := []switchboard.Status{switchboard.StatusSent, switchboard.StatusDelivered}[j%3-1]
			cb := &switchboard.Callback{ProviderSID: sid, ProviderStatus: string(st), Status: st,
				Payload: []byte(`{}`), ReceivedAt: t0.Add(time.Duration(j%3) * time.Second)}
			if i%2 == 1 {
				cb.MessageID = m.ID
			}
			_, err = dbs[1].IngestCallback(t.Context(), cb)
		}
		if err != nil {
			t.Errorf("message %d, actor %d: %v", i, j%3, err)
		}
	})
	if pending := countRows(t, dbs[0], "SELECT count(*) FROM webhook_events WHERE NOT applied"); pending != 0 {
		t.Errorf("%d callbacks left pending", pending)
	}
	for i, m := range msgs {
		got, err := dbs[1].GetMessage(t.Context(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		var callbacks int
		for _, e := range got.Events {
			if e.Type == switchboard.EventCallback {
				callbacks++
			}
		}
		if got.Status != switchboard.StatusDelivered || got.ProviderSID != fmt.Sprintf("SMrace%03d", i) || callbacks != 2 {
			t.Errorf("message %d: status %s, SID %s, %d callback events; want delivered, its SID, 2", i, got.Status, got.ProviderSID, callbacks)
		}
	}
}

// TestLeaseExtension: an update by the lease holder with LeaseUntil extends its lease (for the
// length of a provider call), so no other node claims the message meanwhile.
func TestLeaseExtension(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	m, _, err := db.CreateMessage(ctx, testMessage(), nil)
	if err != nil {
		t.Fatal(err)
	}
	claim := func(owner string, now time.Time) int {
		t.Helper()
		got, err := db.ClaimMessages(ctx, switchboard.ClaimParams{From: m.From, Owner: owner, Now: now, LeaseUntil: now.Add(time.Minute), Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if claim("node-a", t0.Add(time.Second)) != 1 {
		t.Fatal("first claim failed")
	}
	got, err := db.UpdateMessage(ctx, switchboard.MessageUpdate{ID: m.ID, LeaseOwner: "node-a", LeaseUntil: ptr(t0.Add(5 * time.Minute)),
		AttemptInFlight: ptr(true), At: t0.Add(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if got.LeaseOwner != "node-a" || got.LeaseUntil == nil || !got.LeaseUntil.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("lease after extension: %q until %v", got.LeaseOwner, got.LeaseUntil)
	}
	if claim("node-b", t0.Add(2*time.Minute)) != 0 {
		t.Fatal("node-b claimed a message whose lease was extended")
	}
	// An update that does not hold the lease cannot extend it.
	if _, err := db.UpdateMessage(ctx, switchboard.MessageUpdate{ID: m.ID, LeaseUntil: ptr(t0.Add(time.Hour)), At: t0.Add(3 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if claim("node-b", t0.Add(6*time.Minute)) != 1 {
		t.Fatal("node-b could not take the message over once the extended lease ended")
	}
}

// TestNULRefused: PostgreSQL text cannot hold NUL (SQLite's can); such a request is the caller's
// error, not an internal one.
func TestNULRefused(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	m := testMessage()
	m.Body = "a\x00b"
	_, _, err := db.CreateMessage(t.Context(), m, nil)
	if switchboard.ErrorKindOf(err) != switchboard.EINVALID || switchboard.ErrorCodeOf(err) != "invalid_text" {
		t.Fatalf("NUL in a body: %v, want EINVALID invalid_text", err)
	}
	m = testMessage()
	m.Metadata = map[string]string{"k": "a\x00b"}
	_, _, err = db.CreateMessage(t.Context(), m, nil)
	if switchboard.ErrorKindOf(err) != switchboard.EINVALID {
		t.Fatalf("NUL in metadata: %v, want EINVALID", err)
	}
	// Raw payloads are json, kept as text: an escaped NUL is fine there.
	m = testMessage()
	if _, _, err := db.CreateMessage(t.Context(), m, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateMessage(t.Context(), switchboard.MessageUpdate{ID: m.ID, At: t0.Add(time.Second),
		Events: []*switchboard.Event{{Type: switchboard.EventNote, Payload: []byte(`{"Body": "a\u0000b",  "x": 1}`)}}}); err != nil {
		t.Fatalf("payload with an escaped NUL: %v", err)
	}
	got, err := db.GetMessage(t.Context(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p := string(got.Events[1].Payload); p != `{"Body": "a\u0000b",  "x": 1}` {
		t.Fatalf("payload came back as %s, want it verbatim", p)
	}
}

func TestTestURL(t *testing.T) {
	t.Parallel()
	u, cleanup := pgtest.URL(t)
	db, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := db.Pool().QueryRow(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil || !strings.HasPrefix(schema, "sbtest_") {
		t.Fatalf("current_schema() = %q, %v; want the test schema", schema, err)
	}
	db.Close()
	cleanup()
	cleanup() // twice is harmless
	var n int
	admin, err := postgres.Open(t.Context(), strings.Replace(u, schema, "public", 1), postgres.WithoutMigrate())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Pool().QueryRow(t.Context(), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("schema %s still exists after cleanup (%d, %v)", schema, n, err)
	}
}

// TestNodesSyncSenders: every node records the configured senders at start-up, at once.
func TestNodesSyncSenders(t *testing.T) {
	t.Parallel()
	dbs := nodes(t, 3)
	senders := []switchboard.Sender{
		{From: "+15005550006", Kind: switchboard.SenderLongCode, Rate: 1, Burst: 1, Pool: "default"},
		{From: "+15005550007", Kind: switchboard.SenderTollFree, Rate: 3, Burst: 5, Pool: "default"},
	}
	for range 5 {
		race(6, func(i int) {
			if err := dbs[i%3].SyncSenders(t.Context(), senders, time.Now()); err != nil {
				t.Errorf("node %d: SyncSenders: %v", i%3, err)
			}
		})
	}
	got, err := dbs[0].ListSenders(t.Context())
	if err != nil || len(got) != 2 || got[0].From != senders[0].From || got[1].From != senders[1].From ||
		got[0].Burst != senders[0].Burst || got[1].Rate != senders[1].Rate {
		t.Fatalf("ListSenders = %v, %v; want %v", got, err, senders)
	}
}

// TestNodesAssignSender: nodes assigning a sender to one recipient at once, each preferring
// another sender, agree on one.
func TestNodesAssignSender(t *testing.T) {
	t.Parallel()
	dbs := nodes(t, 2)
	valid := []string{"+15005550006", "+15005550007", "+15005550008"}
	for round := range 10 {
		to := fmt.Sprintf("+1555123%04d", round)
		got := make([]string, 6)
		race(len(got), func(i int) {
			from, err := dbs[i%2].AssignSender(t.Context(), "default", to, valid[i%3], valid)
			if err != nil {
				t.Errorf("AssignSender: %v", err)
			}
			got[i] = from
		})
		for _, g := range got {
			if g != got[0] || g == "" {
				t.Fatalf("round %d: nodes assigned %v", round, got)
			}
		}
	}
}

// Benchmarks, against the server in SWITCHBOARD_TEST_POSTGRES_URL.

func BenchmarkCreateMessage(b *testing.B) {
	db := pgtest.NewDB(b)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			idem := &switchboard.Idempotency{APIKeyID: "k", Key: fmt.Sprint(i), RequestHash: "h"}
			if _, _, err := db.CreateMessage(context.Background(), testMessage(), idem); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkIngestCallback(b *testing.B) {
	ctx := context.Background()
	db := pgtest.NewDB(b)
	const msgs = 2000
	for i := range msgs {
		m := testMessage()
		m.Status, m.ProviderSID = switchboard.StatusSending, fmt.Sprintf("SMb%06d", i)
		if _, _, err := db.CreateMessage(ctx, m, nil); err != nil {
			b.Fatal(err)
		}
	}
	statuses := []switchboard.Status{switchboard.StatusSent, switchboard.StatusDelivered, switchboard.StatusRead}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			sid := fmt.Sprintf("SMb%06d", i%msgs)
			st := statuses[(i/msgs)%3]
			_, err := db.IngestCallback(ctx, &switchboard.Callback{
				ProviderSID: sid, ProviderStatus: fmt.Sprintf("%s-%d", st, i/(3*msgs)), Status: st,
				Payload:    []byte(`{"MessageSid":"` + sid + `","MessageStatus":"` + string(st) + `"}`),
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

func BenchmarkReserve(b *testing.B) {
	db := pgtest.NewDB(b)
	s := switchboard.Sender{From: "+15005550006", Rate: 1e6, Burst: 100}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now := t0.Add(time.Duration(n.Add(1)) * time.Microsecond)
			if _, _, err := db.Reserve(context.Background(), s, 1, now, time.Second); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reservations/s")
}
