package switchboard

import (
	"slices"
	"sync/atomic"
)

// SenderSet is one snapshot of the senders, with the lookups the services need: by From, and
// the members of each pool in order. It is never changed after NewSenderSet; a node swaps in a
// new one (LiveSenders) when the stored senders change, so that a reader sees one consistent
// set for the whole of a request.
type SenderSet struct {
	list   []Sender
	byFrom map[string]Sender
	pools  map[string][]string
}

// NewSenderSet returns the set of senders, in their order (the first listed wins a duplicate).
func NewSenderSet(senders []Sender) *SenderSet {
	s := &SenderSet{byFrom: make(map[string]Sender, len(senders)), pools: map[string][]string{}}
	for _, snd := range senders {
		if _, dup := s.byFrom[snd.From]; dup {
			continue
		}
		s.list = append(s.list, snd)
		s.byFrom[snd.From] = snd
		s.pools[snd.Pool] = append(s.pools[snd.Pool], snd.From)
	}
	return s
}

// All returns the senders in order (a copy).
func (s *SenderSet) All() []Sender { return slices.Clone(s.list) }

// Len is the number of senders.
func (s *SenderSet) Len() int { return len(s.list) }

// Get returns the sender with this From, and whether there is one.
func (s *SenderSet) Get(from string) (Sender, bool) {
	snd, ok := s.byFrom[from]
	return snd, ok
}

// Pool returns the Froms of a pool's members in order (nil for an unknown pool). The slice is
// shared: callers must not change it.
func (s *SenderSet) Pool(name string) []string { return s.pools[name] }

// DefaultPoolName is the pool of a message that names none: DefaultPool when it has members,
// else the first sender's pool (a configuration whose only pool has another name).
func (s *SenderSet) DefaultPoolName() string {
	if _, ok := s.pools[DefaultPool]; !ok && len(s.list) > 0 {
		return s.list[0].Pool
	}
	return DefaultPool
}

// LiveSenders holds the current SenderSet. Services that choose or pace senders read it per
// request; the node stores a new set when the stored senders change (sender_refresh_interval).
// It is safe for concurrent use.
type LiveSenders struct {
	p atomic.Pointer[SenderSet]
}

// NewLiveSenders returns a LiveSenders holding senders.
func NewLiveSenders(senders []Sender) *LiveSenders {
	l := &LiveSenders{}
	l.Store(senders)
	return l
}

// Load returns the current set.
func (l *LiveSenders) Load() *SenderSet { return l.p.Load() }

// Store makes senders the current set.
func (l *LiveSenders) Store(senders []Sender) { l.p.Store(NewSenderSet(senders)) }
