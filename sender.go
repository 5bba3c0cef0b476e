package switchboard

import "time"

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
