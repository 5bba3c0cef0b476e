package node

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

// limitStore records the limit QueueStats is asked for and answers as a store would at it.
type limitStore struct {
	switchboard.Store
	limits []int64
}

func (s *limitStore) QueueStats(_ context.Context, _ time.Time, limit int64) ([]switchboard.SenderQueue, error) {
	s.limits = append(s.limits, limit)
	q := switchboard.SenderQueue{Sender: "+15005550006", Ready: 25_000, Deferred: 3}
	if limit > 0 && q.Ready > limit {
		q.Ready, q.ReadyCapped = limit, true
	}
	return []switchboard.SenderQueue{q}, nil
}

// TestQueueStatsLimits: the dashboard asks the store for counts capped at
// switchboard.QueueCountLimit and passes the cap on (shown as "10,000+"); the metrics' gauges ask
// for exact counts.
func TestQueueStatsLimits(t *testing.T) {
	st := &limitStore{}
	n := &Node{store: st, clock: func() time.Time { return time.Unix(0, 0) }}
	qs, err := n.queueStats(t.Context())
	if err != nil || len(qs) != 1 || qs[0].Ready != switchboard.QueueCountLimit || !qs[0].ReadyCapped || qs[0].DeferredCapped {
		t.Fatalf("dashboard queue stats = %+v, %v; want ready capped at %d", qs, err, switchboard.QueueCountLimit)
	}
	got, err := exactQueueStats(st)(t.Context(), time.Unix(0, 0))
	if err != nil || len(got) != 1 || got[0].Ready != 25_000 || got[0].ReadyCapped {
		t.Fatalf("metrics queue stats = %+v, %v; want the exact 25000", got, err)
	}
	if want := []int64{switchboard.QueueCountLimit, 0}; len(st.limits) != 2 || st.limits[0] != want[0] || st.limits[1] != want[1] {
		t.Fatalf("limits asked = %v, want %v", st.limits, want)
	}
}
