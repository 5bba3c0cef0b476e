package switchboard

import (
	"context"
	"time"
)

// SenderQueue is how much of one sender's outbox is waiting. Waiting messages are those in status
// queued or scheduled; they split by readiness rather than by status because readiness is what a
// dispatcher's backlog is (a queued message in retry backoff is as far from the provider as a
// scheduled one), and because both stores answer it from their outbox index alone.
type SenderQueue struct {
	Sender string `json:"sender"`
	// Ready counts waiting messages that are due (NextAttemptAt at or before now): the backlog
	// the sender's rate limit works through.
	Ready int64 `json:"ready"`
	// Deferred counts waiting messages due later: send_at, quiet hours, retry backoff.
	Deferred int64 `json:"deferred"`
	// OldestDueAt is the earliest NextAttemptAt among the ready messages, nil when none is ready.
	OldestDueAt *time.Time `json:"oldest_due_at,omitempty"`
	// ReadyCapped and DeferredCapped report that QueueStats stopped counting at its limit: Ready
	// (or Deferred) then equals the limit and the sender has at least that many such messages.
	ReadyCapped    bool `json:"ready_capped,omitempty"`
	DeferredCapped bool `json:"deferred_capped,omitempty"`
}

// QueueCountLimit is where the dashboard stops counting a sender's waiting messages: a count
// reads one index entry per message, so an exact count of a queue of millions would take seconds
// on every page view. The pages show "10,000+" beyond it; /metrics counts exactly (limit 0).
const QueueCountLimit = 10_000

// SenderOutcomes counts the outbound messages of one sender that reached a delivery outcome in a
// window of time: Delivered (delivered or read) and Failed (undelivered or failed). Messages
// stopped by policy (blocked, expired, canceled) are neither: they say nothing about delivery.
type SenderOutcomes struct {
	Sender    string `json:"sender"`
	Delivered int64  `json:"delivered"`
	Failed    int64  `json:"failed"`
}

// Total is the number of outcomes.
func (o SenderOutcomes) Total() int64 { return o.Delivered + o.Failed }

// Rate is the share of outcomes that were deliveries, 1 when there are none.
func (o SenderOutcomes) Rate() float64 {
	if o.Total() == 0 {
		return 1
	}
	return float64(o.Delivered) / float64(o.Total())
}

// AlertState is the state of one built-in alert (see AlertTransition).
type AlertState string

// Alert states. An alert that was never recorded is AlertOK.
const (
	AlertOK    AlertState = "ok"
	AlertFired AlertState = "firing"
)

// Valid reports whether s is a known state.
func (s AlertState) Valid() bool { return s == AlertOK || s == AlertFired }

// AlertTransition moves one built-in alert, named by Key (e.g. "delivery_rate_low/+15005550006"),
// from state From to state To and appends Event to the event log, in one transaction, if and only
// if the alert is in state From. This compare-and-set is what makes alerts safe with several
// nodes: every node evaluates, exactly one wins each transition, and the event is written once.
type AlertTransition struct {
	Key   string
	From  AlertState
	To    AlertState
	At    time.Time
	Event *AppEvent
}

// Validate checks that t names an alert, two different states and a time.
func (t AlertTransition) Validate() error {
	switch {
	case t.Key == "":
		return Errorf(EINVALID, "invalid_alert", "an alert transition needs a key")
	case !t.From.Valid() || !t.To.Valid() || t.From == t.To:
		return Errorf(EINVALID, "invalid_alert", "an alert transition moves between two different states of ok and firing")
	case t.At.IsZero():
		return Errorf(EINVALID, "invalid_alert", "an alert transition needs a time")
	}
	return nil
}

// MessageAppEvent is an event of the event log that reports on one message, with its deliveries
// to application endpoints.
type MessageAppEvent struct {
	Event      *AppEvent   `json:"event"`
	Deliveries []*Delivery `json:"deliveries"`
}

