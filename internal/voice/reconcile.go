package voice

import (
	"context"
	"fmt"
	"slices"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// This file reconciles calls whose attempt had an ambiguous answer: the provider may or may not
// have created the call (an HTTP 5xx, a timeout, a node stopped while placing it). Such a call
// keeps Placing set, no SID, and a next attempt time that is its reconciliation; place hands it
// here instead of placing it. The rules are the dispatcher's for messages (internal/dispatch,
// reconcile): never placed twice, and every call reaches an end.
//
//   - the provider lists one call of this sender to this callee since the attempt started that is
//     not one of the call's earlier attempts: it is the attempt's call; its SID is adopted and the
//     call carries on (its status follows from callbacks, the status poll, or the status the list
//     reported, applied at once);
//   - the provider's complete list has none: the attempt never reached it; the call is placed
//     again at once, as the same attempt (or canceled, when a cancel was asked meanwhile);
//   - the list could not be had, or was cut short with nothing in it: asked again later, nothing
//     placed;
//   - several candidates: nothing tells which is this attempt's (a callback naming the call's
//     token adopts the right one whenever it comes); asked again after StatusPollAfter, and once
//     every candidate is over at the provider without any having been adopted, the call ends
//     failed, saying why, rather than risk a second call.

// callReconcileWindow is how far before an attempt's start (on this node's clock) reconciliation
// looks for its call at the provider (whose clock stamps the call's creation; FindCalls widens it
// by another minute). Only a difference between the two clocks can put the call earlier, and a
// node stops placing calls long before its clock is off by this much (clock_skew_max). It is kept
// short, since candidates are told apart by sender, callee and time alone.
const callReconcileWindow = 2 * time.Minute

// pastSIDs are c's earlier attempts' SIDs with its current one added (when it has one).
func pastSIDs(c *switchboard.Call) []string {
	if c.ProviderSID == "" || slices.Contains(c.PastSIDs, c.ProviderSID) {
		return c.PastSIDs
	}
	return append(c.PastSIDs, c.ProviderSID)
}

// reconcile asks the provider whether the attempt of c whose outcome is unknown created a call,
// and acts on the answer (see the rules above). again means the attempt proved absent and c, as
// stored, is to be placed now.
func (s *Service) reconcile(ctx context.Context, c *switchboard.Call, now time.Time) (again bool, err error) {
	if c.ProviderSID != "" { // adopted meanwhile (a callback raced the ambiguous answer)
		c.Placing, c.PlacingSince, c.NextAttemptAt = false, nil, nil
		return false, ignoreChanged(s.cfg.Store.UpdateCall(ctx, c, nil))
	}
	since := c.CreatedAt
	if c.PlacingSince != nil {
		since = *c.PlacingSince
	}
	found, ferr := s.cfg.Provider.FindCalls(ctx, switchboard.CallQuery{To: c.To, From: c.From, Since: since.Add(-callReconcileWindow)})
	incomplete := ferr != nil && switchboard.ErrorCodeOf(ferr) == switchboard.CodeFindIncomplete
	if ferr != nil && !incomplete {
		return false, s.askLater(ctx, c, now, s.cfg.ReconcileDelay,
			fmt.Sprintf("could not ask the provider whether attempt %d created the call (%v)", c.Attempts, ferr))
	}
	var candidates []*switchboard.ProviderCall
	for _, pc := range found {
		if pc.SID != "" && !slices.Contains(c.PastSIDs, pc.SID) {
			candidates = append(candidates, pc)
		}
	}
	switch {
	case len(candidates) == 1:
		return false, s.adoptFound(ctx, c.ID, candidates[0])
	case len(candidates) > 1:
		live := slices.ContainsFunc(candidates, func(pc *switchboard.ProviderCall) bool { return !pc.Status.Terminal() })
		why := fmt.Sprintf("the provider lists %d calls from this sender to this callee since attempt %d started, and none can be told to be this attempt's", len(candidates), c.Attempts)
		if live {
			return false, s.askLater(ctx, c, now, s.cfg.StatusPollAfter, why+" (a status callback of the right one adopts it)")
		}
		return false, s.endUnplaced(ctx, c, switchboard.CallFailed,
			why+"; all of them are over and no callback named this call: ended failed rather than risk calling twice")
	case incomplete:
		return false, s.askLater(ctx, c, now, s.cfg.StatusPollAfter,
			fmt.Sprintf("the provider's list of calls from this sender to this callee was cut short (%v), so attempt %d's call may be in the part not listed", ferr, c.Attempts))
	}
	if c.CancelPending {
		return false, s.endUnplaced(ctx, c, switchboard.CallCanceled,
			fmt.Sprintf("canceled through the API; attempt %d never reached the provider", c.Attempts))
	}
	c.Attempts--
	c.Placing, c.PlacingSince = false, nil
	c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventAttempt,
		Detail: fmt.Sprintf("reconciled: the provider has no call of attempt %d (its complete list shows none), so it is placed again", c.Attempts+1)})
	if err := s.cfg.Store.UpdateCall(ctx, c, nil); err != nil {
		return false, ignoreChanged(err)
	}
	s.cfg.Logger.Info("reconciled: call attempt had not reached the provider; placing it again", "call_id", c.ID, "attempt", c.Attempts+1)
	return true, nil
}

