package content

import (
	"hash/maphash"
	"sync"
	"time"
)

// Looking a number up in libphonenumber's metadata costs about 20 µs (regular expressions) and
// its time zones another 40 µs (a second parse, and time.LoadLocation reads the zone file each
// time): together about a tenth of the CPU an accepted message costs. One parse now yields the
// E.164 form, the region and the zones, and zone files are loaded once per name. Applications write to the same recipients again
// and again, so the answers for valid numbers are kept in a bounded cache. Only valid numbers are
// cached, so input an attacker controls cannot fill it with refusals, and the cache holds at most
// phoneCacheShards × phoneCacheShardSize = 65,536 entries (under 10 MiB): a full shard is emptied and
// starts again, which is cheaper than an LRU's bookkeeping on every hit.
const (
	phoneCacheShards    = 16
	phoneCacheShardSize = 4096
)

// boundedCache is a concurrent map from string keys with at most
// phoneCacheShards × phoneCacheShardSize entries. Values must not be modified once stored.
type boundedCache[V any] struct {
	seed   maphash.Seed
	shards [phoneCacheShards]cacheShard[V]
}

type cacheShard[V any] struct {
	mu sync.RWMutex
	m  map[string]V
}

func newBoundedCache[V any]() *boundedCache[V] {
	return &boundedCache[V]{seed: maphash.MakeSeed()}
}

func (c *boundedCache[V]) shard(key []byte) *cacheShard[V] {
	return &c.shards[maphash.Bytes(c.seed, key)%phoneCacheShards]
}

// get returns the value stored under key. It does not allocate.
func (c *boundedCache[V]) get(key []byte) (V, bool) {
	s := c.shard(key)
	s.mu.RLock()
	v, ok := s.m[string(key)]
	s.mu.RUnlock()
	return v, ok
}

// put stores v under key, emptying the key's shard first when it is full.
func (c *boundedCache[V]) put(key []byte, v V) {
	s := c.shard(key)
	s.mu.Lock()
	if s.m == nil || len(s.m) >= phoneCacheShardSize {
		s.m = make(map[string]V, phoneCacheShardSize)
	}
	s.m[string(key)] = v
	s.mu.Unlock()
}

// len returns the number of entries (for tests).
func (c *boundedCache[V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// phoneInfo is what the cache knows about a valid number, all found with one parse.
type phoneInfo struct {
	e164   string
	region string           // "" for non-geographic numbers
	zones  []*time.Location // shared: hand out copies
}

var (
	// phoneCache maps "+" and the digits of an input (formatting removed) to the number's info.
	phoneCache = newBoundedCache[phoneInfo]()
	// locations caches time.LoadLocation by zone name; the names come from libphonenumber's
	// metadata, a few hundred at most.
	locations sync.Map // string → *time.Location
)

// loadLocation is time.LoadLocation, remembered.
func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}
