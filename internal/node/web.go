package node

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/accept"
	"github.com/switchboard-gw/switchboard/internal/clientaddr"
	"github.com/switchboard-gw/switchboard/internal/events"
	"github.com/switchboard-gw/switchboard/internal/twilio"
	"github.com/switchboard-gw/switchboard/internal/web"
)

// dashboard builds the dashboard served at /ui.
func (n *Node) dashboard() (http.Handler, error) {
	cfg, d := n.cfg, n.cfg.Dashboard
	u, _ := url.Parse(cfg.PublicURL)
	return web.New(web.Config{
		Store: n.store, Clock: n.clock, Logger: n.logger.With("component", "web"),
		User: d.User, Password: d.Password, UserTenant: d.UserTenant, UserRole: switchboard.Role(d.UserRole), SessionTTL: d.SessionTTL, LoginRate: d.LoginRate,
		Secure:      u != nil && u.Scheme == "https",
		LiveSenders: n.senders, DefaultValidity: cfg.DefaultValidity,
		ExplainCode: explainCode, Messages: n.accept,
		QueueStats: n.queueStats,
		Health:     n.healthLine,
		Annotate:   n.annotateWhatsApp,
		ClientAddr: clientaddr.Resolver{Trusted: cfg.Input.TrustedProxies},
		Reply:      n.dashboardReply,
		NewSecret:  events.NewSecret,
		OnReplay:   n.notifyEvents,
		CancelCall: n.cancelCall(),
		Circuits: func() []web.Circuit {
			return []web.Circuit{{Provider: cfg.Provider, State: n.disp.Breaker().State().String()}}
		},
	})
}

// dashboardReply accepts a dashboard reply in a conversation as a request (internal/accept), so
// that it is checked (consent, quiet hours, the WhatsApp window) and made idempotent as an
// application's reply would be, for a key named after the operator.
func (n *Node) dashboardReply(ctx context.Context, c *switchboard.Conversation, body, actor, idemKey string) (*switchboard.Message, error) {
	m, _, err := n.accept.Accept(ctx, &switchboard.APIKey{ID: actor, Name: actor, Tenant: c.Tenant},
		&accept.Request{To: c.TheirNumber, From: c.OurNumber, Channel: string(c.Channel), Body: body}, idemKey)
	return m, err
}

// cancelCall cancels a call from the dashboard, or is nil when calls are not configured.
func (n *Node) cancelCall() func(ctx context.Context, id string) error {
	if n.vc.svc == nil {
		return nil
	}
	return func(ctx context.Context, id string) error {
		_, err := n.vc.svc.Cancel(ctx, id)
		return err
	}
}

// queueStats is the queue depth per sender for the dashboard, from the store.
func (n *Node) queueStats(ctx context.Context) ([]web.SenderQueue, error) {
	qs, err := n.store.QueueStats(ctx, n.clock(), switchboard.QueueCountLimit)
	if err != nil {
		return nil, err
	}
	out := make([]web.SenderQueue, 0, len(qs))
	for _, q := range qs {
		out = append(out, web.SenderQueue{From: q.Sender, Ready: q.Ready, Deferred: q.Deferred,
			ReadyCapped: q.ReadyCapped, DeferredCapped: q.DeferredCapped, OldestDue: q.OldestDueAt})
	}
	return out, nil
}

// explainCode is the runbook text of a provider error code, from the Twilio code table.
func explainCode(code int) web.CodeInfo {
	info := twilio.LookupCode(code)
	ci := web.CodeInfo{Code: code, Title: info.Title, Explanation: info.Explanation, DocURL: info.DocURL(), Known: info.Known}
	switch info.Outcome {
	case switchboard.OutcomeRetry:
		ci.Advice = "Safe to send again: the provider did not process the request. Switchboard retries these itself with backoff."
	case switchboard.OutcomeRetrySlow:
		ci.Advice = "Send again later, more slowly: the sender's queue at the provider was full. Switchboard retries these itself, much later."
	case switchboard.OutcomeAmbiguous:
		ci.Advice = "It may have arrived: Switchboard asks the provider before any new attempt. Check the timeline before retrying."
	case switchboard.OutcomeOptedOut:
		ci.Advice = "Do not send again: the recipient opted out. Only their START (or an opt-in you can prove) allows messages again."
		ci.NoRetry = "The recipient opted out: a retry would be refused the same way. Only their START (or an opt-in you can prove) allows messages again."
	default:
		ci.Advice = "Sending the same message again will most likely fail the same way; fix the cause first (see above)."
	}
	if info.Unreachable {
		ci.Advice = "Do not send again to this number: it cannot receive the message this way. Ask the person for another number or channel."
		ci.NoRetry = "The number cannot receive this message (error " + strconv.Itoa(code) + ": " + info.Title + "): a retry would fail the same way."
	}
	return ci
}

// annotateWhatsApp sets reached_by on a WhatsApp message or SMS leg for the dashboard; nothing
// without the WhatsApp channel.
func (n *Node) annotateWhatsApp(ctx context.Context, m *switchboard.Message) error {
	if n.wa == nil {
		return nil
	}
	return n.wa.Annotate(ctx, m)
}
