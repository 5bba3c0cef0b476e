package node

import (
	"context"
	"fmt"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/webhook"
)

// The senders of a node are the database's (issue 18): the configuration file's are recorded at
// start-up (SyncSenders: the database wins for any sender edited through the API since), and the
// API and CLI create, change and remove senders at run time. Every node polls the senders'
// version (one row) every sender_refresh_interval and, when it moved, reloads the senders into
// n.senders, which the acceptance service, the API, the inbound handler, the call SMS, the
// dashboard and the dispatcher read per request. A change made through a node's API applies on
// that node at once; on the others within one interval (plus a query).
//
// What a reload changes: which senders and pools exist (sticky senders are re-checked against
// a pool's current members at each assignment), each sender's rate and burst (the limiter and
// the gate take the Sender with each reservation, so the budget already used is kept: see
// dispatch.Gate), and new numbers: the in-process simulator learns them, and with
// sync_webhooks their SmsUrl is pointed at this node.

// openSenders records the configuration's senders and loads the stored ones.
func (n *Node) openSenders(ctx context.Context) error {
	if err := n.store.SyncSenders(ctx, n.cfg.Senders, n.clock()); err != nil {
		return fmt.Errorf("recording senders: %w", err)
	}
	v, err := n.store.SendersVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading senders: %w", err)
	}
	list, err := n.store.ListSenders(ctx)
	if err != nil {
		return fmt.Errorf("reading senders: %w", err)
	}
	if len(list) == 0 {
		// Every sender was removed through the API: the node still starts (the API can add
		// one), and messages are refused with unknown_pool until then.
		n.logger.Warn("no senders: every sender was removed through the API; add one with `switchboard senders add`")
	}
	n.senders = switchboard.NewLiveSenders(list)
	n.sendersVersion = v
	n.sendersPoke = make(chan struct{}, 1)
	n.sendersKnown = map[string]bool{}
	return nil
}

// senderList is the current senders.
func (n *Node) senderList() []switchboard.Sender { return n.senders.Load().All() }

// sendersChanged reloads the senders at once after a change through this node's API, so that
// the client that made the change can use it on this node as soon as it has the answer. A failed
// reload is logged and retried by the refresh loop.
func (n *Node) sendersChanged() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.RefreshSenders(ctx); err != nil {
		n.logger.Error("reloading senders after a change; the next poll retries", "err", err)
		n.pokeSenders()
	}
}

// pokeSenders asks the refresh loop to reload now.
func (n *Node) pokeSenders() {
	select {
	case n.sendersPoke <- struct{}{}:
	default:
	}
}

// senderRefreshLoop reloads the senders when their version moves, every interval and when poked.
func (n *Node) senderRefreshLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.SenderRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.sendersPoke:
		}
		if err := n.RefreshSenders(ctx); err != nil && ctx.Err() == nil {
			n.logger.Error("reloading senders; keeping the current ones", "err", err)
		}
	}
}

// RefreshSenders reloads the senders if their stored version moved since the last load, and
// brings new numbers to the provider (the simulator's numbers; their webhooks with
// sync_webhooks). Safe for concurrent use.
func (n *Node) RefreshSenders(ctx context.Context) error {
	n.sendersMu.Lock()
	defer n.sendersMu.Unlock()
	v, err := n.store.SendersVersion(ctx)
	if err != nil {
		return err
	}
	if v == n.sendersVersion {
		return n.syncNewNumbers(ctx) // retries numbers whose sync failed
	}
	list, err := n.store.ListSenders(ctx)
	if err != nil {
		return err
	}
	// A change committed between the two reads makes the list newer than v: the next poll
	// reloads once more, which is harmless.
	n.senders.Store(list)
	n.sendersVersion = v
	n.logger.Info("senders reloaded", "senders", len(list), "version", v)
	n.disp.Notify() // a new or faster sender may have due work
	return n.syncNewNumbers(ctx)
}

// syncNewNumbers introduces the senders this node has not seen to the provider: the in-process
// simulator owns their numbers (and Messaging Services), and with sync_webhooks their SmsUrl
// points at this node. A failed sync is retried at the next poll.
func (n *Node) syncNewNumbers(ctx context.Context) error {
	var fresh []string
	for _, s := range n.senderList() {
		if !n.sendersKnown[s.From] {
			fresh = append(fresh, s.From)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	var numbers []switchboard.Sender
	for _, s := range n.senderList() {
		from := s.From
		if n.sendersKnown[from] {
			continue
		}
		if strings.HasPrefix(from, "MG") {
			if n.sim != nil {
				if _, err := n.sim.AddService(twiliosim.ServiceConfig{SID: from, FriendlyName: from, Numbers: []string{twiliosim.MagicFrom}}); err != nil {
					return fmt.Errorf("simulator: Messaging Service %s: %w", from, err)
				}
			}
			continue
		}
		if n.sim != nil {
			if _, err := n.sim.AddNumber(from, ""); err != nil {
				return fmt.Errorf("simulator: number %s: %w", content.MaskPhone(from), err)
			}
		}
		numbers = append(numbers, s)
	}
	if n.cfg.SyncWebhooks && len(numbers) > 0 {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := n.syncWebhooks(sctx, numbers, n.cfg.PublicURL+webhook.InboundPath)
		cancel()
		if err != nil {
			return fmt.Errorf("pointing the new senders' SmsUrl at %s: %w", n.cfg.PublicURL, err)
		}
	}
	for _, from := range fresh {
		n.sendersKnown[from] = true
	}
	return nil
}
