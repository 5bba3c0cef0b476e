// Package whatsapp applies WhatsApp's rules to Switchboard's messages.
//
//   - The customer-service window: free-form WhatsApp messages (text, media) only within 24 hours
//     of the person's last message to us (the conversation's LastInboundAt); outside it only a
//     content template. The rule is checked when a message is accepted (Accept: the API refuses
//     what can only fail, unless the SMS fallback will carry it) and again right before it is
//     handed to the provider (Prepare: the window may have closed while the message waited; then
//     its content template goes instead, or it is blocked — never sent to fail with 63016).
//   - The SMS fallback (FallbackTick): a WhatsApp message whose policy is "sms" and that failed
//     (63016, 63018, no WhatsApp account, undelivered, blocked by the window rule) or was not delivered
//     within its fallback time gets an SMS leg: a new message, linked both ways, created once
//     (an idempotency key per original) and sent through consent and quiet hours like any other.
//   - conversation.window_closing (WindowTick): once per window, a lead time before it closes.
//
// Numbers are plain E.164 everywhere; the provider adds "whatsapp:" at its boundary.
package whatsapp

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/templates"
)

// Defaults.
const (
	DefaultInterval          = time.Second
	DefaultWindowClosingLead = time.Hour
	// MaxFallbackAfter bounds a message's fallback time.
	MaxFallbackAfter = 7 * 24 * time.Hour
	// FallbackKeyPrefix prefixes the idempotency key of an SMS leg ("whatsapp-fallback:<id>").
	FallbackKeyPrefix = "whatsapp-fallback:"
	// MetaFallbackOf is the metadata key an SMS leg carries with its WhatsApp message's ID.
	MetaFallbackOf = "fallback_of"
)

// Config configures the WhatsApp service.
type Config struct {
	Store  switchboard.Store
	Clock  switchboard.Clock
	Logger *slog.Logger
	// DefaultFallback applies to WhatsApp messages that name no policy (and whose template none).
	DefaultFallback switchboard.FallbackPolicy
	// DefaultFallbackAfter, when positive, is the fallback time of messages that set none.
	DefaultFallbackAfter time.Duration
	// WindowClosingLead is how long before a window closes conversation.window_closing is
	// written; 0 writes none.
	WindowClosingLead time.Duration
	// Interval is how often the fallback and window scans run.
	Interval time.Duration
	// OnLegCreated is called after an SMS leg was queued (to wake the dispatcher).
	OnLegCreated func()
	// ErrorCodes is the WhatsApp channel's provider (switchboard.ErrorCodes): a blocked message's
	// code is its detail, and its class says whether the window blocked it (then the SMS
	// fallback is sent) or consent did. nil: every blocked message is taken as blocked by consent.
	ErrorCodes switchboard.ErrorCodes
}

// Service applies the WhatsApp rules. It is safe for concurrent use, and on several nodes.
type Service struct {
	cfg Config
}

// New returns a Service with defaults filled in.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = switchboard.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.DefaultFallback == "" {
		cfg.DefaultFallback = switchboard.FallbackNone
	}
	return &Service{cfg: cfg}
}

// Request is what a send request says about WhatsApp.
type Request struct {
	// Rendered is the catalog template the body came from, if any.
	Rendered *templates.Result
	// Fallback and FallbackAfterSeconds are the request's policy; empty/0 take the defaults.
	Fallback             switchboard.FallbackPolicy
	FallbackAfterSeconds int
}

