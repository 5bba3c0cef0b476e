package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// skewNode is one node of the clock-skew drill.
type skewNode struct {
	*testkit.Node
	client *client.Client
}

// stop shuts the node down before the test ends.
func (n *skewNode) stop() { n.Stop() }

// startSkewNode boots a node on the shared PostgreSQL schema whose clock runs offset from the
// real one; the provider is the standalone simulator, whose clock is right.
func startSkewNode(t *testing.T, dbURL, simURL string, sim *twiliosim.Simulator, offset time.Duration, yaml string, extra map[string]string) *skewNode {
	t.Helper()
	env := map[string]string{
		"SWITCHBOARD_DATABASE_URL": dbURL,
		"SWITCHBOARD_PROVIDER":     "twilio", "SWITCHBOARD_TWILIO_BASE_URL": simURL,
		"TWILIO_ACCOUNT_SID": sim.AccountSID(), "TWILIO_AUTH_TOKEN": sim.AuthToken(), "SWITCHBOARD_SYNC_WEBHOOKS": "false",
		"SWITCHBOARD_PROVIDER_TIMEOUT": "400ms", "SWITCHBOARD_RECONCILE_DELAY": "200ms",
		"SWITCHBOARD_LEASE": "3s", "SWITCHBOARD_SHUTDOWN_TIMEOUT": "5s", "SWITCHBOARD_DB_MAX_CONNS": "6",
		"SWITCHBOARD_STATUS_POLL_AFTER": "3s", // callbacks Twilio gives up on are asked of the provider
	}
	for k, v := range extra {
		env[k] = v
	}
	n := testkit.StartNode(t, testkit.NodeConfig{Env: env, YAML: yaml, KeyName: fmt.Sprintf("skew%s", offset), Options: node.Options{
		Clock: func() time.Time { return time.Now().UTC().Add(offset) },
		DispatchConfig: func(c *dispatch.Config) {
			c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, 300*time.Millisecond
			c.PollInterval = 50 * time.Millisecond
		},
	}})
	return &skewNode{Node: n, client: n.Client}
}

