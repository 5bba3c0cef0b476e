package switchboard

import (
	"encoding/json"
	"fmt"
	"time"
)

// The decisions a store takes about provider status callbacks, as pure functions (see
// rules_message.go).

// CallbackActor is the actor of callback events on timelines.
const CallbackActor = "provider"

// RecordedCallback is a status callback as a store records it, about to be applied: the callback
// being ingested, or one recorded earlier for a SID that no message had yet (pending).
type RecordedCallback struct {
	ProviderStatus string
	Status         Status
	ErrorCode      int
	ErrorMessage   string
	Payload        json.RawMessage
	ReceivedAt     time.Time
}

// Recorded returns c as the store records it.
func (c *Callback) Recorded() RecordedCallback {
	return RecordedCallback{ProviderStatus: c.ProviderStatus, Status: c.Status, ErrorCode: c.ErrorCode,
		ErrorMessage: c.ErrorMessage, Payload: c.Payload, ReceivedAt: c.ReceivedAt}
}

// CheckCallback checks a callback before it is recorded: it has a provider SID, a known status and
// a receive time.
func CheckCallback(cb *Callback) error {
	switch {
	case cb == nil || cb.ProviderSID == "":
		return Errorf(EINVALID, "invalid_callback", "callback has no provider SID")
	case !cb.Status.Valid():
		return Errorf(EINVALID, "invalid_callback", "callback for %s: unknown status %q", cb.ProviderSID, cb.Status)
	case cb.ReceivedAt.IsZero():
		return Errorf(EINVALID, "invalid_callback", "callback for %s has no receive time", cb.ProviderSID)
	}
	return nil
}

// ApplyCallback moves m as far as the callback allows — forward only (Status.CanMoveTo); the
// error code and message are taken only by a failure that has a code — and returns the timeline
// event that records it, applied or ignored, and whether the status moved.
func ApplyCallback(m *Message, cb RecordedCallback, at time.Time) (*Event, bool) {
	prev := m.Status
	ev := &Event{MessageID: m.ID, Type: EventCallback, Actor: CallbackActor,
		ErrorCode: cb.ErrorCode, Payload: cb.Payload, At: at}
	moved := prev.CanMoveTo(cb.Status)
	if moved {
		m.Status = cb.Status
		if (cb.Status == StatusFailed || cb.Status == StatusUndelivered) && cb.ErrorCode != 0 {
			m.ErrorCode, m.ErrorMessage = cb.ErrorCode, cb.ErrorMessage
		}
		if at.After(m.UpdatedAt) {
			m.UpdatedAt = at
		}
		ev.Detail = fmt.Sprintf("%s → %s (provider status %q)", prev, cb.Status, cb.ProviderStatus)
	} else {
		ev.Detail = ignoredDetail(prev, cb.Status, cb.ProviderStatus)
	}
	if cb.ErrorMessage != "" {
		ev.Detail += ": " + fmt.Sprint(cb.ErrorCode) + " " + cb.ErrorMessage
	}
	ev.Status = m.Status
	return ev, moved
}

// ignoredDetail explains why a callback did not move a message from status s to t.
func ignoredDetail(s, t Status, providerStatus string) string {
	var why string
	switch {
	case s == t:
		why = "already " + string(s)
	case s.Terminal() && t.Terminal():
		why = fmt.Sprintf("%s is final, %s comes too late", s, t)
	default:
		why = fmt.Sprintf("%s cannot move back to %s", s, t)
	}
	return fmt.Sprintf("ignored: %s (provider status %q)", why, providerStatus)
}

// ApplyPendingCallbacks applies, in arrival order, the callbacks recorded for m's provider SID
// before any message had it, and returns their timeline events and the message.status_changed
// event of each status move. The store then marks them applied.
func ApplyPendingCallbacks(m *Message, pending []RecordedCallback, at time.Time) ([]*Event, []*AppEvent, error) {
	if len(pending) == 0 {
		return nil, nil, nil
	}
	evs := make([]*Event, 0, len(pending))
	var apps []*AppEvent
	for _, p := range pending {
		prev := m.Status
		ev, _ := ApplyCallback(m, p, at)
		ev.Detail = fmt.Sprintf("received %s, before the provider SID was recorded; %s",
			p.ReceivedAt.Format(time.RFC3339Nano), ev.Detail)
		evs = append(evs, ev)
		app, err := StatusMoved(m, prev, at)
		if err != nil {
			return nil, nil, err
		}
		if app != nil {
			apps = append(apps, app)
		}
	}
	return evs, apps, nil
}

// CallbackChange is what ingesting a callback does to its message: the timeline events and
// application events to append, whether the status moved and whether the message adopted the
// callback's SID (then every column a change may touch is saved, else only the status).
type CallbackChange struct {
	Events    []*Event
	AppEvents []*AppEvent
	Moved     bool
	Adopted   bool
	Result    CallbackResult
}

// DuplicateCallback is the result of a callback recorded before: nothing changes; the message
// with the SID, if any, is reported as it is. A message that would have adopted the SID is not
// reported (it is not the callback's message yet).
func DuplicateCallback(m *Message, adopt bool) CallbackResult {
	res := CallbackResult{Duplicate: true}
	if m != nil && !adopt {
		res.MessageID, res.Status, res.ErrorCode = m.ID, m.Status, m.ErrorCode
	}
	return res
}

// IngestCallback decides what a new (not duplicate) callback does to m, the message it belongs
// to as loaded by the store (nil when none: the callback waits, pending). With adopt, m is the
// message the callback named by our ID, which never learned its SID (the provider's answer was
// lost): it takes the SID, its attempt is no longer in flight, and the callbacks recorded for
// the SID before (pending) are applied first.
func IngestCallback(m *Message, adopt bool, pending []RecordedCallback, cb *Callback) (CallbackChange, error) {
	var c CallbackChange
	if m == nil {
		c.Result.Pending = true
		return c, nil
	}
	if adopt {
		m.ProviderSID = cb.ProviderSID
		m.AttemptInFlight = false
		if cb.ReceivedAt.After(m.UpdatedAt) {
			m.UpdatedAt = cb.ReceivedAt
		}
		var err error
		if c.Events, c.AppEvents, err = ApplyPendingCallbacks(m, pending, cb.ReceivedAt); err != nil {
			return CallbackChange{}, err
		}
	}
	prev := m.Status
	ev, moved := ApplyCallback(m, cb.Recorded(), cb.ReceivedAt)
	if adopt {
		ev.Detail = fmt.Sprintf("provider SID %s adopted from the callback; %s", cb.ProviderSID, ev.Detail)
	}
	c.Events = append(c.Events, ev)
	app, err := StatusMoved(m, prev, cb.ReceivedAt)
	if err != nil {
		return CallbackChange{}, err
	}
	if app != nil {
		c.AppEvents = append(c.AppEvents, app)
	}
	c.Moved, c.Adopted = moved, adopt
	c.Result = CallbackResult{Applied: moved, MessageID: m.ID, Status: m.Status, ErrorCode: m.ErrorCode}
	return c, nil
}
