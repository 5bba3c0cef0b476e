package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// TestBackupUnderLoad backs the database up while writers keep accepting messages, then restores
// the copy (opens it as a store) and checks that every message accepted before the backup began
// is in it with its timeline, that no message is torn (without its events), and that SQLite's
// integrity check passes. A backup never overwrites.
func TestBackupUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	src := filepath.Join(dir, "switchboard.db")
	db, err := sqlite.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 500 { // some history, so that the copy takes a while
		if _, _, err := db.CreateMessage(ctx, testMessage(fmt.Sprintf("msg_old_%04d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}

	var (
		mu    sync.Mutex
		acked []string // messages whose CreateMessage returned
		stop  atomic.Bool
		wg    sync.WaitGroup
		seq   atomic.Int64
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				id := fmt.Sprintf("msg_w%d_%06d", w, seq.Add(1))
				if _, _, err := db.CreateMessage(ctx, testMessage(id), nil); err != nil {
					t.Errorf("CreateMessage during backup: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	ackedSoFar := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acked...)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(ackedSoFar()) < 50 { // the writers are going
		if time.Now().After(deadline) || t.Failed() {
			t.Fatal("the writers did not get going")
		}
		runtime.Gosched()
	}
	before := ackedSoFar()
	dest := filepath.Join(dir, "backups", "b1.db")
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		t.Fatal(err)
	}
	res, err := sqlite.Backup(ctx, src, dest)
	during := len(ackedSoFar()) - len(before)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	t.Logf("backup: %d bytes, %d messages; %d accepted before it began, %d while it ran", res.Bytes, res.Messages, len(before), during)
	if res.Messages < int64(500+len(before)) {
		t.Errorf("backup holds %d messages, want at least %d", res.Messages, 500+len(before))
	}

	// Refuses to overwrite, whatever the destination holds.
	if _, err := sqlite.Backup(ctx, src, dest); !errors.Is(err, sqlite.ErrBackupExists) {
		t.Errorf("second backup to the same path: %v, want ErrBackupExists", err)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Size() != res.Bytes || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file after the refused overwrite: %v %v", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "backups", ".*partial*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// Restore: the copy opens as a store; what was accepted before is there.
	raw, err := sql.Open("sqlite", "file:"+dest+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var check string
	var torn, count int
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check of the backup: %q %v", check, err)
	}
	if err := raw.QueryRow(`SELECT COUNT(*) FROM messages m WHERE NOT EXISTS
		(SELECT 1 FROM message_events e WHERE e.message_id = m.id)`).Scan(&torn); err != nil || torn != 0 {
		t.Errorf("%d messages without their events in the backup (%v)", torn, err)
	}
	if err := raw.QueryRow("SELECT COUNT(*) FROM messages").Scan(&count); err != nil || int64(count) != res.Messages {
		t.Errorf("backup counts %d messages, Backup reported %d (%v)", count, res.Messages, err)
	}
	raw.Close()
	restored, err := sqlite.Open(ctx, dest)
	if err != nil {
		t.Fatalf("opening the backup as a store: %v", err)
	}
	defer restored.Close()
	for _, id := range append(before, "msg_old_0000", "msg_old_0499") {
		m, err := restored.GetMessage(ctx, id)
		if err != nil {
			t.Errorf("message %s accepted before the backup began: %v", id, err)
			continue
		}
		if len(m.Events) == 0 {
			t.Errorf("message %s restored without its timeline", id)
		}
	}
}
