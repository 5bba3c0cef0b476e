package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// holdServerMigrationLock takes, on a connection of db's pool, the server-wide migration lock
// that nodes of earlier releases take (and new ones on a schema that has migrations), as another
// runner migrating would; it is released when the test ends. It returns the connection.
func holdServerMigrationLock(t *testing.T, db *DB) *pgxpool.Conn {
	t.Helper()
	conn, err := db.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Release)
	if _, err := conn.Exec(t.Context(), "SELECT pg_advisory_lock($1, $2)", lockNamespace, lockMigrate); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.WithoutCancel(t.Context()), "SELECT pg_advisory_unlock($1, $2)", lockNamespace, lockMigrate); err != nil {
			t.Error(err)
		}
	})
	return conn
}

// TestMigrateUpToDateTakesNoLock: Migrate on a schema that has every migration returns at once
// while another runner holds the migration lock (the server's, shared by every schema): a node
// restarting on its up-to-date schema does not wait for another schema's migrations.
func TestMigrateUpToDateTakesNoLock(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	holdServerMigrationLock(t, db)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if applied, err := db.Migrate(ctx); err != nil || applied != 0 {
		t.Fatalf("Migrate of an up-to-date schema while the lock is held = %d, %v; want 0 at once", applied, err)
	}
}

// TestMigrateNewSchemaBesideAnotherRunner: a new schema migrates while another runner holds the
// server-wide lock of earlier releases (a node migrating another schema of the server): the
// migration lock is the schema's, so schemas of one server do not queue behind each other.
func TestMigrateNewSchemaBesideAnotherRunner(t *testing.T) {
	t.Parallel()
	conn := holdServerMigrationLock(t, newTestDB(t))
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(t.Context())) //nolint:errcheck // only holds the lock
	// The earlier releases' fixed key of migrate's transaction lock.
	if _, err := tx.Exec(t.Context(), "SELECT pg_advisory_xact_lock(7365627361)"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, testURL(t)) // migrates the new schema
	if err != nil {
		t.Fatalf("a new schema while another runner holds the server-wide locks: %v", err)
	}
	db.Close()
}
