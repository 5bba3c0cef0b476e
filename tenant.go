package switchboard

import (
	"context"
	"slices"
	"time"
)

// DefaultTenant is the tenant every resource belongs to unless it says otherwise: an installation
// that existed before tenants is tenant default after the upgrade (every tenant column of the
// schema defaults to it), and a create with an empty Tenant lands in it.
const DefaultTenant = "default"

// maxTenantID bounds a tenant ID's length: it is written into every row and index entry of every
// resource.
const maxTenantID = 32

// ValidTenantID refuses an ID that is not a tenant ID (EINVALID/invalid_tenant): 1 to 32
// characters, lower-case ASCII letters, digits and hyphens, not starting with a hyphen
// (^[a-z0-9][a-z0-9-]{0,31}$). IDs appear in URLs, logs and metric labels unescaped.
func ValidTenantID(id string) error {
	ok := id != "" && len(id) <= maxTenantID && id[0] != '-'
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
	}
	if !ok {
		return Errorf(EINVALID, "invalid_tenant",
			"tenant ID %q must be 1 to 32 lower-case letters, digits and hyphens, not starting with a hyphen", truncate(id, 64))
	}
	return nil
}

// truncate shortens s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// TenantOr returns tenant, or DefaultTenant when it is empty: what a store writes for a resource
// created without a tenant.
func TenantOr(tenant string) string {
	if tenant == "" {
		return DefaultTenant
	}
	return tenant
}

// Environment says whether a tenant sends to real people (production) or is a staging tenant
// whose sends are confined (see StagingMode).
type Environment string

// Environments.
const (
	EnvProduction Environment = "production"
	EnvStaging    Environment = "staging"
)

// Valid reports whether e is a known environment.
func (e Environment) Valid() bool { return e == EnvProduction || e == EnvStaging }

// StagingMode says how a staging tenant's sends are confined.
type StagingMode string

// Staging modes.
const (
	// StagingAllowlist (the default, the safe one) sends only to the tenant's AllowedRecipients;
	// any other recipient is refused before anything is sent.
	StagingAllowlist StagingMode = "allowlist"
	// StagingSimulator sends everything through the simulator, never the real provider.
	StagingSimulator StagingMode = "simulator"
)

// Valid reports whether m is a known staging mode.
func (m StagingMode) Valid() bool { return m == StagingAllowlist || m == StagingSimulator }

// Role is what an API key (or a dashboard user) may do inside its tenant.
type Role string

// Roles. read and send are siblings: neither includes the other (a send key reads only what it
// created). admin includes both; platform includes everything, across tenants.
const (
	RoleSend     Role = "send"
	RoleRead     Role = "read"
	RoleAdmin    Role = "admin"
	RolePlatform Role = "platform"
)

// Roles lists every role, least powerful first.
var Roles = []Role{RoleRead, RoleSend, RoleAdmin, RolePlatform}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Allows reports whether a holder of role r may do what needs role need: platform allows every
// role; admin allows admin, send and read; send allows send, and read allows read. (That a send
// key may also read what it created is decided where the resource is read, by its API key ID:
// Allows(RoleRead) is false for send.)
func (r Role) Allows(need Role) bool {
	switch r {
	case RolePlatform:
		return need.Valid()
	case RoleAdmin:
		return need == RoleAdmin || need == RoleSend || need == RoleRead
	case RoleSend, RoleRead:
		return need == r
	}
	return false
}

