package node

import (
	"context"
	"fmt"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

// voicePart is the node's voice calls: present when a flows directory is configured.
type voicePart struct {
	svc   *voice.Service
	flows *voice.Catalog
	done  chan struct{}
}

// openVoice loads the flows and builds the call service.
func (n *Node) openVoice(authToken string) error {
	if n.cfg.FlowsDir == "" {
		return nil
	}
	cat, err := voice.Load(n.cfg.FlowsDir)
	if err != nil {
		return fmt.Errorf("voice flows %s (run `switchboard flows lint %s`): %w", n.cfg.FlowsDir, n.cfg.FlowsDir, err)
	}
	n.vc.flows = cat
	n.vc.svc = voice.New(voice.Config{
		Store: n.store, Provider: n.routes.calls, Flows: func() *voice.Catalog { return n.vc.flows },
		PublicURL: n.cfg.PublicURL, AuthToken: authToken, CallsPerSecond: n.cfg.CallsPerSecond,
		Lease: n.cfg.Lease, Fallback: n.callFallback, SendSMS: n.callSMS, Blocks: n.callBlocked, Hold: n.callHold,
		Clock: n.clock, Logger: n.logger.With("component", "voice"),
		DialAllowSIP: n.cfg.Input.DialAllowSIP, DialAllowPremium: n.cfg.Input.DialAllowPremium,
		OnFinished: n.metrics.CallFinished, OnStep: n.metrics.CallStep,
	})
	return nil
}

func (n *Node) startVoice(ctx context.Context) {
	if n.vc.svc == nil {
		return
	}
	n.vc.done = make(chan struct{})
	go func() {
		defer close(n.vc.done)
		_ = n.vc.svc.Run(ctx)
	}()
}

func (n *Node) waitVoice(ctx context.Context) error {
	if n.vc.done == nil {
		return nil
	}
	select {
	case <-n.vc.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("voice placer did not stop in time: %w", ctx.Err())
	}
}

// Calls is the node's call service, or nil without flows.
func (n *Node) Calls() *voice.Service { return n.vc.svc }

// callFallback creates a call's fallback SMS from a template through the message pipeline: the
// recipient's consent is checked as for any message, and the message is created once per call
// (an idempotency key made of the call's ID), however often the ending callback is delivered.
func (n *Node) callFallback(ctx context.Context, c *switchboard.Call, template string) (string, string, error) {
	return n.textCallee(ctx, c, template, "call-fallback:"+c.ID,
		fmt.Sprintf("fallback of call %s (%s)", c.ID, c.Status))
}

// callSMS creates the SMS a state of a call's flow sends (State.SMS), once per key, through the
// message pipeline like the fallback.
func (n *Node) callSMS(ctx context.Context, c *switchboard.Call, template, key string) (string, string, error) {
	return n.textCallee(ctx, c, template, key, fmt.Sprintf("sent by call %s in state %s", c.ID, c.State))
}

// textCallee creates a message to a call's callee from a template with the call's variables (those
// the template declares), from the call's number, after the consent check, once per key.
func (n *Node) textCallee(ctx context.Context, c *switchboard.Call, template, key, why string) (string, string, error) {
	cat := n.templates.Load()
	if cat == nil {
		return "", "no template catalog is configured", nil
	}
	t, err := cat.Lookup(template, 0, c.Locale)
	if err != nil {
		return "", "template " + template + ": " + switchboard.ErrorMessage(err), nil
	}
	vars := map[string]string{}
	for k, v := range c.Variables {
		if t.Variable(k) != nil {
			vars[k] = v
		}
	}
	res, err := cat.Render(template, 0, c.Locale, vars)
	if err != nil {
		return "", "template " + template + ": " + switchboard.ErrorMessage(err), nil
	}
	now := n.clock()
	pool := switchboard.DefaultPool
	for _, s := range n.cfg.Senders {
		if s.From == c.From {
			pool = s.Pool
		}
	}
	until := now.Add(n.cfg.DefaultValidity)
	m := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS, Category: res.Category,
		To: c.To, From: c.From, Pool: pool, Metadata: map[string]string{"call_id": c.ID},
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		Template: res.Template, TemplateVersion: res.Version, ValidUntil: &until, APIKeyID: c.APIKeyID,
		Events: []*switchboard.Event{{Type: switchboard.EventCreated, Actor: "voice",
			Detail: fmt.Sprintf("%s, from template %s version %d", why, res.Template, res.Version)}},
	}
	content.SetBody(m, res.Body)
	if err := n.consent.CheckAccept(ctx, m); err != nil {
		if switchboard.IsKind(err, switchboard.EUNPROCESSABLE) {
			return "", switchboard.ErrorMessage(err), nil
		}
		return "", "", err
	}
	stored, _, err := n.store.CreateMessage(ctx, m, &switchboard.Idempotency{APIKeyID: c.APIKeyID, Key: key, RequestHash: c.ID})
	if err != nil {
		return "", "", err
	}
	n.disp.Notify()
	return stored.ID, "", nil
}

// callBlocked says why a call's callee must not be called: an opt-out for the pool of the
// call's number (consent is per person and pool, whatever the channel: see consent.BlocksCall).
func (n *Node) callBlocked(ctx context.Context, c *switchboard.Call) (string, error) {
	pool := switchboard.DefaultPool
	for _, s := range n.cfg.Senders {
		if s.From == c.From {
			pool = s.Pool
		}
	}
	return n.consent.BlocksCall(ctx, c.To, pool)
}

// callHold is when a call due at at may be placed: after call_quiet_hours in the callee's time
// zone (the call's timezone, else every zone of the number, the most restrictive winning).
func (n *Node) callHold(c *switchboard.Call, at time.Time) (time.Time, string) {
	zones := content.PhoneTimezones(c.To)
	if c.Timezone != "" {
		if loc, err := time.LoadLocation(c.Timezone); err == nil {
			zones = []*time.Location{loc}
		}
	}
	d := n.cfg.CallQuietHours.Next(at, "call", zones)
	return d.At, d.Note
}