// TestDrillClockSkew is the clock-skew drill of issue 22: three nodes on one PostgreSQL, one
// with a correct clock, one 5 minutes ahead and one 5 minutes behind, send through a simulated
// Twilio that times out and fails with 500s (after creating the message or not) and posts its
// status callbacks late. Counted at the simulator, no message reaches it twice and every one
// reaches it; then the node ahead leaves and the others keep sending a rate-limited sender at
// once (the shared rate bucket was not pushed into the future).
func TestDrillClockSkew(t *testing.T) {
	t.Parallel()
	dbURL, _ := pgtest.URL(t)
	sim := twiliosim.New(twiliosim.Config{
		Logger:       testLogger(t),
		SendingDelay: 5 * time.Millisecond, SentDelay: 5 * time.Millisecond, DeliveredDelay: 10 * time.Millisecond,
	})
	t.Cleanup(sim.Close)
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	sim.SetFaults(twiliosim.Faults{
		TimeoutRatio: 0.15, TimeoutMS: 900, Status500Ratio: 0.1, CallbackDelayMS: 1500,
	})
	const yaml = `senders:
  - from: "+15005550006"
    kind: long_code
    rate: 200
    burst: 20
`
	extra := map[string]string{"SWITCHBOARD_CLOCK_SKEW_MAX": "1h"} // the drill exercises skew, not the stop
	right := startSkewNode(t, dbURL, simSrv.URL, sim, 0, yaml, nil)
	ahead := startSkewNode(t, dbURL, simSrv.URL, sim, 5*time.Minute, yaml, extra)
	behind := startSkewNode(t, dbURL, simSrv.URL, sim, -5*time.Minute, yaml, extra)
	nodes := []*skewNode{right, ahead, behind}
	// The skew is seen: /readyz shows each node's offset to the database; a node past
	// clock_skew_max (default 30 s) is not ready and does not dispatch.
	for _, c := range []struct {
		n    *skewNode
		want time.Duration
	}{{right, 0}, {ahead, -5 * time.Minute}, {behind, 5 * time.Minute}} {
		var ready struct {
			Clock struct {
				DatabaseOffsetMS int64 `json:"database_offset_ms"`
			} `json:"clock"`
		}
		if code := getJSON(t, c.n.URL()+"/readyz", &ready); code != http.StatusOK {
			t.Fatalf("readyz %d", code)
		}
		if got := time.Duration(ready.Clock.DatabaseOffsetMS) * time.Millisecond; (got - c.want).Abs() > time.Second {
			t.Fatalf("readyz shows a database offset of %s, want %s", got, c.want)
		}
	}
	strict := startSkewNode(t, dbURL, simSrv.URL, sim, 5*time.Minute, yaml, nil)
	var problem struct {
		Code string `json:"code"`
	}
	if code := getJSON(t, strict.URL()+"/readyz", &problem); code != http.StatusServiceUnavailable || problem.Code != "clock_skew" {
		t.Fatalf("a node 5 min ahead with clock_skew_max 30s: readyz %d %q, want 503 clock_skew", code, problem.Code)
	}
	strict.stop()

	ctx := context.Background()
	send := func(prefix string, count int, via []*skewNode) []string {
		ids := make([]string, count)
		var wg sync.WaitGroup
		errs := make(chan error, count)
		sem := make(chan struct{}, 8)
		for i := range count {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				m, err := via[i%len(via)].client.Send(ctx, &client.SendRequest{
					To: fmt.Sprintf("+1415555%04d", 100+i%20), Body: fmt.Sprintf("%s %d", prefix, i),
				})
				if err != nil {
					errs <- err
					return
				}
				ids[i] = m.ID
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		return ids
	}
	// settled: every message has reached the simulator or a terminal status, and no attempt is
	// left in flight.
	settled := func(n *skewNode, ids []string) bool {
		for _, id := range ids {
			m, err := n.Store().GetMessage(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.AttemptInFlight || m.ProviderSID == "" && !m.Status.Terminal() {
				return false
			}
		}
		return true
	}
	duplicates := func() (dups int, bodies map[string]int) {
		bodies = map[string]int{}
		for _, m := range sim.Messages() {
			bodies[m.Body]++
			if bodies[m.Body] == 2 {
				dups++
			}
		}
		return dups, bodies
	}

	const total = 300
	ids := send("skew", total, nodes)
	waitFor(t, 90*time.Second, "every message handed over once", func() bool { return settled(right, ids) })
	dups, bodies := duplicates()
	t.Logf("clock-skew drill: %d messages at the simulator for %d accepted, %d sent more than once", len(sim.Messages()), total, dups)
	if dups > 0 {
		t.Errorf("%d of %d messages reached the provider more than once with nodes at +5 min and -5 min", dups, total)
	}
	// The provider's clock is seen too, from the Date header of its answers, and both offsets
	// are exported.
	var ready struct {
		Clock struct {
			ProviderOffsetMS *int64 `json:"provider_offset_ms"`
		} `json:"clock"`
	}
	if code := getJSON(t, ahead.URL()+"/readyz", &ready); code != http.StatusOK || ready.Clock.ProviderOffsetMS == nil ||
		(time.Duration(*ready.Clock.ProviderOffsetMS)*time.Millisecond+5*time.Minute).Abs() > 2*time.Second {
		t.Fatalf("readyz of the node ahead: %d, provider offset %v ms, want about -300000", code, ready.Clock.ProviderOffsetMS)
	}
	if m := scrapeURL(t, ahead.URL()); !strings.Contains(m, `switchboard_clock_offset_seconds{reference="database"} -299.`) &&
		!strings.Contains(m, `switchboard_clock_offset_seconds{reference="database"} -300`) {
		t.Fatalf("metrics of the node ahead do not show its database offset:\n%s", grepLines(m, "switchboard_clock_offset_seconds"))
	}
	for i := range total {
		if bodies[fmt.Sprintf("skew %d", i)] == 0 {
			m, _ := right.Store().GetMessage(ctx, ids[i])
			t.Errorf("message %s (skew %d) ended %s without reaching the provider", ids[i], i, m.Status)
		}
	}

	// The node ahead leaves; the others must keep the sender going at its rate, not after the
	// minutes its clock pushed the shared bucket ahead.
	ahead.stop()
	sim.SetFaults(twiliosim.Faults{})
	more := send("after", 40, []*skewNode{right, behind})
	waitFor(t, 30*time.Second, "messages sent after the node ahead left (no stall)", func() bool { return settled(right, more) })
}

// getJSON GETs url, decodes its JSON answer into v and returns the status code.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode
}

// scrapeURL returns the /metrics of the node at base.
func scrapeURL(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
