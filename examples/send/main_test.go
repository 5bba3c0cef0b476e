package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/testkit"
)

// TestExampleAgainstARunningNode runs the example against a real node (in-process, with the
// built-in simulator) and checks that it prints the timeline to delivery.
func TestExampleAgainstARunningNode(t *testing.T) {
	n := testkit.StartNode(t, testkit.NodeConfig{KeyName: "example"})
	key := n.Secret
	ctx := context.Background()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := run(ctx, &out, client.New(n.URL(), key), "+14155550100", "Your technician is on the way"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"accepted msg_", "queued", "sending", "sent", "delivered", "final status: delivered"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
