package switchboard

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// The decisions a store takes about messages, as pure functions: a store loads the rows, calls
// these, and saves what they return. Both engines call the same functions, so a rule is written
// once and tested without a database (rules_message_test.go).

// PrepareCreate checks a new message and returns the copy a store saves — in the shape a read of
// the stored row has (NormalizeStored), with its "created" event as its only timeline entry — and
// the idempotency record to save with it (nil when idem has no key). An empty m.Tenant becomes
// DefaultTenant (in m too), and the idempotency record is the tenant's.
//
// The created event's actor and detail are the caller's when m carries one created event (who
// accepted it, a quiet-hours hold...), else "api" or "api_key:ID" and "accepted".
func PrepareCreate(m *Message, idem *Idempotency) (*Message, *Idempotency, error) {
	if m == nil || m.ID == "" {
		return nil, nil, Errorf(EINVALID, "invalid_message", "message has no ID")
	}
	if !m.Status.Valid() {
		return nil, nil, Errorf(EINVALID, "invalid_message", "message %s: unknown status %q", m.ID, m.Status)
	}
	m.Tenant = TenantOr(m.Tenant)
	if err := ValidTenantID(m.Tenant); err != nil {
		return nil, nil, err
	}
	if idem != nil && idem.Key == "" {
		idem = nil
	}
	if idem != nil {
		scoped := *idem
		scoped.Tenant = m.Tenant
		idem = &scoped
	}
	stored := *m
	stored.MediaURLs = append([]string(nil), m.MediaURLs...)
	stored.Metadata = maps.Clone(m.Metadata)
	if m.WhatsApp != nil {
		wa := *m.WhatsApp
		stored.WhatsApp = &wa
	}
	NormalizeStored(&stored)
	actor := "api"
	if m.APIKeyID != "" {
		actor = "api_key:" + m.APIKeyID
	}
	detail := "accepted"
	if m.Status == StatusScheduled && stored.SendAt != nil {
		detail = "accepted, scheduled for " + stored.SendAt.Format(time.RFC3339)
	}
	if len(m.Events) == 1 && m.Events[0].Type == EventCreated {
		if m.Events[0].Actor != "" {
			actor = m.Events[0].Actor
		}
		if m.Events[0].Detail != "" {
			detail = m.Events[0].Detail
		}
	}
	stored.Events = []*Event{{MessageID: m.ID, Type: EventCreated, Status: m.Status, Actor: actor,
		Detail: detail, At: stored.CreatedAt}}
	return &stored, idem, nil
}

// NormalizeStored gives m the shape a read of the stored row has: times in UTC at microsecond
// precision, empty collections nil.
func NormalizeStored(m *Message) {
	ut := func(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }
	utp := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		v := ut(*t)
		return &v
	}
	if len(m.MediaURLs) == 0 {
		m.MediaURLs = nil
	}
	if len(m.Metadata) == 0 {
		m.Metadata = nil
	}
	m.SendAt, m.ValidUntil, m.AttemptStartedAt, m.LeaseUntil = utp(m.SendAt), utp(m.ValidUntil), utp(m.AttemptStartedAt), utp(m.LeaseUntil)
	m.NextAttemptAt, m.CreatedAt, m.UpdatedAt = ut(m.NextAttemptAt), ut(m.CreatedAt), ut(m.UpdatedAt)
}

// CheckUpdate checks an update before any message is read: it names a message, has a time (the
// store has no clock: a zero time would silently corrupt timelines and leases) and a known status.
func CheckUpdate(u *MessageUpdate) error {
	switch {
	case u.ID == "":
		return Errorf(EINVALID, "invalid_update", "update names no message")
	case u.At.IsZero():
		return Errorf(EINVALID, "invalid_update", "update of message %s has no time (At)", u.ID)
	case u.Status != "" && !u.Status.Valid():
		return Errorf(EINVALID, "invalid_update", "update of message %s: unknown status %q", u.ID, u.Status)
	}
	return nil
}

