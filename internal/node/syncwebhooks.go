package node

import (
	"context"

	switchboard "github.com/switchboard-gw/switchboard"
)

// webhookSyncer points numbers' SmsUrl at a URL through one Twilio account.
type webhookSyncer interface {
	SyncWebhooks(ctx context.Context, numbers []string, smsURL string) error
}

// syncWebhooks points the senders' numbers at smsURL, each through the account that owns it. A
// number whose senders' tenants all send through Twilio accounts of their own is a number of
// such an account (their messages leave from it through that account), so it is synced through
// the first tenant's; every other number through the node's account. Syncing a tenant's number
// through the node's account fails (Twilio does not list it there), and at start-up that would
// stop the node from starting once a tenant added its own number as a sender.
func (n *Node) syncWebhooks(ctx context.Context, senders []switchboard.Sender, smsURL string) error {
	var order []webhookSyncer
	numbers := map[webhookSyncer][]string{}
	for _, s := range senders {
		var acct webhookSyncer = n.provider
		if a := n.senderAccount(s); a != nil {
			acct = a
		}
		if _, ok := numbers[acct]; !ok {
			order = append(order, acct)
		}
		numbers[acct] = append(numbers[acct], s.From)
	}
	for _, acct := range order {
		if err := acct.SyncWebhooks(ctx, numbers[acct], smsURL); err != nil {
			return err
		}
	}
	return nil
}

// senderAccount is the tenant account a sender's number belongs to: the first tenant's when
// every tenant of the sender has credentials of its own; nil for the node's account.
func (n *Node) senderAccount(s switchboard.Sender) webhookSyncer {
	if n.creds == nil || len(s.Tenants) == 0 {
		return nil
	}
	for _, t := range s.Tenants {
		if n.creds.Provider(t) == nil {
			return nil
		}
	}
	a, _ := n.creds.Provider(s.Tenants[0]).(webhookSyncer)
	return a
}
