package twiliosim

import (
	"strings"
	"sync"
	"time"
)

// The lifecycle runs on one scheduler goroutine over a min-heap of due events, rather than one
// timer per message: Close can stop it at once, Reset can drop every pending step, and 15,000
// steps per second cost one goroutine and a heap.

type eventKind uint8

const (
	evAdvance  eventKind = iota // move a message on from status `from`
	evCallback                  // hand a callback post to the workers
)

type event struct {
	at   time.Time
	seq  uint64
	kind eventKind
	m    *message
	from string
	post *callbackPost
}

// eventHeap is a binary min-heap ordered by (at, seq). It is hand-rolled rather than
// container/heap so that pushing and popping events does not box them.
type eventHeap []event

func (h eventHeap) less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}

func (h *eventHeap) push(ev event) {
	*h = append(*h, ev)
	q := *h
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if !q.less(i, parent) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
}

func (h *eventHeap) pop() event {
	q := *h
	n := len(q) - 1
	top := q[0]
	q[0] = q[n]
	q[n] = event{}
	q = q[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && q.less(l, m) {
			m = l
		}
		if r < n && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return top
}

type scheduler struct {
	mu   sync.Mutex
	h    eventHeap
	seq  uint64
	wake chan struct{}
}

func (sc *scheduler) init() { sc.wake = make(chan struct{}, 1) }

// push adds an event and wakes the scheduler when the event is the new earliest one.
func (sc *scheduler) push(ev event) {
	sc.mu.Lock()
	sc.seq++
	ev.seq = sc.seq
	sc.h.push(ev)
	top := sc.h[0].seq == ev.seq
	sc.mu.Unlock()
	if top {
		select {
		case sc.wake <- struct{}{}:
		default:
		}
	}
}

// popDue returns the earliest event if it is due, else how long until it is (-1: none pending).
func (sc *scheduler) popDue(now time.Time) (event, bool, time.Duration) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.h) == 0 {
		return event{}, false, -1
	}
	if d := sc.h[0].at.Sub(now); d > 0 {
		return event{}, false, d
	}
	return sc.h.pop(), true, 0
}

func (sc *scheduler) clear() {
	sc.mu.Lock()
	clear(sc.h)
	sc.h = sc.h[:0]
	sc.mu.Unlock()
}

