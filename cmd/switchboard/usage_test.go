package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/testkit"
)

// TestUsageCommand: `switchboard usage` prints the tenant's day as a table, as JSON and as CSV
// (the dashboard's columns), and refuses --csv with --json as a usage error.
func TestUsageCommand(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, testkit.NodeConfig{KeyName: "cli"})
	ctx := context.Background()
	for _, to := range []string{"+14155550100", "+14155550101"} {
		if _, err := n.Client.Send(ctx, &client.SendRequest{To: to, Body: strings.Repeat("long ", 40)}); err != nil { // 2 segments
			t.Fatal(err)
		}
	}
	today := switchboard.UTCDay(time.Now())
	out, err := cli(t, n.CLIEnv, "usage")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "DAY") || !strings.Contains(lines[1], today) ||
		strings.Join(strings.Fields(lines[1])[1:4], " ") != "default 2 4" {
		t.Errorf("usage printed:\n%s", out)
	}
	out, err = cli(t, n.CLIEnv, "usage", "--json", "--from", today, "--to", today)
	if err != nil {
		t.Fatal(err)
	}
	var rep client.UsageReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.From != today || len(rep.Usage) != 1 || rep.Usage[0].Messages != 2 || rep.Usage[0].Segments != 4 {
		t.Errorf("usage --json: %+v, %v\n%s", rep, err, out)
	}
	out, err = cli(t, n.CLIEnv, "usage", "--csv")
	if err != nil {
		t.Fatal(err)
	}
	if want := "day,tenant,messages,segments,calls,verifications,spend,price_unit,spend_micros\n" + today + ",default,2,4,0,0,0.00,,0\n"; out != want {
		t.Errorf("usage --csv printed %q, want %q", out, want)
	}
	if _, err := cli(t, n.CLIEnv, "usage", "--csv", "--json"); err == nil || exitCodeOf(err) != 2 {
		t.Errorf("usage --csv --json: %v, want a usage error", err)
	}
	if _, err := cli(t, n.CLIEnv, "usage", "--from", "2026-13-01"); err == nil || exitCodeOf(err) != 2 {
		t.Errorf("usage --from 2026-13-01: %v, want exit 2 (invalid_day)", err)
	}
}
