// Package inbound answers what people send: after the webhook ingress has stored an inbound
// message, Handler queues its media for download, applies the compliance keyword it may be
// (STOP/START/HELP, through the consent service) and sends the keyword's reply, or the automatic
// reply of the routing rule it matched. Replies are new messages made by the acceptance service
// (internal/accept), once per inbound message and kind (an idempotency key), since the provider
// may deliver a webhook again.
package inbound

import (
	"context"
	"log/slog"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/consent"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/routing"
)

// ReplyValidity bounds how late a reply may still go: a HELP answer an hour late is noise.
const ReplyValidity = time.Hour

// Messages makes new messages (the acceptance service, internal/accept): the replies. Their
// recipient's consent is checked when they are sent, not at creation: a STOP's confirmation
// goes to a person who just opted out.
type Messages interface {
	Create(ctx context.Context, spec switchboard.MessageSpec, idem *switchboard.Idempotency) (*switchboard.Message, bool, error)
}

// Keywords applies the compliance keywords to an inbound message (consent.Service).
type Keywords interface {
	HandleInbound(ctx context.Context, in *switchboard.InboundMessage, pool string, kw *consent.Keywords) (*consent.Match, error)
}

// Config configures a Handler.
type Config struct {
	Messages Messages
	Keywords Keywords
	// Rules are the keyword rules (consent.Keywords) and Routes the routing rules.
	Rules  consent.Keywords
	Routes routing.Rules
	// Senders are the configured senders: replies go from the number that was written to.
	Senders []switchboard.Sender
	// LiveSenders, when set, holds the current senders instead of Senders.
	LiveSenders *switchboard.LiveSenders
	// EnqueueMedia queues an inbound message's attachments for download; nil queues none.
	EnqueueMedia func(ctx context.Context, in *switchboard.InboundMessage) error
	// OnOptOut is told of each opt-out by keyword (metrics); nil tells no one.
	OnOptOut func(source switchboard.ConsentSource)
	Logger   *slog.Logger
}

// Handler answers inbound messages. It is safe for concurrent use.
type Handler struct {
	cfg Config
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg}
}

// Prepare sets what the store cannot know of an inbound message, before the webhook ingress
// stores it: its route (Route) and, when the number that received it is one tenant's (a sender
// listing that tenant alone, Sender.Owner), its tenant. A message to a shared number (a sender
// listing several tenants or none, or a number that is no sender) is left without one: the store
// gives it the tenant the person is answering (switchboard.InboundTenant).
func (h *Handler) Prepare(in *switchboard.InboundMessage) {
	h.Route(in)
	if in.Tenant != "" {
		return
	}
	if s, ok := h.Sender(in.To); ok {
		in.Tenant = s.Owner()
	}
}

// Route sets the route of an inbound message from the first routing rule it matches.
func (h *Handler) Route(in *switchboard.InboundMessage) {
	if r := h.cfg.Routes.Match(in.To, in.Body); r != nil {
		in.Route, in.RouteEndpoints = r.Name, r.Endpoints
	}
}

// Handle queues a stored inbound message's media, applies the keyword it may be and queues its
// reply through the normal pipeline (rate limits, retries, timeline). Every step is idempotent.
func (h *Handler) Handle(ctx context.Context, in *switchboard.InboundMessage, created bool) error {
	if h.cfg.EnqueueMedia != nil && len(in.MediaURLs) > 0 {
		if err := h.cfg.EnqueueMedia(ctx, in); err != nil {
			return err
		}
	}
	sender, known := h.Sender(in.To)
	m, err := h.cfg.Keywords.HandleInbound(ctx, in, sender.Pool, &h.cfg.Rules)
	if err != nil {
		return err
	}
	if m == nil {
		// Not a compliance keyword: a routing rule may answer it.
		return h.autoReply(ctx, in, sender, known)
	}
	log := h.cfg.Logger.With("inbound_id", in.ID, "provider_sid", in.ProviderSID)
	log.Info("inbound keyword", "action", m.Action, "keyword", m.Keyword, "language", m.Language)
	if m.Action == consent.ActionOptOut && h.cfg.OnOptOut != nil {
		h.cfg.OnOptOut(switchboard.ConsentFromKeyword)
	}
	if !h.cfg.Rules.SwitchboardReplies() || m.Reply == "" {
		return nil
	}
	if !known {
		log.Warn("no reply to a keyword sent to a number that is not a configured sender", "to", content.MaskPhone(in.To))
		return nil
	}
	return h.Reply(ctx, in, sender, m.Reply, "keyword-reply:"+in.ProviderSID,
		map[string]string{"keyword": m.Keyword, "keyword_action": string(m.Action)})
}

// autoReply answers an inbound message with its routing rule's automatic reply, at most once
// per person and rule per the rule's interval.
func (h *Handler) autoReply(ctx context.Context, in *switchboard.InboundMessage, sender switchboard.Sender, known bool) error {
	r := h.cfg.Routes.Get(in.Route)
	if r == nil || r.AutoReply == "" {
		return nil
	}
	if !known {
		h.cfg.Logger.Warn("no auto-reply from a number that is not a configured sender", "route", r.Name, "to", content.MaskPhone(in.To))
		return nil
	}
	return h.Reply(ctx, in, sender, r.AutoReply, r.AutoReplyKey(in.From, in.ReceivedAt), map[string]string{"route": r.Name})
}

// Reply queues an answer to in from sender, once per idemKey (its kind is what precedes the
// first colon: "keyword-reply", "media-reject", ...), valid for ReplyValidity. The answer is a
// message of in's tenant, the one the person wrote to: its list, its usage.
func (h *Handler) Reply(ctx context.Context, in *switchboard.InboundMessage, sender switchboard.Sender, body, idemKey string,
	meta map[string]string) error {
	kind, _, _ := strings.Cut(idemKey, ":")
	meta[consent.ReplyToKey] = in.ProviderSID
	spec := switchboard.MessageSpec{
		Channel: switchboard.ChannelSMS, Category: switchboard.CategoryTransactional, To: in.From, From: sender.From,
		Pool: sender.Pool, Body: body, Metadata: meta, Validity: ReplyValidity, APIKeyID: "system", Tenant: in.Tenant,
		Actor: kind, Detail: "reply to inbound message " + in.ID + " (" + kind + ")",
	}
	if in.Channel == switchboard.ChannelWhatsApp {
		spec.Channel = switchboard.ChannelWhatsApp
	}
	stored, replayed, err := h.cfg.Messages.Create(ctx, spec, &switchboard.Idempotency{APIKeyID: "system", Key: idemKey, RequestHash: kind})
	if err != nil {
		return err
	}
	if !replayed {
		h.cfg.Logger.Info(kind+" queued", "inbound_id", in.ID, "provider_sid", in.ProviderSID, "message_id", stored.ID)
	}
	return nil
}

// Sender returns the configured sender with this number; an unknown one is in the default pool.
func (h *Handler) Sender(number string) (switchboard.Sender, bool) {
	if h.cfg.LiveSenders != nil {
		if s, ok := h.cfg.LiveSenders.Load().Get(number); ok {
			return s, true
		}
		return switchboard.Sender{Pool: switchboard.DefaultPool}, false
	}
	for _, s := range h.cfg.Senders {
		if s.From == number {
			return s, true
		}
	}
	return switchboard.Sender{Pool: switchboard.DefaultPool}, false
}
