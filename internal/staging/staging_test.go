package staging_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
	"github.com/switchboard-gw/switchboard/internal/staging"
)

// TestGuard: a staging tenant of mode simulator is refused on a node whose provider is not the
// simulator and let through on one that is; a tenant's change applies once CacheTTL has passed;
// a production tenant and the default tenant reach anyone; a nil guard checks nothing.
func TestGuard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2031, 5, 6, 15, 0, 0, 0, time.UTC)
	clock := now
	tn := &switchboard.Tenant{ID: "acme-sim", Name: "Acme", Environment: switchboard.EnvStaging, StagingMode: switchboard.StagingSimulator,
		CreatedAt: now, UpdatedAt: now}
	if err := db.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	live := staging.New(db, false, func() time.Time { return clock })
	sim := staging.New(db, true, func() time.Time { return clock })
	const anyone = "+14155550199"
	if err := live.Check(ctx, "acme-sim", anyone); switchboard.ErrorCodeOf(err) != switchboard.CodeStagingSimulator {
		t.Errorf("simulator mode on a live node: %v, want %s", err, switchboard.CodeStagingSimulator)
	}
	if err := sim.Check(ctx, "acme-sim", anyone); err != nil {
		t.Errorf("simulator mode on a simulator node: %v", err)
	}
	for _, tenant := range []string{"", switchboard.DefaultTenant} {
		if err := live.Check(ctx, tenant, anyone); err != nil {
			t.Errorf("tenant %q (production): %v", tenant, err)
		}
	}
	if err := live.Check(ctx, "nope", anyone); !switchboard.IsKind(err, switchboard.ENOTFOUND) {
		t.Errorf("an unknown tenant: %v, want not found", err)
	}
	var none *staging.Guard
	if err := none.Check(ctx, "acme-sim", anyone); err != nil {
		t.Errorf("a nil guard: %v", err)
	}

	// The tenant goes to production: the live node sees it once its cached copy expires.
	tn.Environment, tn.UpdatedAt = switchboard.EnvProduction, now
	if err := db.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(staging.CacheTTL - time.Millisecond)
	if err := live.Check(ctx, "acme-sim", anyone); err == nil {
		t.Error("the change applied before the cached tenant expired (the test would not show the cache)")
	}
	clock = now.Add(staging.CacheTTL)
	if err := live.Check(ctx, "acme-sim", anyone); err != nil {
		t.Errorf("after %v the tenant is production: %v", staging.CacheTTL, err)
	}
}
