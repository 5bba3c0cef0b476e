package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// simCalls lists the calls the standalone simulator holds (GET /sim/v1/calls).
func (c *cluster) simCalls(t *testing.T) []twiliosim.Call {
	t.Helper()
	return testkit.SimCalls(t, "http://"+c.simAddr, "")
}

// simPost posts a JSON body to the simulator's control API and fails the test unless it answers 2xx.
func (c *cluster) simPost(t *testing.T, path, body string) {
	t.Helper()
	testkit.SimDo(t, http.MethodPost, "http://"+c.simAddr, "", path, body)
}

// TestKill9DuringCallContinuesOnRestartedProcess places a call of the example appointment flow
// through a serve process and a standalone simulator, kills serve with SIGKILL while the callee
// waits at the menu, starts serve again on the same database and address, and then has the
// callee press 1. The restarted process, which never saw the call, answers the menu's Gather
// action from the stored state: the call completes on the confirm path, its timeline stays in
// order, and the simulator holds exactly one call (the restart did not place it again).
func TestKill9DuringCallContinuesOnRestartedProcess(t *testing.T) {
	t.Parallel()
	flows, templates := t.TempDir(), t.TempDir()
	if err := os.CopyFS(flows, os.DirFS(filepath.Join("..", "..", "examples", "flows"))); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(templates, os.DirFS(filepath.Join("..", "..", "examples", "templates"))); err != nil {
		t.Fatal(err)
	}
	// The callee waits at the menu far longer than the kill and restart take, even on a loaded
	// machine; it answers only when the test posts its input.
	c := newCluster(t, map[string]string{
		"SWITCHBOARD_FLOWS_DIR": flows, "SWITCHBOARD_TEMPLATES_DIR": templates, "SWITCHBOARD_CALLS_PER_SECOND": "100",
		"SWITCHBOARD_CALL_QUIET_HOURS": "off", // calls at any hour of the test run
	}, "", "--call-input-wait", "60s")
	const to = "+14155550140"
	c.simPost(t, "/sim/v1/calls/script", `{"number":"`+to+`","outcome":"answer"}`)
	api := c.apiClient()
	ctx := context.Background()
	call, err := api.CreateCall(ctx, &client.CallRequest{To: to, Flow: "appointment_confirmation", Variables: map[string]string{
		"clinic": "Northside Clinic", "date": "Tuesday March 5 at 3:30 PM", "front_desk": "+15005550020", "patient_name": "Ana Lopez",
	}})
	if err != nil {
		t.Fatal(err)
	}
	getCall := func() *switchboard.Call {
		t.Helper()
		got, err := api.Call(ctx, call.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	var sim twiliosim.Call
	waitFor(t, 20*time.Second, "the callee to wait at the menu", func() bool {
		calls := c.simCalls(t)
		if len(calls) != 1 {
			return false
		}
		sim = calls[0]
		return len(sim.Heard) > 0 && strings.HasPrefix(sim.Heard[len(sim.Heard)-1], "say: Press 1")
	})
	before := getCall()
	if before.State != "menu" || before.Status != switchboard.CallInProgress || before.ProviderSID != sim.SID {
		t.Fatalf("before the kill: state %q status %s provider sid %q (simulator %s)", before.State, before.Status, before.ProviderSID, sim.SID)
	}
	requestsAtKill := len(sim.Requests)

	c.serve.Kill()
	c.restartServe(t)
	c.simPost(t, "/sim/v1/calls/"+sim.SID+"/input", `{"digits":"1"}`)

	var got *switchboard.Call
	waitFor(t, 20*time.Second, "the call to end", func() bool {
		got = getCall()
		return got.Status.Terminal()
	})
	if got.Status != switchboard.CallCompleted || got.Outcome != "confirmed" || !slices.Equal(got.Path, []string{"greeting", "menu", "confirmed"}) {
		t.Fatalf("after the kill: status %s outcome %q path %v; timeline %+v", got.Status, got.Outcome, got.Path, got.Timeline)
	}
	if len(got.Inputs) != 1 || got.Inputs[0].State != "menu" || got.Inputs[0].Digits != "1" {
		t.Errorf("inputs %+v, want the menu's 1", got.Inputs)
	}
	if got.Attempts != 1 {
		t.Errorf("%d attempts, want 1", got.Attempts)
	}
	for i, e := range got.Timeline {
		if e.Seq != i+1 {
			t.Errorf("timeline entry %d has seq %d: %+v", i, e.Seq, got.Timeline)
		}
		if i > 0 && e.At.Before(got.Timeline[i-1].At) {
			t.Errorf("timeline goes back in time at seq %d: %+v", e.Seq, got.Timeline)
		}
	}
	calls := c.simCalls(t)
	if len(calls) != 1 {
		t.Fatalf("the simulator holds %d calls, want exactly 1: %+v", len(calls), calls)
	}
	sim = calls[0]
	if sim.Status != "completed" {
		t.Errorf("the simulator's call ended %s", sim.Status)
	}
	// The restarted process answered the menu's Gather action and the confirmed state.
	if len(sim.Requests) <= requestsAtKill {
		t.Errorf("no request of the call reached the restarted process: %v", sim.Requests)
	}
	if !slices.Contains(sim.Heard, "press 1") || !slices.ContainsFunc(sim.Heard, func(h string) bool {
		return strings.HasPrefix(h, "say: Thank you. Your appointment is confirmed.")
	}) {
		t.Errorf("the callee heard %q", sim.Heard)
	}
}
