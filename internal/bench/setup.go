package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// benchNode is a full Switchboard node booted in-process on 127.0.0.1:0 with the built-in
// simulator, its dispatcher held at a gate until the bench opens it.
type benchNode struct {
	*node.Node
	dir      string
	engine   string
	schema   *postgres.Schema // the node's fresh schema on PostgreSQL, dropped by close
	keyID    string           // the API key the bench's HTTP clients use
	secret   string
	rawKeyID string // the API key the raw store ceiling's messages are recorded under
	started  time.Time
	gate     chan struct{}
	gateOnce sync.Once
}

// nodeSetup adjusts the node a bench boots.
type nodeSetup struct {
	// yaml is the configuration file's content, if any.
	yaml string
	// env adds settings.
	env map[string]string
	// dispatch adjusts the dispatcher's configuration.
	dispatch func(*dispatch.Config)
	// sim adjusts the in-process simulator's configuration.
	sim func(*twiliosim.Config)
}

// databaseURL resolves the --database value: empty is a fresh SQLite file in dir, a bare path
// is a SQLite file.
func databaseURL(flag, dir string) string {
	switch {
	case flag == "":
		return "sqlite:" + filepath.Join(dir, "bench.db")
	case strings.Contains(flag, "://"), strings.HasPrefix(flag, "sqlite:"):
		return flag
	}
	return "sqlite:" + flag
}

// benchSchemaPrefix starts the name of every schema a bench creates on PostgreSQL: one left
// behind by a bench that was killed can be found, and dropped, by it.
const benchSchemaPrefix = "switchboard_bench_"

// createSchema creates a fresh schema in the PostgreSQL database dbURL names, for one node (or
// one cluster) of a bench, and says so on progress.
func createSchema(ctx context.Context, progress func(format string, args ...any), dbURL string) (*postgres.Schema, error) {
	s, err := postgres.CreateSchema(ctx, dbURL, benchSchemaPrefix)
	if err != nil {
		return nil, err
	}
	progress("database: PostgreSQL schema %s, dropped when the bench is done with it", s.Name)
	return s, nil
}

// dropSchema drops s, if any, with its own deadline: it runs on the way out, often after the
// bench's context has ended.
func dropSchema(s *postgres.Schema) error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Drop(ctx)
}

// startNode boots a node. Its settings come only from the bench, never from the process
// environment, so that nothing set for `serve` (live Twilio credentials...) can make a bench
// leave the machine. On PostgreSQL the node runs in a fresh schema of the given database, which
// close drops: a bench never finds another's rows, and leaves none behind.
func startNode(ctx context.Context, cfg Config, s nodeSetup) (_ *benchNode, err error) {
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, err
	}
	var schema *postgres.Schema
	defer func() {
		if err != nil {
			err = errors.Join(err, os.RemoveAll(dir), dropSchema(schema))
		}
	}()
	dbURL := databaseURL(cfg.DatabaseURL, dir)
	if engine, _, _ := config.ParseDatabaseURL(dbURL); engine == "postgres" {
		if schema, err = createSchema(ctx, cfg.progress, dbURL); err != nil {
			return nil, err
		}
		dbURL = schema.URL
	}
	env := map[string]string{
		"SWITCHBOARD_ADDR":         "127.0.0.1:0",
		"SWITCHBOARD_SIM_ADDR":     "127.0.0.1:0",
		"SWITCHBOARD_PROVIDER":     config.ProviderSimulator,
		"SWITCHBOARD_DATA_DIR":     dir,
		"SWITCHBOARD_DATABASE_URL": dbURL,
	}
	for k, v := range s.env {
		env[k] = v
	}
	if s.yaml != "" {
		p := filepath.Join(dir, "switchboard.yaml")
		if err := os.WriteFile(p, []byte(s.yaml), 0o600); err != nil {
			return nil, err
		}
		env["SWITCHBOARD_CONFIG"] = p
	}
	ncfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	engine, _, err := config.ParseDatabaseURL(ncfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	b := &benchNode{dir: dir, engine: engine, schema: schema, gate: make(chan struct{}), started: time.Now().UTC()}
	b.Node, err = node.Open(ctx, ncfg, cfg.Logger, node.Options{
		SimConfig: s.sim,
		DispatchConfig: func(dc *dispatch.Config) {
			dc.Store = &gatedStore{Store: dc.Store, open: b.gate}
			if s.dispatch != nil {
				s.dispatch(dc)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	if err := b.Start(ctx); err != nil {
		_ = b.Shutdown(context.Background())
		return nil, err
	}
	key, secret, err := node.CreateAPIKey(ctx, b.Store(), "bench", time.Now().UTC())
	if err != nil {
		_ = b.Shutdown(context.Background())
		return nil, err
	}
	raw, _, err := node.CreateAPIKey(ctx, b.Store(), "bench-raw", time.Now().UTC())
	if err != nil {
		_ = b.Shutdown(context.Background())
		return nil, err
	}
	b.keyID, b.secret, b.rawKeyID = key.ID, secret, raw.ID
	return b, nil
}

// openGate lets the dispatcher look for due work.
func (b *benchNode) openGate() { b.gateOnce.Do(func() { close(b.gate) }) }

// close shuts the node down (the dispatcher lets its provider calls finish) and removes its
// temporary directory and its schema. Calling it again is harmless.
func (b *benchNode) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.Shutdown(ctx)
	err = errors.Join(err, os.RemoveAll(b.dir), dropSchema(b.schema))
	b.schema = nil
	return err
}

// gatedStore holds the dispatcher until the gate opens: DueSenders, the call with which the
// dispatcher looks for work, waits for it. With the gate closed the dispatcher claims nothing and
// costs nothing, so that it does not compete with the API for the CPU (accept, webhooks), and a
// backlog can be enqueued before it starts (dispatch). Everything else passes through.
type gatedStore struct {
	dispatch.Store
	open <-chan struct{}
}

// DueSenders waits for the gate, then asks the store.
func (g *gatedStore) DueSenders(ctx context.Context, now time.Time) ([]string, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Store.DueSenders(ctx, now)
}

// refuseDueWork fails when the store already holds due messages: a dispatch bench counts what
// reaches the simulator, and earlier work would be counted with its own.
func refuseDueWork(ctx context.Context, st switchboard.Store) error {
	at, err := st.NextDueAt(ctx)
	if err != nil {
		return err
	}
	if at != nil && !at.After(time.Now().Add(time.Hour)) {
		return fmt.Errorf("the database already holds messages waiting to be sent (left by an earlier bench?); " +
			"the dispatch bench counts what reaches the simulator and needs a database without them: " +
			"leave --database unset for a fresh SQLite file, or name a new file or a postgres:// URL (a fresh schema per node)")
	}
	return nil
}

// itoa formats an int64.
func itoa(i int64) string { return strconv.FormatInt(i, 10) }