// Accept fills in a new WhatsApp message's options (content template, fallback policy) and
// checks the window at acceptance. It refuses, with EUNPROCESSABLE/whatsapp_window_closed, a
// free-form message to a person whose window is closed when no content template is mapped and
// no SMS fallback will carry it. The returned note explains the decision for the "created" event.
// It changes nothing.
func (s *Service) Accept(ctx context.Context, m *switchboard.Message, req Request) (note string, err error) {
	if !req.Fallback.Valid() {
		return "", switchboard.Errorf(switchboard.EINVALID, "invalid_fallback", "fallback must be none or sms")
	}
	if req.FallbackAfterSeconds < 0 || time.Duration(req.FallbackAfterSeconds)*time.Second > MaxFallbackAfter {
		return "", switchboard.Errorf(switchboard.EINVALID, "invalid_fallback",
			"fallback_after_seconds must be from 1 to %d", int(MaxFallbackAfter/time.Second))
	}
	// The policy: the request's, else the template's, else the installation's default.
	o := &switchboard.WhatsAppOptions{Fallback: req.Fallback, FallbackAfterSeconds: req.FallbackAfterSeconds}
	if o.Fallback == "" && req.Rendered != nil {
		o.Fallback = req.Rendered.Fallback
	}
	if o.Fallback == "" {
		o.Fallback = s.cfg.DefaultFallback
	}
	if o.Fallback == switchboard.FallbackSMS && o.FallbackAfterSeconds == 0 && s.cfg.DefaultFallbackAfter > 0 {
		o.FallbackAfterSeconds = int(s.cfg.DefaultFallbackAfter / time.Second)
	}
	if o.Fallback != switchboard.FallbackSMS && req.FallbackAfterSeconds > 0 {
		return "", switchboard.Errorf(switchboard.EINVALID, "invalid_fallback", "fallback_after_seconds needs fallback sms")
	}
	if r := req.Rendered; r != nil && r.ContentSID != "" {
		o.ContentSID, o.ContentVariables = r.ContentSID, r.ContentVariables
	}
	m.WhatsApp = o

	open, closes, err := s.window(ctx, m.From, m.To)
	if err != nil {
		return "", err
	}
	start := s.cfg.Clock()
	if m.SendAt != nil && m.SendAt.After(start) {
		start = *m.SendAt
	}
	switch {
	case open && closes.After(start):
		return fmt.Sprintf("WhatsApp window open until %s", closes.Format(time.RFC3339)), nil
	case o.ContentSID != "":
		return fmt.Sprintf("WhatsApp window closed at send time: content template %s goes instead of the body", o.ContentSID), nil
	case o.Fallback == switchboard.FallbackSMS:
		return "WhatsApp window closed at send time and no content template is mapped: it goes by SMS (fallback sms)", nil
	}
	detail := "the person has not written to this number on WhatsApp"
	if closes != nil {
		detail = "the window closed at " + closes.Format(time.RFC3339)
	}
	if m.Template != "" {
		return "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "whatsapp_window_closed",
			"free-form WhatsApp messages need an open 24-hour window (%s), and template %s has no content_sid for locale %s; "+
				"map one in the catalog or send with fallback sms", detail, m.Template, localeOf(req.Rendered))
	}
	return "", switchboard.Errorf(switchboard.EUNPROCESSABLE, "whatsapp_window_closed",
		"free-form WhatsApp messages need an open 24-hour window (%s); send a template with a content_sid, or send with fallback sms", detail)
}

func localeOf(r *templates.Result) string {
	if r == nil {
		return ""
	}
	return r.Locale
}

// window returns whether the WhatsApp window between ours and theirs is open now, and when it
// closes (or closed); nil when the person never wrote.
func (s *Service) window(ctx context.Context, ours, theirs string) (open bool, closes *time.Time, err error) {
	c, err := s.cfg.Store.FindConversation(ctx, switchboard.ChannelWhatsApp, ours, theirs)
	if switchboard.IsKind(err, switchboard.ENOTFOUND) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	if c.LastInboundAt == nil {
		return false, nil, nil
	}
	t := c.LastInboundAt.Add(switchboard.WhatsAppWindow)
	return switchboard.WindowOpen(c.LastInboundAt, s.cfg.Clock()), &t, nil
}

// Prepare decides, right before a WhatsApp message is handed over, how it goes: free form inside
// the window; its content template outside it; blocked (63016's rule, not sent) when it has none.
// Other channels go as they are.
func (s *Service) Prepare(ctx context.Context, m *switchboard.Message) (*dispatch.Prepared, error) {
	if m.Channel != switchboard.ChannelWhatsApp {
		return nil, nil
	}
	open, closes, err := s.window(ctx, m.From, m.To)
	if err != nil {
		return nil, err
	}
	if open {
		return &dispatch.Prepared{Note: "WhatsApp window open until " + closes.Format(time.RFC3339) + ": free-form"}, nil
	}
	if m.WhatsApp != nil && m.WhatsApp.ContentSID != "" {
		return &dispatch.Prepared{
			ContentSID: m.WhatsApp.ContentSID, ContentVariables: m.WhatsApp.ContentVariables,
			Note: "WhatsApp window closed: content template " + m.WhatsApp.ContentSID + " instead of the body",
		}, nil
	}
	why := "the person has not written on WhatsApp"
	if closes != nil {
		why = "the window closed at " + closes.Format(time.RFC3339)
	}
	reason := "WhatsApp window closed (" + why + ") and no content template is mapped: not sent, since it would fail with 63016"
	if m.WhatsApp != nil && m.WhatsApp.Fallback == switchboard.FallbackSMS {
		reason += "; the SMS fallback takes over"
	}
	return &dispatch.Prepared{Block: &dispatch.Block{Class: switchboard.ClassWhatsAppWindow, Reason: reason}}, nil
}

