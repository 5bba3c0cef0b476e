package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/proc"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// procCluster is what the chaos bench kills: N `switchboard serve` processes (one on SQLite,
// any number on one PostgreSQL) behind a load balancer, all talking to a simulator that runs in
// the bench's own process — so the simulator outlives every kill and counts what it received.
type procCluster struct {
	binary  string
	dir     string
	dbURL   string
	engine  string
	schema  *postgres.Schema // the nodes' shared fresh schema on PostgreSQL, dropped by close
	sim     *twiliosim.Simulator
	simSrv  *http.Server
	simURL  string
	lb      *proc.Balancer
	nodes   []*procNode
	secret  string // the API key the load uses
	logPath string
	log     *os.File // every node's output, over all its runs
}

// procNode is one serve process; it keeps its address across restarts.
type procNode struct {
	addr string
	*proc.Process
}

// clusterSetup says what to boot.
type clusterSetup struct {
	binary      string
	databaseURL string // "" for SQLite in dir; on PostgreSQL the nodes share a fresh schema of it
	nodes       int
	yaml        string
	env         map[string]string
	sim         twiliosim.Config
	progress    func(format string, args ...any)
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startCluster boots the simulator, the balancer and the nodes, migrates a PostgreSQL database
// once, and creates the API key. On PostgreSQL the nodes share a fresh schema of the given
// database, which close drops. Settings go to the processes from the bench only: the
// environment of the bench is not passed on (PATH and HOME excepted).
func startCluster(ctx context.Context, s clusterSetup) (_ *procCluster, err error) {
	dir, err := os.MkdirTemp("", "switchboard-chaos-")
	if err != nil {
		return nil, err
	}
	c := &procCluster{binary: s.binary, dir: dir, logPath: filepath.Join(dir, "nodes.log")}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.close())
		}
	}()
	if c.log, err = os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	c.dbURL = databaseURL(s.databaseURL, dir)
	c.engine = "sqlite"
	if strings.HasPrefix(c.dbURL, "postgres") {
		c.engine = "postgres"
	}
	if c.engine == "sqlite" && s.nodes > 1 {
		return nil, fmt.Errorf("%d nodes need a shared PostgreSQL database (--database postgres://...); SQLite serves one node", s.nodes)
	}
	if c.engine == "postgres" {
		if c.schema, err = createSchema(ctx, s.progress, c.dbURL); err != nil {
			return nil, err
		}
		c.dbURL = c.schema.URL
	}

	scfg := s.sim
	scfg.AccountSID, scfg.AuthToken = "AC"+randomHex(16), randomHex(16)
	c.sim = twiliosim.New(scfg)
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.simSrv = &http.Server{Handler: c.sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.simSrv.Serve(simLn) }()
	c.simURL = "http://" + simLn.Addr().String()

	addrs := make([]string, s.nodes)
	for i := range addrs {
		if addrs[i], err = proc.FreeAddr(); err != nil {
			return nil, err
		}
	}
	if c.lb, err = proc.NewBalancer(addrs); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(cfgPath, []byte(s.yaml), 0o600); err != nil {
		return nil, err
	}
	for i, addr := range addrs {
		env := map[string]string{
			"SWITCHBOARD_ADDR": addr, "SWITCHBOARD_PUBLIC_URL": c.lb.URL(), "SWITCHBOARD_DATABASE_URL": c.dbURL,
			"SWITCHBOARD_DATA_DIR": filepath.Join(dir, fmt.Sprintf("node%d", i)), "SWITCHBOARD_CONFIG": cfgPath,
			"SWITCHBOARD_PROVIDER": "twilio", "SWITCHBOARD_TWILIO_BASE_URL": c.simURL,
			"TWILIO_ACCOUNT_SID": scfg.AccountSID, "TWILIO_AUTH_TOKEN": scfg.AuthToken,
			"SWITCHBOARD_SYNC_WEBHOOKS": "false", "SWITCHBOARD_LOG_LEVEL": "warn",
		}
		if c.engine == "postgres" {
			env["SWITCHBOARD_MIGRATE"] = "false"
			env["SWITCHBOARD_DB_MAX_CONNS"] = "8"
		}
		for k, v := range s.env {
			env[k] = v
		}
		c.nodes = append(c.nodes, &procNode{addr: addr, Process: &proc.Process{
			Path: c.binary, Dir: dir, Env: proc.Env(env), Args: []string{"serve"}, Output: c.log,
		}})
	}
	// migrate creates the database (keys refuses to); on PostgreSQL the nodes then skip it.
	if _, err := c.run(ctx, "migrate"); err != nil {
		return nil, err
	}
	out, err := c.run(ctx, "keys", "create", "--name", "chaos-bench")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	c.secret = strings.TrimSpace(lines[len(lines)-1])
	for _, n := range c.nodes {
		if err := c.start(ctx, n); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// run runs a switchboard command with the first node's settings and returns its stdout.
func (c *procCluster) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.binary, args...)
	cmd.Dir, cmd.Env = c.dir, c.nodes[0].Env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("switchboard %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// start starts n's process and waits until it answers /readyz.
func (c *procCluster) start(ctx context.Context, n *procNode) error {
	if err := n.Start(); err != nil {
		return err
	}
	if err := proc.WaitReady(ctx, "http://"+n.addr+"/readyz", n.Done(), 60*time.Second); err != nil {
		return fmt.Errorf("switchboard serve on %s: %w (see %s)", n.addr, err, c.logPath)
	}
	return nil
}

// close stops every process and server, removes the temporary directory and drops the schema.
func (c *procCluster) close() error {
	for _, n := range c.nodes {
		n.Stop(30 * time.Second)
	}
	if c.lb != nil {
		c.lb.Close()
	}
	if c.log != nil {
		_ = c.log.Close()
	}
	if c.simSrv != nil {
		_ = c.simSrv.Close()
	}
	if c.sim != nil {
		c.sim.Close()
	}
	// The nodes are gone, so no connection holds a lock the drop would wait for.
	return errors.Join(os.RemoveAll(c.dir), dropSchema(c.schema))
}

// nodeLog returns the end of the nodes' output, for an error report.
func (c *procCluster) nodeLog(limit int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	if len(b) > limit {
		b = b[len(b)-limit:]
	}
	return string(b)
}
