package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
)

// loadBalancer spreads requests round-robin over the nodes, like the load balancer in front of
// a production cluster (every node has its URL as SWITCHBOARD_PUBLIC_URL). A node that refuses
// the connection (dead) is skipped: such a request never reached it, so trying the next is safe.
type loadBalancer struct {
	backends []string
	next     atomic.Uint64
	client   *http.Client
	addr     string
}

func newLoadBalancer(t *testing.T, addrs []string) *loadBalancer {
	t.Helper()
	lb := &loadBalancer{addr: freeAddr(t), client: &http.Client{Timeout: 30 * time.Second}}
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
	for range lb.backends {
		b := lb.backends[lb.next.Add(1)%uint64(len(lb.backends))]
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

// TestClusterOnPostgres: three nodes on one PostgreSQL behind a load balancer, simulator faults
// on, one node killed with SIGKILL half-way. Every message ends terminal, the simulator holds
// exactly one message per accepted message, and a sender limited to 10 segments/s was never sent
// faster than that (plus its burst) across the cluster, measured at the simulator.
func TestClusterOnPostgres(t *testing.T) {
	t.Parallel()
	dbURL, _ := pgtest.URL(t)
	dir := t.TempDir()
	simAddr := freeAddr(t)
	start(t, dir, map[string]string{"TWILIO_ACCOUNT_SID": testAccount, "TWILIO_AUTH_TOKEN": testToken},
		"sim", "--addr", simAddr, "--number", "+14155550111", "--sending-delay", "5ms", "--sent-delay", "5ms", "--delivered-delay", "10ms")
	waitHTTP(t, "http://"+simAddr+"/sim/v1/messages")
	resp, err := http.Post("http://"+simAddr+"/sim/v1/faults", "application/json", strings.NewReader(
		`{"status_429_ratio": 0.1, "status_500_ratio": 0.05, "timeout_ratio": 0.05, "timeout_ms": 1500, "callback_duplicates": 1, "callback_shuffle": true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	lb := newLoadBalancer(t, addrs)
	yaml := "senders:\n" +
		"  - from: \"+15005550006\"\n    kind: short_code\n    rate: -1\n" +
		"  - from: \"+14155550111\"\n    rate: 10\n    burst: 5\n    pool: slow\n"
	env := func(addr string) map[string]string {
		return map[string]string{
			"SWITCHBOARD_ADDR": addr, "SWITCHBOARD_PUBLIC_URL": "http://" + lb.addr, "SWITCHBOARD_DATABASE_URL": dbURL,
			"SWITCHBOARD_PROVIDER": "twilio", "SWITCHBOARD_TWILIO_BASE_URL": "http://" + simAddr,
			"TWILIO_ACCOUNT_SID": testAccount, "TWILIO_AUTH_TOKEN": testToken, "SWITCHBOARD_SYNC_WEBHOOKS": "false",
			"SWITCHBOARD_CONFIG": writeFile(t, dir, "cluster.yaml", yaml), "SWITCHBOARD_LOG_LEVEL": "warn",
			"SWITCHBOARD_LEASE": "3s", "SWITCHBOARD_PROVIDER_TIMEOUT": "1s", "SWITCHBOARD_RECONCILE_DELAY": "300ms",
			"SWITCHBOARD_STATUS_POLL_AFTER": "3s", "SWITCHBOARD_MIGRATE": "false", "SWITCHBOARD_DB_MAX_CONNS": "8",
		}
	}
	if out := run(t, dir, env(addrs[0]), "migrate"); !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %s", out)
	}
	nodes := make([]*proc, len(addrs))
	for i, a := range addrs {
		nodes[i] = start(t, dir, env(a), "serve")
	}
	for _, a := range addrs {
		waitHTTP(t, "http://"+a+"/readyz")
	}
	keyOut := run(t, dir, env(addrs[0]), "keys", "create", "--name", "cluster")
	lines := strings.Split(strings.TrimSpace(keyOut), "\n")
	api := client.New("http://"+lb.addr, lines[len(lines)-1])
	ctx := context.Background()

	const total, slow = 5000, 60
	ids := make([]string, total)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 24)
	errs := make(chan error, total)
	for i := range total {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			req := &client.SendRequest{To: fmt.Sprintf("+1212555%04d", 100+i%100), Body: fmt.Sprintf("cluster %d", i)}
			if i < slow {
				req.Pool = "slow"
			}
			m, err := api.Send(ctx, req)
			if err != nil {
				errs <- err
				return
			}
			ids[i] = m.ID
		}()
	}
	// Half-way through the sending, one node dies without warning.
	waitFor(t, 60*time.Second, "half of the messages at the simulator", func() bool { return len(simList(t, simAddr)) >= total/2 })
	nodes[1].kill9()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	live := client.New("http://"+addrs[0], lines[len(lines)-1])
	waitFor(t, 120*time.Second, "every message terminal", func() bool {
		page, err := live.List(ctx, client.ListOptions{Statuses: []switchboard.Status{switchboard.StatusQueued, switchboard.StatusScheduled, switchboard.StatusSending, switchboard.StatusSent}, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Messages) == 0
	})
	sims := simList(t, simAddr)
	seen := map[string]bool{}
	var slowTimes []time.Time
	for _, s := range sims {
		if seen[s.Body] {
			t.Fatalf("%q sent twice", s.Body)
		}
		seen[s.Body] = true
		if s.From == "+14155550111" {
			slowTimes = append(slowTimes, s.DateCreated)
		}
	}
	if len(sims) != total {
		for i, id := range ids {
			if !seen[fmt.Sprintf("cluster %d", i)] {
				m, _ := live.Get(ctx, id)
				for _, e := range m.Events {
					t.Logf("  %s %s %s %s %d %s", e.At.Format("15:04:05.000"), e.Status, e.Type, e.Actor, e.ErrorCode, e.Detail)
				}
				t.Errorf("message %s (cluster %d) ended %s without reaching the simulator", id, i, m.Status)
			}
		}
		t.Fatalf("simulator holds %d messages for %d accepted", len(sims), total)
	}
	for _, id := range ids {
		m, err := live.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != switchboard.StatusDelivered {
			t.Fatalf("%s ended %s (%d %s)", id, m.Status, m.ErrorCode, m.ErrorMessage)
		}
	}
	// The slow sender, across three nodes: never more than burst + rate·W in any window W
	// (with 50 ms of slack for the HTTP hop between the reservation and the simulator's clock).
	sort.Slice(slowTimes, func(i, j int) bool { return slowTimes[i].Before(slowTimes[j]) })
	if len(slowTimes) != slow {
		t.Fatalf("%d messages from the slow sender, want %d", len(slowTimes), slow)
	}
	for i := range slowTimes {
		for j := i; j < len(slowTimes); j++ {
			w := slowTimes[j].Sub(slowTimes[i]).Seconds()
			if n := float64(j - i + 1); n > 5+10*(w+0.05)+1 {
				t.Fatalf("slow sender: %v messages within %.3fs exceeds 10/s plus a burst of 5", n, w)
			}
		}
	}
	span := slowTimes[len(slowTimes)-1].Sub(slowTimes[0]).Seconds()
	t.Logf("slow sender: %d messages over %.2fs (%.2f/s after the burst)", len(slowTimes), span, float64(len(slowTimes)-5)/span)
}

// TestIdempotencyAcrossNodes: concurrent requests with one key to different nodes create one
// message.
func TestIdempotencyAcrossNodes(t *testing.T) {
	t.Parallel()
	dbURL, _ := pgtest.URL(t)
	dir := t.TempDir()
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	env := func(addr string) map[string]string {
		return map[string]string{"SWITCHBOARD_ADDR": addr, "SWITCHBOARD_DATABASE_URL": dbURL, "SWITCHBOARD_LOG_LEVEL": "warn",
			"SWITCHBOARD_DATA_DIR": dir + "/" + strings.ReplaceAll(addr, ":", "_"), "SWITCHBOARD_DB_MAX_CONNS": "6"}
	}
	for _, a := range addrs {
		start(t, dir, env(a), "serve")
	}
	for _, a := range addrs {
		waitHTTP(t, "http://"+a+"/readyz")
	}
	out := run(t, dir, env(addrs[0]), "keys", "create", "--name", "idem")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	ctx := context.Background()
	for round := range 5 {
		key := fmt.Sprintf("order-%d-confirmation", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[string]int{}
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := client.New("http://"+addrs[i%3], secret, client.WithRetries(0))
				m, err := c.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "Order confirmed", IdempotencyKey: key})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[m.ID]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(got) != 1 {
			t.Fatalf("round %d: 30 concurrent requests with one key over 3 nodes created %d messages: %v", round, len(got), got)
		}
	}
}

type simMsg struct {
	SID         string    `json:"sid"`
	From        string    `json:"from"`
	Body        string    `json:"body"`
	DateCreated time.Time `json:"date_created"`
}

func simList(t *testing.T, simAddr string) []simMsg {
	t.Helper()
	resp, err := http.Get("http://" + simAddr + "/sim/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Messages []simMsg `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
