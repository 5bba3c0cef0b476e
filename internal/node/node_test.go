package node_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/events"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/verify"
)

// testNode is a node booted on loopback with a temporary SQLite database and the in-process
// simulator with fast lifecycle timings (internal/testkit boots it).
type testNode struct {
	*testkit.Node
	client *client.Client
	secret string
}

type nodeOpts struct {
	env      map[string]string
	yaml     string
	dispatch func(*dispatch.Config)
	events   func(*events.Config)
	clock    switchboard.Clock
	// verifyCaller places verification calls; logger replaces the test logger.
	verifyCaller verify.Caller
	logger       *slog.Logger
	// mediaTLS is the TLS configuration of the outbound media checks.
	mediaTLS *tls.Config
}

// waitFor polls cond until it holds or the deadline passes.
var waitFor = testkit.WaitFor

func testLogger(t *testing.T) *slog.Logger { return testkit.Logger(t, slog.LevelWarn) }

// startNode boots a node with this package's fast timings: short provider timeout, lease and
// reconcile delay, quick simulator lifecycles and dispatcher backoff.
func startNode(t *testing.T, o nodeOpts) *testNode {
	t.Helper()
	env := map[string]string{
		"SWITCHBOARD_PROVIDER_TIMEOUT": "2s",
		"SWITCHBOARD_RECONCILE_DELAY":  "200ms",
		"SWITCHBOARD_LEASE":            "10s",
	}
	for k, v := range o.env {
		env[k] = v
	}
	n := testkit.StartNode(t, testkit.NodeConfig{Env: env, YAML: o.yaml, Logger: o.logger, Options: node.Options{
		Clock:        o.clock,
		VerifyCaller: o.verifyCaller,
		SimConfig: func(c *twiliosim.Config) {
			c.SendingDelay, c.SentDelay, c.DeliveredDelay = 5*time.Millisecond, 5*time.Millisecond, 10*time.Millisecond
		},
		EventsConfig: o.events,
		DispatchConfig: func(c *dispatch.Config) {
			c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, 500*time.Millisecond
			c.PollInterval = 50 * time.Millisecond
			if o.dispatch != nil {
				o.dispatch(c)
			}
		},
		MediaCheckTLS: o.mediaTLS,
	}})
	return &testNode{Node: n, secret: n.Secret, client: n.Client}
}

func (n *testNode) waitStatus(t *testing.T, id string, timeout time.Duration, want ...switchboard.Status) *switchboard.Message {
	t.Helper()
	return n.WaitStatus(t, id, timeout, want...)
}

// statusPath is the sequence of distinct statuses on a timeline.
func statusPath(m *switchboard.Message) []switchboard.Status {
	var path []switchboard.Status
	for _, e := range m.Events {
		if e.Status != "" && (len(path) == 0 || path[len(path)-1] != e.Status) {
			path = append(path, e.Status)
		}
	}
	return path
}

func assertMonotonic(t *testing.T, m *switchboard.Message) {
	t.Helper()
	path := statusPath(m)
	for i := 1; i < len(path); i++ {
		if !path[i-1].CanMoveTo(path[i]) {
			t.Fatalf("message %s timeline moves backwards: %v", m.ID, path)
		}
	}
}

// simControl calls the control API of the node's simulator with the node's key.
func (n *testNode) simControl(t *testing.T, method, path string, body any) []byte {
	t.Helper()
	return testkit.SimDo(t, method, n.URL(), n.secret, path, body)
}

func (n *testNode) simMessages(t *testing.T) []twiliosim.Message {
	t.Helper()
	return n.SimMessages(t)
}

