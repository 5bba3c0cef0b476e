package postgres_test

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
)

// The dispatcher takes a *postgres.DB as its Limiter.
var _ dispatch.Limiter = (*postgres.DB)(nil)

// TestReserveMatchesMemoryLimiter replays one random sequence of reservations, with clocks
// that jitter backwards too, against the in-process limiter and the database: every answer
// is the same, to the nanosecond.
func TestReserveMatchesMemoryLimiter(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t, postgres.WithCallerClock())
	mem := dispatch.NewMemoryLimiter()
	senders := []switchboard.Sender{
		{From: "+15005550006", Rate: 3, Burst: 4},    // an interval that is no whole number of µs
		{From: "+15005550007", Rate: 7.5, Burst: 1},  // burst 1: strictly spaced
		{From: "+15005550008", Rate: 100, Burst: 20}, // short code
		{From: "+15005550009", Rate: 0.5, Burst: 0},  // burst 0 counts as 1
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := t0
	var granted, refused int
	for i := range 600 {
		s := senders[rng.IntN(len(senders))]
		now = now.Add(time.Duration(rng.IntN(400)-50) * time.Millisecond)
		cost := rng.IntN(5) // 0 counts as 1; costs above the burst wait longer
		maxWait := time.Duration(rng.IntN(3000)) * time.Millisecond
		wantAt, wantOK, err := mem.Reserve(t.Context(), s, cost, now, maxWait)
		if err != nil {
			t.Fatal(err)
		}
		at, ok, err := db.Reserve(t.Context(), s, cost, now, maxWait)
		if err != nil {
			t.Fatalf("reservation %d: %v", i, err)
		}
		if ok != wantOK || !at.Equal(wantAt) {
			t.Fatalf("reservation %d (%s, cost %d, now %s, max wait %s): got %s %v, want %s %v",
				i, s.From, cost, now.Format(time.RFC3339Nano), maxWait, at.Format(time.RFC3339Nano), ok, wantAt.Format(time.RFC3339Nano), wantOK)
		}
		if ok {
			granted++
		} else {
			refused++
		}
	}
	if granted < 100 || refused < 100 {
		t.Fatalf("%d granted and %d refused: the sequence does not exercise both answers", granted, refused)
	}
}

func TestReserveSpecialCases(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	// Unlimited: now, and no query (a closed store would fail one).
	closed := pgtest.NewDB(t)
	closed.Close()
	if at, ok, err := closed.Reserve(ctx, switchboard.Sender{From: "MG1", Rate: -1}, 10, t0, 0); err != nil || !ok || !at.Equal(t0) {
		t.Fatalf("unlimited: %s %v %v; want now, ok", at, ok, err)
	}
	if _, _, err := closed.Reserve(ctx, switchboard.Sender{From: "+1", Rate: 1}, 1, t0, time.Second); err == nil {
		t.Fatal("a limited reservation on a closed store succeeded without the database")
	}
	// A negative wait never fits.
	if _, ok, err := db.Reserve(ctx, switchboard.Sender{From: "+1", Rate: 1, Burst: 5}, 1, t0, -time.Nanosecond); err != nil || ok {
		t.Fatalf("negative max wait: ok=%v err=%v", ok, err)
	}
	// A zero rate is a configuration error, not an endless wait.
	if _, _, err := db.Reserve(ctx, switchboard.Sender{From: "+2", Rate: 0, Burst: 1}, 1, t0, time.Hour); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
		t.Fatalf("zero rate: %v, want EINVALID", err)
	}
	// The answer keeps the caller's location and monotonic reading (it is derived from now).
	now := time.Now()
	at, ok, err := db.Reserve(ctx, switchboard.Sender{From: "+3", Rate: 1, Burst: 1}, 1, now, 0)
	if err != nil || !ok || at != now {
		t.Fatalf("first reservation: %v %v %v; want now itself", at, ok, err)
	}
}

