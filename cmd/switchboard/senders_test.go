package main

import (
	"encoding/json"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestSendersCLI: switchboard senders list|add|update|remove against a node, with --json, typed
// flags and the documented exit codes.
func TestSendersCLI(t *testing.T) {
	t.Parallel()
	env, _ := startNode(t)
	dir := t.TempDir()
	ok := func(args ...string) string {
		t.Helper()
		r := runBin(t, dir, env, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	fails := func(code int, args ...string) result {
		t.Helper()
		r := runBin(t, dir, env, args...)
		if r.code != code {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, r.code, code, r.stdout, r.stderr)
		}
		return r
	}
	const from = "+14155550166"
	if out := ok("senders", "add", from, "--kind", "toll_free", "--rate", "2.5", "--burst", "4", "--pool", "alerts", "--tenant", "default"); !strings.Contains(out, from+" added: toll_free, pool alerts, rate 2.5/s, burst 4, tenants default") {
		t.Fatalf("senders add printed %q", out)
	}
	fails(4, "senders", "add", from)                                      // 409 sender_exists
	fails(2, "senders", "add", "+1415", "--rate", "1")                    // 400 invalid_sender
	fails(2, "senders", "update", from)                                   // nothing to change
	fails(2, "senders", "update", from, "--tenant", "a", "--all-tenants") // contradiction
	if out := ok("senders", "update", from, "--rate", "-1", "--all-tenants"); !strings.Contains(out, "rate unlimited, burst 4, tenants all") {
		t.Fatalf("senders update printed %q", out)
	}
	var list []switchboard.Sender
	if err := json.Unmarshal([]byte(ok("senders", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[1].From != from || list[1].Rate != -1 || list[1].Pool != "alerts" || list[1].Source != switchboard.SenderFromAPI || len(list[1].Tenants) != 0 {
		t.Fatalf("senders list --json: %+v", list)
	}
	if out := ok("senders", "list"); !strings.Contains(out, "FROM") || !strings.Contains(out, from) || !strings.Contains(out, "config") {
		t.Fatalf("senders list:\n%s", out)
	}
	if out := ok("senders", "remove", from); !strings.Contains(out, from+" removed") {
		t.Fatalf("senders remove printed %q", out)
	}
	r := fails(3, "senders", "remove", from, "--json") // 404
	if !strings.Contains(r.stderr, "sender_not_found") {
		t.Fatalf("remove of a removed sender: %s", r.stderr)
	}
}