// Run runs the fallback and window scans every Interval until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := s.FallbackTick(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("whatsapp fallback scan", "err", err)
		}
		if _, err := s.WindowTick(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("whatsapp window scan", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// WindowTick writes conversation.window_closing for every window that closes within the lead
// time and was not announced yet, and returns how many.
func (s *Service) WindowTick(ctx context.Context) (int, error) {
	if s.cfg.WindowClosingLead <= 0 {
		return 0, nil
	}
	total := 0
	for {
		cs, err := s.cfg.Store.ClaimWindowClosing(ctx, s.cfg.Clock(), s.cfg.WindowClosingLead, 100)
		total += len(cs)
		if err != nil || len(cs) < 100 {
			if total > 0 {
				s.cfg.Logger.Info("whatsapp windows closing announced", "conversations", total)
			}
			return total, err
		}
	}
}

// FallbackTick settles the fallbacks that need a decision now and returns how many SMS legs it
// created.
func (s *Service) FallbackTick(ctx context.Context) (int, error) {
	now := s.cfg.Clock()
	cands, err := s.cfg.Store.FallbackCandidates(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	legs := 0
	for _, c := range cands {
		created, err := s.settle(ctx, c, now)
		if err != nil {
			s.cfg.Logger.Error("whatsapp fallback", "message_id", c.Message.ID, "err", err)
			continue
		}
		if created {
			legs++
		}
	}
	if legs > 0 && s.cfg.OnLegCreated != nil {
		s.cfg.OnLegCreated()
	}
	return legs, nil
}

const actor = "whatsapp"

// settle decides one candidate's fallback.
func (s *Service) settle(ctx context.Context, c *switchboard.FallbackCandidate, now time.Time) (bool, error) {
	m := c.Message
	note := func(detail string) *switchboard.Event {
		return &switchboard.Event{Type: switchboard.EventNote, Actor: actor, Detail: detail, At: now}
	}
	switch m.Status {
	case switchboard.StatusDelivered, switchboard.StatusRead:
		_, err := s.cfg.Store.SettleFallback(ctx, m.ID, "", note("delivered by WhatsApp: no SMS fallback sent"))
		return false, err
	case switchboard.StatusCanceled:
		_, err := s.cfg.Store.SettleFallback(ctx, m.ID, "", note("canceled: no SMS fallback sent"))
		return false, err
	case switchboard.StatusExpired:
		// Its validity is over: an SMS now would be as late as the WhatsApp message.
		_, err := s.cfg.Store.SettleFallback(ctx, m.ID, "", note("expired: no SMS fallback sent, the message's validity is over"))
		return false, err
	case switchboard.StatusBlocked:
		if s.cfg.ErrorCodes == nil || s.cfg.ErrorCodes.ErrorClass(m.ErrorCode) != switchboard.ClassWhatsAppWindow {
			// Blocked by consent (an opt-out): SMS to the same person is no more welcome.
			_, err := s.cfg.Store.SettleFallback(ctx, m.ID, "", note("blocked by policy ("+m.ErrorMessage+"): no SMS fallback sent"))
			return false, err
		}
	}
	reason := ""
	switch {
	case m.Status.Terminal():
		reason = fmt.Sprintf("WhatsApp %s", m.Status)
		if m.ErrorCode != 0 {
			reason += fmt.Sprintf(" (%d)", m.ErrorCode)
		}
	default:
		// Not delivered within its fallback time. A message still waiting in our queue is
		// withdrawn first, so that the person does not get both; one already at the provider
		// cannot be recalled.
		after := time.Duration(0)
		if m.WhatsApp != nil {
			after = time.Duration(m.WhatsApp.FallbackAfterSeconds) * time.Second
		}
		reason = fmt.Sprintf("WhatsApp not delivered within %s (status %s)", after, m.Status)
		if m.Status == switchboard.StatusQueued || m.Status == switchboard.StatusScheduled {
			_, err := s.cfg.Store.UpdateMessage(ctx, switchboard.MessageUpdate{
				ID: m.ID, Status: switchboard.StatusCanceled, At: now,
				RequireStatus:            []switchboard.Status{switchboard.StatusQueued, switchboard.StatusScheduled},
				RequireNoAttemptInFlight: true,
				Events: []*switchboard.Event{{Type: switchboard.EventStatusChanged, Status: switchboard.StatusCanceled, Actor: actor, At: now,
					Detail: "not sent by WhatsApp within its fallback time: withdrawn, the SMS leg replaces it"}},
			})
			if err != nil && !switchboard.IsKind(err, switchboard.ECONFLICT) {
				return false, err
			}
			if err == nil {
				reason += "; the WhatsApp message was withdrawn before sending"
			} else {
				reason += "; the WhatsApp message was already on its way and may arrive too"
			}
		} else {
			reason += "; the WhatsApp message is already at the provider and may still arrive"
		}
	}
	if m.Body == "" {
		_, err := s.cfg.Store.SettleFallback(ctx, m.ID, "", note(reason+": no SMS fallback, the body is gone (retention) or empty"))
		return false, err
	}
	leg, err := s.createLeg(ctx, m, reason, now)
	if err != nil {
		return false, err
	}
	ok, err := s.cfg.Store.SettleFallback(ctx, m.ID, leg.ID, note(fmt.Sprintf("%s: SMS leg %s queued", reason, leg.ID)))
	if err == nil && ok {
		s.cfg.Logger.Info("whatsapp fallback to SMS", "message_id", m.ID, "leg_id", leg.ID, "to", content.MaskPhone(m.To))
	}
	return ok, err
}

// createLeg queues the SMS leg of m, once whatever the number of callers (idempotency key).
func (s *Service) createLeg(ctx context.Context, m *switchboard.Message, reason string, now time.Time) (*switchboard.Message, error) {
	meta := maps.Clone(m.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[MetaFallbackOf] = m.ID
	leg := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusQueued, Channel: switchboard.ChannelSMS,
		Category: m.Category, To: m.To, From: m.From, Pool: m.Pool, Body: m.Body, Metadata: meta,
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now, ValidUntil: m.ValidUntil, APIKeyID: m.APIKeyID,
		Timezone: m.Timezone, Template: m.Template, TemplateVersion: m.TemplateVersion,
		BodySHA256: m.BodySHA256, BodyLength: m.BodyLength,
		WhatsApp: &switchboard.WhatsAppOptions{FallbackOf: m.ID},
	}
	if len(m.MediaURLs) > 0 {
		leg.Channel, leg.MediaURLs = switchboard.ChannelMMS, m.MediaURLs
	}
	leg.Segments, leg.Encoding = content.Segments(leg.Body)
	if leg.ValidUntil != nil && !now.Before(*leg.ValidUntil) {
		// Its validity is over: the leg would only expire; it is created all the same so that the
		// timeline says so, and the dispatcher expires it at once.
		leg.NextAttemptAt = now
	}
	leg.Events = []*switchboard.Event{{Type: switchboard.EventCreated, Actor: actor,
		Detail: fmt.Sprintf("SMS fallback of WhatsApp message %s: %s", m.ID, reason)}}
	stored, _, err := s.cfg.Store.CreateMessage(ctx, leg, &switchboard.Idempotency{
		APIKeyID: "system", Key: FallbackKeyPrefix + m.ID, RequestHash: "whatsapp-fallback",
	})
	return stored, err
}

// Annotate fills in, on a message read for the API, which leg reached the person: for a
// WhatsApp message with an SMS leg and for an SMS leg, ReachedBy is "whatsapp", "sms" or "" (not
// known yet, or neither).
func (s *Service) Annotate(ctx context.Context, m *switchboard.Message) error {
	if m.WhatsApp == nil {
		return nil
	}
	var wa, sms *switchboard.Message
	switch {
	case m.WhatsApp.FallbackMessageID != "":
		other, err := s.cfg.Store.GetMessage(ctx, m.WhatsApp.FallbackMessageID)
		if err != nil {
			return err
		}
		wa, sms = m, other
	case m.WhatsApp.FallbackOf != "":
		other, err := s.cfg.Store.GetMessage(ctx, m.WhatsApp.FallbackOf)
		if err != nil {
			return err
		}
		wa, sms = other, m
	default:
		if delivered(m.Status) && m.Channel == switchboard.ChannelWhatsApp {
			m.WhatsApp.ReachedBy = "whatsapp"
		}
		return nil
	}
	switch {
	case delivered(wa.Status) && delivered(sms.Status):
		m.WhatsApp.ReachedBy = "both"
	case delivered(wa.Status):
		m.WhatsApp.ReachedBy = "whatsapp"
	case delivered(sms.Status):
		m.WhatsApp.ReachedBy = "sms"
	}
	return nil
}

func delivered(s switchboard.Status) bool {
	return s == switchboard.StatusDelivered || s == switchboard.StatusRead
}
