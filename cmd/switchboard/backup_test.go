package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// TestDBBackupWhileServing runs `switchboard db backup` against the SQLite file of a serving node
// while clients keep sending through the API, then restores the copy (opens it as a store) and
// checks that every message accepted before the backup began is in it and that the integrity
// check passes; a second backup to the same path is refused, and `health` answers for the node.
func TestDBBackupWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	env := map[string]string{"SWITCHBOARD_ADDR": addr}
	start(t, dir, env, "serve")
	waitHTTP(t, "http://"+addr+"/readyz")
	if out := run(t, dir, env, "health"); strings.TrimSpace(out) != "ready" {
		t.Fatalf("health: %q", out)
	}
	key, err := os.ReadFile(filepath.Join(dir, "data", "dev-api-key"))
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu    sync.Mutex
		ids   []string
		stop  = make(chan struct{})
		wg    sync.WaitGroup
		fails int
	)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/messages",
					bytes.NewReader([]byte(`{"to":"+14155550100","body":"backup under load"}`)))
				req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					mu.Lock()
					fails++
					mu.Unlock()
					continue
				}
				var m struct{ ID string }
				_ = json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == http.StatusAccepted && m.ID != "" {
					ids = append(ids, m.ID)
				} else {
					fails++
				}
				mu.Unlock()
			}
		}()
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	accepted := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
	waitFor(t, 60*time.Second, "accepts under load", func() bool { return len(accepted()) >= 30 })
	before := accepted()
	out := run(t, dir, env, "db", "backup", "backup.db")
	during := len(accepted()) - len(before)
	close(stop)
	wg.Wait()
	t.Logf("%s(%d accepted before the backup began, %d while it ran, %d failed requests)", out, len(before), during, fails)
	if !strings.Contains(out, "integrity ok") {
		t.Errorf("db backup: %s", out)
	}
	cmd := command(dir, env, "db", "backup", "backup.db")
	if msg, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(msg), "never overwrites") {
		t.Errorf("second backup to the same path: %v %s", err, msg)
	}

	path := filepath.Join(dir, "backup.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check of the backup: %q %v", check, err)
	}
	raw.Close()
	restored, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("opening the backup: %v", err)
	}
	defer restored.Close()
	for _, id := range before {
		if m, err := restored.GetMessage(t.Context(), id); err != nil || len(m.Events) == 0 {
			t.Errorf("message %s accepted before the backup began: %v", id, err)
		}
	}
}

// TestDBBackupPostgresSaysWhatToUse: on a PostgreSQL URL, db backup names the tools to use and
// writes nothing.
func TestDBBackupPostgresSaysWhatToUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := command(dir, map[string]string{"SWITCHBOARD_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}, "db", "backup", "out.db")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "pg_dump") || !strings.Contains(string(out), "pg_basebackup") {
		t.Errorf("db backup on postgres: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.db")); err == nil {
		t.Error("db backup on postgres wrote a file")
	}
}

// TestHealthFailsWhenNotReady: health exits non-zero when nothing answers.
func TestHealthFailsWhenNotReady(t *testing.T) {
	t.Parallel()
	cmd := command("", map[string]string{"SWITCHBOARD_ADDR": freeAddr(t)}, "health", "--timeout", "2s")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("health with nothing listening succeeded: %s", out)
	}
}
