package acceptance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// binary is the switchboard binary, built once by TestMain from the module's cmd/switchboard.
var binary string

// repoRoot is the module's root directory (the examples are read from it).
var repoRoot string

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	repoRoot = filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "switchboard-acceptance")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "switchboard")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, "./cmd/switchboard")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building switchboard: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// inCI reports whether the tests run in CI, where nothing may skip.
func inCI() bool {
	ci := os.Getenv("CI")
	return ci != "" && ci != "false" && ci != "0"
}

const (
	simAccount = "AC0123456789abcdef0123456789abcdef"
	simToken   = "f00dfeedf00dfeedf00dfeedf00dfeed"
)

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// logBuffer collects a process's stdout and stderr over all its runs (restarts included), for
// the checks on what the logs hold.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a long-running switchboard process (serve or sim).
type proc struct {
	name string
	dir  string
	env  map[string]string
	args []string
	log  *logBuffer
	cmd  *exec.Cmd
	done chan struct{}
}

func environ(extra map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TZ=UTC"}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

func startProc(t *testing.T, name, dir string, env map[string]string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, dir: dir, env: env, args: args, log: &logBuffer{}}
	p.start(t)
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			out := p.log.String()
			if len(out) > 20000 {
				out = "…" + out[len(out)-20000:]
			}
			t.Logf("output of %s:\n%s", p.name, out)
		}
	})
	return p
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(binary, p.args...)
	cmd.Dir = p.dir
	cmd.Env = environ(p.env)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	done := p.done
	go func() { _ = cmd.Wait(); close(done) }()
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill9 kills the process with SIGKILL: no drain, no goodbye.
func (p *proc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventually polls cond until it holds (true) or the deadline passes (false).
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func waitHTTP(t testing.TB, url string) {
	t.Helper()
	waitFor(t, 90*time.Second, url+" up", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// stackOptions describe a journey's installation.
type stackOptions struct {
	yaml     string            // the YAML configuration file (senders, keywords…)
	env      map[string]string // more serve settings
	simArgs  []string          // more `switchboard sim` flags
	nodes    int               // serve processes (default 1)
	database string            // SWITCHBOARD_DATABASE_URL (default: SQLite in the data directory)
	// templates and flows copy the example catalog and flows into the installation.
	templates, flows bool
}

// stack is one installation: a standalone `switchboard sim` standing in for Twilio and the
// phones, and one or more `switchboard serve` nodes talking to it over HTTP, with an API key.
type stack struct {
	t       *testing.T
	dir     string
	simAddr string
	sim     *proc
	nodes   []*node
	key     string // an API key's secret
	keyID   string
	http    *http.Client
	// apiURL is where applications, Twilio and the CLI reach the installation: node 0, or the
	// load balancer in front of a cluster.
	apiURL string
	// unanswered counts the requests retryAs sent again because the node did not answer.
	unanswered atomic.Int64
}

type node struct {
	addr string
	env  map[string]string
	p    *proc
}

func (n *node) url() string { return "http://" + n.addr }

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	s := &stack{t: t, dir: t.TempDir(), simAddr: freeAddr(t), http: &http.Client{Timeout: 30 * time.Second}}
	s.sim = startProc(t, "sim", s.dir, map[string]string{"TWILIO_ACCOUNT_SID": simAccount, "TWILIO_AUTH_TOKEN": simToken},
		append([]string{"sim", "--addr", s.simAddr, "--log-level", "warn", "--sending-delay", "5ms", "--sent-delay", "5ms", "--delivered-delay", "10ms",
			// Switchboard answers STOP/START/HELP itself (keywords.replies: switchboard), which
			// needs the account's own keyword handling off, as on Twilio.
			"--opt-out", "off"}, o.simArgs...)...)
	waitHTTP(t, "http://"+s.simAddr+"/sim/v1/messages")
	base := map[string]string{
		"SWITCHBOARD_PROVIDER": "twilio", "SWITCHBOARD_TWILIO_BASE_URL": "http://" + s.simAddr,
		"TWILIO_ACCOUNT_SID": simAccount, "TWILIO_AUTH_TOKEN": simToken,
		"SWITCHBOARD_DATA_DIR": filepath.Join(s.dir, "data"), "SWITCHBOARD_LOG_LEVEL": "info",
		"SWITCHBOARD_LEASE": "3s", "SWITCHBOARD_RECONCILE_DELAY": "300ms", "SWITCHBOARD_PROVIDER_TIMEOUT": "2s",
		// Twilio gives a status callback up after one failed connection: one that met the killed
		// node is recovered by asking the provider, here after seconds rather than minutes.
		"SWITCHBOARD_STATUS_POLL_AFTER":       "3s",
		"SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE": "true",
	}
	if o.database != "" {
		base["SWITCHBOARD_DATABASE_URL"] = o.database
	}
	if o.templates {
		base["SWITCHBOARD_TEMPLATES_DIR"] = copyDir(t, filepath.Join(repoRoot, "examples", "templates"), filepath.Join(s.dir, "templates"))
	}
	if o.flows {
		base["SWITCHBOARD_FLOWS_DIR"] = copyDir(t, filepath.Join(repoRoot, "examples", "flows"), filepath.Join(s.dir, "flows"))
	}
	if o.yaml != "" {
		p := filepath.Join(s.dir, "switchboard.yaml")
		if err := os.WriteFile(p, []byte(o.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		base["SWITCHBOARD_CONFIG"] = p
	}
	for k, v := range o.env {
		base[k] = v
	}
	if o.nodes == 0 {
		o.nodes = 1
	}
	var nodeAddrs []string
	for range o.nodes {
		nodeAddrs = append(nodeAddrs, freeAddr(t))
	}
	s.apiURL = "http://" + nodeAddrs[0]
	if o.nodes > 1 {
		lb := newLoadBalancer(t, nodeAddrs)
		s.apiURL = "http://" + lb.addr
		base["SWITCHBOARD_PUBLIC_URL"] = s.apiURL
	}
	for i := range o.nodes {
		n := &node{addr: nodeAddrs[i], env: map[string]string{}}
		for k, v := range base {
			n.env[k] = v
		}
		n.env["SWITCHBOARD_ADDR"] = n.addr
		if i > 0 { // one node points the numbers' webhooks at itself
			n.env["SWITCHBOARD_SYNC_WEBHOOKS"] = "false"
		} else {
			n.env["SWITCHBOARD_SYNC_WEBHOOKS"] = "true"
		}
		n.p = startProc(t, fmt.Sprintf("serve-%d", i), s.dir, n.env, "serve")
		s.nodes = append(s.nodes, n)
		waitHTTP(t, n.url()+"/readyz") // the first node migrates before the next starts
	}
	out := s.cli("keys", "create", "--name", "journey")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	s.key = lines[len(lines)-1]
	if f := strings.Fields(lines[0]); len(f) > 3 {
		s.keyID = f[3]
	}
	return s
}

// restart starts a node killed or stopped before, on the same database and settings.
func (s *stack) restart(i int) {
	s.t.Helper()
	n := s.nodes[i]
	n.p.start(s.t)
	waitHTTP(s.t, n.url()+"/readyz")
}

// serveLogs is everything every serve process printed, restarts included.
func (s *stack) serveLogs() string {
	var b strings.Builder
	for _, n := range s.nodes {
		b.WriteString(n.p.log.String())
	}
	return b.String()
}

func copyDir(t *testing.T, from, to string) string {
	t.Helper()
	err := filepath.Walk(from, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// cliResult is what a CLI command printed and how it exited.
type cliResult struct {
	stdout, stderr string
	err            error
}

// runCLI runs a switchboard client command as a user at a terminal next to node 0 would, with
// the installation's settings and the API key in the environment.
func (s *stack) runCLI(args ...string) cliResult {
	env := map[string]string{}
	for k, v := range s.nodes0env() {
		env[k] = v
	}
	env["SWITCHBOARD_URL"] = s.apiURL
	if s.key != "" {
		env["SWITCHBOARD_API_KEY"] = s.key
	}
	cmd := exec.Command(binary, args...)
	cmd.Dir = s.dir
	cmd.Env = environ(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return cliResult{stdout.String(), stderr.String(), err}
}

func (s *stack) nodes0env() map[string]string {
	if len(s.nodes) == 0 {
		return nil
	}
	env := map[string]string{}
	for k, v := range s.nodes[0].env {
		if k != "SWITCHBOARD_ADDR" { // a client command never needs the listen address
			env[k] = v
		}
	}
	return env
}

// cli runs a command that must succeed and returns its stdout.
func (s *stack) cli(args ...string) string {
	s.t.Helper()
	r := s.runCLI(args...)
	if r.err != nil {
		s.t.Fatalf("switchboard %s: %v\n%s%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// apiResponse is an HTTP answer of the API.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResponse) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %d %s: %v", r.status, r.body, err)
	}
}

// problemCode is the stable code of a problem+json answer.
func (r apiResponse) problemCode() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.body, &p)
	return p.Code
}

// request sends a JSON API request (Bearer key, plain JSON) to a node.
func (s *stack) request(nodeIdx int, method, path string, body any, header ...string) apiResponse {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	base := s.apiURL
	if nodeIdx >= 0 {
		base = s.nodes[nodeIdx].url()
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return apiResponse{status: 0, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *stack) api(method, path string, body any, header ...string) apiResponse {
	s.t.Helper()
	return s.request(-1, method, path, body, header...)
}

// mustAPI sends a request that must answer want, retrying while the node is unreachable
// (restarting), as a client with an idempotency key does.
func (s *stack) mustAPI(want int, method, path string, body any, out any, header ...string) {
	s.t.Helper()
	var r apiResponse
	deadline := time.Now().Add(60 * time.Second)
	for {
		r = s.api(method, path, body, header...)
		if r.status != 0 && r.status != http.StatusServiceUnavailable && r.status != http.StatusBadGateway || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.status != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if out != nil {
		r.decode(s.t, out)
	}
}

// message is the part of the API's message a journey checks.
type message struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Channel     string            `json:"channel"`
	To          string            `json:"to"`
	From        string            `json:"from"`
	Body        string            `json:"body"`
	ProviderSID string            `json:"provider_sid"`
	ErrorCode   int               `json:"error_code"`
	Metadata    map[string]string `json:"metadata"`
	Template    string            `json:"template"`
	SendAt      *time.Time        `json:"send_at"`
	WhatsApp    *struct {
		FallbackOf        string `json:"fallback_of"`
		FallbackMessageID string `json:"fallback_message_id"`
		ReachedBy         string `json:"reached_by"`
	} `json:"whatsapp"`
	Events []struct {
		Type   string `json:"type"`
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"events"`
}

func (s *stack) message(id string) message {
	s.t.Helper()
	var m message
	s.mustAPI(200, "GET", "/v1/messages/"+id, nil, &m)
	return m
}

func terminal(status string) bool {
	switch status {
	case "delivered", "read", "undelivered", "failed", "canceled", "blocked", "expired":
		return true
	}
	return false
}

// waitTerminal waits for every message to end and returns them by ID.
func (s *stack) waitTerminal(timeout time.Duration, ids []string) map[string]message {
	s.t.Helper()
	out := map[string]message{}
	waitFor(s.t, timeout, fmt.Sprintf("%d messages terminal", len(ids)), func() bool {
		for _, id := range ids {
			if m, ok := out[id]; ok && terminal(m.Status) && m.Status != "sent" {
				continue
			}
			r := s.api("GET", "/v1/messages/"+id, nil)
			if r.status != 200 {
				return false
			}
			var m message
			r.decode(s.t, &m)
			out[id] = m
			if !terminal(m.Status) {
				return false
			}
		}
		return true
	})
	return out
}

// simMessage is a message the simulated Twilio holds.
type simMessage struct {
	SID         string    `json:"sid"`
	Direction   string    `json:"direction"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Body        string    `json:"body"`
	ContentSID  string    `json:"content_sid"`
	Status      string    `json:"status"`
	ErrorCode   int       `json:"error_code"`
	DateCreated time.Time `json:"date_created"`
}

// simOutbound is every message the application sent to the simulated Twilio.
func (s *stack) simOutbound() []simMessage {
	s.t.Helper()
	var out struct {
		Messages []simMessage `json:"messages"`
	}
	s.simGet("/sim/v1/messages", &out)
	var msgs []simMessage
	for _, m := range out.Messages {
		if m.Direction != "inbound" {
			msgs = append(msgs, m)
		}
	}
	return msgs
}

func (s *stack) simGet(path string, out any) {
	s.t.Helper()
	resp, err := http.Get("http://" + s.simAddr + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		s.t.Fatal(err)
	}
}

// simPost posts to the simulator's control API and returns the status and body.
func (s *stack) simPost(path string, body any) (int, string) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post("http://"+s.simAddr+path, "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb)
}

// text makes a phone text one of our numbers, through the simulator.
func (s *stack) text(from, to, body string) {
	s.t.Helper()
	var code int
	var rb string
	waitFor(s.t, 30*time.Second, "inbound "+body+" accepted", func() bool {
		code, rb = s.simPost("/sim/v1/inbound", map[string]any{"from": from, "to": to, "body": body})
		return code == 200
	})
	_ = rb
}

// noDuplicates checks that no two outbound messages at the simulator are the same text to the
// same number: nothing was sent twice.
func noDuplicates(t testing.TB, sims []simMessage) {
	t.Helper()
	seen := map[string]string{}
	for _, m := range sims {
		k := m.To + "\x00" + m.Body + "\x00" + m.ContentSID
		if prev, ok := seen[k]; ok {
			t.Errorf("sent twice to %s: %q (%s and %s)", m.To, m.Body, prev, m.SID)
		}
		seen[k] = m.SID
	}
}

// metrics scrapes a node's /metrics and returns the samples whose series starts with name,
// keyed by the series text (name and labels).
func (s *stack) metrics(nodeIdx int, name string) map[string]float64 {
	s.t.Helper()
	resp, err := http.Get(s.nodes[nodeIdx].url() + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// metricSum adds the samples of series starting with name whose text contains every label.
func (s *stack) metricSum(nodeIdx int, name string, labels ...string) float64 {
	s.t.Helper()
	var sum float64
	for k, v := range s.metrics(nodeIdx, name) {
		if strings.HasPrefix(k, name+"{") || k == name {
			ok := true
			for _, l := range labels {
				ok = ok && strings.Contains(k, l)
			}
			if ok {
				sum += v
			}
		}
	}
	return sum
}

// concurrently runs f(i) for i in [0, n) on workers goroutines.
func concurrently(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// loadBalancer spreads requests round-robin over the nodes, as the load balancer in front of a
// production cluster does; a node that refuses the connection (dead) is skipped: such a request
// never reached it.
type loadBalancer struct {
	backends []string
	next     atomic.Uint64
	client   *http.Client
	addr     string
}

func newLoadBalancer(t *testing.T, addrs []string) *loadBalancer {
	t.Helper()
	lb := &loadBalancer{addr: freeAddr(t), client: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	for _, a := range addrs {
		lb.backends = append(lb.backends, "http://"+a)
	}
	srv := &http.Server{Addr: lb.addr, Handler: http.HandlerFunc(lb.serve)}
	go func() { _ = srv.ListenAndServe() }()
	t.Cleanup(func() { srv.Close() })
	return lb
}

func (lb *loadBalancer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading request", http.StatusBadRequest)
		return
	}
	// Each request takes the next backend in the shared round-robin order, but tries each
	// backend at most once: under concurrency the shared counter may hand it a node it
	// already found dead, and it must then move on to one it has not tried.
	tried := make([]bool, len(lb.backends))
	for range lb.backends {
		i := int(lb.next.Add(1) % uint64(len(lb.backends)))
		for tried[i] {
			i = (i + 1) % len(lb.backends)
		}
		tried[i] = true
		b := lb.backends[i]
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, b+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := lb.client.Do(req)
		if err != nil {
			continue
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
