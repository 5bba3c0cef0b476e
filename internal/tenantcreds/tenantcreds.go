// Package tenantcreds gives each tenant that has its own Twilio account (a subaccount, usually)
// a provider of its own: it saves the tenants' credentials after the provider has accepted them,
// points the account's numbers at this node, and keeps, per node, a cache of one provider per
// tenant that the dispatcher asks for each message and the webhook ingress asks for the token
// that signs an account's webhooks.
//
// The cache is refreshed from the store every Interval (2 s by default) and at once on the node
// that saved a change, so a change made on one node reaches every node of a cluster within
// Interval plus one store read. A provider is rebuilt only when its tenant's credentials changed
// (their updated_at), so its connection pool lives as long as the credentials do.
package tenantcreds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// DefaultInterval is how often a node reads the credentials again.
const DefaultInterval = 2 * time.Second

// Store is what the cache needs of the store: the tenants' credentials with their secrets
// opened (the secretbox wrapper).
type Store interface {
	PutTenantCredentials(ctx context.Context, c *switchboard.TenantCredentials) error
	GetTenantCredentials(ctx context.Context, tenant string) (*switchboard.TenantCredentials, error)
	ListTenantCredentials(ctx context.Context) ([]*switchboard.TenantCredentials, error)
	DeleteTenantCredentials(ctx context.Context, tenant string) error
}

// Account is a provider built with one tenant's credentials.
type Account interface {
	switchboard.Provider
	// CheckAccount asks the provider whether the credentials work (an application error that
	// says why when they do not).
	CheckAccount(ctx context.Context) error
	// SyncAccountWebhooks points every number of the account at smsURL.
	SyncAccountWebhooks(ctx context.Context, smsURL string) (numbers, changed int, err error)
}

// Config configures a Cache.
type Config struct {
	Store Store
	// Build makes a provider from credentials (the node: internal/twilio with the node's base
	// URL, timeout and clock).
	Build func(c *switchboard.TenantCredentials) (Account, error)
	// SMSURL is where the accounts' numbers send inbound messages (the node's inbound webhook).
	SMSURL string
	// NodeAccountSID is the node's own account, which no tenant may claim (its webhooks are
	// checked with the node's token).
	NodeAccountSID string
	// Interval is how often the credentials are read again (DefaultInterval when zero).
	Interval time.Duration
	Clock    switchboard.Clock
	Logger   *slog.Logger
}

// entry is one tenant's provider, built from credentials last updated at updated.
type entry struct {
	updated time.Time
	account string
	token   string // the token that signs the account's webhooks ("" : none known)
	prov    switchboard.Provider
}

// Cache holds one provider per tenant with credentials. It is safe for concurrent use.
type Cache struct {
	cfg Config

	mu        sync.RWMutex
	byTenant  map[string]*entry
	byAccount map[string]*entry
	// refreshMu serialises refreshes, so that an older read never replaces a newer one.
	refreshMu sync.Mutex
}

// New returns an empty cache; Refresh fills it and Run keeps it fresh.
func New(cfg Config) *Cache {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{cfg: cfg, byTenant: map[string]*entry{}, byAccount: map[string]*entry{}}
}

// Interval is how often the cache reads the credentials again: the most a change made on
// another node takes to be used here (plus one store read).
func (c *Cache) Interval() time.Duration { return c.cfg.Interval }

// Provider is the provider of tenant's messages when it has credentials of its own, nil when it
// sends through the node's account.
func (c *Cache) Provider(tenant string) switchboard.Provider {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.byTenant[tenant]; e != nil {
		return e.prov
	}
	return nil
}

// CallProvider is the provider of tenant's calls when it has credentials of its own and its
// provider places calls, nil when its calls go through the node's account.
func (c *Cache) CallProvider(tenant string) switchboard.CallProvider {
	if cp, ok := c.Provider(tenant).(switchboard.CallProvider); ok {
		return cp
	}
	return nil
}

// SigningToken is the auth token that signs the webhooks of account accountSID when it is a
// tenant's, and whether it is one. A tenant's account whose token is not known (an API key
// without webhook_token) answers ("", true): its webhooks cannot be checked and are refused.
func (c *Cache) SigningToken(accountSID string) (token string, tenantAccount bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.byAccount[accountSID]; e != nil {
		return e.token, true
	}
	return "", false
}

// Run refreshes the cache every Interval until ctx ends. A failed refresh keeps the providers
// in use and is logged.
func (c *Cache) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Error("reading the tenants' credentials", "err", err)
		}
	}
}

// Refresh reads every tenant's credentials and rebuilds the providers of those that changed;
// tenants whose credentials are gone go back to the node's account.
func (c *Cache) Refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	list, err := c.cfg.Store.ListTenantCredentials(ctx)
	if err != nil {
		return err
	}
	c.mu.RLock()
	old := c.byTenant
	c.mu.RUnlock()
	next := make(map[string]*entry, len(list))
	for _, cr := range list {
		if e := old[cr.Tenant]; e != nil && e.updated.Equal(cr.UpdatedAt) && e.account == cr.AccountSID {
			next[cr.Tenant] = e
			continue
		}
		e := &entry{updated: cr.UpdatedAt, account: cr.AccountSID, token: cr.SigningToken()}
		acct, err := c.cfg.Build(cr)
		if err != nil {
			// Stored credentials that no longer build (a setting changed): the tenant's
			// messages wait rather than go out through another account.
			c.cfg.Logger.Error("tenant credentials unusable", "tenant", cr.Tenant, "account_sid", cr.AccountSID, "err", err)
			e.prov = unusable{tenant: cr.Tenant, err: err}
		} else {
			e.prov = acct
		}
		next[cr.Tenant] = e
		if old[cr.Tenant] != nil {
			c.cfg.Logger.Info("tenant credentials changed: provider rebuilt", "tenant", cr.Tenant, "account_sid", cr.AccountSID)
		}
	}
	byAccount := make(map[string]*entry, len(next))
	for _, e := range next {
		byAccount[e.account] = e
	}
	c.mu.Lock()
	c.byTenant, c.byAccount = next, byAccount
	c.mu.Unlock()
	return nil
}