func TestSendDeliveredWithTimeline(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	ctx := context.Background()
	m, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "Job #12 assigned to you"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != switchboard.StatusQueued || m.Segments != 1 || m.Encoding != switchboard.EncodingGSM7 || m.From != config.SimulatorFrom {
		t.Fatalf("accepted message: %+v", m)
	}
	m = n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusDelivered)
	want := []switchboard.Status{switchboard.StatusQueued, switchboard.StatusSending, switchboard.StatusSent, switchboard.StatusDelivered}
	if got := statusPath(m); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("timeline %v, want %v", got, want)
	}
	if !strings.HasPrefix(m.ProviderSID, "SM") || m.Attempts != 1 {
		t.Fatalf("provider sid %q attempts %d", m.ProviderSID, m.Attempts)
	}
	for _, e := range m.Events {
		if e.Type == switchboard.EventCallback && len(e.Payload) > 0 && bytes.Contains(e.Payload, []byte("Signature")) {
			t.Fatalf("raw callback payload keeps the signature: %s", e.Payload)
		}
	}
	sims := n.simMessages(t)
	if len(sims) != 1 || sims[0].SID != m.ProviderSID || sims[0].Body != "Job #12 assigned to you" {
		t.Fatalf("simulator holds %+v", sims)
	}
}

func TestMagicNumbers(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	ctx := context.Background()
	cases := []struct {
		to     string
		status switchboard.Status
		code   int
	}{
		{"+15005550001", switchboard.StatusFailed, 21211},
		{"+15005550002", switchboard.StatusFailed, 21612},
		{"+15005550003", switchboard.StatusFailed, 21408},
		{"+15005550009", switchboard.StatusFailed, 21614},
		{"+15005550004", switchboard.StatusBlocked, 21610},
	}
	for _, c := range cases {
		m, err := n.client.Send(ctx, &client.SendRequest{To: c.to, Body: "magic"})
		if err != nil {
			t.Fatal(err)
		}
		m = n.waitStatus(t, m.ID, 10*time.Second, c.status)
		if m.ErrorCode != c.code || m.Attempts != 1 {
			t.Errorf("%s: status %s code %d attempts %d, want %s %d after one attempt", c.to, m.Status, m.ErrorCode, m.Attempts, c.status, c.code)
		}
	}
	// No retry: after a while the attempt counts have not moved.
	time.Sleep(300 * time.Millisecond)
	page, err := n.client.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Messages {
		if m.Attempts != 1 {
			t.Errorf("%s retried: %d attempts", m.To, m.Attempts)
		}
	}
	if len(n.simMessages(t)) != 0 {
		t.Error("the simulator stored a message for a magic number")
	}
	// 21610 recorded the recipient as opted out, with its source and evidence...
	c, err := n.Store().LatestConsent(ctx, "+15005550004", []string{"default", switchboard.ScopeAll})
	if err != nil || c == nil || c.State != switchboard.ConsentOptedOut || c.Source != switchboard.ConsentFromProviderError || !strings.Contains(c.Evidence, "21610") {
		t.Fatalf("opt-out not recorded: %+v %v", c, err)
	}
	// ...so the next message to them is refused at the API, before anything is stored.
	_, err = n.client.Send(ctx, &client.SendRequest{To: "+15005550004", Body: "again"})
	if !client.IsCode(err, "recipient_opted_out") {
		t.Fatalf("send to an opted-out recipient: %v", err)
	}
}

