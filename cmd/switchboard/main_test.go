package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// binary is the switchboard binary built once for the tests that run real processes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-bin")
	if err != nil {
		panic(err)
	}
	if binary, err = testkit.BuildSwitchboard(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The shared test helpers (internal/testkit), under the short names this package's tests use.
var (
	freeAddr = testkit.FreeAddr
	waitFor  = testkit.WaitFor
	waitHTTP = testkit.WaitHTTP
)

const (
	testAccount = testkit.SimAccount
	testToken   = testkit.SimToken
)

// start starts a switchboard process of the test binary; it is stopped when the test ends.
func start(t *testing.T, dir string, env map[string]string, args ...string) *testkit.Proc {
	t.Helper()
	return testkit.StartProc(t, binary, dir, env, args...)
}

// command is an unstarted switchboard command of the test binary, in dir, with env (and PATH, HOME).
func command(dir string, env map[string]string, args ...string) *exec.Cmd {
	return testkit.Command(binary, dir, env, args...)
}

// run runs a switchboard command to completion and returns its stdout.
func run(t *testing.T, dir string, env map[string]string, args ...string) string {
	t.Helper()
	return testkit.Run(t, binary, dir, env, args...)
}

func getMessage(t *testing.T, dir string, env map[string]string, id string) *switchboard.Message {
	t.Helper()
	var m switchboard.Message
	if err := json.Unmarshal([]byte(run(t, dir, env, "messages", "get", id, "--json")), &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestNewcomerFlow follows the README: `serve` with no configuration, then `send` and
// `messages get` in a second terminal with no key set.
func TestNewcomerFlow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	// Only the address differs from a fresh machine (8080 may be taken where tests run).
	start(t, dir, map[string]string{"SWITCHBOARD_ADDR": addr}, "serve")
	waitHTTP(t, "http://"+addr+"/readyz")
	if fi, err := os.Stat(filepath.Join(dir, "data", "dev-api-key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("development key: %v %v", fi, err)
	}
	cli := map[string]string{"SWITCHBOARD_URL": "http://" + addr}
	out := run(t, dir, cli, "send", "--to", "+14155550100", "--body", "hi")
	id := strings.Fields(out)[0]
	if !strings.HasPrefix(id, "msg_") {
		t.Fatalf("send printed %q", out)
	}
	waitFor(t, 15*time.Second, "delivery", func() bool { return getMessage(t, dir, cli, id).Status == switchboard.StatusDelivered })
	text := run(t, dir, cli, "messages", "get", id)
	for _, want := range []string{"queued", "sending", "sent", "delivered", "Timeline"} {
		if !strings.Contains(text, want) {
			t.Fatalf("messages get output lacks %q:\n%s", want, text)
		}
	}
	if list := run(t, dir, cli, "messages", "list"); !strings.Contains(list, id) {
		t.Fatalf("messages list lacks %s:\n%s", id, list)
	}
	// Consent from the command line: set, import, read back; the API then refuses the send.
	if out := run(t, dir, cli, "consent", "set", "+14155550120", "--state", "opted_out", "--evidence", "phone call, ticket 881"); !strings.Contains(out, "opted_out") {
		t.Fatalf("consent set: %s", out)
	}
	csvPath := filepath.Join(dir, "optouts.csv")
	os.WriteFile(csvPath, []byte("phone,state,evidence\n+14155550121,opted_out,paper form\n+14155550122,opted_in,web form\n"), 0o600)
	if out := run(t, dir, cli, "consent", "import", csvPath); !strings.Contains(out, "imported 2") {
		t.Fatalf("consent import: %s", out)
	}
	if out := run(t, dir, cli, "consent", "get", "+14155550121"); !strings.Contains(out, "import") || !strings.Contains(out, "paper form") {
		t.Fatalf("consent get: %s", out)
	}
	if out, err := command(dir, cli, "send", "--to", "+14155550120", "--body", "hi").CombinedOutput(); err == nil || !strings.Contains(string(out), "recipient_opted_out") {
		t.Fatalf("send to an opted-out number: %v %s", err, out)
	}
	// The audit export reads the same database.
	if out := run(t, dir, nil, "export", "messages", "--format", "csv"); !strings.Contains(out, id) || !strings.HasPrefix(out, "id,created_at,to,") {
		t.Fatalf("export messages:\n%s", out)
	}
	if out := run(t, dir, nil, "export", "consent", "--format", "jsonl", "--since", "2020-01-01"); strings.Count(out, "\n") != 3 {
		t.Fatalf("export consent:\n%s", out)
	}
	if v := run(t, dir, nil, "version"); !strings.HasPrefix(v, "switchboard ") {
		t.Fatalf("version: %q", v)
	}
}

// cluster is a standalone simulator plus a serve process talking to it over real HTTP, as with
// real Twilio.
type cluster struct {
	dir, simAddr, addr string
	serveEnv, cli      map[string]string
	serve              *testkit.Proc
}

// newCluster starts the simulator (with simArgs added to its command line) and serve.
func newCluster(t *testing.T, extra map[string]string, yaml string, simArgs ...string) *cluster {
	t.Helper()
	c := &cluster{dir: t.TempDir(), addr: freeAddr(t)}
	c.simAddr = testkit.StartSim(t, binary, c.dir, simArgs...)
	c.serveEnv = map[string]string{
		"SWITCHBOARD_ADDR": c.addr, "SWITCHBOARD_PROVIDER": "twilio", "SWITCHBOARD_TWILIO_BASE_URL": "http://" + c.simAddr,
		"TWILIO_ACCOUNT_SID": testAccount, "TWILIO_AUTH_TOKEN": testToken, "SWITCHBOARD_FROM": "+15005550006",
		"SWITCHBOARD_SYNC_WEBHOOKS": "true", "SWITCHBOARD_LOG_LEVEL": "warn",
	}
	for k, v := range extra {
		c.serveEnv[k] = v
	}
	if yaml != "" {
		c.serveEnv["SWITCHBOARD_CONFIG"] = writeFile(t, c.dir, "switchboard.yaml", yaml)
	}
	c.serve = start(t, c.dir, c.serveEnv, "serve")
	c.serve.WaitReady(t, "http://"+c.addr+"/readyz")
	out := run(t, c.dir, c.serveEnv, "keys", "create", "--name", "test")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	c.cli = map[string]string{"SWITCHBOARD_URL": "http://" + c.addr, "SWITCHBOARD_API_KEY": lines[len(lines)-1]}
	return c
}

// restartServe starts serve again, after a kill, on the same database and address.
func (c *cluster) restartServe(t *testing.T) {
	t.Helper()
	c.serve.Restart(t)
	c.serve.WaitReady(t, "http://"+c.addr+"/readyz")
}

func (c *cluster) simMessages(t *testing.T) []twiliosim.Message {
	t.Helper()
	return testkit.SimMessages(t, "http://"+c.simAddr, "")
}

func (c *cluster) apiClient() *client.Client {
	return client.New(c.cli["SWITCHBOARD_URL"], c.cli["SWITCHBOARD_API_KEY"])
}

// TestTwoProcessesOverHTTP runs `switchboard sim` and `switchboard serve` with provider twilio:
// the real twilio-go client, signed callbacks and inbound webhooks checked on the way back.
func TestTwoProcessesOverHTTP(t *testing.T) {
	t.Parallel()
	c := newCluster(t, nil, "")
	out := run(t, c.dir, c.cli, "send", "--to", "+14155550100", "--body", "over real HTTP")
	id := strings.Fields(out)[0]
	waitFor(t, 15*time.Second, "delivery", func() bool { return getMessage(t, c.dir, c.cli, id).Status == switchboard.StatusDelivered })
	m := getMessage(t, c.dir, c.cli, id)
	callbacks := 0
	for _, e := range m.Events {
		if e.Type == switchboard.EventCallback {
			callbacks++
		}
	}
	if callbacks < 3 {
		t.Fatalf("expected signed callbacks sending/sent/delivered on the timeline, got %d", callbacks)
	}
	// A callback signed with another token is refused on this path.
	form := url.Values{"MessageSid": {m.ProviderSID}, "MessageStatus": {"failed"}}
	req, _ := http.NewRequest("POST", "http://"+c.addr+"/webhooks/twilio/status", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", "Zm9yZ2Vk")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("forged callback: %d", resp.StatusCode)
	}
	// The simulator's inbound webhook reaches serve, because start-up pointed the number's SmsUrl
	// at it; the simulator answers 200 only when the signed webhook was accepted.
	resp, err = http.Post("http://"+c.simAddr+"/sim/v1/inbound", "application/json",
		strings.NewReader(`{"from":"+14155550100","to":"+15005550006","body":"On my way"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("inbound through the simulator: %d %s", resp.StatusCode, body)
	}
}

// TestKill9LosesNothingSendsNothingTwice kills serve with SIGKILL while it sends, restarts it on
// the same database, and checks that every accepted message ends terminal and that the
// simulator holds exactly one message per accepted message.
func TestKill9LosesNothingSendsNothingTwice(t *testing.T) {
	t.Parallel()
	// Twilio gives a status callback up after one failed connection (the simulator too): those that
	// met the killed process are recovered by asking the provider, here after 3 s.
	c := newCluster(t, map[string]string{"SWITCHBOARD_LEASE": "3s", "SWITCHBOARD_RECONCILE_DELAY": "200ms", "SWITCHBOARD_PROVIDER_TIMEOUT": "1s",
		"SWITCHBOARD_STATUS_POLL_AFTER": "3s"},
		"senders:\n  - from: \"+15005550006\"\n    rate: 50\n    burst: 5\n")
	// Slow provider answers, so that the kill lands while calls are in flight; some timeouts too.
	testkit.SimDo(t, http.MethodPost, "http://"+c.simAddr, "", "/sim/v1/faults", `{"latency_ms": 20, "timeout_ratio": 0.05, "timeout_ms": 1500}`)
	api := c.apiClient()
	ctx := context.Background()
	const total = 300
	// All due at the same moment, after they are all accepted (concurrently), so that the kill
	// lands while the dispatcher works through them at 50/s (about 6 s) however loaded the machine.
	due := time.Now().Add(3 * time.Second)
	ids := make([]string, total)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range total {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m, err := api.Send(ctx, &client.SendRequest{To: fmt.Sprintf("+1415555%04d", 100+i%100), Body: fmt.Sprintf("kill test %d", i), SendAt: due})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = m.ID
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	waitFor(t, 20*time.Second, "sending under way", func() bool { return len(c.simMessages(t)) >= total/4 })
	c.serve.Kill()
	sentAtKill := len(c.simMessages(t))
	c.restartServe(t)
	waitFor(t, 60*time.Second, "every message terminal", func() bool {
		for _, id := range ids {
			m, err := api.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Status.Terminal() {
				return false
			}
		}
		return true
	})
	sims := c.simMessages(t)
	t.Logf("simulator held %d messages at the kill, %d at the end", sentAtKill, len(sims))
	if sentAtKill >= total {
		t.Fatalf("the kill came after everything was sent (%d); the test proves nothing", sentAtKill)
	}
	seen := map[string]bool{}
	for _, s := range sims {
		b := s.Body
		if seen[b] {
			t.Fatalf("%q was sent twice", b)
		}
		seen[b] = true
	}
	if len(sims) != total {
		t.Fatalf("simulator holds %d messages for %d accepted", len(sims), total)
	}
	for _, id := range ids {
		if m, _ := api.Get(ctx, id); m.Status != switchboard.StatusDelivered {
			t.Fatalf("%s ended %s", id, m.Status)
		}
	}
}
