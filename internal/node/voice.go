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
	sms := &voice.SMS{Messages: n.accept, Templates: n.templates.Load, LiveSenders: n.senders, Validity: n.cfg.DefaultValidity}
	n.vc.svc = voice.New(voice.Config{
		Store: n.store, Provider: n.routes.calls, ProviderFor: n.tenantCalls, Flows: func() *voice.Catalog { return n.vc.flows },
		PublicURL: n.cfg.PublicURL, AuthToken: authToken, Tokens: n.creds.SigningToken, CallsPerSecond: n.cfg.CallsPerSecond,
		Lease: n.cfg.Lease, StatusPollAfter: n.cfg.StatusPollAfter, ReconcileDelay: n.cfg.ReconcileDelay,
		Fallback: sms.Fallback, SendSMS: sms.Send, Blocks: n.callBlocked, Hold: n.callHold,
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

// callBlocked says why a call's callee must not be called: an opt-out for the pool of the
// call's number (consent is per person and pool, whatever the channel: see consent.BlocksCall).
func (n *Node) callBlocked(ctx context.Context, c *switchboard.Call) (string, error) {
	pool := switchboard.DefaultPool
	if s, ok := n.senders.Load().Get(c.From); ok {
		pool = s.Pool
	}
	return n.consent.BlocksCall(ctx, c.To, pool, c.Tenant)
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
