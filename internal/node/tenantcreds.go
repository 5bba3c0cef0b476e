package node

import (
	"context"
	"fmt"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/tenantcreds"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/webhook"
)

// openTenantCredentials builds the cache of the tenants' own Twilio accounts (issue #18): a
// provider per tenant with credentials, built like the node's own (same base URL, timeout,
// clock), and the tokens that sign those accounts' webhooks. It reads the credentials once here,
// so a node starts sending through the right accounts; Start keeps them fresh.
func (n *Node) openTenantCredentials(ctx context.Context, base twilio.Config) error {
	build := func(c *switchboard.TenantCredentials) (tenantcreds.Account, error) {
		tc := base
		tc.AccountSID, tc.AuthToken, tc.APIKey, tc.APISecret = c.AccountSID, "", "", ""
		if c.Kind == switchboard.CredentialAPIKey {
			tc.APIKey, tc.APISecret = c.APIKeySID, c.Secret
		} else {
			tc.AuthToken = c.Secret
		}
		tc.Logger = n.logger.With("component", "twilio", "tenant", c.Tenant)
		p, err := twilio.New(tc)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	n.creds = tenantcreds.New(tenantcreds.Config{
		Store: n.store, Build: build, SMSURL: n.cfg.PublicURL + webhook.InboundPath,
		NodeAccountSID: base.AccountSID,
		Clock:          n.ownClock, Logger: n.logger.With("component", "tenantcreds"),
	})
	if err := n.creds.Refresh(ctx); err != nil {
		return fmt.Errorf("tenants' Twilio credentials: %w", err)
	}
	return nil
}

// tenantProvider is the dispatcher's ProviderFor: a message of a tenant with its own account
// goes through that account when its channel goes through Twilio (channel_providers) and its
// number is one the tenant's senders list; any other provider is the node's choice for the
// channel, whatever the tenant.
func (n *Node) tenantProvider(m *switchboard.Message) switchboard.Provider {
	if n.creds == nil || n.routes.names[m.Channel] != config.DefaultChannelProvider || n.sharedNumber(m.From) {
		return nil
	}
	return n.creds.Provider(m.Tenant)
}

// tenantCalls is the voice service's ProviderFor: a call of a tenant with its own account is
// placed, polled and ended through that account when voice goes through Twilio and its number
// is one the tenant's senders list.
func (n *Node) tenantCalls(c *switchboard.Call) switchboard.CallProvider {
	name := n.cfg.ChannelProviders[config.ChannelVoice]
	if n.creds == nil || (name != "" && name != config.DefaultChannelProvider) || n.sharedNumber(c.From) {
		return nil
	}
	return n.creds.CallProvider(c.Tenant)
}

// sharedNumber reports whether from is a sender that lists no tenant: a number every tenant may
// use is the node's, on the node's account (as senderAccount says for syncing its webhooks), so a
// tenant's message or call from it — its verification codes from verify_from, a text from the
// shared pool — goes through the node's account, which owns the number; a subaccount could not
// send from it. A number that is no sender (a Messaging Service) is not judged here.
func (n *Node) sharedNumber(from string) bool {
	if n.senders == nil {
		return false
	}
	s, ok := n.senders.Load().Get(from)
	return ok && len(s.Tenants) == 0
}
