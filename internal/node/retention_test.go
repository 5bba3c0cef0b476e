package node_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

func TestRetentionRedactsAfterConfiguredTime(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	n := startNode(t, nodeOpts{clock: clock.Now, env: map[string]string{"SWITCHBOARD_RETENTION": "7d"}})
	ctx := context.Background()
	m, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "Your lab results are ready"})
	if err != nil {
		t.Fatal(err)
	}
	m = n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
	clock.Add(6 * 24 * time.Hour)
	if k, err := n.Retain(ctx); err != nil || k != 0 {
		t.Fatalf("retention before 7 days redacted %d (%v)", k, err)
	}
	clock.Add(2 * 24 * time.Hour)
	if k, err := n.Retain(ctx); err != nil || k != 1 {
		t.Fatalf("retention after 8 days redacted %d (%v), want 1", k, err)
	}
	got, err := n.client.Get(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Body != "" || got.RedactedAt == nil || got.BodySHA256 != m.BodySHA256 || got.BodyLength != len("Your lab results are ready") || got.Segments != 1 {
		t.Fatalf("through the API after retention: %+v", got)
	}
	for _, e := range got.Events {
		if len(e.Payload) != 0 {
			t.Fatalf("a raw payload survived retention: %s", e.Payload)
		}
	}
}

func TestStoreNoBodies(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_STORE_BODIES": "false"}})
	ctx := context.Background()
	m, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "Door code 4471"})
	if err != nil {
		t.Fatal(err)
	}
	n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
	if k, err := n.Retain(ctx); err != nil || k != 1 {
		t.Fatalf("Retain = %d, %v", k, err)
	}
	if got, _ := n.client.Get(ctx, m.ID); got.Body != "" || got.RedactedAt == nil {
		t.Fatalf("body kept with store_bodies=false: %q", got.Body)
	}
}

// TestRetentionDeletesMediaFiles: stored and quarantined media files last received before the
// retention cutoff are deleted; newer ones stay.
func TestRetentionDeletesMediaFiles(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	n := startNode(t, nodeOpts{clock: clock.Now, env: map[string]string{"SWITCHBOARD_RETENTION": "7d"}})
	dir := n.Config().Media.Dir
	files := map[string]time.Duration{
		filepath.Join(dir, "aaaa"):               8 * 24 * time.Hour,
		filepath.Join(dir, "quarantine", "bbbb"): 8 * 24 * time.Hour,
		filepath.Join(dir, "cccc"):               6 * 24 * time.Hour,
	}
	for p, age := range files {
		if err := os.WriteFile(p, []byte("photo"), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := clock.Now().Add(-age)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	k, err := n.PruneMedia()
	if err != nil || k != 2 {
		t.Fatalf("PruneMedia = %d, %v; want 2", k, err)
	}
	for p, age := range files {
		_, err := os.Stat(p)
		if gone := os.IsNotExist(err); gone != (age > 7*24*time.Hour) {
			t.Fatalf("%s (age %v): gone=%v", p, age, gone)
		}
	}
}

// TestRetentionDeletesRefusals: verification refusals older than the retention are deleted and
// newer ones kept, and store_bodies=false, which redacts bodies at once, does not delete a
// refusal at once: its ID is the support reference a person quotes.
func TestRetentionDeletesRefusals(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	n := startNode(t, nodeOpts{clock: clock.Now, env: map[string]string{"SWITCHBOARD_RETENTION": "7d", "SWITCHBOARD_STORE_BODIES": "false"}})
	ctx := context.Background()
	record := func(id string) {
		t.Helper()
		if err := n.Store().RecordRefusal(ctx, &switchboard.Refusal{ID: id, Reason: "rate_limited_phone", To: "+14155550100",
			ClientIP: "203.0.113.9", At: clock.Now()}, nil); err != nil {
			t.Fatal(err)
		}
	}
	old := switchboard.NewID("ref")
	record(old)
	if k, err := n.PruneRefusals(ctx); err != nil || k != 0 {
		t.Fatalf("a refusal of now pruned: %d, %v", k, err)
	}
	clock.Add(6 * 24 * time.Hour)
	recent := switchboard.NewID("ref")
	record(recent)
	clock.Add(2 * 24 * time.Hour)
	if k, err := n.PruneRefusals(ctx); err != nil || k != 1 {
		t.Fatalf("PruneRefusals after 8 days = %d, %v; want 1", k, err)
	}
	got, _, err := n.Store().ListRefusals(ctx, switchboard.RefusalFilter{To: "+14155550100"})
	if err != nil || len(got) != 1 || got[0].ID != recent {
		t.Fatalf("refusals left: %+v, %v; want only %s", got, err, recent)
	}
}