// ApplyUpdate applies u to m, the stored message: it checks u's fence and preconditions
// (ECONFLICT lease_lost, status_conflict, attempt_in_flight), makes the changes — a status only
// moves forward (Status.CanMoveTo); a backward one is skipped, not an error — and returns the
// timeline events to append, stamped with the message, the time and the status after the
// update, and the message.status_changed events of the moves.
//
// pending are the callbacks recorded for the SID the update sets (nil when it sets none): they
// arrived before the message had its SID and are applied after the update (ApplyPendingCallbacks);
// the store then marks them applied.
func ApplyUpdate(m *Message, u *MessageUpdate, pending []RecordedCallback) ([]*Event, []*AppEvent, error) {
	if u.LeaseOwner != "" && m.LeaseOwner != u.LeaseOwner {
		return nil, nil, ErrLeaseLost(m.ID, u.LeaseOwner)
	}
	if len(u.RequireStatus) > 0 {
		ok := false
		for _, s := range u.RequireStatus {
			ok = ok || s == m.Status
		}
		if !ok {
			return nil, nil, ErrStatusConflict(m.ID, m.Status)
		}
	}
	if u.RequireNoAttemptInFlight && m.AttemptInFlight {
		return nil, nil, ErrAttemptInFlight(m.ID)
	}
	prev := m.Status
	if u.Status != "" && m.Status.CanMoveTo(u.Status) {
		m.Status = u.Status
	}
	if u.ProviderSID != nil {
		m.ProviderSID = *u.ProviderSID
	}
	if u.ErrorCode != nil {
		m.ErrorCode = *u.ErrorCode
	}
	if u.ErrorMessage != nil {
		m.ErrorMessage = *u.ErrorMessage
	}
	if u.NextAttemptAt != nil {
		m.NextAttemptAt = *u.NextAttemptAt
	}
	if u.AttemptInFlight != nil {
		m.AttemptInFlight = *u.AttemptInFlight
	}
	if u.AttemptStartedAt != nil {
		t := *u.AttemptStartedAt
		m.AttemptStartedAt = &t
	}
	if u.IncAttempts {
		m.Attempts++
	}
	if u.LeaseUntil != nil && u.LeaseOwner != "" {
		t := *u.LeaseUntil
		m.LeaseUntil = &t
	}
	if u.ReleaseLease {
		m.LeaseOwner, m.LeaseUntil = "", nil
	}
	m.UpdatedAt = u.At
	NormalizeStored(m)
	evs := make([]*Event, 0, len(u.Events))
	for _, e := range u.Events {
		if e == nil {
			continue
		}
		ev := *e
		ev.ID, ev.MessageID, ev.Status = 0, m.ID, m.Status
		if ev.At.IsZero() {
			ev.At = u.At
		}
		evs = append(evs, &ev)
	}
	var apps []*AppEvent
	if moved, err := StatusMoved(m, prev, u.At); err != nil {
		return nil, nil, err
	} else if moved != nil {
		apps = append(apps, moved)
	}
	more, moreApps, err := ApplyPendingCallbacks(m, pending, u.At)
	if err != nil {
		return nil, nil, err
	}
	return append(evs, more...), append(apps, moreApps...), nil
}

// StatusMoved returns the message.status_changed event of m if its status is no longer prev,
// else nil.
func StatusMoved(m *Message, prev Status, at time.Time) (*AppEvent, error) {
	if m.Status == prev {
		return nil, nil
	}
	return StatusChangedEvent(m, prev, at)
}

// CheckReplay decides a request whose idempotency key the store found, made by a request with
// the hash storedHash: the same request is answered with what it made (nil); a different one
// under the same key is refused (EUNPROCESSABLE idempotency_key_reused).
func CheckReplay(idem *Idempotency, storedHash string) error {
	if storedHash != idem.RequestHash {
		return ErrIdempotencyKeyReused(idem.Key)
	}
	return nil
}

// SortClaimedMessages puts claimed messages in the order a claim hands them out: earliest due
// first, then by ID (a claim's RETURNING keeps no order).
func SortClaimedMessages(msgs []*Message) {
	slices.SortFunc(msgs, func(a, b *Message) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
