package switchboard

import (
	"math"
	"slices"
	"strings"
	"time"
)

// SenderKind is the kind of number (or service) a message is sent from; it sets the default rate.
type SenderKind string

// Sender kinds.
const (
	SenderLongCode         SenderKind = "long_code"
	SenderTollFree         SenderKind = "toll_free"
	SenderShortCode        SenderKind = "short_code"
	SenderMessagingService SenderKind = "messaging_service"
)

// DefaultRate is the default throughput of a sender kind in segments per second (Twilio's
// documented defaults: US/CA long code 1, toll-free 3, short code 100; a Messaging Service is
// treated like a long code until configured).
func (k SenderKind) DefaultRate() float64 {
	switch k {
	case SenderTollFree:
		return 3
	case SenderShortCode:
		return 100
	}
	return 1
}

// Valid reports whether k is a known kind.
func (k SenderKind) Valid() bool {
	switch k {
	case SenderLongCode, SenderTollFree, SenderShortCode, SenderMessagingService:
		return true
	}
	return false
}

// DefaultPool is the pool a sender belongs to when none is configured.
const DefaultPool = "default"

// Sender is a number or Messaging Service SID that messages are sent from.
type Sender struct {
	From string     `json:"from" yaml:"from"`
	Kind SenderKind `json:"kind" yaml:"kind"`
	// Rate is the sustained limit in segments per second. A negative rate means unlimited.
	Rate  float64 `json:"rate" yaml:"rate"`
	Burst int     `json:"burst" yaml:"burst"`
	Pool  string  `json:"pool" yaml:"pool"`
	// Tenants are the tenants that may send from this sender; empty means every tenant (a
	// sender, like a pool, may be shared).
	Tenants []string `json:"tenants" yaml:"tenants"`
	// Source says where the sender's current settings come from: the configuration file
	// (re-read at every start-up) or the API (the database wins from the first API edit on).
	Source SenderSource `json:"source" yaml:"-"`
	// UpdatedAt is when the stored sender last changed (zero before it is stored).
	UpdatedAt time.Time `json:"updated_at" yaml:"-"`
}

// SenderSource is where a stored sender's settings come from.
type SenderSource string

// Sender sources.
const (
	// SenderFromConfig: the sender is listed in the configuration file, which every start-up
	// records again (a changed rate in the file applies at the next start).
	SenderFromConfig SenderSource = "config"
	// SenderFromAPI: the sender was created, changed or removed through the API (or the CLI);
	// the configuration file no longer changes it.
	SenderFromAPI SenderSource = "api"
)

// Sender limits checked by Validate.
const (
	// MaxSenderRate is the highest finite rate, in segments per second (Twilio's fastest short
	// codes go to a few hundred; beyond this a typo is likelier than a real limit).
	MaxSenderRate = 10000
	// MaxSenderBurst is the largest burst, in segments.
	MaxSenderBurst = 100000
	// MaxSenderTenants is the most tenants a sender names (more: leave the list empty, for all).
	MaxSenderTenants = 100
)

// Normalize fills a sender's defaults as the configuration file does: the kind from the From
// (MG...: messaging_service, else long_code), rate 0 the kind's default rate, burst 0 one,
// the pool default. It changes nothing else; Validate checks the result.
func (s *Sender) Normalize() {
	if s.Kind == "" {
		s.Kind = SenderLongCode
		if strings.HasPrefix(s.From, "MG") {
			s.Kind = SenderMessagingService
		}
	}
	if s.Rate == 0 && s.Kind.Valid() {
		s.Rate = s.Kind.DefaultRate()
	}
	if s.Burst == 0 {
		s.Burst = 1
	}
	if s.Pool == "" {
		s.Pool = DefaultPool
	}
}

