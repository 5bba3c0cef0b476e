package node_test

import (
	"context"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
)

// TestEventRetention: event_retention bounds the event log: events older than it, fanned out,
// are deleted (the newest kept); 0 keeps everything.
func TestEventRetention(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		retention string
		want      int
	}{{"1h", 2}, {"0", 0}} {
		t.Run("event_retention="+c.retention, func(t *testing.T) {
			t.Parallel()
			var (
				mu  sync.Mutex
				now = time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)
			)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			env := map[string]string{"SWITCHBOARD_ADDR": "127.0.0.1:0", "SWITCHBOARD_DATA_DIR": t.TempDir(),
				"SWITCHBOARD_EVENT_RETENTION": c.retention}
			cfg, err := config.Load(nil, func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			n, err := node.Open(context.Background(), cfg, nil, node.Options{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
			ctx := context.Background()
			for _, phone := range []string{"+14155550101", "+14155550102", "+14155550103"} {
				if err := n.Store().RecordConsent(ctx, &switchboard.ConsentRecord{Phone: phone, Scope: "*",
					State: switchboard.ConsentOptedIn, Source: switchboard.ConsentFromAPI, Actor: "test", At: clock()}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := n.Store().FanOutEvents(ctx, clock(), 100); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			now = now.Add(2 * time.Hour)
			mu.Unlock()
			k, err := n.PruneEvents(ctx)
			if err != nil || k != c.want {
				t.Fatalf("PruneEvents = %d, %v; want %d", k, err, c.want)
			}
			evs, err := n.Store().ListAppEvents(ctx, switchboard.AppEventFilter{Limit: 10})
			if err != nil || len(evs) != 3-c.want {
				t.Fatalf("%d events left (%v), want %d", len(evs), err, 3-c.want)
			}
		})
	}
}
