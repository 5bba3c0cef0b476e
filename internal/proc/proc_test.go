package proc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/proc"
)

// TestMain doubles as the child process: with PROC_TEST_CHILD set it waits to be signalled
// ("stubborn": it ignores SIGTERM, so only SIGKILL ends it).
func TestMain(m *testing.M) {
	switch os.Getenv("PROC_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
	}
	os.Stdout.WriteString("child up\n")
	time.Sleep(time.Minute)
	os.Exit(3)
}

func child(t *testing.T, mode string) (*proc.Process, *strings.Builder) {
	t.Helper()
	var out strings.Builder
	p := &proc.Process{Path: os.Args[0], Env: proc.Env(map[string]string{"PROC_TEST_CHILD": mode}), Output: &out}
	t.Cleanup(p.Kill)
	return p, &out
}

func exited(p *proc.Process) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// TestProcessStopKillRestart: Stop ends a process with SIGTERM, Kill with SIGKILL, and Start
// runs the same command line again after either.
func TestProcessStopKillRestart(t *testing.T) {
	t.Parallel()
	p, _ := child(t, "plain")
	p.Stop(time.Second) // not started: nothing to do
	p.Kill()
	for run := range 2 {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		if exited(p) {
			t.Fatalf("run %d exited at once", run)
		}
		if run == 0 {
			start := time.Now()
			p.Stop(30 * time.Second)
			if !exited(p) || time.Since(start) > 20*time.Second {
				t.Fatalf("SIGTERM did not end the child (after %v)", time.Since(start))
			}
		} else {
			p.Kill()
			if !exited(p) {
				t.Fatal("SIGKILL did not end the child")
			}
		}
	}
}

// TestProcessStopEscalates: a process that ignores SIGTERM is killed after the grace period.
func TestProcessStopEscalates(t *testing.T) {
	t.Parallel()
	p, out := child(t, "stubborn")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// Signal only once the child ignores SIGTERM (it prints after signal.Ignore).
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "child up") {
		if time.Now().After(deadline) {
			t.Fatal("the child did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop(200 * time.Millisecond)
	if !exited(p) {
		t.Fatal("Stop returned with the child alive")
	}
}

// TestEnvPassesOnlyPathAndHome: a developer's settings never reach a child by accident.
func TestEnvPassesOnlyPathAndHome(t *testing.T) {
	t.Setenv("SWITCHBOARD_DATABASE_URL", "postgres://prod")
	env := proc.Env(map[string]string{"B": "2", "A": "1"})
	if len(env) != 4 || !strings.HasPrefix(env[0], "PATH=") || !strings.HasPrefix(env[1], "HOME=") || env[2] != "A=1" || env[3] != "B=2" {
		t.Fatalf("env %q", env)
	}
}

// TestWaitReady waits for a 200, and gives up at once when the process exits.
func TestWaitReady(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := proc.WaitReady(t.Context(), srv.URL, nil, 30*time.Second); err != nil || calls.Load() != 3 {
		t.Fatalf("WaitReady: %v after %d calls", err, calls.Load())
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer down.Close()
	gone := make(chan struct{})
	close(gone)
	start := time.Now()
	if err := proc.WaitReady(t.Context(), down.URL, gone, 30*time.Second); err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("WaitReady on an exited process: %v after %v", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := proc.WaitReady(ctx, down.URL, nil, 30*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitReady after cancel: %v", err)
	}
}

// TestBalancer: requests go round-robin; a backend that refuses connections is skipped; any
// other failure is a 502, not a retry elsewhere (the request may have reached it); redirects
// are passed back to the client.
func TestBalancer(t *testing.T) {
	t.Parallel()
	backend := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/redirect" {
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
				return
			}
			body, _ := io.ReadAll(r.Body)
			io.WriteString(w, name+" "+r.Method+" "+r.URL.RequestURI()+" "+string(body))
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := backend("a"), backend("b")
	dead, err := proc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close() // the connection is reset after the request reached it
	}))
	defer hang.Close()
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

	lb, err := proc.NewBalancer([]string{host(a), dead, host(b)})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	seen := map[string]int{}
	for range 6 {
		resp, err := http.Post(lb.URL()+"/v1/messages?x=1", "text/plain", strings.NewReader("hi"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasSuffix(string(body), " POST /v1/messages?x=1 hi") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		seen[string(body[:1])]++
	}
	if seen["a"] != 3 || seen["b"] != 3 {
		t.Fatalf("spread %v, want 3 and 3 with the dead node skipped", seen)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(lb.URL() + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/elsewhere" {
		t.Fatalf("redirect answered %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	broken, err := proc.NewBalancer([]string{host(hang), host(a)})
	if err != nil {
		t.Fatal(err)
	}
	defer broken.Close()
	resp, err = http.Get(broken.URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Round-robin starts at the second backend; the first request reaches a, the second the reset.
	resp, err = http.Get(broken.URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("a backend that reset the connection: %d, want 502", resp.StatusCode)
	}
}

// TestBalancerConcurrentSkipsDeadOnce: with many requests at once, the shared round-robin counter
// moves between one request's tries; a request must still try every backend once rather than
// land on the dead node twice and answer "no live backend" (the flake of TestClusterFieldServiceDay
// right after its SIGKILL).
func TestBalancerConcurrentSkipsDeadOnce(t *testing.T) {
	t.Parallel()
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer live.Close()
	dead, err := proc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	lb, err := proc.NewBalancer([]string{dead, strings.TrimPrefix(live.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 32 {
		wg.Go(func() {
			for range 25 {
				resp, err := http.Get(lb.URL() + "/x")
				if err != nil {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of 800 concurrent requests failed with one live backend", n)
	}
}
