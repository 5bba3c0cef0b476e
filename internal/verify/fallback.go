package verify

import (
	"context"
	"fmt"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// fallbackChannels are the channels v may still fall back to, in policy order: only the
// builtin backend sees the delivery of its texts, whatsapp needs verify_whatsapp_template, and a
// call needs a Caller; the channel v is on is never its own fallback.
func (s *Service) fallbackChannels(v *switchboard.Verification) []switchboard.VerifyChannel {
	if s.cfg.Backend != BackendBuiltin {
		return nil
	}
	var out []switchboard.VerifyChannel
	for _, ch := range s.cfg.Fallback {
		if ch == switchboard.VerifyCall && s.cfg.Caller != nil && v.Channel != switchboard.VerifyCall {
			out = append(out, ch)
		}
		if ch == switchboard.VerifyWhatsApp && s.cfg.WhatsAppTemplate != "" && v.Channel != switchboard.VerifyWhatsApp {
			out = append(out, ch)
		}
	}
	return out
}

// undeliverable are the error classes that say a text will not arrive on this number (an
// unreachable handset; an unknown, inactive or landline number). Any undelivered or failed text
// falls back too; these are named in its reason.
var undeliverable = map[switchboard.ErrorClass]string{
	switchboard.ClassUnreachable:      "unreachable handset",
	switchboard.ClassInvalidRecipient: "the number cannot receive texts",
}

// RunDue does the due work once: expires pending verifications past their lifetime and, for
// those waiting on an SMS, looks at its delivery and falls back to the next channel when it
// failed or did not arrive within FallbackAfter. It returns how many verifications it handled.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	now := s.cfg.Clock()
	due, err := s.cfg.Store.DueVerifications(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	for _, v := range due {
		if err := s.runOne(ctx, v, now); err != nil && !switchboard.IsKind(err, switchboard.ECONFLICT) {
			s.cfg.Logger.Error("verification fallback", "verification_id", v.ID, "err", err)
		}
	}
	return len(due), nil
}

func (s *Service) runOne(ctx context.Context, v *switchboard.Verification, now time.Time) error {
	if !now.Before(v.ExpiresAt) {
		_, err := s.get(ctx, v.ID)
		return err
	}
	last := v.SendAttempts[len(v.SendAttempts)-1]
	chans := s.fallbackChannels(v)
	if last.Channel != switchboard.VerifySMS || last.MessageID == "" || len(chans) == 0 || v.Sends >= v.MaxSends {
		v.FallbackAt, v.UpdatedAt = nil, now
		return s.cfg.Store.UpdateVerification(ctx, v, nil)
	}
	m, err := s.cfg.Store.GetMessage(ctx, last.MessageID)
	if err != nil && !switchboard.IsKind(err, switchboard.ENOTFOUND) {
		return err
	}
	var why string
	switch {
	case m != nil && (m.Status == switchboard.StatusDelivered || m.Status == switchboard.StatusRead):
		v.FallbackAt, v.UpdatedAt = nil, now
		return s.cfg.Store.UpdateVerification(ctx, v, nil)
	case m != nil && (m.Status == switchboard.StatusUndelivered || m.Status == switchboard.StatusFailed ||
		m.Status == switchboard.StatusBlocked || m.Status == switchboard.StatusExpired || m.Status == switchboard.StatusCanceled):
		why = fmt.Sprintf("the text was %s", m.Status)
		if m.ErrorCode != 0 {
			why += fmt.Sprintf(" (%d", m.ErrorCode)
			if s.cfg.ErrorCodes != nil {
				if d, ok := undeliverable[s.cfg.ErrorCodes.ErrorClass(m.ErrorCode)]; ok {
					why += " " + d
				}
			}
			why += ")"
		}
	case !now.Before(last.At.Add(s.cfg.FallbackAfter)):
		why = fmt.Sprintf("no delivery receipt within %s", s.cfg.FallbackAfter)
	default:
		next := now.Add(s.cfg.FallbackPoll)
		if deadline := last.At.Add(s.cfg.FallbackAfter); deadline.Before(next) {
			next = deadline
		}
		v.FallbackAt, v.UpdatedAt = &next, now
		return s.cfg.Store.UpdateVerification(ctx, v, nil)
	}
	code, err := s.codec.Open(v.ID, v.CodeSealed)
	if err != nil {
		v.FallbackAt, v.UpdatedAt = nil, now
		s.cfg.Logger.Warn("verification fallback skipped: the code cannot be unsealed (was the verify secret changed?)", "verification_id", v.ID)
		return s.cfg.Store.UpdateVerification(ctx, v, nil)
	}
	ch := chans[0]
	// Claim the fallback first (only one node wins the version), then call.
	send := s.planSend(v, ch, "fallback: "+why, now)
	v.Sends++
	v.SendAttempts = append(v.SendAttempts, send)
	v.UpdatedAt = now
	if err := s.cfg.Store.UpdateVerification(ctx, v, nil); err != nil {
		return err
	}
	s.cfg.Logger.Info("verification falls back", "verification_id", v.ID, "to", content.MaskPhone(v.To), "from_channel", last.Channel,
		"to_channel", ch, "why", why)
	if s.cfg.Observer != nil {
		s.cfg.Observer.VerificationFallback(string(last.Channel), string(ch))
	}
	return s.deliver(ctx, v, len(v.SendAttempts)-1, code, now)
}

// Run runs RunDue every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Error("verification worker", "err", err)
			}
		}
	}
}
