package api

import (
	"context"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Roles. Every /v1 operation of openapi.json declares the role it needs in its
// x-switchboard-role extension ("send", "read", "admin" or "platform"); that declaration is
// the one table the API checks (authed reads it by the route's pattern), so a route and its
// role are written down once, beside its documentation, and a route someone forgets to declare
// is refused to every key (TestEveryRouteDeclaresARole names it). A read route on which a send
// key may read what it created itself also says x-switchboard-send-reads-own: true.
//
// Tenants. A key acts inside its own tenant: a resource of another tenant is not found (404,
// the same answer as for an ID that does not exist), lists are filtered to the key's tenant,
// and what a key creates belongs to its tenant. The platform role manages tenants and the keys
// of any tenant, and is otherwise an admin of its own tenant: it does not read other tenants'
// messages either.

// RoleExtension and SendReadsOwnExtension are the OpenAPI operation extensions that declare
// what a route needs.
const (
	RoleExtension         = "x-switchboard-role"
	SendReadsOwnExtension = "x-switchboard-send-reads-own"
)

// CodeInsufficientRole is the 403 answer to a key whose role does not allow the route.
const CodeInsufficientRole = "insufficient_role"

// routeRule is what a route needs of the key that calls it.
type routeRule struct {
	Need switchboard.Role
	// SendReadsOwn lets a send key through to this read route, for what it created only.
	SendReadsOwn bool
}

// Principal is who makes a request: the API key, its tenant and role, and whether it may see
// only what it created itself (a send key).
type Principal struct {
	Key     *switchboard.APIKey
	Tenant  string
	Role    switchboard.Role
	OwnOnly bool
}

// principalCtx keys the request's Principal.
const principalCtx ctxKey = iota + 100

// PrincipalFrom returns the authenticated caller of a request, nil when there is none.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalCtx).(*Principal)
	return p
}

// keyTenant is the tenant of a key (an unset one is the default tenant, as stored before tenants).
func keyTenant(k *switchboard.APIKey) string {
	if k.Tenant == "" {
		return switchboard.DefaultTenant
	}
	return k.Tenant
}

// keyRole is the role of a key (an unset one is admin, what every key could do before roles).
func keyRole(k *switchboard.APIKey) switchboard.Role {
	if k.Role == "" {
		return switchboard.RoleAdmin
	}
	return k.Role
}

// authorize decides whether key may call the route of pattern: the Principal it acts as, or a
// 403 insufficient_role.
func authorize(key *switchboard.APIKey, pattern string) (*Principal, error) {
	p := newPrincipal(key)
	rule, ok := routeRules[pattern]
	if !ok {
		return nil, switchboard.Errorf(switchboard.EFORBIDDEN, CodeInsufficientRole, "the route %s declares no role, so no key may call it", pattern)
	}
	if p.Role.Allows(rule.Need) {
		return p, nil
	}
	if rule.SendReadsOwn && p.Role == switchboard.RoleSend {
		return p, nil
	}
	return nil, switchboard.Errorf(switchboard.EFORBIDDEN, CodeInsufficientRole, "this route needs a key with the %s role; this key has the %s role", rule.Need, p.Role)
}

// newPrincipal is the Principal of key. A send key touches only what it created: it reads and
// cancels its own messages, calls and verifications.
func newPrincipal(key *switchboard.APIKey) *Principal {
	p := &Principal{Key: key, Tenant: keyTenant(key), Role: keyRole(key)}
	p.OwnOnly = p.Role == switchboard.RoleSend
	return p
}

// sameTenant compares tenants, an empty one being the default tenant.
func sameTenant(a, b string) bool {
	if a == "" {
		a = switchboard.DefaultTenant
	}
	if b == "" {
		b = switchboard.DefaultTenant
	}
	return a == b
}

// owns reports whether the caller may see a resource of tenant created by the key apiKeyID:
// the same tenant, and for a send key on a read route, its own creation.
func (p *Principal) owns(tenant, apiKeyID string) bool {
	if !sameTenant(tenant, p.Tenant) {
		return false
	}
	return !p.OwnOnly || apiKeyID == p.Key.ID
}

// principal is the caller of an authenticated request (authed has put it there).
func principal(ctx context.Context) *Principal {
	if p := PrincipalFrom(ctx); p != nil {
		return p
	}
	// Unreachable behind authed; refuse everything rather than see everything.
	return &Principal{Key: &switchboard.APIKey{}, Tenant: "\x00none", Role: switchboard.RoleRead, OwnOnly: true}
}
