package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
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
		Store: n.store, Provider: n.provider, Flows: func() *voice.Catalog { return n.vc.flows },
		PublicURL: n.cfg.PublicURL, AuthToken: authToken, CallsPerSecond: n.cfg.CallsPerSecond,
		Lease: n.cfg.Lease, Fallback: n.callFallback, Clock: n.clock, Logger: n.logger.With("component", "voice"),
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
	sum := sha256.Sum256([]byte(res.Body))
	until := now.Add(n.cfg.DefaultValidity)
	m := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS, Category: res.Category,
		To: c.To, From: c.From, Pool: pool, Body: res.Body, Metadata: map[string]string{"call_id": c.ID},
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now, BodyLength: utf8.RuneCountInString(res.Body),
		BodySHA256: hex.EncodeToString(sum[:]), Segments: res.Segments, Encoding: res.Encoding,
		Template: res.Template, TemplateVersion: res.Version, ValidUntil: &until, APIKeyID: c.APIKeyID,
		Events: []*switchboard.Event{{Type: switchboard.EventCreated, Actor: "voice",
			Detail: fmt.Sprintf("fallback of call %s (%s) from template %s version %d", c.ID, c.Status, res.Template, res.Version)}},
	}
	if err := n.consent.CheckAccept(ctx, m); err != nil {
		if switchboard.IsKind(err, switchboard.EUNPROCESSABLE) {
			return "", switchboard.ErrorMessage(err), nil
		}
		return "", "", err
	}
	stored, _, err := n.store.CreateMessage(ctx, m, &switchboard.Idempotency{APIKeyID: c.APIKeyID, Key: "call-fallback:" + c.ID, RequestHash: c.ID})
	if err != nil {
		return "", "", err
	}
	n.disp.Notify()
	return stored.ID, "", nil
}