// Validate checks a sender strictly, as the API stores it (after Normalize): From an E.164
// number or a Messaging Service SID (MG and 32 hex digits), a known kind that fits the From, a
// rate above zero (at most MaxSenderRate) or -1 for unlimited, a burst from 1 to MaxSenderBurst,
// a pool name of letters, digits, '.', '_' and '-' (at most 64) and tenant IDs that are valid
// and listed once. Errors are EINVALID with code invalid_sender.
func (s *Sender) Validate() error {
	bad := func(format string, args ...any) error {
		return Errorf(EINVALID, "invalid_sender", format, args...)
	}
	switch {
	case IsMessagingServiceSID(s.From):
		if s.Kind != SenderMessagingService {
			return bad("sender %s is a Messaging Service SID, so its kind must be messaging_service, not %q", s.From, s.Kind)
		}
	case IsE164(s.From):
		if s.Kind == SenderMessagingService {
			return bad("sender %s is a phone number, so its kind cannot be messaging_service", s.From)
		}
	default:
		return bad("from %q must be an E.164 number (+ and 8 to 15 digits) or a Messaging Service SID (MG and 32 hex digits)", SafeText(s.From))
	}
	if !s.Kind.Valid() {
		return bad("kind %q must be long_code, toll_free, short_code or messaging_service", SafeText(string(s.Kind)))
	}
	if math.IsNaN(s.Rate) || math.IsInf(s.Rate, 0) || (s.Rate != -1 && (s.Rate <= 0 || s.Rate > MaxSenderRate)) {
		return bad("rate must be above 0 and at most %d segments per second, or -1 for unlimited (0 or no rate: the kind's default)", MaxSenderRate)
	}
	if s.Burst < 1 || s.Burst > MaxSenderBurst {
		return bad("burst must be from 1 to %d segments", MaxSenderBurst)
	}
	if !ValidPoolName(s.Pool) {
		return bad("pool %q must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", SafeText(s.Pool))
	}
	return CheckSenderTenants(s.Tenants)
}

// CheckSenderTenants checks a sender's tenant list: at most MaxSenderTenants valid tenant IDs,
// each listed once (EINVALID/invalid_sender otherwise).
func CheckSenderTenants(tenants []string) error {
	if len(tenants) > MaxSenderTenants {
		return Errorf(EINVALID, "invalid_sender", "a sender names at most %d tenants (an empty list: every tenant)", MaxSenderTenants)
	}
	seen := make(map[string]bool, len(tenants))
	for _, t := range tenants {
		if err := ValidTenantID(t); err != nil {
			return Errorf(EINVALID, "invalid_sender", "tenants: %s", ErrorMessage(err))
		}
		if seen[t] {
			return Errorf(EINVALID, "invalid_sender", "tenant %s is listed twice", t)
		}
		seen[t] = true
	}
	return nil
}

// AllowsTenant reports whether tenant may send from s: every tenant when s names none.
func (s Sender) AllowsTenant(tenant string) bool {
	return len(s.Tenants) == 0 || slices.Contains(s.Tenants, tenant)
}

// Owner is the tenant a sender belongs to alone: the one tenant it lists, or "" when it is
// shared (it lists several tenants, or none: every tenant's). A message a person sends to an
// owned number is its owner's (see InboundTenant for a shared one).
func (s Sender) Owner() string {
	if len(s.Tenants) != 1 {
		return ""
	}
	return s.Tenants[0]
}

// ValidPoolName reports whether name is a pool name a sender may have: 1 to 64 ASCII letters,
// digits, '.', '_' or '-', the first a letter or digit.
func ValidPoolName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// IsE164 reports whether s is an E.164 number: '+', a non-zero digit, then 7 to 14 digits.
func IsE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsMessagingServiceSID reports whether s is a Messaging Service SID: MG and 32 hex digits.
func IsMessagingServiceSID(s string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, "MG") {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// SenderUpdate is a partial change of a stored sender (PATCH): nil fields keep their value.
type SenderUpdate struct {
	Kind    *SenderKind `json:"kind,omitempty"`
	Rate    *float64    `json:"rate,omitempty"`
	Burst   *int        `json:"burst,omitempty"`
	Pool    *string     `json:"pool,omitempty"`
	Tenants *[]string   `json:"tenants,omitempty"`
}

// Apply returns s changed by u, normalized (a rate of 0 is the kind's default) but not validated.
func (u SenderUpdate) Apply(s Sender) Sender {
	if u.Kind != nil {
		s.Kind = *u.Kind
	}
	if u.Rate != nil {
		s.Rate = *u.Rate
	}
	if u.Burst != nil {
		s.Burst = *u.Burst
	}
	if u.Pool != nil {
		s.Pool = *u.Pool
	}
	if u.Tenants != nil {
		s.Tenants = slices.Clone(*u.Tenants)
	}
	s.Normalize()
	return s
}

// APIKey is a credential for the HTTP API. Only a hash of its secret is stored.
type APIKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Tenant is the tenant it belongs to; empty on create means DefaultTenant.
	Tenant string `json:"tenant"`
	// Role is what the key may do in its tenant; empty on create means RoleAdmin.
	Role       Role       `json:"role"`
	Hash       string     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}
