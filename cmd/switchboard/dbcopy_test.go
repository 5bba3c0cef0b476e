package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/dbcopy"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
)

// runFail runs a switchboard command that must fail and returns its stdout and stderr.
func runFail(t *testing.T, dir string, env map[string]string, args ...string) (string, string) {
	t.Helper()
	cmd := command(dir, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("switchboard %v: %v, want it to fail\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// pgCounts counts the rows of every copied table in the database at dbURL.
func pgCounts(t *testing.T, dbURL string) map[string]int64 {
	t.Helper()
	db, err := postgres.Open(t.Context(), dbURL, postgres.WithoutMigrate(), postgres.WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]int64{}
	for _, table := range dbcopy.Tables {
		if out[table], err = db.Count(t.Context(), table); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// rawJSONEqual compares raw JSON as JSON.
var rawJSONEqual = cmp.Comparer(func(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
})

// TestDBCopyToPostgres moves an embedded installation to PostgreSQL: messages sent through the
// API on SQLite (the simulator delivers them) are read through the API of `serve` on PostgreSQL
// after `switchboard db copy`, timelines and all, with the same API key; the idempotency key
// still replays. A second copy without --force is refused and changes nothing; with --force it
// replaces the target's rows.
func TestDBCopyToPostgres(t *testing.T) {
	t.Parallel()
	pgURL, _ := pgtest.URL(t)
	ctx := context.Background()

	dir := t.TempDir()
	sqliteURL := "sqlite:" + filepath.Join(dir, "data", "switchboard.db")
	addr := freeAddr(t)
	env := map[string]string{"SWITCHBOARD_ADDR": addr, "SWITCHBOARD_DATABASE_URL": sqliteURL, "SWITCHBOARD_LOG_LEVEL": "warn"}
	serve := start(t, dir, env, "serve")
	waitHTTP(t, "http://"+addr+"/readyz")
	key := lastLine(run(t, dir, env, "keys", "create", "--name", "shop"))
	api := client.New("http://"+addr, key)
	var ids []string
	for i := range 5 {
		req := &client.SendRequest{To: fmt.Sprintf("+1415555%04d", 100+i), Body: fmt.Sprintf("moving up %d ✓", i),
			Metadata: map[string]string{"order": fmt.Sprint(i)}}
		if i == 0 {
			req.IdempotencyKey = "order-0"
		}
		m, err := api.Send(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	want := map[string]*switchboard.Message{}
	waitFor(t, 20*time.Second, "delivery on SQLite", func() bool {
		for _, id := range ids {
			m, err := api.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != switchboard.StatusDelivered {
				return false
			}
			want[id] = m
		}
		return true
	})
	serve.Stop(15 * time.Second)

	out := run(t, dir, nil, "db", "copy", "--from", sqliteURL, "--to", pgURL)
	for _, s := range []string{"TABLE", "messages", "message_events", "api_keys", "row counts match"} {
		if !strings.Contains(out, s) {
			t.Fatalf("db copy output lacks %q:\n%s", s, out)
		}
	}
	copied := pgCounts(t, pgURL)
	if copied["messages"] != int64(len(ids)) || copied["message_events"] < int64(4*len(ids)) || copied["api_keys"] < 1 {
		t.Fatalf("rows on PostgreSQL after the copy: %v", copied)
	}

	// A key created on SQLite after the copy does not reach PostgreSQL through a refused copy.
	later := lastLine(run(t, dir, env, "keys", "create", "--name", "later"))
	_, stderr := runFail(t, dir, nil, "db", "copy", "--from", sqliteURL, "--to", pgURL)
	if !strings.Contains(stderr, "refusing to copy") || !strings.Contains(stderr, "--force") || !strings.Contains(stderr, "messages: 5") {
		t.Fatalf("second copy without --force: %s", stderr)
	}
	if diff := cmp.Diff(copied, pgCounts(t, pgURL)); diff != "" {
		t.Fatalf("a refused copy changed the target:\n%s", diff)
	}

	// serve on PostgreSQL, in another directory: nothing of the SQLite installation is at hand.
	dir2, addr2 := t.TempDir(), freeAddr(t)
	pgEnv := map[string]string{"SWITCHBOARD_ADDR": addr2, "SWITCHBOARD_DATABASE_URL": pgURL, "SWITCHBOARD_LOG_LEVEL": "warn"}
	pgServe := start(t, dir2, pgEnv, "serve")
	waitHTTP(t, "http://"+addr2+"/readyz")
	api2 := client.New("http://"+addr2, key)
	for _, id := range ids {
		got, err := api2.Get(ctx, id)
		if err != nil {
			t.Fatalf("reading %s on PostgreSQL: %v", id, err)
		}
		if len(got.Events) < 4 {
			t.Fatalf("%s has %d events on PostgreSQL", id, len(got.Events))
		}
		if diff := cmp.Diff(want[id], got, rawJSONEqual); diff != "" {
			t.Fatalf("%s on PostgreSQL differs (-SQLite +PostgreSQL):\n%s", id, diff)
		}
	}
	page, err := api2.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range page.Messages {
		listed[m.ID] = true
	}
	for _, id := range ids {
		if !listed[id] {
			t.Fatalf("%s missing from the listing on PostgreSQL", id)
		}
	}
	replay, err := api2.Send(ctx, &client.SendRequest{To: "+14155550100", Body: "moving up 0 ✓",
		Metadata: map[string]string{"order": "0"}, IdempotencyKey: "order-0"})
	if err != nil || replay.ID != ids[0] {
		t.Fatalf("idempotent retry on PostgreSQL: %v, %v; want %s", replay, err, ids[0])
	}
	var apiErr *client.Error
	if _, err := client.New("http://"+addr2, later).Get(ctx, ids[0]); !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Fatalf("the key the refused copy did not carry: %v, want unauthorized", err)
	}
	// New work on PostgreSQL gets new IDs and is delivered.
	fresh, err := api2.Send(ctx, &client.SendRequest{To: "+14155550199", Body: "after the move"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "delivery on PostgreSQL", func() bool {
		m, err := api2.Get(ctx, fresh.ID)
		if err != nil {
			t.Fatal(err)
		}
		return m.Status == switchboard.StatusDelivered
	})
	pgServe.Stop(15 * time.Second)

	// --force replaces the target's rows with the source's, saying so loudly.
	cmd := command(dir, nil, "db", "copy", "--from", sqliteURL, "--to", pgURL, "--force")
	var stdout, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("db copy --force: %v\n%s%s", err, stdout.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "WARNING") || !strings.Contains(errOut.String(), "DELETING") {
		t.Fatalf("db copy --force did not warn:\n%s", errOut.String())
	}
	if got := pgCounts(t, pgURL); got["messages"] != int64(len(ids)) {
		t.Fatalf("messages after the forced copy: %d, want %d", got["messages"], len(ids))
	}
	if keys := run(t, dir2, pgEnv, "keys", "list"); !strings.Contains(keys, "later") {
		t.Fatalf("the forced copy did not carry the later key:\n%s", keys)
	}
}

// TestDBCopyRefusesSameDatabase: copying a file onto itself is refused before anything opens.
func TestDBCopyRefusesSameDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"SWITCHBOARD_DATABASE_URL": "sqlite:data/switchboard.db"}
	run(t, dir, env, "migrate")
	_, stderr := runFail(t, dir, nil, "db", "copy", "--from", "sqlite:data/switchboard.db", "--to", "sqlite:"+filepath.Join(dir, "data", "switchboard.db"), "--force")
	if !strings.Contains(stderr, "same database") {
		t.Fatalf("copy onto itself: %s", stderr)
	}
	if _, stderr := runFail(t, dir, nil, "db", "copy", "--to", "sqlite:x.db"); !strings.Contains(stderr, "required") {
		t.Fatalf("copy without --from: %s", stderr)
	}
}

// TestDBCopyRefusesSamePostgres: two spellings of one PostgreSQL database are told apart from two
// databases once connected, and the copy is refused before the target is touched.
func TestDBCopyRefusesSamePostgres(t *testing.T) {
	t.Parallel()
	pgURL, _ := pgtest.URL(t)
	dir := t.TempDir()
	run(t, dir, map[string]string{"SWITCHBOARD_DATABASE_URL": pgURL}, "migrate") // keys never creates the schema
	run(t, dir, map[string]string{"SWITCHBOARD_DATABASE_URL": pgURL}, "keys", "create", "--name", "kept")
	other := "postgresql" + strings.TrimPrefix(pgURL, "postgres")
	_, stderr := runFail(t, dir, nil, "db", "copy", "--from", pgURL, "--to", other, "--force")
	if !strings.Contains(stderr, "same database") || strings.Contains(stderr, "WARNING") {
		t.Fatalf("copy onto itself: %s", stderr)
	}
	if n := pgCounts(t, pgURL)["api_keys"]; n != 1 {
		t.Fatalf("api_keys after a refused copy onto itself: %d, want 1", n)
	}
}
