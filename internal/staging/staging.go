// Package staging keeps staging tenants away from real people (issue 18, point 6): every
// message, call and verification of a staging tenant is checked against the tenant's
// environment before anything is created (switchboard.Tenant.CheckRecipient): in mode allowlist
// (the default) only the numbers and prefixes it lists may be reached; in mode simulator only a
// node whose provider is the in-process simulator sends for it, and any other node refuses.
package staging

import (
	"context"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Tenants is what the guard needs of the store. Any switchboard.Store is one.
type Tenants interface {
	GetTenant(ctx context.Context, id string) (*switchboard.Tenant, error)
}

// CacheTTL is how long a tenant read for a check is reused: a change to a tenant's environment
// or allow-list applies on every node within this time.
const CacheTTL = 2 * time.Second

// Guard checks recipients against their tenant's environment. A nil *Guard checks nothing. It
// is safe for concurrent use.
type Guard struct {
	tenants   Tenants
	simulated bool
	clock     switchboard.Clock

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	t     *switchboard.Tenant
	until time.Time
}

// New returns a guard reading tenants from store; simulated says whether every provider of this
// node is the in-process simulator (a staging tenant of mode simulator sends only then).
func New(store Tenants, simulated bool, clock switchboard.Clock) *Guard {
	if clock == nil {
		clock = switchboard.SystemClock
	}
	return &Guard{tenants: store, simulated: simulated, clock: clock, cache: map[string]cached{}}
}

// Check refuses to (E.164) for tenant (empty: switchboard.DefaultTenant) when the tenant is a
// staging tenant that may not reach it (EUNPROCESSABLE, switchboard.CodeStagingRecipient or
// switchboard.CodeStagingSimulator).
func (g *Guard) Check(ctx context.Context, tenant, to string) error {
	if g == nil {
		return nil
	}
	t, err := g.tenant(ctx, tenant)
	if err != nil {
		return err
	}
	return t.CheckRecipient(to, g.simulated)
}

func (g *Guard) tenant(ctx context.Context, id string) (*switchboard.Tenant, error) {
	if id == "" {
		id = switchboard.DefaultTenant
	}
	now := g.clock()
	g.mu.Lock()
	c, ok := g.cache[id]
	g.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.t, nil
	}
	t, err := g.tenants.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.cache[id] = cached{t: t, until: now.Add(CacheTTL)}
	g.mu.Unlock()
	return t, nil
}