// ObservabilityStore answers the questions of metrics, built-in alerts and traces. Its queries
// stay on indexes: none of them scans the finished messages.
type ObservabilityStore interface {
	// QueueStats returns, per sender with waiting messages, how many are ready and deferred at
	// now and since when the oldest ready one has been due, ordered by sender. A limit above 0
	// bounds each count: a count that reaches it stops there and is flagged (ReadyCapped,
	// DeferredCapped), so that the cost is at most a few limits of index entries per sender
	// whatever the depth of the queue. A limit of 0 counts exactly. OldestDueAt is exact either way.
	QueueStats(ctx context.Context, now time.Time, limit int64) ([]SenderQueue, error)
	// DeliveryOutcomes counts, per sender, the messages whose status became delivered, read,
	// undelivered or failed with UpdatedAt in (since, until] (a window that ends now takes in what
	// happened at now), ordered by sender.
	DeliveryOutcomes(ctx context.Context, since, until time.Time) ([]SenderOutcomes, error)
	// TransitionAlert applies t if the alert is in state t.From (an unrecorded alert is AlertOK)
	// and reports whether it did. Concurrent callers, on any node, apply one transition once.
	TransitionAlert(ctx context.Context, t AlertTransition) (bool, error)
	// AlertStates returns the recorded state of every alert, by key.
	AlertStates(ctx context.Context) (map[string]AlertState, error)
	// MessageAppEvents returns the message.status_changed events of message m (as stored, so
	// with its CreatedAt and UpdatedAt), oldest first, with their deliveries oldest first. The
	// event log has no index by message: it is read between the log positions of m's lifetime
	// (found by binary search on the event times, with TraceSlack on each side), at most
	// TraceScanLimit events; truncated reports that the limit cut the search short.
	MessageAppEvents(ctx context.Context, m *Message) (evs []*MessageAppEvent, truncated bool, err error)
}

// TraceSlack widens the window of the event log searched for a message's events, for clocks of
// several nodes that disagree and events written just before a message's UpdatedAt was.
const TraceSlack = time.Minute

// TraceScanLimit bounds how many events of the log a trace reads.
const TraceScanLimit = 500_000

// SearchEventLog returns the lowest sequence number in [lo, hi] whose event is at or after t,
// or hi+1 when there is none, by binary search. first returns the first event at or after a
// sequence number (its seq and time; ok false when there is none). The log's times grow with its
// sequence numbers except for small clock differences between nodes, which TraceSlack absorbs.
func SearchEventLog(lo, hi int64, t time.Time, first func(seq int64) (int64, time.Time, bool, error)) (int64, error) {
	for lo <= hi {
		mid := lo + (hi-lo)/2
		seq, at, ok, err := first(mid)
		if err != nil {
			return 0, err
		}
		if !ok || seq > hi {
			hi = mid - 1
			continue
		}
		if at.Before(t) {
			lo = seq + 1
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// Built-in alert event types.
const (
	// AppAlertDeliveryRateLow: a sender's delivery rate over the alert window fell below the
	// configured threshold.
	AppAlertDeliveryRateLow AppEventType = "alert.delivery_rate_low"
	// AppAlertDeliveryRateRecovered: a sender whose delivery rate was low is at or above the
	// threshold again.
	AppAlertDeliveryRateRecovered AppEventType = "alert.delivery_rate_recovered"
)

// DeliveryRateAlertData is the payload of alert.delivery_rate_low and
// alert.delivery_rate_recovered.
type DeliveryRateAlertData struct {
	Sender        string    `json:"sender"`
	Rate          float64   `json:"rate"`
	Threshold     float64   `json:"threshold"`
	Delivered     int64     `json:"delivered"`
	Failed        int64     `json:"failed"`
	WindowSeconds int64     `json:"window_seconds"`
	WindowStart   time.Time `json:"window_start"`
	WindowEnd     time.Time `json:"window_end"`
}
