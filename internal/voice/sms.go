package voice

import (
	"context"
	"fmt"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/templates"
)

// Messages makes new messages (the acceptance service, internal/accept): the texts of calls,
// with the callee's consent checked as for any request.
type Messages interface {
	CreateChecked(ctx context.Context, spec switchboard.MessageSpec, idem *switchboard.Idempotency) (*switchboard.Message, bool, error)
}

// SMS sends the texts of calls through the message pipeline: a call's fallback SMS (Config.Fallback)
// and the SMS of a flow state (Config.SendSMS), each from a catalog template with the call's
// variables (those the template declares), from the call's number, once per key.
type SMS struct {
	Messages Messages
	// Templates returns the current template catalog, or nil when none is configured.
	Templates func() *templates.Catalog
	// Senders are the configured senders: a text is in the pool of the call's number.
	Senders []switchboard.Sender
	// LiveSenders, when set, holds the current senders instead of Senders.
	LiveSenders *switchboard.LiveSenders
	// Validity is how long a text stays valid.
	Validity time.Duration
}

// Fallback creates a call's fallback SMS, once per call (an idempotency key made of the call's
// ID), however often the ending callback is delivered.
func (s *SMS) Fallback(ctx context.Context, c *switchboard.Call, template string) (string, string, error) {
	return s.text(ctx, c, template, "call-fallback:"+c.ID, fmt.Sprintf("fallback of call %s (%s)", c.ID, c.Status))
}

// Send creates the SMS a state of a call's flow sends (State.SMS), once per key.
func (s *SMS) Send(ctx context.Context, c *switchboard.Call, template, key string) (string, string, error) {
	return s.text(ctx, c, template, key, fmt.Sprintf("sent by call %s in state %s", c.ID, c.State))
}

// text creates a message to a call's callee from a template, once per key, and returns its ID,
// or "" and why none was sent (no catalog, a template that does not render, an opt-out).
func (s *SMS) text(ctx context.Context, c *switchboard.Call, template, key, why string) (string, string, error) {
	var cat *templates.Catalog
	if s.Templates != nil {
		cat = s.Templates()
	}
	if cat == nil {
		return "", "no template catalog is configured", nil
	}
	tenant := switchboard.TenantOr(c.Tenant)
	t, err := cat.LookupTenant(tenant, template, 0, c.Locale)
	if err != nil {
		return "", "template " + template + ": " + switchboard.ErrorMessage(err), nil
	}
	vars := map[string]string{}
	for k, v := range c.Variables {
		if t.Variable(k) != nil {
			vars[k] = v
		}
	}
	res, err := cat.RenderTenant(tenant, template, 0, c.Locale, vars)
	if err != nil {
		return "", "template " + template + ": " + switchboard.ErrorMessage(err), nil
	}
	pool := switchboard.DefaultPool
	senders := s.Senders
	if s.LiveSenders != nil {
		senders = s.LiveSenders.Load().All()
	}
	for _, snd := range senders {
		if snd.From == c.From {
			pool = snd.Pool
		}
	}
	detail := fmt.Sprintf("%s, from template %s version %d", why, res.Template, res.Version)
	if res.Tenant != "" {
		detail += ", tenant " + res.Tenant + "'s override"
	}
	// The text is the call's tenant's, as the call is: its quotas and environment apply, and its
	// keys (only) see it.
	spec := switchboard.MessageSpec{
		Channel: switchboard.ChannelSMS, Category: res.Category, To: c.To, From: c.From, Pool: pool, Body: res.Body,
		Metadata: map[string]string{"call_id": c.ID}, Template: res.Template, TemplateVersion: res.Version,
		Validity: s.Validity, APIKeyID: c.APIKeyID, Tenant: tenant,
		Actor: "voice", Detail: detail,
	}
	stored, _, err := s.Messages.CreateChecked(ctx, spec, &switchboard.Idempotency{APIKeyID: c.APIKeyID, Key: key, RequestHash: c.ID})
	if switchboard.IsKind(err, switchboard.EUNPROCESSABLE) {
		return "", switchboard.ErrorMessage(err), nil
	}
	if err != nil {
		return "", "", err
	}
	return stored.ID, "", nil
}
