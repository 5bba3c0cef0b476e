// Package proc runs Switchboard's own processes as children — `switchboard serve` and
// `switchboard sim` — and the round-robin load balancer that stands in front of several serve
// processes. The chaos bench (internal/bench) kills and restarts such processes, and the tests
// that boot the real binary do the same through internal/testkit; both use this package so that
// starting, waiting for readiness, stopping and killing are written once.
package proc

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Process is a child process that can be stopped, killed with SIGKILL and started again with
// the same command line (a restarted serve keeps its address and database).
type Process struct {
	// Path is the executable; Dir its working directory; Env its whole environment (see Env).
	Path string
	Dir  string
	Env  []string
	Args []string
	// Output receives the process's stdout and stderr, over all its runs.
	Output io.Writer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts the process; a process that ran before is started again.
func (p *Process) Start() error {
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Dir, cmd.Env = p.Dir, p.Env
	cmd.Stdout, cmd.Stderr = p.Output, p.Output
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.Path, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return nil
}

// Done is closed when the current run of the process has exited (nil before the first Start).
func (p *Process) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

func (p *Process) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// Stop ends the process gracefully (SIGTERM), or with SIGKILL when it has not exited after grace.
// It returns when the process is gone; a process that is not running is left alone.
func (p *Process) Stop(grace time.Duration) {
	cmd, done := p.current()
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
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Kill kills the process with SIGKILL — no drain, no goodbye — and waits for it to be gone.
func (p *Process) Kill() {
	cmd, done := p.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Env is an environment for a child: PATH and HOME of this process, then extra (in key order).
// Nothing else of this process's environment is passed on, so a developer's SWITCHBOARD_*
// settings never reach a child by accident.
func Env(extra map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// FreeAddr reserves a loopback port and releases it for a process to listen on.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// WaitReady polls url until it answers 200, the process whose exit closes exited is gone (nil:
// not watched), ctx ends or timeout passes.
func WaitReady(ctx context.Context, url string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s: the process exited before it answered", url)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no answer 200 after %v", url, timeout)
		}
	}
}
