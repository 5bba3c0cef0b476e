package dispatch

import (
	"context"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestGCRABurstThenRate(t *testing.T) {
	t.Parallel()
	l := NewMemoryLimiter()
	s := switchboard.Sender{From: "+15005550006", Rate: 10, Burst: 5}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ats []time.Time
	for range 25 {
		at, ok, err := l.Reserve(context.Background(), s, 1, now, time.Hour)
		if err != nil || !ok {
			t.Fatalf("reserve: ok=%v err=%v", ok, err)
		}
		ats = append(ats, at)
	}
	// The first Burst go at once, then one every 100 ms.
	for i, at := range ats {
		want := now
		if i >= 5 {
			want = now.Add(time.Duration(i-4) * 100 * time.Millisecond)
		}
		if !at.Equal(want) {
			t.Fatalf("reservation %d at %v, want %v", i, at.Sub(now), want.Sub(now))
		}
	}
	// Over any window W the count stays within Burst + Rate*W.
	for i := range ats {
		for j := i; j < len(ats); j++ {
			w := ats[j].Sub(ats[i]).Seconds()
			if n := float64(j - i + 1); n > 5+10*w+1e-9 {
				t.Fatalf("%v segments in %vs exceeds burst+rate", n, w)
			}
		}
	}
}

func TestGCRASegmentsCost(t *testing.T) {
	t.Parallel()
	l := NewMemoryLimiter()
	s := switchboard.Sender{From: "a", Rate: 1, Burst: 1}
	now := time.Unix(0, 0)
	at1, _, _ := l.Reserve(context.Background(), s, 3, now, time.Hour)
	at2, _, _ := l.Reserve(context.Background(), s, 1, now, time.Hour)
	if !at1.Equal(now) || at2.Sub(now) != 3*time.Second {
		t.Fatalf("3-segment message must hold the next one for 3s: got %v then %v", at1.Sub(now), at2.Sub(now))
	}
}

func TestGCRAMaxWaitReservesNothing(t *testing.T) {
	t.Parallel()
	l := NewMemoryLimiter()
	s := switchboard.Sender{From: "a", Rate: 1, Burst: 1}
	now := time.Unix(0, 0)
	l.Reserve(context.Background(), s, 1, now, time.Hour)
	if _, ok, _ := l.Reserve(context.Background(), s, 1, now, 500*time.Millisecond); ok {
		t.Fatal("reservation beyond maxWait granted")
	}
	at, ok, _ := l.Reserve(context.Background(), s, 1, now, time.Hour)
	if !ok || at.Sub(now) != time.Second {
		t.Fatalf("a refused reservation must not consume budget: next at %v", at.Sub(now))
	}
}

func TestGCRAUnlimited(t *testing.T) {
	t.Parallel()
	l := NewMemoryLimiter()
	now := time.Unix(0, 0)
	for range 1000 {
		at, ok, _ := l.Reserve(context.Background(), switchboard.Sender{From: "u", Rate: -1}, 5, now, 0)
		if !ok || !at.Equal(now) {
			t.Fatal("unlimited sender was delayed")
		}
	}
}

// countingStore counts claims; every other method is unused by drain in this test.
type countingStore struct {
	switchboard.Store
	claims, releases int
	mu               sync.Mutex
}

func (c *countingStore) ClaimMessages(_ context.Context, p switchboard.ClaimParams) ([]*switchboard.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.claims++
	return []*switchboard.Message{{ID: "msg_1", From: p.From, Segments: 1}}, nil
}

func (c *countingStore) UpdateMessage(_ context.Context, u switchboard.MessageUpdate) (*switchboard.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releases++
	return &switchboard.Message{ID: u.ID}, nil
}

// busyLimiter never has budget within the lease.
type busyLimiter struct{}

func (busyLimiter) Reserve(context.Context, switchboard.Sender, int, time.Time, time.Duration) (time.Time, bool, error) {
	return time.Time{}, false, nil
}

// TestDrainDoesNotSpinWithoutBudget: when not even one message fits in a lease, drain waits
// before claiming again instead of claiming and releasing in a tight loop.
func TestDrainDoesNotSpinWithoutBudget(t *testing.T) {
	t.Parallel()
	st := &countingStore{}
	d := New(Config{Store: st, Limiter: busyLimiter{}, Lease: 2 * time.Second, ProviderTimeout: time.Second,
		Senders: []switchboard.Sender{{From: "+15005550006", Rate: 1, Burst: 1}}})
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	d.drain(ctx, "+15005550006")
	st.mu.Lock()
	defer st.mu.Unlock()
	// A 500 ms pause between claims allows about 3 in 1.2 s; a spinning loop makes thousands.
	if st.claims > 5 || st.claims != st.releases {
		t.Fatalf("%d claims and %d releases in 1.2 s", st.claims, st.releases)
	}
}
