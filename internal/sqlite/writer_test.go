package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openInternal(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// keyInsert writes an API key row, the simplest write there is.
func keyInsert(id string) func(*wtx) error {
	return func(t *wtx) error {
		_, err := t.exec(qInsertAPIKey, id, "test", "hash-"+id, 0, nil, nil, "default", "admin")
		return err
	}
}

func keyIDs(t *testing.T, db *DB) string {
	t.Helper()
	keys, err := db.ListAPIKeys(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return strings.Join(ids, ",")
}

// TestGroupCommitIsolatesFailures runs one batch directly: each request succeeds or fails alone,
// and a failed request's writes are rolled back while the others' commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	boom := errors.New("boom")
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	req := func(ctx context.Context, fn func(*wtx) error) *writeReq {
		return &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	}
	then := func(first func(*wtx) error, second func() error) func(*wtx) error {
		return func(t *wtx) error {
			if err := first(t); err != nil {
				return err
			}
			return second()
		}
	}
	batch := []*writeReq{
		req(t.Context(), keyInsert("a")),
		req(t.Context(), then(keyInsert("b"), func() error { return boom })),
		req(t.Context(), keyInsert("c")),
		req(t.Context(), then(keyInsert("d"), func() error { panic("bug") })),
		req(canceled, keyInsert("e")),
		req(t.Context(), keyInsert("a")), // duplicate key: fails on its own
		req(t.Context(), keyInsert("f")),
	}
	db.commit(batch)
	errs := make([]error, len(batch))
	for i, r := range batch {
		errs[i] = <-r.done
	}
	if errs[0] != nil || errs[2] != nil || errs[6] != nil {
		t.Fatalf("successful requests failed: %v", errs)
	}
	if !errors.Is(errs[1], boom) {
		t.Fatalf("failing request: %v", errs[1])
	}
	if errs[3] == nil || !strings.Contains(errs[3].Error(), "panic") {
		t.Fatalf("panicking request: %v", errs[3])
	}
	if !errors.Is(errs[4], context.Canceled) {
		t.Fatalf("canceled request: %v", errs[4])
	}
	if !isUnique(errs[5]) {
		t.Fatalf("duplicate request: %v", errs[5])
	}
	if got := keyIDs(t, db); got != "f,c,a" {
		t.Fatalf("stored keys %q, want f,c,a", got)
	}

	// A lone failing request is rolled back too.
	lone := req(t.Context(), then(keyInsert("g"), func() error { return boom }))
	db.commit([]*writeReq{lone})
	if err := <-lone.done; !errors.Is(err, boom) {
		t.Fatalf("lone failing request: %v", err)
	}
	if got := keyIDs(t, db); got != "f,c,a" {
		t.Fatalf("stored keys %q, want f,c,a", got)
	}
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	var journal string
	var sync, fk, busy int
	err := db.write(t.Context(), func(t *wtx) error {
		for q, dst := range map[string]any{
			"PRAGMA journal_mode": &journal, "PRAGMA synchronous": &sync,
			"PRAGMA foreign_keys": &fk, "PRAGMA busy_timeout": &busy,
		} {
			if err := t.queryRow(q).Scan(dst); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if journal != "wal" || sync != 2 || fk != 1 || busy != 5000 {
		t.Fatalf("journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d; want wal, 2 (FULL), 1, 5000", journal, sync, fk, busy)
	}
	// Readers cannot write.
	if _, err := db.r.ExecContext(t.Context(), "DELETE FROM api_keys"); err == nil {
		t.Fatal("a read connection wrote")
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := db.RevokeAPIKey(t.Context(), "x", time.Now()); !errors.Is(err, errClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

func TestFileMode(t *testing.T) {
	t.Parallel()
	db := openInternal(t)
	st, err := os.Stat(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Fatalf("database file mode %o, want 600", mode)
	}
}
