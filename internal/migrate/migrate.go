// Package migrate applies numbered, embedded SQL migrations to a database/sql database. It is
// engine-neutral: the SQLite and PostgreSQL stores each embed their own set and call Up at start-up.
//
// A migration is one file named NNNN_description.sql (the number is its version). Each migration
// runs in its own transaction together with the row that records it in schema_migrations, so a
// migration is either fully applied and recorded or not at all. The version is re-checked inside
// that transaction, after Dialect.LockSQL, so several processes starting at once apply each
// migration exactly once.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string // the file name, for messages
	SQL     string
}

// Dialect holds the little that differs between engines.
type Dialect struct {
	// Placeholder returns the bind parameter for the n-th argument (1-based): "?" for SQLite,
	// "$1" for PostgreSQL.
	Placeholder func(n int) string
	// LockSQL, when set, runs first in every migration transaction so that concurrent runners
	// serialize, e.g. "SELECT pg_advisory_xact_lock(…)" on PostgreSQL. SQLite needs none when
	// the transaction is opened with BEGIN IMMEDIATE.
	LockSQL string
}

// SQLite is the dialect of SQLite. Open the database with _txlock=immediate so that each
// migration transaction takes the write lock before it checks what is applied.
var SQLite = Dialect{Placeholder: func(int) string { return "?" }}

// Postgres is the dialect of PostgreSQL; its lock is a transaction-scoped advisory lock keyed
// by the schema (an arbitrary, fixed seed hashed with the schema's name), so that the schemas
// of one server migrate side by side. Runners of different releases on one schema are kept
// apart by the session lock internal/postgres holds around the whole run.
var Postgres = Dialect{
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	LockSQL:     "SELECT pg_advisory_xact_lock(hashtextextended(current_schema(), 7365627361))",
}

// Load reads the migrations in directory dir of fsys, ordered by version. Files not ending in
// .sql are ignored; a .sql file without a numeric prefix or a duplicated version is an error.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: read %s: %w", dir, err)
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			num = strings.TrimSuffix(name, ".sql")
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migrate: %s: name must start with a positive version number, e.g. 0001_init.sql", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrate: %s and %s share version %d", other, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migrate: read %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// createTable is portable between SQLite and PostgreSQL.
const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`

// Up applies, in order, the migrations that db has not recorded yet and returns their versions.
// Versions recorded in db but unknown to ms (a newer binary ran before) are left alone.
func Up(ctx context.Context, db *sql.DB, d Dialect, ms []Migration) (applied []int, err error) {
	if err := ensureTable(ctx, db, d); err != nil {
		return nil, err
	}
	done, err := Applied(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		ok, err := apply(ctx, db, d, m)
		if err != nil {
			return applied, err
		}
		if ok {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

// ensureTable creates schema_migrations under the dialect's lock: PostgreSQL can fail two
// concurrent CREATE TABLE IF NOT EXISTS with a unique violation in its catalog.
func ensureTable(ctx context.Context, db *sql.DB, d Dialect) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if d.LockSQL != "" {
		if _, err := tx.ExecContext(ctx, d.LockSQL); err != nil {
			return fmt.Errorf("migrate: create schema_migrations: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, createTable); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	return nil
}

// Applied returns the versions recorded in schema_migrations.
func Applied(ctx context.Context, db *sql.DB) (map[int]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		done[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	return done, nil
}

// apply runs one migration in a transaction; false means another runner applied it first.
func apply(ctx context.Context, db *sql.DB, d Dialect, m Migration) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %s: begin: %w", m.Name, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if d.LockSQL != "" {
		if _, err := tx.ExecContext(ctx, d.LockSQL); err != nil {
			return false, fmt.Errorf("migrate: %s: lock: %w", m.Name, err)
		}
	}
	var n int
	q := "SELECT COUNT(*) FROM schema_migrations WHERE version = " + d.Placeholder(1)
	if err := tx.QueryRowContext(ctx, q, m.Version).Scan(&n); err != nil {
		return false, fmt.Errorf("migrate: %s: check: %w", m.Name, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migrate: %s: %w", m.Name, err)
	}
	q = fmt.Sprintf("INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
		d.Placeholder(1), d.Placeholder(2), d.Placeholder(3))
	if _, err := tx.ExecContext(ctx, q, m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return false, fmt.Errorf("migrate: %s: record: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate: %s: commit: %w", m.Name, err)
	}
	return true, nil
}
