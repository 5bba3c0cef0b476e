// Package testkit holds the helpers that tests use to boot Switchboard: a node in process
// (StartNode), the real binary as `serve` and `sim` processes (BuildSwitchboard, StartProc,
// StartSim, Run), and the small pieces around them (FreeAddr, WaitFor, WaitHTTP, SyncBuffer,
// Logger, the simulator's control API).
//
// Only tests import it: the production binary must not link it (nor the testing package it
// brings), which TestBinaryLinksNoTestkit in cmd/switchboard checks. Because it imports
// internal/node, a package that node depends on may use it only from an external test package
// (package x_test), never from an internal one (that would be an import cycle).
package testkit

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/proc"
)

// FreeAddr reserves a loopback port and releases it for a server to listen on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := proc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// WaitFor polls cond until it holds, and fails the test when timeout passes first. It polls
// often at first and every 50 ms after, so that a quick condition is seen quickly and a slow
// one (a CLI run per poll) does not load the machine.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := 10 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes: a log sink shared by a node's
// goroutines or a process's stdout and stderr.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// LogWriter writes each log line to t.Log, so that it shows only for a failed test (or -v).
type LogWriter struct{ T testing.TB }

func (w LogWriter) Write(p []byte) (int, error) {
	w.T.Helper()
	w.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Logger is a text logger at level into the test's log.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(LogWriter{t}, &slog.HandlerOptions{Level: level}))
}
