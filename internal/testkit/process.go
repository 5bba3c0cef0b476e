package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/proc"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// BuildSwitchboard builds the switchboard binary into dir and returns its path; a TestMain calls
// it once for the tests that run real processes.
func BuildSwitchboard(dir string) (string, error) {
	bin := filepath.Join(dir, "switchboard")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", bin, "github.com/switchboard-gw/switchboard/cmd/switchboard").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building switchboard: %w\n%s", err, out)
	}
	return bin, nil
}

// Proc is a running switchboard process (serve or sim) whose output goes to the test's log
// when the test fails. It is stopped (SIGTERM, SIGKILL after 15 s) when the test ends.
type Proc struct {
	*proc.Process
	// Log is the process's stdout and stderr over all its runs, restarts included.
	Log *SyncBuffer
}

// StartProc starts binary with args in dir, with env and PATH and HOME as its environment.
func StartProc(t testing.TB, binary, dir string, env map[string]string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Log: &SyncBuffer{}}
	p.Process = &proc.Process{Path: binary, Dir: dir, Env: proc.Env(env), Args: args, Output: p.Log}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(15 * time.Second)
		if t.Failed() {
			out := p.Log.String()
			if len(out) > 64<<10 {
				out = "…" + out[len(out)-64<<10:]
			}
			t.Logf("output of %v:\n%s", args, out)
		}
	})
	return p
}

// Restart starts the process again after a Kill or Stop, with the same command line.
func (p *Proc) Restart(t testing.TB) {
	t.Helper()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
}

// WaitReady waits until url answers 200, failing the test at once when the process exits
// first, or after a minute (generous: CI runs the process tests in parallel on two cores).
func (p *Proc) WaitReady(t testing.TB, url string) {
	t.Helper()
	if err := proc.WaitReady(t.Context(), url, p.Done(), 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

// WaitHTTP waits until url answers 200, for a minute at most.
func WaitHTTP(t testing.TB, url string) {
	t.Helper()
	if err := proc.WaitReady(t.Context(), url, nil, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Command is an unstarted command of binary, in dir, with env and PATH and HOME.
func Command(binary, dir string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env = dir, proc.Env(env)
	return cmd
}

// Run runs binary with args to completion and returns its stdout; it fails the test when the
// command fails.
func Run(t testing.TB, binary, dir string, env map[string]string, args ...string) string {
	t.Helper()
	cmd := Command(binary, dir, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("switchboard %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// The account of the standalone simulators the tests start; serve processes are given the same.
const (
	SimAccount = "AC0123456789abcdef0123456789abcdef"
	SimToken   = "f00dfeedf00dfeedf00dfeedf00dfeed"
)

// StartSim starts `switchboard sim` on a free loopback address with fast message lifecycles
// (args are added to its command line), waits until it answers and returns its address.
func StartSim(t testing.TB, binary, dir string, args ...string) string {
	t.Helper()
	addr := FreeAddr(t)
	p := StartProc(t, binary, dir, map[string]string{"TWILIO_ACCOUNT_SID": SimAccount, "TWILIO_AUTH_TOKEN": SimToken},
		append([]string{"sim", "--addr", addr, "--sending-delay", "5ms", "--sent-delay", "5ms", "--delivered-delay", "10ms"}, args...)...)
	p.WaitReady(t, "http://"+addr+"/sim/v1/messages")
	return addr
}

// SimDo calls the simulator's control API at base (a standalone simulator, or a node that
// mounts its in-process one, then with the API key key) and returns the answer's body; it fails
// the test unless the answer is 2xx. A string or []byte body is sent as it is, any other
// non-nil body as JSON.
func SimDo(t testing.TB, method, base, key, path string, body any) []byte {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
	}
	return out
}

// SimMessages lists the messages the simulator at base holds (GET /sim/v1/messages).
func SimMessages(t testing.TB, base, key string) []twiliosim.Message {
	t.Helper()
	var out struct {
		Messages []twiliosim.Message `json:"messages"`
	}
	if err := json.Unmarshal(SimDo(t, http.MethodGet, base, key, "/sim/v1/messages", nil), &out); err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

// SimCalls lists the calls the simulator at base holds (GET /sim/v1/calls).
func SimCalls(t testing.TB, base, key string) []twiliosim.Call {
	t.Helper()
	var out struct {
		Calls []twiliosim.Call `json:"calls"`
	}
	if err := json.Unmarshal(SimDo(t, http.MethodGet, base, key, "/sim/v1/calls", nil), &out); err != nil {
		t.Fatal(err)
	}
	return out.Calls
}
