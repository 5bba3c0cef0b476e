package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/switchboard-gw/switchboard"
)

// StatsFunc is a store's DeliveryStats query that reads every message of its range: the
// reference the running totals of the charts page are checked against.
type StatsFunc func(ctx context.Context, since, until time.Time, bucket time.Duration) ([]switchboard.DeliveryStat, error)

// ChartsMatchScan checks that s.DeliveryStats, read from the running totals the store keeps per
// five minutes, sender and category, returns exactly what scan (the query over every message)
// returns: for aligned and unaligned ranges, buckets of 5 minutes, 1 and 6 hours and the charts
// page's own ranges, and a bucket the totals cannot serve. It compares after the messages are
// created, after their statuses change (updates and provider callbacks, in and out of order,
// delivered then read), and after retention redacts them and prunes the event log.
func ChartsMatchScan(t *testing.T, s switchboard.Store, scan StatsFunc) {
	t.Helper()
	rng := rand.New(rand.NewPCG(21, 100))
	b0, end := chartsRange()
	const n = 240
	froms := []string{fromA, fromB, fromC}
	cats := []switchboard.Category{switchboard.CategoryTransactional, switchboard.CategoryMarketing, switchboard.CategoryOTP}
	msgs := make([]*switchboard.Message, n)
	for i := range msgs {
		created := b0.Add(time.Duration(rng.Int64N(int64(30 * time.Hour)))).Truncate(time.Microsecond)
		if i%40 == 0 {
			created = b0.Add(time.Duration(i/40) * time.Hour) // on a boundary of every bucket
		}
		msgs[i] = createAt(t, s, created, func(m *switchboard.Message) {
			m.From, m.Category = froms[rng.IntN(len(froms))], cats[rng.IntN(len(cats))]
		})
	}
	check := func(stage string) {
		t.Helper()
		chartsStatsEqual(t, s, scan, stage)
	}
	check("created")

	// Every latency bucket, bounds included, and every outcome, through updates and callbacks.
	lats := []time.Duration{0, 500 * time.Millisecond, time.Second - time.Microsecond, time.Second, 3 * time.Second,
		5 * time.Second, 29 * time.Second, time.Minute, 2 * time.Minute, 9 * time.Minute, 10 * time.Minute, 20 * time.Minute, 3 * time.Hour}
	for i, m := range msgs {
		lat := lats[rng.IntN(len(lats))]
		sid := fmt.Sprintf("SMchart%04d", i)
		switch i % 9 {
		case 0: // stays queued
		case 1: // at the provider, no outcome yet
			setSending(t, s, m.ID, sid, m.CreatedAt.Add(time.Second))
		case 2:
			deliver(t, s, m.ID, m.CreatedAt.Add(lat))
		case 3: // delivered, then read later: the first delivery counts
			deliver(t, s, m.ID, m.CreatedAt.Add(lat))
			update(t, s, switchboard.MessageUpdate{ID: m.ID, Status: switchboard.StatusRead, At: m.CreatedAt.Add(lat + time.Hour),
				Events: []*switchboard.Event{{Type: switchboard.EventCallback, Actor: "test"}}})
		case 4:
			fail(t, s, m.ID, []switchboard.Status{switchboard.StatusFailed, switchboard.StatusUndelivered}[rng.IntN(2)], 30003, m.CreatedAt.Add(lat))
		case 5: // callbacks in order
			setSending(t, s, m.ID, sid, m.CreatedAt.Add(time.Microsecond))
			ingest(t, s, callback(sid, switchboard.StatusSent, m.CreatedAt.Add(lat/2)))
			ingest(t, s, callback(sid, switchboard.StatusDelivered, m.CreatedAt.Add(lat)))
		case 6: // read before delivered: the delivered callback arrives late, with an earlier time
			setSending(t, s, m.ID, sid, m.CreatedAt.Add(time.Microsecond))
			ingest(t, s, callback(sid, switchboard.StatusRead, m.CreatedAt.Add(lat+time.Minute)))
			ingest(t, s, callback(sid, switchboard.StatusDelivered, m.CreatedAt.Add(lat)))
		case 7: // delivered, then a late failure callback is ignored
			setSending(t, s, m.ID, sid, m.CreatedAt.Add(time.Microsecond))
			ingest(t, s, callback(sid, switchboard.StatusDelivered, m.CreatedAt.Add(lat)))
			ingest(t, s, callback(sid, switchboard.StatusUndelivered, m.CreatedAt.Add(lat+time.Second)))
		case 8: // stopped before sending
			st := []switchboard.Status{switchboard.StatusBlocked, switchboard.StatusCanceled, switchboard.StatusExpired}[rng.IntN(3)]
			update(t, s, switchboard.MessageUpdate{ID: m.ID, Status: st, At: m.CreatedAt.Add(lat),
				Events: []*switchboard.Event{{Type: switchboard.EventStatusChanged, Actor: "test"}}})
		}
	}
	check("statuses changed")

	// Retention: bodies and raw payloads redacted, the event log pruned.
	if _, err := s.Redact(t.Context(), end.Add(24*time.Hour), end.Add(24*time.Hour), 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PruneEvents(t.Context(), end.Add(24*time.Hour), 1000); err != nil {
		t.Fatal(err)
	}
	check("redacted and pruned")
}

// chartsRange is the span of ChartsMatchScan's messages: [b0, end).
func chartsRange() (b0, end time.Time) {
	b0 = base.Truncate(6 * time.Hour)
	return b0, b0.Add(31 * time.Hour)
}

// ChartsStatsEqual compares s.DeliveryStats with scan over the ranges of ChartsMatchScan, on a
// store that holds its messages (for a test of a migration's backfill).
func ChartsStatsEqual(t *testing.T, s switchboard.Store, scan StatsFunc) {
	t.Helper()
	chartsStatsEqual(t, s, scan, "")
}

func chartsStatsEqual(t *testing.T, s switchboard.Store, scan StatsFunc, stage string) {
	t.Helper()
	b0, end := chartsRange()
	for _, q := range []struct {
		since, until time.Time
		bucket       time.Duration
	}{
		{b0, end, 5 * time.Minute},
		{b0, end, time.Hour},
		{b0, end, 6 * time.Hour},
		{b0.Add(7*time.Minute + 13*time.Second + 5*time.Microsecond), end.Add(-3*time.Minute - time.Microsecond), time.Hour},
		{b0.Add(2 * time.Hour), b0.Add(2*time.Hour + 2*time.Minute), 5 * time.Minute},                // within one row
		{b0.Add(2*time.Hour - 3*time.Minute), b0.Add(2*time.Hour + 7*time.Minute), 15 * time.Minute}, // one row and two edges
		{b0, end, 7 * time.Minute}, // not a multiple of five minutes: read from the messages
		// The charts page at the end of the data: since truncated to the bucket, until now + 1µs.
		{end.Add(-7 * 24 * time.Hour).Truncate(6 * time.Hour), b0.Add(20*time.Hour + 2*time.Minute + time.Microsecond), 6 * time.Hour},
		{b0.Add(20*time.Hour + 2*time.Minute - 24*time.Hour).Truncate(time.Hour), b0.Add(20*time.Hour + 2*time.Minute + time.Microsecond), time.Hour},
	} {
		want, err := scan(t.Context(), q.since, q.until, q.bucket)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.DeliveryStats(t.Context(), q.since, q.until, q.bucket)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			t.Fatalf("%s: [%s, %s) by %s: the reference is empty: the test checks nothing", stage, q.since, q.until, q.bucket)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: DeliveryStats [%s, %s) by %s differs from reading every message (-scan +totals):\n%s",
				stage, q.since, q.until, q.bucket, diff)
		}
	}
}
