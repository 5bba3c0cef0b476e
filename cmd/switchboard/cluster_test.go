package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/proc"
	"github.com/switchboard-gw/switchboard/internal/testkit"
)

// newBalancer puts a round-robin load balancer in front of the nodes at addrs, as in front of
// a production cluster (every node has its URL as SWITCHBOARD_PUBLIC_URL); it closes with the test.
func newBalancer(t *testing.T, addrs []string) *proc.Balancer {
	t.Helper()
	lb, err := proc.NewBalancer(addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.Close)
	return lb
}

// TestClusterOnPostgres: three nodes on one PostgreSQL behind a load balancer, simulator faults
// on, one node killed with SIGKILL half-way. Every message ends terminal, the simulator holds
// exactly one message per accepted message, and a sender limited to 10 segments/s was never sent
// faster than that (plus its burst) across the cluster, measured at the simulator.
func TestClusterOnPostgres(t *testing.T) {
	t.Parallel()
	dbURL, _ := pgtest.URL(t)
	dir := t.TempDir()
	simURL := "http://" + testkit.StartSim(t, binary, dir, "--number", "+14155550111")
	testkit.SimDo(t, http.MethodPost, simURL, "", "/sim/v1/faults",
		`{"status_429_ratio": 0.1, "status_500_ratio": 0.05, "timeout_ratio": 0.05, "timeout_ms": 1500, "callback_duplicates": 1, "callback_shuffle": true}`)

	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	lb := newBalancer(t, addrs)
	yaml := "senders:\n" +
		"  - from: \"+15005550006\"\n    kind: short_code\n    rate: -1\n" +
		"  - from: \"+14155550111\"\n    rate: 10\n    burst: 5\n    pool: slow\n"
	// Written once: rewriting it for each node truncated the file under a node reading it.
	configPath := writeFile(t, dir, "cluster.yaml", yaml)
	env := func(addr string) map[string]string {
		return map[string]string{
			"SWITCHBOARD_ADDR": addr, "SWITCHBOARD_PUBLIC_URL": lb.URL(), "SWITCHBOARD_DATABASE_URL": dbURL,
			"SWITCHBOARD_PROVIDER": "twilio", "SWITCHBOARD_TWILIO_BASE_URL": simURL,
			"TWILIO_ACCOUNT_SID": testAccount, "TWILIO_AUTH_TOKEN": testToken, "SWITCHBOARD_SYNC_WEBHOOKS": "false",
			"SWITCHBOARD_CONFIG": configPath, "SWITCHBOARD_LOG_LEVEL": "warn",
			"SWITCHBOARD_LEASE": "3s", "SWITCHBOARD_PROVIDER_TIMEOUT": "1s", "SWITCHBOARD_RECONCILE_DELAY": "300ms",
			"SWITCHBOARD_STATUS_POLL_AFTER": "3s", "SWITCHBOARD_MIGRATE": "false", "SWITCHBOARD_DB_MAX_CONNS": "8",
		}
	}
	if out := run(t, dir, env(addrs[0]), "migrate"); !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %s", out)
	}
	nodes := make([]*testkit.Proc, len(addrs))
	for i, a := range addrs {
		nodes[i] = start(t, dir, env(a), "serve")
	}
	for i, a := range addrs {
		nodes[i].WaitReady(t, "http://"+a+"/readyz")
	}
	keyOut := run(t, dir, env(addrs[0]), "keys", "create", "--name", "cluster")
	lines := strings.Split(strings.TrimSpace(keyOut), "\n")
	api := client.New(lb.URL(), lines[len(lines)-1])
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
	waitFor(t, 60*time.Second, "half of the messages at the simulator", func() bool { return len(testkit.SimMessages(t, simURL, "")) >= total/2 })
	nodes[1].Kill()
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
	sims := testkit.SimMessages(t, simURL, "")
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

// writeFile writes content to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