func TestOptOutArrivingAfterAcceptanceBlocks(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	ctx := context.Background()
	// Scheduled for later, so the opt-out lands between acceptance and sending (with room for a
	// loaded CI machine).
	sendAt := time.Now().Add(2 * time.Second)
	m, err := n.client.Send(ctx, &client.SendRequest{To: "+14155550123", Body: "promo", SendAt: sendAt})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Store().RecordConsent(ctx, &switchboard.ConsentRecord{Phone: "+14155550123", Scope: switchboard.ScopeAll,
		State: switchboard.ConsentOptedOut, Source: switchboard.ConsentFromAPI, Evidence: "test", Actor: "test", At: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if time.Now().After(sendAt) {
		t.Fatal("the opt-out was recorded after the message was due: the machine is too slow for this test's 2 s margin")
	}
	m = n.waitStatus(t, m.ID, 10*time.Second, switchboard.StatusBlocked, switchboard.StatusDelivered)
	if m.Status != switchboard.StatusBlocked || m.ErrorCode != 21610 || m.Attempts != 0 || !strings.Contains(m.ErrorMessage, "opted out") {
		t.Fatalf("message after a late opt-out: %s code %d attempts %d %q", m.Status, m.ErrorCode, m.Attempts, m.ErrorMessage)
	}
	if len(n.simMessages(t)) != 0 {
		t.Fatal("a message to an opted-out recipient reached the provider")
	}
}

func TestFaultsThousandMessagesAllDeliveredOnce(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{
		env: map[string]string{"SWITCHBOARD_PROVIDER_TIMEOUT": "300ms"},
		yaml: `senders:
  - from: "+15005550006"
    kind: short_code
    rate: -1
`,
	})
	n.simControl(t, http.MethodPost, "/sim/v1/faults", map[string]any{
		"status_429_ratio": 0.3, "status_500_ratio": 0.1, "timeout_ratio": 0.1, "timeout_ms": 600,
		"callback_duplicates": 2, "callback_shuffle": true,
	})
	ctx := context.Background()
	const total = 1000
	ids := make([]string, total)
	var wg sync.WaitGroup
	errs := make(chan error, total)
	sem := make(chan struct{}, 16)
	for i := range total {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m, err := n.client.Send(ctx, &client.SendRequest{To: fmt.Sprintf("+1415555%04d", 100+i%100), Body: fmt.Sprintf("message %d", i)})
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
	waitFor(t, 90*time.Second, "all messages delivered", func() bool {
		page, err := n.client.List(ctx, client.ListOptions{Statuses: []switchboard.Status{switchboard.StatusDelivered}, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		_ = page
		delivered := 0
		for m, err := range n.client.All(ctx, client.ListOptions{Statuses: []switchboard.Status{switchboard.StatusDelivered}, Limit: 500}) {
			if err != nil {
				t.Fatal(err)
			}
			_ = m
			delivered++
		}
		return delivered == total
	})
	sims := n.simMessages(t)
	if len(sims) != total {
		t.Fatalf("simulator holds %d messages for %d accepted", len(sims), total)
	}
	bodies := map[string]int{}
	for _, s := range sims {
		bodies[s.Body]++
	}
	for b, c := range bodies {
		if c != 1 {
			t.Fatalf("%q sent %d times", b, c)
		}
	}
	retried, reconciled, adopted := 0, 0, 0
	for _, id := range ids {
		m, err := n.client.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		assertMonotonic(t, m)
		if m.Attempts > 1 {
			retried++
		}
		for _, e := range m.Events {
			if e.Type == switchboard.EventReconcile {
				reconciled++
				if strings.Contains(e.Detail, "adopted") {
					adopted++
				}
			}
		}
	}
	// The faults were really exercised: retries after 429s, and ambiguous attempts (timeouts,
	// 500s) reconciled, some of them found at the provider and not resent.
	t.Logf("retried %d, reconciled %d, adopted without resend %d", retried, reconciled, adopted)
	if retried < 100 || reconciled < 20 || adopted < 5 {
		t.Fatalf("faults not exercised: retried %d, reconciled %d, adopted %d", retried, reconciled, adopted)
	}
}

// TestRootAnswers: the node's address answers something useful, never a bare 404: a redirect to
// the dashboard when it is on, the API's index when it is off (issue 15).
func TestRootAnswers(t *testing.T) {
	t.Parallel()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		dashboard string
		status    int
		location  string
	}{{"true", http.StatusFound, "/ui/"}, {"false", http.StatusOK, ""}} {
		n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_DASHBOARD": tc.dashboard}})
		resp, err := noFollow.Get(n.URL() + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
			t.Errorf("dashboard=%s: GET / answered %d Location %q: %s", tc.dashboard, resp.StatusCode, resp.Header.Get("Location"), body)
		}
		if tc.status == http.StatusOK && !strings.Contains(string(body), `"openapi":"/openapi.json"`) {
			t.Errorf("dashboard=%s: GET / answered %s", tc.dashboard, body)
		}
		// Other unknown paths are still 404.
		resp, err = noFollow.Get(n.URL() + "/nope")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("dashboard=%s: GET /nope answered %d", tc.dashboard, resp.StatusCode)
		}
	}
}
