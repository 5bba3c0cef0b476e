package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

func cli(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut, func(k string) string { return env[k] })
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestCallsCommands places a call through `switchboard calls create` on a node with the example
// flows and its simulator, follows it with `calls get` and `calls list`, and cancels another.
func TestCallsCommands(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, testkit.NodeConfig{KeyName: "cli", Env: map[string]string{
		"SWITCHBOARD_FLOWS_DIR": filepath.Join("..", "..", "examples", "flows"), "SWITCHBOARD_TEMPLATES_DIR": filepath.Join("..", "..", "examples", "templates"),
		"SWITCHBOARD_CALL_QUIET_HOURS": "off", // calls at any hour of the test run
		"SWITCHBOARD_CALLS_PER_SECOND": "100"},
		Options: node.Options{SimConfig: func(c *twiliosim.Config) { c.CallRingDelay = 300 * time.Millisecond }},
	})
	env := n.CLIEnv
	if err := n.Simulator().ScriptCalls(twiliosim.CallScript{Number: "+14155550200", Inputs: []twiliosim.CalleeInput{{Digits: "1"}}}); err != nil {
		t.Fatal(err)
	}
	vars := []string{"--var", "clinic=Northside", "--var", "date=Tuesday", "--var", "front_desk=+15005550020", "--var", "patient_name=Ana"}
	out, err := cli(t, env, append([]string{"calls", "create", "+14155550200", "--flow", "appointment_confirmation"}, vars...)...)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Fields(out)[0]
	if !strings.HasPrefix(id, "call_") || !strings.Contains(out, "queued") {
		t.Fatalf("create printed %q", out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err = cli(t, env, "calls", "get", id)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "completed") && strings.Contains(out, "outcome confirmed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("get: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"path greeting > menu > confirmed", "input menu", "digits 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("get lacks %q:\n%s", want, out)
		}
	}
	out, err = cli(t, env, append([]string{"calls", "create", "+14155550201", "--flow", "appointment_confirmation"}, vars...)...)
	if err != nil {
		t.Fatal(err)
	}
	id2 := strings.Fields(out)[0]
	if _, err := cli(t, env, "calls", "cancel", id2); err != nil {
		t.Fatal(err)
	}
	if out, err = cli(t, env, "calls", "list"); err != nil || !strings.Contains(out, id) || !strings.Contains(out, id2) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if _, err := cli(t, env, "calls", "create", "+14155550202", "--flow", "nope"); err == nil || !strings.Contains(err.Error(), "flow_not_found") {
		t.Fatalf("unknown flow: %v", err)
	}

	// A call placed later, with the callee's zone and metadata to find it by.
	before := time.Now()
	out, err = cli(t, env, append([]string{"calls", "create", "+14155550203", "--flow", "appointment_confirmation",
		"--send-at", "2h", "--timezone", "America/Chicago", "--metadata", "job_id=1042", "--metadata", "clinic=north", "--json"}, vars...)...)
	if err != nil {
		t.Fatal(err)
	}
	var later switchboard.Call
	if err := json.Unmarshal([]byte(out), &later); err != nil {
		t.Fatalf("create --json: %v\n%s", err, out)
	}
	if later.SendAt == nil || later.SendAt.Before(before.Add(2*time.Hour-time.Minute)) || later.Timezone != "America/Chicago" ||
		later.Metadata["job_id"] != "1042" || later.Metadata["clinic"] != "north" || later.Status != switchboard.CallQueued {
		t.Fatalf("create --send-at --timezone --metadata: %+v", later)
	}
	if out, err = cli(t, env, "calls", "list", "--metadata", "job_id=1042"); err != nil || !strings.Contains(out, later.ID) || strings.Contains(out, id) {
		t.Fatalf("list --metadata: %v\n%s", err, out)
	}
	for _, bad := range [][]string{{"--send-at", "tomorrowish"}, {"--metadata", "novalue"}} {
		if _, err := cli(t, env, append([]string{"calls", "create", "+14155550204", "--flow", "appointment_confirmation"}, bad...)...); err == nil {
			t.Errorf("calls create %v was accepted", bad)
		}
	}
	if _, err := cli(t, env, append([]string{"calls", "create", "+14155550204", "--flow", "appointment_confirmation", "--timezone", "Mars/Olympus"}, vars...)...); err == nil ||
		!strings.Contains(err.Error(), "invalid_timezone") {
		t.Errorf("an unknown time zone: %v", err)
	}
}

// TestFlowsLintCommand: clean examples pass; a flow with problems fails with each finding.
func TestFlowsLintCommand(t *testing.T) {
	t.Parallel()
	out, err := cli(t, nil, "flows", "lint", filepath.Join("..", "..", "examples", "flows"))
	if err != nil || !strings.Contains(out, "0 problem(s)") {
		t.Fatalf("examples: %v\n%s", err, out)
	}
	dir := t.TempDir()
	bad := "name: bad\nversion: 1\nvariables: {dob: {sensitive: true}}\nstart: menu\nstates:\n" +
		"  menu:\n    gather: {prompt: \"Born {{dob}}? Press 1 for {{x}}\"}\n    on: {digits: {\"1\": menu}}\n" +
		"  lost:\n    hangup: true\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = cli(t, nil, "flows", "lint", dir)
	if err == nil {
		t.Fatalf("lint passed:\n%s", out)
	}
	for _, rule := range []string{"unreachable_state", "missing_timeout", "missing_no_input", "unknown_variable", "sensitive_in_prompt"} {
		if !strings.Contains(out, "["+rule+"]") {
			t.Errorf("no %s in:\n%s", rule, out)
		}
	}
}
