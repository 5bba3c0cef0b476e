package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/internal/postgres"
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
	lb      *procBalancer
	nodes   []*procNode
	secret  string // the API key the load uses
	logPath string
}

// procNode is one serve process; it keeps its address across restarts.
type procNode struct {
	addr string
	env  []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
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

// freeAddr reserves a loopback port and releases it for a process to listen on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
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
		if addrs[i], err = freeAddr(); err != nil {
			return nil, err
		}
	}
	if c.lb, err = newProcBalancer(addrs); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(cfgPath, []byte(s.yaml), 0o600); err != nil {
		return nil, err
	}
	for i, addr := range addrs {
		env := map[string]string{
			"SWITCHBOARD_ADDR": addr, "SWITCHBOARD_PUBLIC_URL": c.lb.url, "SWITCHBOARD_DATABASE_URL": c.dbURL,
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
		n := &procNode{addr: addr, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}}
		for k, v := range env {
			n.env = append(n.env, k+"="+v)
		}
		c.nodes = append(c.nodes, n)
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
	cmd.Dir, cmd.Env = c.dir, c.nodes[0].env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("switchboard %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// start starts n's process and waits until it answers /readyz.
func (c *procCluster) start(ctx context.Context, n *procNode) error {
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.binary, "serve")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = c.dir, n.env, logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting switchboard serve: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get("http://" + n.addr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("switchboard serve on %s exited at start-up (see %s)", n.addr, c.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("switchboard serve on %s not ready after 60s (see %s)", n.addr, c.logPath)
		}
	}
}

// kill9 kills n's process with SIGKILL and waits for it to be gone.
func (n *procNode) kill9() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop ends n's process gracefully (SIGTERM), or with SIGKILL after 30 s.
func (n *procNode) stop() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// close stops every process and server, removes the temporary directory and drops the schema.
func (c *procCluster) close() error {
	for _, n := range c.nodes {
		n.stop()
	}
	if c.lb != nil {
		c.lb.close()
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
func (c *procCluster) nodeLog(max int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// procBalancer spreads requests round-robin over the nodes, like the load balancer in front of a
// production cluster; the nodes' public URL is its URL, so the simulator's callbacks pass
// through it too. A node that refuses the connection (dead) is skipped: the request never
// reached it, so trying the next is safe. Any other failure is answered 502 and the client
// retries with its idempotency key.
type procBalancer struct {
	backends []string
	next     atomic.Uint64
	client   *http.Client
	srv      *http.Server
	url      string
}

func newProcBalancer(addrs []string) (*procBalancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lb := &procBalancer{url: "http://" + ln.Addr().String(), client: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second,
			DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext},
	}}
	for _, a := range addrs {
		lb.backends = append(lb.backends, "http://"+a)
	}
	lb.srv = &http.Server{Handler: http.HandlerFunc(lb.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = lb.srv.Serve(ln) }()
	return lb, nil
}

func (lb *procBalancer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading request", http.StatusBadRequest)
		return
	}
	for range lb.backends {
		b := lb.backends[lb.next.Add(1)%uint64(len(lb.backends))]
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, b+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := lb.client.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) {
			continue
		}
		if err != nil {
			http.Error(w, "backend failed: "+err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "no live backend", http.StatusBadGateway)
}

func (lb *procBalancer) close() {
	_ = lb.srv.Close()
	lb.client.CloseIdleConnections()
}
