package testkit

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// NodeConfig says how to boot a node in process.
type NodeConfig struct {
	// Env holds the settings, as environment variables. SWITCHBOARD_ADDR defaults to
	// 127.0.0.1:0 and SWITCHBOARD_DATA_DIR to a temporary directory (so SQLite there, and the
	// in-process simulator as the provider unless Env says otherwise).
	Env map[string]string
	// YAML, when set, is written to a file that SWITCHBOARD_CONFIG names.
	YAML string
	// Options are the node's test seams (clock, simulator and dispatcher timings…).
	Options node.Options
	// Logger defaults to warnings and errors into the test's log.
	Logger *slog.Logger
	// KeyName names the API key created for the test ("test" by default).
	KeyName string
}

// Node is a node booted on loopback with an API key, shut down when the test ends.
type Node struct {
	*node.Node
	// Client is an API client with the key, which does not retry.
	Client *client.Client
	// Secret is the API key's secret.
	Secret string
	// CLIEnv points the command line at the node (SWITCHBOARD_URL, SWITCHBOARD_API_KEY).
	CLIEnv map[string]string
	// Dir is the node's data directory, unless Env chose another.
	Dir string

	t    testing.TB
	stop sync.Once
}

// StartNode opens and starts a node and creates an API key on it; it fails the test if any of
// that fails.
func StartNode(t testing.TB, c NodeConfig) *Node {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"SWITCHBOARD_ADDR": "127.0.0.1:0", "SWITCHBOARD_DATA_DIR": dir}
	for k, v := range c.Env {
		env[k] = v
	}
	if c.YAML != "" {
		p := filepath.Join(dir, "switchboard.yaml")
		if err := os.WriteFile(p, []byte(c.YAML), 0o600); err != nil {
			t.Fatal(err)
		}
		env["SWITCHBOARD_CONFIG"] = p
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logger := c.Logger
	if logger == nil {
		logger = Logger(t, slog.LevelWarn)
	}
	ctx := context.Background()
	nd, err := node.Open(ctx, cfg, logger, c.Options)
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{Node: nd, Dir: dir, t: t}
	if err := nd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	name := c.KeyName
	if name == "" {
		name = "test"
	}
	_, n.Secret, err = node.CreateAPIKey(ctx, nd.Store(), name, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	n.Client = client.New(nd.URL(), n.Secret, client.WithRetries(0))
	n.CLIEnv = map[string]string{"SWITCHBOARD_URL": nd.URL(), "SWITCHBOARD_API_KEY": n.Secret}
	return n
}

// Stop shuts the node down (once; the test's end does it too) and reports a failed shutdown.
func (n *Node) Stop() {
	n.stop.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			n.t.Errorf("shutdown: %v", err)
		}
	})
}

// WaitStatus polls the message until it reaches one of want and returns it.
func (n *Node) WaitStatus(t testing.TB, id string, timeout time.Duration, want ...switchboard.Status) *switchboard.Message {
	t.Helper()
	var m *switchboard.Message
	WaitFor(t, timeout, fmt.Sprintf("message %s to reach %v", id, want), func() bool {
		var err error
		m, err = n.Client.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if m.Status == w {
				return true
			}
		}
		return false
	})
	return m
}

// SimMessages lists the messages the node's in-process simulator holds.
func (n *Node) SimMessages(t testing.TB) []twiliosim.Message {
	t.Helper()
	return SimMessages(t, n.URL(), n.Secret)
}
