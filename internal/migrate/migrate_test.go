package migrate_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite"

	"github.com/switchboard-gw/switchboard/internal/migrate"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"m/0002_second.sql": {Data: []byte("CREATE TABLE b (x INTEGER);")},
		"m/0001_first.sql":  {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"m/0010_tenth.sql":  {Data: []byte("CREATE TABLE c (x INTEGER);")},
		"m/README.md":       {Data: []byte("not a migration")},
	}
	ms, err := migrate.Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, m := range ms {
		got = append(got, m.Version)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 10 {
		t.Fatalf("versions %v, want [1 2 10]", got)
	}
	if ms[0].Name != "0001_first.sql" || !strings.Contains(ms[0].SQL, "TABLE a") {
		t.Fatalf("first migration %+v", ms[0])
	}

	for name, fsys := range map[string]fstest.MapFS{
		"no number": {"m/first.sql": {Data: []byte("SELECT 1;")}},
		"zero":      {"m/0000_zero.sql": {Data: []byte("SELECT 1;")}},
		"duplicate": {"m/0001_a.sql": {Data: []byte("SELECT 1;")}, "m/1_b.sql": {Data: []byte("SELECT 1;")}},
	} {
		if _, err := migrate.Load(fsys, "m"); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
	if _, err := migrate.Load(fsys, "missing"); err == nil {
		t.Error("Load of a missing directory succeeded")
	}
}

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func tables(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'schema_migrations' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func TestUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openSQLite(t, filepath.Join(t.TempDir(), "m.db"))
	ms := []migrate.Migration{
		{Version: 1, Name: "0001_a.sql", SQL: "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);"},
		{Version: 2, Name: "0002_b.sql", SQL: "CREATE TABLE b (x INTEGER);"},
	}
	applied, err := migrate.Up(ctx, db, migrate.SQLite, ms)
	if err != nil || len(applied) != 2 {
		t.Fatalf("Up = %v, %v; want [1 2]", applied, err)
	}
	applied, err = migrate.Up(ctx, db, migrate.SQLite, ms)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Up = %v, %v; want nothing applied", applied, err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM a").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows in a = %d, %v; want 1 (migration 1 ran once)", n, err)
	}

	// A failing migration leaves no trace and stops the run.
	ms = append(ms,
		migrate.Migration{Version: 3, Name: "0003_bad.sql", SQL: "CREATE TABLE c (x INTEGER); INSERT INTO nowhere VALUES (1);"},
		migrate.Migration{Version: 4, Name: "0004_d.sql", SQL: "CREATE TABLE d (x INTEGER);"},
	)
	applied, err = migrate.Up(ctx, db, migrate.SQLite, ms)
	if err == nil || len(applied) != 0 || !strings.Contains(err.Error(), "0003_bad.sql") {
		t.Fatalf("Up with a bad migration = %v, %v; want an error naming it", applied, err)
	}
	if got := tables(t, db); got != "a,b" {
		t.Fatalf("tables %q, want a,b", got)
	}
	done, err := migrate.Applied(ctx, db)
	if err != nil || len(done) != 2 || done[3] {
		t.Fatalf("Applied = %v, %v; want 1 and 2", done, err)
	}
}

func TestUpConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.db")
	ms := []migrate.Migration{
		{Version: 1, Name: "0001_a.sql", SQL: "CREATE TABLE a (x INTEGER);"},
		{Version: 2, Name: "0002_b.sql", SQL: "INSERT INTO a VALUES (2);"},
		{Version: 3, Name: "0003_c.sql", SQL: "INSERT INTO a VALUES (3);"},
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	// The file is switched to WAL before the race: four connections switching a new file's journal
	// mode at once can get SQLITE_BUSY without the busy handler (SQLite refuses to wait where
	// waiting could deadlock). sqlite.Open retries that; this test is about the migration lock.
	if err := openSQLite(t, path).Ping(); err != nil {
		t.Fatal(err)
	}
	dbs := make([]*sql.DB, 4)
	for i := range dbs {
		dbs[i] = openSQLite(t, path)
	}
	for _, db := range dbs {
		wg.Go(func() {
			applied, err := migrate.Up(t.Context(), db, migrate.SQLite, ms)
			if err != nil {
				t.Errorf("Up: %v", err)
			}
			mu.Lock()
			total += len(applied)
			mu.Unlock()
		})
	}
	wg.Wait()
	var n int
	if err := dbs[0].QueryRow("SELECT COUNT(*) FROM a").Scan(&n); err != nil || n != 2 || total != 3 {
		t.Fatalf("rows %d (err %v), migrations applied %d; want 2 and 3", n, err, total)
	}
}

func TestPostgresDialect(t *testing.T) {
	t.Parallel()
	if got := migrate.Postgres.Placeholder(2); got != "$2" {
		t.Fatalf("placeholder %q", got)
	}
	if migrate.Postgres.LockSQL == "" {
		t.Fatal("the PostgreSQL dialect needs a lock")
	}
}