// TestReserveAcrossNodes: goroutines on three nodes (three pools on one schema) reserve one
// sender's budget at once. In every window [a, b] of granted times the cluster's segments stay
// within Burst + Rate·(b-a), and a backlog drains at exactly Rate: no reservation is lost or
// counted twice.
func TestReserveAcrossNodes(t *testing.T) {
	t.Parallel()
	dbs := nodes(t, 3, postgres.WithCallerClock())
	s := switchboard.Sender{From: "+15005550006", Rate: 200, Burst: 5}
	interval := time.Duration(float64(time.Second) / s.Rate)

	type grant struct {
		at   time.Time
		cost int
	}
	var (
		mu     sync.Mutex
		grants []grant
		clock  atomic.Int64 // a shared virtual clock: requests arrive faster than the rate
	)
	race(6, func(w int) {
		db := dbs[w%len(dbs)]
		rng := rand.New(rand.NewPCG(uint64(w), 7))
		for range 60 {
			now := t0.Add(time.Duration(clock.Add(int64(time.Millisecond))))
			cost := 1 + rng.IntN(3)
			at, ok, err := db.Reserve(t.Context(), s, cost, now, 50*time.Millisecond)
			if err != nil {
				t.Errorf("reserve: %v", err)
				return
			}
			if ok {
				if at.Before(now) || at.Sub(now) > 50*time.Millisecond {
					t.Errorf("granted %s for a request at %s with a 50ms wait", at, now)
				}
				mu.Lock()
				grants = append(grants, grant{at, cost})
				mu.Unlock()
			}
		}
	})
	if len(grants) < 50 {
		t.Fatalf("only %d reservations granted", len(grants))
	}
	slices.SortFunc(grants, func(a, b grant) int { return a.at.Compare(b.at) })
	for i := range grants {
		sum := 0
		for j := i; j < len(grants); j++ {
			sum += grants[j].cost
			// sum ≤ Burst + (b-a)/interval, in exact integers.
			if time.Duration(sum-s.Burst)*interval > grants[j].at.Sub(grants[i].at) {
				t.Fatalf("%d segments granted in [%s, %s], more than burst %d + rate %v × %s",
					sum, grants[i].at.Format(time.RFC3339Nano), grants[j].at.Format(time.RFC3339Nano), s.Burst, s.Rate, grants[j].at.Sub(grants[i].at))
			}
		}
	}

	// A backlog: every node asks at the same instant with room to wait. The bucket starts full,
	// so the last reservation goes exactly (total - burst) intervals later.
	backlog := switchboard.Sender{From: "+15005550007", Rate: 3, Burst: 4}
	var total, latest atomic.Int64
	race(12, func(w int) {
		for range 10 {
			cost := 1 + w%2
			at, ok, err := dbs[w%len(dbs)].Reserve(t.Context(), backlog, cost, t0, time.Hour)
			if err != nil || !ok {
				t.Errorf("backlog reservation: %v %v", ok, err)
				return
			}
			total.Add(int64(cost))
			for d := int64(at.Sub(t0)); ; {
				l := latest.Load()
				if d <= l || latest.CompareAndSwap(l, d) {
					break
				}
			}
		}
	})
	iv := time.Duration(float64(time.Second) / backlog.Rate)
	if want := time.Duration(total.Load()-int64(backlog.Burst)) * iv; time.Duration(latest.Load()) != want {
		t.Fatalf("%d segments drained in %s, want %s at %v/s after a burst of %d", total.Load(), time.Duration(latest.Load()), want, backlog.Rate, backlog.Burst)
	}
}

// TestReserveOnDatabaseClock: the shared bucket runs on the database's clock. A node whose clock
// is 5 minutes ahead reserves first; a node with the right clock then gets the next slot at
// once, not 5 minutes later (before, the node ahead pushed the bucket into the future and every
// other node stalled until their clocks caught up with it).
func TestReserveOnDatabaseClock(t *testing.T) {
	t.Parallel()
	dbs := nodes(t, 2)
	s := switchboard.Sender{From: "+15005550006", Rate: 100, Burst: 1}
	ahead := time.Now().Add(5 * time.Minute)
	for range 3 {
		at, ok, err := dbs[0].Reserve(t.Context(), s, 1, ahead, time.Second)
		if err != nil || !ok {
			t.Fatalf("node ahead: %v %v", ok, err)
		}
		if wait := at.Sub(ahead); wait < 0 || wait > time.Second {
			t.Fatalf("node ahead waits %s", wait)
		}
	}
	now := time.Now()
	at, ok, err := dbs[1].Reserve(t.Context(), s, 1, now, time.Second)
	if err != nil || !ok {
		t.Fatalf("the node with the right clock was refused (ok=%v, err=%v): the bucket was pushed ahead by the other node's clock", ok, err)
	}
	if wait := at.Sub(now); wait < 0 || wait > time.Second {
		t.Fatalf("the node with the right clock waits %s", wait)
	}
}

// TestNowIsTheDatabaseClock: Now reads the database's clock (the test server runs on this
// machine, so it agrees with the test's clock within the round trip and a margin).
func TestNowIsTheDatabaseClock(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	before := time.Now()
	got, err := db.Now(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(before.Add(-2*time.Second)) || got.After(time.Now().Add(2*time.Second)) || got.Location() != time.UTC {
		t.Fatalf("database now %s, test clock %s", got, before)
	}
}
