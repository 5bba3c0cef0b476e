package node

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
)

// TestOpenEngineCapabilities: what an engine can do beyond the store is named where it is
// opened, so that the node wires it without type assertions: PostgreSQL brings the cluster-wide
// sender limiter and the database's clock, both engines keep media blobs, SQLite's limit and
// clock stay the process's own.
func TestOpenEngineCapabilities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		e, err := OpenEngine(ctx, "sqlite:"+filepath.Join(t.TempDir(), "sb.db"), StoreOptions{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Store.Close()
		if e.Limiter != nil || e.Now != nil || e.Blobs == nil {
			t.Fatalf("sqlite engine: limiter %v, clock set %v, blobs %v; want none, no, some", e.Limiter, e.Now != nil, e.Blobs)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		u, _ := pgtest.URL(t)
		e, err := OpenEngine(ctx, u, StoreOptions{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Store.Close()
		if e.Limiter == nil || e.Now == nil || e.Blobs == nil {
			t.Fatalf("postgres engine: limiter %v, clock set %v, blobs %v; want all", e.Limiter, e.Now != nil, e.Blobs)
		}
		if _, err := e.Now(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