// Tenant is one application or customer of a Switchboard installation: every message, call,
// verification, conversation, consent record, endpoint, event and API key belongs to exactly one.
type Tenant struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Environment Environment `json:"environment"`
	// StagingMode confines a staging tenant's sends (empty reads as StagingAllowlist); a
	// production tenant ignores it.
	StagingMode StagingMode `json:"staging_mode,omitempty"`
	// AllowedRecipients are the E.164 numbers a staging tenant in allowlist mode may send to, and
	// prefixes ending in * (+1415555*: every number that starts so; see ValidRecipientPattern).
	AllowedRecipients []string `json:"allowed_recipients,omitempty"`
	// DailyMessages and DailySegments bound what the tenant sends per UTC day; 0 is no limit.
	DailyMessages int `json:"daily_messages"`
	DailySegments int `json:"daily_segments"`
	// DailySpendCents caps the tenant's spend per UTC day at the provider's reported prices, in
	// US cents; 0 is no cap.
	DailySpendCents int64     `json:"daily_spend_cents"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// maxAllowedRecipients bounds a staging tenant's allow-list.
const maxAllowedRecipients = 1000

// Validate refuses a tenant a store cannot hold (EINVALID/invalid_tenant): a bad ID, an unknown
// environment or staging mode, a negative limit, or an allowed recipient that is not an E.164
// number. An empty StagingMode is fine (it reads as StagingAllowlist).
func (t *Tenant) Validate() error {
	if t == nil {
		return Errorf(EINVALID, "invalid_tenant", "no tenant")
	}
	if err := ValidTenantID(t.ID); err != nil {
		return err
	}
	bad := func(format string, args ...any) error { return Errorf(EINVALID, "invalid_tenant", format, args...) }
	switch {
	case len(t.Name) > 200:
		return bad("tenant %s: name is longer than 200 bytes", t.ID)
	case !t.Environment.Valid():
		return bad("tenant %s: environment must be production or staging", t.ID)
	case t.StagingMode != "" && !t.StagingMode.Valid():
		return bad("tenant %s: staging_mode must be allowlist or simulator", t.ID)
	case t.DailyMessages < 0 || t.DailySegments < 0 || t.DailySpendCents < 0:
		return bad("tenant %s: daily limits must not be negative (0 is no limit)", t.ID)
	case len(t.AllowedRecipients) > maxAllowedRecipients:
		return bad("tenant %s: at most %d allowed recipients", t.ID, maxAllowedRecipients)
	}
	for _, r := range t.AllowedRecipients {
		if !ValidRecipientPattern(r) {
			return bad("tenant %s: allowed recipient %q is neither an E.164 number nor a prefix of one ending in * (+1415555*)", t.ID, truncate(r, 32))
		}
	}
	return nil
}

// Staging returns the staging mode in force: none for a production tenant, StagingAllowlist
// for a staging tenant that names none.
func (t *Tenant) Staging() StagingMode {
	if t.Environment != EnvStaging {
		return ""
	}
	if t.StagingMode == "" {
		return StagingAllowlist
	}
	return t.StagingMode
}

// isE164 reports whether s looks like an E.164 number: "+", a non-zero digit, 7 to 15 digits in
// all.
func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ErrTenantNotFound is the ENOTFOUND error (tenant_not_found): "tenant %s not found".
func ErrTenantNotFound(id string) *Error {
	return Errorf(ENOTFOUND, "tenant_not_found", "tenant %s not found", id)
}

// ErrTenantExists is the ECONFLICT error (tenant_exists): "tenant %s exists".
func ErrTenantExists(id string) *Error {
	return Errorf(ECONFLICT, "tenant_exists", "tenant %s exists", id)
}

// TenantStore keeps the tenants. The schema creates tenant default (production) so that every
// row stored before tenants existed belongs to one.
type TenantStore interface {
	// CreateTenant stores a new tenant (validated; CreatedAt and UpdatedAt as given), or fails
	// with ECONFLICT/tenant_exists.
	CreateTenant(ctx context.Context, t *Tenant) error
	// GetTenant returns a tenant, or ENOTFOUND/tenant_not_found.
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	// ListTenants lists every tenant by ID.
	ListTenants(ctx context.Context) ([]*Tenant, error)
	// UpdateTenant replaces a tenant's record (all but ID and CreatedAt) with t, validated, or
	// fails with ENOTFOUND/tenant_not_found.
	UpdateTenant(ctx context.Context, t *Tenant) error
}
