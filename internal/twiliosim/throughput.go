package twiliosim

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// The throughput model (off unless Faults.ThroughputScale > 0, so that tests stay fast):
//   - every sender sends at its rate in segments per second (twilio-facts.md §6): US/Canada long
//     code 1, toll-free (+1 800/833/844/855/866/877/888) 3, short code (5-6 digits) 100, numbers
//     outside +1 10; Faults.SenderMPS overrides per sender. ThroughputScale multiplies every
//     rate (1 = Twilio's rates, 100 = a hundred times faster);
//   - a message waits in its sender's queue for its turn (status queued) before "sending";
//   - a sender queues at most QueueHours (default 10) of segments at its rate: beyond, a create
//     with From answers 400/21611 and a Messaging Service message fails 30001 "Queue overflow"
//     once its sender is picked (twilio-facts.md §6);
//   - a message whose turn comes after its ValidityPeriod fails 30036 when the period ends
//     (Twilio's ValidityPeriod documentation; older material said 30001).
//
// The carrier error mix (Faults.CarrierErrors) draws, per sent message, an undelivered outcome
// with each code's probability: real traffic mixes 30003 (unreachable), 30005 (unknown
// handset), 30006 (landline), 30007 (filtered) and 30008 (unknown error) (twilio-facts.md §3).

// senderMPS is a sender's default rate in segments per second.
func senderMPS(from string) float64 {
	_, n := splitChannel(from)
	switch {
	case isShortCode(n):
		return 100
	case strings.HasPrefix(n, "+1") && len(n) == 12:
		switch n[2:5] {
		case "800", "833", "844", "855", "866", "877", "888":
			return 3
		}
		return 1
	case strings.HasPrefix(n, "+"):
		return 10
	}
	return 1
}

// isShortCode reports whether s is a short code: 5 or 6 digits.
func isShortCode(s string) bool {
	if len(s) < 5 || len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// senderQueues tracks when each sender is next free to send (real time).
type senderQueues struct {
	mu       sync.Mutex
	nextFree map[string]time.Time
}

func (q *senderQueues) reset() {
	q.mu.Lock()
	q.nextFree = nil
	q.mu.Unlock()
}

// rate returns the sender's effective rate under f, or 0 when the model is off.
func (f *Faults) rate(from string) float64 {
	if f.ThroughputScale <= 0 {
		return 0
	}
	mps := senderMPS(from)
	if v, ok := f.SenderMPS[from]; ok && v > 0 {
		mps = v
	}
	return mps * f.ThroughputScale
}

func (f *Faults) queueLimit(rate float64) time.Duration {
	h := f.QueueHours
	if h <= 0 {
		h = 10
	}
	// QueueHours of segments at the sender's unscaled rate take QueueHours/scale of real time.
	return time.Duration(h / f.ThroughputScale * float64(time.Hour))
}

// reserve books segments on the sender's queue and returns when the message's turn comes. With
// the model off it returns now. overflow reports that the queue is full (nothing is booked).
func (s *Simulator) reserve(f *Faults, from string, segments int, now time.Time) (turn time.Time, overflow bool) {
	rate := f.rate(from)
	if rate <= 0 {
		return now, false
	}
	s.queues.mu.Lock()
	defer s.queues.mu.Unlock()
	if s.queues.nextFree == nil {
		s.queues.nextFree = map[string]time.Time{}
	}
	turn = s.queues.nextFree[from]
	if turn.Before(now) {
		turn = now
	}
	if turn.Sub(now) > f.queueLimit(rate) {
		return time.Time{}, true
	}
	s.queues.nextFree[from] = turn.Add(time.Duration(float64(max(segments, 1)) / rate * float64(time.Second)))
	return turn, false
}

// backlogFull reports whether the sender's queue is full (for a create with From).
func (s *Simulator) backlogFull(f *Faults, from string, now time.Time) bool {
	rate := f.rate(from)
	if rate <= 0 {
		return false
	}
	s.queues.mu.Lock()
	defer s.queues.mu.Unlock()
	return s.queues.nextFree[from].Sub(now) > f.queueLimit(rate)
}

// carrierError picks the undelivered code of a sent message from a carrier error mix with x,
// a draw in [0, 1), or 0.
func carrierError(mix map[int]float64, x float64) int {
	if len(mix) == 0 {
		return 0
	}
	codes := make([]int, 0, len(mix))
	for c := range mix {
		codes = append(codes, c)
	}
	sort.Ints(codes) // a stable order, so that a seeded draw is reproducible
	for _, c := range codes {
		if x < mix[c] {
			return c
		}
		x -= mix[c]
	}
	return 0
}
