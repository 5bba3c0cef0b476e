package twiliosim

import (
	"container/heap"
	"math/rand/v2"
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

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	n := len(old)
	ev := old[n-1]
	old[n-1] = event{}
	*h = old[:n-1]
	return ev
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
	heap.Push(&sc.h, ev)
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
	return heap.Pop(&sc.h).(event), true, 0
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
		at := now.Add(m.SendAt.Sub(s.now()))
		s.sched.push(event{at: at, kind: evAdvance, m: m, from: statusScheduled})
	case statusQueued:
		s.scheduleQueuedLocked(m, now)
	}
}

// scheduleQueuedLocked schedules a queued message's next step: sending after SendingDelay, or
// expiry when its validity period ends first.
func (s *Simulator) scheduleQueuedLocked(m *message, now time.Time) {
	m.validUntil = now.Add(time.Duration(m.ValidityPeriod) * time.Second)
	at := now.Add(s.cfg.SendingDelay)
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
		m.From = s.pickSender(m.To)
		m.NumSegments = segmentsFor(m.Body, len(m.MediaURLs), m.ContentSID)
		m.Status = statusQueued
		s.scheduleQueuedLocked(m, realNow)
	case statusScheduled:
		m.Status = statusQueued
		m.DateSent = &now
		s.scheduleQueuedLocked(m, realNow)
	case statusQueued:
		if !realNow.Before(m.validUntil) {
			m.Status, m.ErrorCode = statusFailed, 30036
		} else {
			m.Status = statusSending
			next = s.cfg.SentDelay
		}
	case statusSending:
		if f.FailedRatio > 0 && rand.Float64() < f.FailedRatio {
			m.Status, m.ErrorCode = statusFailed, orDefault(f.FailedCode, 30008)
		} else {
			m.Status = statusSent
			next = s.cfg.DeliveredDelay
		}
	case statusSent:
		if f.UndeliveredRatio > 0 && rand.Float64() < f.UndeliveredRatio {
			m.Status, m.ErrorCode = statusUndelivered, orDefault(f.UndeliveredCode, 30003)
		} else {
			m.Status = statusDelivered
		}
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
