package node

import (
	"context"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// keywordReplyValidity bounds how late a keyword reply may still go: a HELP answer an hour late
// is noise.
const keywordReplyValidity = time.Hour

// handleInbound applies the keyword an inbound message may be and queues its reply through the
// normal pipeline (rate limits, retries, timeline). Both steps are idempotent, since Twilio may
// deliver the webhook again.
func (n *Node) handleInbound(ctx context.Context, in *switchboard.InboundMessage, created bool) error {
	if err := n.enqueueMedia(ctx, in); err != nil {
		return err
	}
	sender, known := n.senderOf(in.To)
	m, err := n.consent.HandleInbound(ctx, in, sender.Pool, &n.cfg.Keywords)
	if err != nil {
		return err
	}
	if m == nil {
		// Not a compliance keyword: a routing rule may answer it.
		return n.autoReply(ctx, in, sender, known)
	}
	log := n.logger.With("inbound_id", in.ID, "provider_sid", in.ProviderSID)
	log.Info("inbound keyword", "action", m.Action, "keyword", m.Keyword, "language", m.Language)
	if m.Action == consent.ActionOptOut {
		n.metrics.OptOut(switchboard.ConsentFromKeyword)
	}
	if !n.cfg.Keywords.SwitchboardReplies() || m.Reply == "" {
		return nil
	}
	if !known {
		log.Warn("no reply to a keyword sent to a number that is not a configured sender", "to", content.MaskPhone(in.To))
		return nil
	}
	return n.reply(ctx, in, sender, m.Reply, "keyword-reply:"+in.ProviderSID,
		map[string]string{"keyword": m.Keyword, "keyword_action": string(m.Action)})
}

// reply queues an answer to in from sender through the normal pipeline (consent, rate limits,
// retries, timeline), once per idemKey.
func (n *Node) reply(ctx context.Context, in *switchboard.InboundMessage, sender switchboard.Sender, body, idemKey string,
	meta map[string]string) error {
	now := n.clock()
	until := now.Add(keywordReplyValidity)
	meta[consent.ReplyToKey] = in.ProviderSID
	reply := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: in.From, From: sender.From, Pool: sender.Pool,
		Metadata: meta, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now, ValidUntil: &until, APIKeyID: "system",
	}
	if in.Channel == switchboard.ChannelWhatsApp {
		reply.Channel = switchboard.ChannelWhatsApp
	}
	reply.SetBody(body)
	kind, _, _ := strings.Cut(idemKey, ":")
	stored, replayed, err := n.store.CreateMessage(ctx, reply, &switchboard.Idempotency{
		APIKeyID: "system", Key: idemKey, RequestHash: kind,
	})
	if err != nil {
		return err
	}
	if !replayed {
		n.logger.Info(kind+" queued", "inbound_id", in.ID, "provider_sid", in.ProviderSID, "message_id", stored.ID)
		n.disp.Notify()
	}
	return nil
}

// routeInbound sets the route of an inbound message from the first routing rule it matches.
func (n *Node) routeInbound(in *switchboard.InboundMessage) {
	if r := n.cfg.InboundRoutes.Match(in.To, in.Body); r != nil {
		in.Route, in.RouteEndpoints = r.Name, r.Endpoints
	}
}

// autoReply answers an inbound message with its routing rule's automatic reply, at most once
// per person and rule per the rule's interval.
func (n *Node) autoReply(ctx context.Context, in *switchboard.InboundMessage, sender switchboard.Sender, known bool) error {
	r := n.cfg.InboundRoutes.Get(in.Route)
	if r == nil || r.AutoReply == "" {
		return nil
	}
	if !known {
		n.logger.Warn("no auto-reply from a number that is not a configured sender", "route", r.Name, "to", content.MaskPhone(in.To))
		return nil
	}
	return n.reply(ctx, in, sender, r.AutoReply, r.AutoReplyKey(in.From, in.ReceivedAt), map[string]string{"route": r.Name})
}

// senderOf returns the configured sender with this number.
func (n *Node) senderOf(from string) (switchboard.Sender, bool) {
	for _, s := range n.cfg.Senders {
		if s.From == from {
			return s, true
		}
	}
	return switchboard.Sender{Pool: switchboard.DefaultPool}, false
}