// ignoreChanged drops the error of an update that lost a race: whoever changed the call (a
// callback adopting its SID, a cancel) decided for it, and the call is looked at again.
func ignoreChanged(err error) error {
	if switchboard.ErrorCodeOf(err) == "call_changed" {
		return nil
	}
	return err
}

// askLater leaves the attempt unknown, nothing placed, and asks the provider again after wait.
func (s *Service) askLater(ctx context.Context, c *switchboard.Call, now time.Time, wait time.Duration, why string) error {
	next := now.Add(wait)
	c.NextAttemptAt = &next
	c.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventAttempt,
		Detail: fmt.Sprintf("%s; not placed again, asking again at %s", why, next.Format(time.RFC3339))})
	s.cfg.Logger.Warn("call attempt outcome still unknown; not placed again", "call_id", c.ID, "attempt", c.Attempts, "next", next)
	return ignoreChanged(s.cfg.Store.UpdateCall(ctx, c, nil))
}

// adoptFound takes pc, found at the provider, as the call's current attempt; a status the
// provider already reports is applied as its callback would be.
func (s *Service) adoptFound(ctx context.Context, id string, pc *switchboard.ProviderCall) error {
	load := func() (*switchboard.Call, error) { return s.cfg.Store.GetCall(ctx, id) }
	adopted := false
	_, err := s.update(ctx, load, func(c *switchboard.Call) ([]*switchboard.AppEvent, error) {
		adopted = false
		if !c.Placing || c.ProviderSID != "" {
			return nil, nil // a callback adopted it meanwhile
		}
		adopted = adopt(c, pc.SID)
		c.AddEvent(switchboard.CallEvent{At: s.cfg.Clock(), Type: switchboard.CallEventAttempt,
			Detail: fmt.Sprintf("reconciled: attempt %d did reach the provider as %s; adopted it, not placed again", c.Attempts, pc.SID)})
		return nil, nil
	})
	if err != nil || !adopted {
		return ignoreChanged(err)
	}
	s.cfg.Logger.Info("reconciled: call attempt had reached the provider", "call_id", id, "provider_sid", pc.SID)
	if pc.Status != "" && pc.Status != switchboard.CallQueued {
		if err := s.applyStatus(ctx, load, pc.SID, pc.Status, pc.AnsweredBy, "reconciliation: the provider reports "+pc.ProviderStatus); err != nil {
			return err
		}
	}
	return s.endPending(ctx, id)
}

// endUnplaced ends a call whose attempt is not at the provider (or cannot be told), with its
// fallback SMS when its flow wants one for st.
func (s *Service) endUnplaced(ctx context.Context, c *switchboard.Call, st switchboard.CallStatus, detail string) error {
	c.Placing, c.PlacingSince, c.NextAttemptAt = false, nil, nil
	now := s.cfg.Clock()
	if s.wantsFallback(c, st) && c.FallbackMessageID == "" {
		if err := s.fallback(ctx, c, now); err != nil {
			return err
		}
	}
	evs, err := moveStatus(c, st, now, detail)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.UpdateCall(ctx, c, evs); err != nil {
		return ignoreChanged(err)
	}
	s.cfg.Logger.Warn("call ended without a known provider call", "call_id", c.ID, "status", st)
	if s.cfg.OnFinished != nil {
		s.cfg.OnFinished(c)
	}
	return nil
}

// endPending carries out a cancel asked while the call's attempt had no known SID, now that it
// has one.
func (s *Service) endPending(ctx context.Context, id string) error {
	c, err := s.cfg.Store.GetCall(ctx, id)
	if err != nil || !c.CancelPending || c.ProviderSID == "" {
		return err
	}
	if !c.Status.Terminal() {
		if err := s.cfg.Provider.EndCall(ctx, c.ProviderSID); err != nil {
			return fmt.Errorf("voice: ending call %s at the provider after a cancel: %w", id, err)
		}
	}
	_, err = s.update(ctx, func() (*switchboard.Call, error) { return s.cfg.Store.GetCall(ctx, id) }, func(c *switchboard.Call) ([]*switchboard.AppEvent, error) {
		if c.CancelPending {
			c.CancelPending = false
			c.AddEvent(switchboard.CallEvent{At: s.cfg.Clock(), Type: switchboard.CallEventAttempt, Detail: "cancel carried out at the provider: " + c.ProviderSID})
		}
		return nil, nil
	})
	return err
}