// PutOptions adjust Put.
type PutOptions struct {
	// SkipWebhookSync leaves the account's numbers as they are.
	SkipWebhookSync bool
}

// Result is what Put did beyond storing.
type Result struct {
	// Numbers is how many numbers the account has, Changed how many were pointed at this node.
	Numbers, Changed int
	// SyncError says why pointing the numbers at this node failed (the credentials are stored
	// all the same: they work, and the sync can be run again with another PUT).
	SyncError string
	// Synced says whether a sync was attempted.
	Synced bool
}

// Put checks cr's form, asks the provider whether it accepts them (nothing is stored when it
// does not), stores them with ValidatedAt and UpdatedAt now, points the account's numbers at
// this node, and refreshes the cache.
func (c *Cache) Put(ctx context.Context, cr *switchboard.TenantCredentials, opts PutOptions) (Result, error) {
	var res Result
	if err := cr.Validate(); err != nil {
		return res, err
	}
	if c.cfg.NodeAccountSID != "" && cr.AccountSID == c.cfg.NodeAccountSID {
		return res, switchboard.Errorf(switchboard.EUNPROCESSABLE, "node_account",
			"account %s is this node's own account; a tenant's credentials name another account (a subaccount)", cr.AccountSID)
	}
	acct, err := c.cfg.Build(cr)
	if err != nil {
		return res, switchboard.Errorf(switchboard.EINVALID, "invalid_credentials", "%s", err.Error())
	}
	if err := acct.CheckAccount(ctx); err != nil {
		var ae *switchboard.Error
		if errors.As(err, &ae) {
			return res, err
		}
		return res, switchboard.Errorf(switchboard.EUNPROCESSABLE, "credentials_rejected", "the provider refused the credentials: %v", err)
	}
	now := c.cfg.Clock().UTC().Truncate(time.Microsecond)
	cr.ValidatedAt, cr.UpdatedAt = now, now
	if err := c.cfg.Store.PutTenantCredentials(ctx, cr); err != nil {
		return res, err
	}
	c.cfg.Logger.Info("tenant credentials saved", "tenant", cr.Tenant, "account_sid", cr.AccountSID, "auth_kind", cr.Kind)
	if !opts.SkipWebhookSync {
		res.Synced = true
		res.Numbers, res.Changed, err = acct.SyncAccountWebhooks(ctx, c.cfg.SMSURL)
		if err != nil {
			res.SyncError = switchboard.ErrorMessage(err)
			if res.SyncError == "internal error" {
				res.SyncError = err.Error()
			}
			c.cfg.Logger.Warn("tenant webhook sync failed", "tenant", cr.Tenant, "account_sid", cr.AccountSID, "err", err)
		}
	}
	if err := c.Refresh(ctx); err != nil {
		c.cfg.Logger.Error("reading the tenants' credentials", "err", err)
	}
	return res, nil
}

// Get returns a tenant's credentials (with their secrets: the API shows none of them).
func (c *Cache) Get(ctx context.Context, tenant string) (*switchboard.TenantCredentials, error) {
	return c.cfg.Store.GetTenantCredentials(ctx, tenant)
}

// Delete removes a tenant's credentials: its messages go out through the node's account again.
func (c *Cache) Delete(ctx context.Context, tenant string) error {
	if err := c.cfg.Store.DeleteTenantCredentials(ctx, tenant); err != nil {
		return err
	}
	c.cfg.Logger.Info("tenant credentials removed", "tenant", tenant)
	if err := c.Refresh(ctx); err != nil {
		c.cfg.Logger.Error("reading the tenants' credentials", "err", err)
	}
	return nil
}

// unusable stands for a tenant whose stored credentials do not build a provider: every call
// fails with a retryable error, so the tenant's messages wait (and say why on their timeline)
// instead of going out through the node's account.
type unusable struct {
	tenant string
	err    error
}

func (u unusable) Name() string { return "twilio" }

func (u unusable) ErrorClass(int) switchboard.ErrorClass { return switchboard.ClassOther }

func (u unusable) ErrorCode(switchboard.ErrorClass) int { return 0 }

func (u unusable) fail() error {
	return &switchboard.ProviderError{Outcome: switchboard.OutcomeRetry, Class: switchboard.ClassNone,
		Message: fmt.Sprintf("the credentials of tenant %s cannot be used (%v); fix them with PUT /v1/tenants/%s/credentials", u.tenant, u.err, u.tenant),
		Err:     u.err}
}

func (u unusable) Send(context.Context, *switchboard.SendRequest) (*switchboard.ProviderMessage, error) {
	return nil, u.fail()
}

func (u unusable) Fetch(context.Context, string) (*switchboard.ProviderMessage, error) {
	return nil, u.fail()
}

func (u unusable) Find(context.Context, switchboard.FindQuery) ([]*switchboard.ProviderMessage, error) {
	return nil, u.fail()
}

func (u unusable) PlaceCall(context.Context, *switchboard.PlaceCallRequest) (*switchboard.ProviderCall, error) {
	return nil, u.fail()
}

func (u unusable) EndCall(context.Context, string) error { return u.fail() }

func (u unusable) FetchCall(context.Context, string) (*switchboard.ProviderCall, error) {
	return nil, u.fail()
}
