package switchboard

import "time"

// ConsentState is whether a recipient may be messaged.
type ConsentState string

// Consent states.
const (
	ConsentOptedOut ConsentState = "opted_out"
	ConsentOptedIn  ConsentState = "opted_in"
	// ConsentCleared records that an earlier choice was withdrawn by an operator: neither an
	// opt-out (messages may go) nor an opt-in (marketing needs a new one).
	ConsentCleared ConsentState = "cleared"
)

// Valid reports whether s is a known state.
func (s ConsentState) Valid() bool {
	return s == ConsentOptedOut || s == ConsentOptedIn || s == ConsentCleared
}

// ConsentSource says how a consent change came about.
type ConsentSource string

// Consent sources.
const (
	ConsentFromKeyword       ConsentSource = "keyword"        // the recipient texted STOP/START…
	ConsentFromProviderError ConsentSource = "provider_error" // the provider refused with 21610
	ConsentFromAPI           ConsentSource = "api"
	ConsentFromImport        ConsentSource = "import"
	ConsentFromDashboard     ConsentSource = "dashboard"
)

// ScopeAll is the consent scope that covers every sender pool.
const ScopeAll = "*"

// ConsentRecord is one entry of a recipient's append-only consent history. The recipient's state
// in a pool is the latest record among that pool's scope and ScopeAll.
type ConsentRecord struct {
	ID int64 `json:"id"`
	// Tenant is the tenant that recorded it. Consent takes effect per number and scope, for
	// every tenant (see LatestConsent): the tenant is who said so, not whom it binds.
	Tenant string        `json:"tenant"`
	Phone  string        `json:"phone"`
	Scope  string        `json:"scope"`
	State  ConsentState  `json:"state"`
	Source ConsentSource `json:"source"`
	// Evidence points at what proves the change: an inbound message ID and its text, a message ID
	// and provider error code, an import file name and line.
	Evidence string    `json:"evidence,omitempty"`
	Actor    string    `json:"actor"`
	At       time.Time `json:"at"`
}

// Validate refuses a record the consent history cannot hold (EINVALID).
func (c *ConsentRecord) Validate() error {
	switch {
	case c == nil || c.Phone == "" || c.Scope == "":
		return Errorf(EINVALID, "invalid_consent", "a consent record needs a phone and a scope")
	case !c.State.Valid():
		return Errorf(EINVALID, "invalid_consent", "consent state must be opted_out or opted_in")
	case c.At.IsZero():
		return Errorf(EINVALID, "invalid_consent", "a consent record needs a time")
	}
	return nil
}
