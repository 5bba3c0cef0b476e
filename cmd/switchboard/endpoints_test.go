package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// TestEndpointsCommands drives `switchboard endpoints …` in process against an API server.
func TestEndpointsCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.CreateAPIKey(ctx, &switchboard.APIKey{ID: "key_1", Name: "cli", Hash: switchboard.HashAPIKeySecret("sb_cli"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Store: db, Clock: func() time.Time { return now }}).Handler())
	defer srv.Close()
	env := map[string]string{"SWITCHBOARD_URL": srv.URL, "SWITCHBOARD_API_KEY": "sb_cli"}
	sb := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		root := newRoot(&out, &errOut, func(k string) string { return env[k] })
		root.SetArgs(args)
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("switchboard %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	lines := func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

	out := lines(sb("endpoints", "create", "https://93.184.216.34/hooks", "--event-type", "message.*,consent.changed"))
	id := strings.Fields(out[0])[0]
	if !strings.HasPrefix(id, "ep_") || !strings.HasPrefix(out[len(out)-1], "whsec_") {
		t.Fatalf("create printed %q", out)
	}
	if got := sb("endpoints", "list"); !strings.Contains(got, id) || !strings.Contains(got, "message.*,consent.changed") {
		t.Fatalf("list: %s", got)
	}
	if got := lines(sb("endpoints", "rotate", id, "--overlap", "1h")); !strings.HasPrefix(got[len(got)-1], "whsec_") || !strings.Contains(got[0], "2 active secrets") {
		t.Fatalf("rotate: %q", got)
	}
	if got := sb("endpoints", "get", id); !strings.Contains(got, "active secrets  2") || !strings.Contains(got, "ok") {
		t.Fatalf("get: %s", got)
	}
	if got := sb("endpoints", "secret"); !strings.HasPrefix(got, "whsec_") {
		t.Fatalf("secret: %q", got)
	}

	// A dead letter, listed and replayed.
	if err := db.RecordConsent(ctx, &switchboard.ConsentRecord{Phone: "+14155550100", Scope: "*", State: switchboard.ConsentOptedOut,
		Source: switchboard.ConsentFromAPI, Actor: "test", At: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FanOutEvents(ctx, now, 10); err != nil {
		t.Fatal(err)
	}
	ds, err := db.ClaimDeliveries(ctx, switchboard.DeliveryClaim{Owner: "w", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
	if err != nil || len(ds) != 1 {
		t.Fatalf("claimed %v %v", ds, err)
	}
	if _, err := db.FinishDelivery(ctx, switchboard.DeliveryResult{ID: ds[0].ID, Owner: "w", At: now, Error: "no answer within 10s"}); err != nil {
		t.Fatal(err)
	}
	if got := sb("endpoints", "dead-letters", id); !strings.Contains(got, ds[0].ID) || !strings.Contains(got, "consent.changed") || !strings.Contains(got, "no answer within 10s") {
		t.Fatalf("dead-letters: %s", got)
	}
	if got := sb("endpoints", "replay", id); !strings.HasPrefix(got, "1 dead letter(s)") {
		t.Fatalf("replay: %q", got)
	}
	if got := sb("endpoints", "dead-letters", id, "--all"); !strings.Contains(got, "(no dead letters)") {
		t.Fatalf("dead-letters after the replay: %s", got)
	}
	sb("endpoints", "delete", id)
	if got := sb("endpoints", "list"); !strings.Contains(got, "(no endpoints)") {
		t.Fatalf("list after delete: %s", got)
	}
}
