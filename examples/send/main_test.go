package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
)

// TestExampleAgainstARunningNode runs the example against a real node (in-process, with the
// built-in simulator) and checks that it prints the timeline to delivery.
func TestExampleAgainstARunningNode(t *testing.T) {
	env := map[string]string{"SWITCHBOARD_ADDR": "127.0.0.1:0", "SWITCHBOARD_DATA_DIR": t.TempDir()}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n, err := node.Open(ctx, cfg, nil, node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	_, key, err := node.CreateAPIKey(ctx, n.Store(), "example", time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
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
