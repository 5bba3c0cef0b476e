package node_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// Timeline texts of a reconciled call (internal/voice, reconcile.go).
const (
	reconciledFound  = "did reach the provider"
	reconciledAbsent = "so it is placed again"
)

func timelineSays(c *switchboard.Call, text string) bool {
	for _, e := range c.Timeline {
		if strings.Contains(e.Detail, text) {
			return true
		}
	}
	return false
}

// scriptBusy makes every call to the numbers busy at the simulator.
func scriptBusy(t *testing.T, sim *twiliosim.Simulator, numbers []string) {
	t.Helper()
	for _, to := range numbers {
		if err := sim.ScriptCalls(twiliosim.CallScript{Number: to, Outcome: twiliosim.OutcomeBusy}); err != nil {
			t.Fatal(err)
		}
	}
}

// createCalls creates a call to each number through the API and returns their IDs.
func createCalls(t *testing.T, base, secret string, numbers []string) []string {
	t.Helper()
	var ids []string
	for _, to := range numbers {
		ids = append(ids, createCall(t, base, secret, map[string]any{"to": to, "flow": "appointment_confirmation", "variables": appointmentVars}).ID)
	}
	return ids
}

// waitUnknown waits until every call has had an ambiguous answer to its create.
func waitUnknown(t *testing.T, base, secret string, ids []string) {
	t.Helper()
	for _, id := range ids {
		waitCall(t, base, secret, id, func(c *switchboard.Call) bool { return timelineSays(c, "outcome unknown") })
	}
}

// assertEndedOnce waits for every call to end and asserts that each was placed exactly once at
// the simulator, ended busy (its status polled, or reported by reconciliation: callbacks are
// dropped) and got one fallback SMS, which reaches the simulator;
// it returns how many were reconciled as found and as absent.
func assertEndedOnce(t *testing.T, base, secret string, sim *twiliosim.Simulator, ids []string) (found, absent int) {
	t.Helper()
	for _, id := range ids {
		c := waitCall(t, base, secret, id, terminal)
		placed := 0
		for _, sc := range sim.Calls() {
			if sc.To == c.To {
				placed++
			}
		}
		texts := 0
		waitFor(t, 20*time.Second, "the fallback SMS to "+c.To+" at the simulator", func() bool {
			texts = 0
			for _, m := range sim.Messages() {
				if m.To == c.To {
					texts++
				}
			}
			return texts > 0 || c.FallbackMessageID == ""
		})
		if c.Status != switchboard.CallBusy || c.FallbackMessageID == "" || placed != 1 || texts != 1 || c.Attempts != 1 {
			t.Errorf("call %s to %s: status %s, fallback %q, attempts %d, %d calls and %d texts at the simulator; want busy, one call, one fallback SMS; timeline %+v",
				c.ID, c.To, c.Status, c.FallbackMessageID, c.Attempts, placed, texts, c.Timeline)
		}
		if timelineSays(c, reconciledFound) {
			found++
		}
		if timelineSays(c, reconciledAbsent) {
			absent++
		}
	}
	return found, absent
}

func numbers(first, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("+1415555%04d", first+i))
	}
	return out
}

// TestAmbiguousCallCreatesEndWithFallback: calls are created while every create at the simulator
// answers 500 (half of them after creating the call, half before) and every status callback is
// lost. Each call is reconciled: the ones the simulator created are adopted, the others placed
// again once the fault is lifted; every callee is called exactly once, and every call ends busy
// (from the status poll) with its fallback SMS — where before they stayed queued for ever.
func TestAmbiguousCallCreatesEndWithFallback(t *testing.T) {
	t.Parallel()
	env := voiceEnv()
	env["SWITCHBOARD_STATUS_POLL_AFTER"] = "1s"
	n := startNode(t, nodeOpts{env: env})
	sim := n.Simulator()
	to := numbers(200, 12) // 12 coin flips: both outcomes but once in 2048 runs
	scriptBusy(t, sim, to)
	f := sim.Faults()
	f.Status500Ratio, f.CallbackDropRatio = 1, 1
	sim.SetFaults(f)
	ids := createCalls(t, n.URL(), n.secret, to)
	waitUnknown(t, n.URL(), n.secret, ids)
	f.Status500Ratio = 0
	sim.SetFaults(f)
	found, absent := assertEndedOnce(t, n.URL(), n.secret, sim, ids)
	if found == 0 || absent == 0 {
		t.Errorf("%d calls reconciled as created, %d as never created; want both outcomes", found, absent)
	}
}