func (s *Simulator) runScheduler() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		ev, ok, wait := s.sched.popDue(time.Now())
		if ok {
			s.handleEvent(ev)
			if s.closed() {
				return
			}
			continue
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-s.done:
			timer.Stop()
			return
		case <-s.sched.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (s *Simulator) handleEvent(ev event) {
	switch ev.kind {
	case evAdvance:
		s.advance(ev.m, ev.from)
	case evCallback:
		s.enqueueCallback(ev.post)
	}
}

// startLifecycle schedules the first step of a new outbound message. Callers hold mu.
func (s *Simulator) startLifecycleLocked(m *message) {
	now := time.Now()
	switch m.Status {
	case statusAccepted:
		s.sched.push(event{at: now, kind: evAdvance, m: m, from: statusAccepted})
	case statusScheduled:
		s.scheduleReleaseLocked(m, now)
	case statusQueued:
		s.scheduleQueuedLocked(m, now)
	}
}

// releasePoll bounds how long a scheduled message sleeps before SendAt is checked again against
// the simulator's clock, so that a test moving an injected clock forward releases it promptly.
const releasePoll = 250 * time.Millisecond

// scheduleReleaseLocked schedules the check that releases a scheduled message at its SendAt.
func (s *Simulator) scheduleReleaseLocked(m *message, now time.Time) {
	wait := min(m.SendAt.Sub(s.now()), releasePoll)
	s.sched.push(event{at: now.Add(max(wait, 0)), kind: evAdvance, m: m, from: statusScheduled})
}

// scheduleQueuedLocked schedules a queued message's next step: sending SendingDelay after its
// turn in its sender's queue (throughput.go), or expiry when its validity period ends first. A
// message that finds its sender's queue full fails 30001 at once.
func (s *Simulator) scheduleQueuedLocked(m *message, now time.Time) {
	m.validUntil = now.Add(time.Duration(m.ValidityPeriod) * time.Second)
	turn, overflow := s.reserve(s.faults.Load(), m.From, m.NumSegments, now)
	if overflow {
		m.overflow = true
		s.sched.push(event{at: now, kind: evAdvance, m: m, from: statusQueued})
		return
	}
	at := turn.Add(s.cfg.SendingDelay)
	if m.validUntil.Before(at) {
		at = m.validUntil
	}
	s.sched.push(event{at: at, kind: evAdvance, m: m, from: statusQueued})
}

// advance moves message m on from status from, posts the status callback and schedules the next
// step. A message that was canceled, forgotten or reset in the meantime is left alone.
func (s *Simulator) advance(m *message, from string) {
	f := s.faults.Load()
	realNow := time.Now()

	s.mu.Lock()
	if s.msgs[m.SID] != m || m.Status != from {
		s.mu.Unlock()
		return
	}
	now := s.now()
	var next time.Duration = -1
	switch from {
	case statusAccepted:
		m.From = s.pickSender(m.MessagingServiceSID, m.To)
		m.NumSegments = segmentsFor(m.Body, len(m.MediaURLs), m.ContentSID)
		if m.From == "" { // the service lost its numbers since the create
			m.Status, m.ErrorCode = statusFailed, 21704
			break
		}
		m.Status = statusQueued
		s.scheduleQueuedLocked(m, realNow)
	case statusScheduled:
		if now.Before(*m.SendAt) {
			s.scheduleReleaseLocked(m, realNow)
			s.mu.Unlock()
			return
		}
		if m.From == "" {
			// Released: the service picks a sender now, so that the resource and every
			// callback from here on carry a real From.
			m.From = s.pickSender(m.MessagingServiceSID, m.To)
			if m.From == "" {
				m.Status, m.ErrorCode = statusFailed, 21704
				break
			}
		}
		m.Status = statusQueued
		s.scheduleQueuedLocked(m, realNow)
	case statusQueued:
		if m.overflow {
			m.Status, m.ErrorCode = statusFailed, 30001
		} else if !realNow.Before(m.validUntil) {
			m.Status, m.ErrorCode = statusFailed, 30036
		} else {
			m.Status = statusSending
			next = s.cfg.SentDelay
		}
	case statusSending:
		if m.failCode != 0 {
			m.Status, m.ErrorCode = statusFailed, m.failCode
		} else if code := s.whatsappError(f, m); code != 0 {
			m.Status, m.ErrorCode = statusFailed, code
		} else if f.FailedRatio > 0 && s.draw(m.drawKey, drawFailed) < f.FailedRatio {
			m.Status, m.ErrorCode = statusFailed, orDefault(f.FailedCode, 30008)
		} else {
			m.Status = statusSent
			// date_sent is when the carrier took the message (Twilio's Message resource), and
			// the price is known from then on.
			m.DateSent = &now
			next = s.cfg.DeliveredDelay + f.carrierDelay(m.To) // a slow carrier (carriers.go)
		}
	case statusSent:
		if m.noDelivery {
			s.mu.Unlock()
			return
		}
		if f.UndeliveredRatio > 0 && s.draw(m.drawKey, drawUndelivered) < f.UndeliveredRatio {
			m.Status, m.ErrorCode = statusUndelivered, orDefault(f.UndeliveredCode, 30003)
		} else if code := carrierError(f.carrierMix(m.To), s.draw(m.drawKey, drawCarrier)); code != 0 {
			m.Status, m.ErrorCode = statusUndelivered, code
		} else if m.NumSegments > 1 && f.PartiallyDeliveredRatio > 0 && s.draw(m.drawKey, drawPartial) < f.PartiallyDeliveredRatio {
			m.Status = statusPartially
		} else {
			m.Status = statusDelivered
			if strings.HasPrefix(m.To, "whatsapp:") {
				next = s.cfg.DeliveredDelay // the person reads it
			}
		}
	case statusDelivered:
		m.Status = statusRead
	default:
		s.mu.Unlock()
		return
	}
	if m.ErrorCode != 0 {
		m.ErrorMessage = asyncErrorMessage(m.ErrorCode)
	}
	m.DateUpdated = now
	if next >= 0 {
		s.sched.push(event{at: realNow.Add(next), kind: evAdvance, m: m, from: m.Status})
	}
	posts := s.statusCallbackLocked(m, now, f)
	s.mu.Unlock()

	for _, p := range posts {
		s.enqueueCallback(p)
	}
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
