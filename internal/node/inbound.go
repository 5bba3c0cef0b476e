package node

import (
	"context"
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
func (n *Node) handleInbound(ctx context.Context, in *switchboard.InboundMessage, _ bool) error {
	sender, known := n.senderOf(in.To)
	m, err := n.consent.HandleInbound(ctx, in, sender.Pool, &n.cfg.Keywords)
	if err != nil || m == nil {
		return err
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
	now := n.clock()
	until := now.Add(keywordReplyValidity)
	reply := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: switchboard.CategoryTransactional, To: in.From, From: sender.From, Pool: sender.Pool, Body: m.Reply,
		Metadata:      map[string]string{consent.ReplyToKey: in.ProviderSID, "keyword": m.Keyword, "keyword_action": string(m.Action)},
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now, ValidUntil: &until, APIKeyID: "system",
	}
	reply.Segments, reply.Encoding = content.Segments(reply.Body)
	stored, replayed, err := n.store.CreateMessage(ctx, reply, &switchboard.Idempotency{
		APIKeyID: "system", Key: "keyword-reply:" + in.ProviderSID, RequestHash: "keyword-reply",
	})
	if err != nil {
		return err
	}
	if !replayed {
		log.Info("keyword reply queued", "message_id", stored.ID)
		n.disp.Notify()
	}
	return nil
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