// TestTimedOutCallCreateIsAdopted: the simulator holds the answer to every create past the
// provider timeout (the call is created, its answer lost) and every status callback is lost: each
// call is found at the provider and adopted, never placed again, and ends busy with its
// fallback SMS.
func TestTimedOutCallCreateIsAdopted(t *testing.T) {
	t.Parallel()
	env := voiceEnv()
	env["SWITCHBOARD_STATUS_POLL_AFTER"] = "1s"
	n := startNode(t, nodeOpts{env: env})
	sim := n.Simulator()
	to := numbers(220, 3)
	scriptBusy(t, sim, to)
	f := sim.Faults()
	f.TimeoutRatio, f.TimeoutMS, f.CallbackDropRatio = 1, 15000, 1
	sim.SetFaults(f)
	ids := createCalls(t, n.URL(), n.secret, to)
	waitUnknown(t, n.URL(), n.secret, ids)
	f.TimeoutRatio = 0
	sim.SetFaults(f)
	if found, _ := assertEndedOnce(t, n.URL(), n.secret, sim, ids); found != len(ids) {
		t.Errorf("%d of %d timed-out creates reconciled as found at the provider", found, len(ids))
	}
}

// TestAmbiguousCallReconciledAfterRestart: a node gets 500s for its calls' creates and is
// stopped before it reconciles them; a new node on the same database (and the same simulator)
// reconciles them from the store: each callee is called once, and each call ends busy with its
// fallback SMS.
func TestAmbiguousCallReconciledAfterRestart(t *testing.T) {
	t.Parallel()
	sim := twiliosim.New(twiliosim.Config{Logger: testLogger(t)})
	t.Cleanup(sim.Close)
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	px := &proxy{}
	pub := httptest.NewServer(px)
	t.Cleanup(pub.Close)
	dir := t.TempDir()
	env := map[string]string{
		"SWITCHBOARD_ADDR": "127.0.0.1:0", "SWITCHBOARD_DATA_DIR": dir, "SWITCHBOARD_DATABASE_URL": "sqlite:" + filepath.Join(dir, "sb.db"),
		"SWITCHBOARD_PROVIDER": "twilio", "SWITCHBOARD_TWILIO_BASE_URL": simSrv.URL, "TWILIO_ACCOUNT_SID": sim.AccountSID(),
		"TWILIO_AUTH_TOKEN": sim.AuthToken(), "SWITCHBOARD_PUBLIC_URL": pub.URL, "SWITCHBOARD_SYNC_WEBHOOKS": "false",
		"SWITCHBOARD_FROM": twiliosim.MagicFrom, "SWITCHBOARD_STATUS_POLL_AFTER": "1s", "SWITCHBOARD_LEASE": "10s", "SWITCHBOARD_PROVIDER_TIMEOUT": "2s",
		// Long enough that the first node is stopped before it reconciles.
		"SWITCHBOARD_RECONCILE_DELAY": "3s",
	}
	for k, v := range voiceEnv() {
		env[k] = v
	}
	start := func() *node.Node {
		cfg, err := config.Load(nil, func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		nd, err := node.Open(context.Background(), cfg, testLogger(t), node.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(nd.URL())
		px.target.Store(u)
		return nd
	}
	stop := func(nd *node.Node) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := nd.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	to := numbers(240, 6)
	scriptBusy(t, sim, to)
	f := sim.Faults()
	f.Status500Ratio, f.CallbackDropRatio = 1, 1
	sim.SetFaults(f)

	n1 := start()
	_, secret, err := node.CreateAPIKey(context.Background(), n1.Store(), "test", time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	ids := createCalls(t, n1.URL(), secret, to)
	waitUnknown(t, n1.URL(), secret, ids)
	for _, id := range ids {
		var c switchboard.Call
		apiDo(t, n1.URL(), secret, "GET", "/v1/calls/"+id, nil, &c)
		if timelineSays(&c, "reconciled") {
			t.Fatalf("call %s was reconciled before the restart; the test needs a longer reconcile_delay", id)
		}
	}
	stop(n1)
	px.target.Store(nil)
	f.Status500Ratio = 0
	sim.SetFaults(f)

	n2 := start()
	t.Cleanup(func() { stop(n2) })
	found, absent := assertEndedOnce(t, n2.URL(), secret, sim, ids)
	if found+absent != len(ids) {
		t.Errorf("%d found and %d absent of %d calls: every call is reconciled by the new node", found, absent, len(ids))
	}
}
