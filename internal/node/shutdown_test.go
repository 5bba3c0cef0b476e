package node_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/node"
)

// TestGracefulShutdownDrains: during a shutdown /readyz answers 503, the provider call in flight
// finishes and is recorded (nothing left ambiguous), and Shutdown returns within its time.
func TestGracefulShutdownDrains(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	n.simControl(t, http.MethodPost, "/sim/v1/faults", map[string]any{"latency_ms": 800})
	ctx := context.Background()
	m, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "in flight at shutdown"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the attempt to start", func() bool {
		got, err := n.Store().GetMessage(ctx, m.ID)
		return err == nil && got.AttemptInFlight
	})
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		done <- n.Shutdown(sctx)
	}()
	saw503 := false
	for !saw503 && time.Since(start) < 700*time.Millisecond {
		resp, err := http.Get(n.URL() + "/readyz")
		if err == nil {
			saw503 = resp.StatusCode == http.StatusServiceUnavailable
			resp.Body.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !saw503 {
		t.Fatal("/readyz did not answer 503 while draining")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("shutdown took %v", took)
	}
	// The store is closed with the node: reopen it to look.
	st, err := openStoreOf(t, n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetMessage(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.AttemptInFlight || got.ProviderSID == "" || got.Status != switchboard.StatusSending && !got.Status.Terminal() && got.Status != switchboard.StatusSent {
		t.Fatalf("in-flight attempt not finished and recorded at shutdown: %+v", got)
	}
	if got.LeaseOwner != "" {
		t.Fatalf("lease still held after shutdown by %s", got.LeaseOwner)
	}
}

func openStoreOf(t *testing.T, n *testNode) (switchboard.Store, error) {
	t.Helper()
	st, err := node.OpenStore(context.Background(), n.Config().DatabaseURL, node.StoreOptionsOf(n.Config()))
	if err == nil {
		t.Cleanup(func() { st.Close() })
	}
	return st, err
}
