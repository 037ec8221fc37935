package geoip

import (
	"net/netip"
	"sync"
)

// cache keeps recent answers. A lookup through the four databases takes
// 1–4 µs and three small allocations on the real data, a cached one 90 ns
// and none (go test -bench Lookup ./geoip/ with VIGIL_GEOIP_DIR set),
// which matters since every CloudTrail event may be looked up once per
// enabled region, and callers repeat.
//
// It is split into cacheShards shards by address, each a mutex and two
// generations of at most cacheShardSize answers: a hit in the old
// generation moves to the new one, and when the new one is full the old is
// dropped and the new becomes old. That keeps the recently used answers
// with no per-entry bookkeeping, in at most 2 × cacheShards ×
// cacheShardSize entries (32,768; about 5 MB).
type cache struct {
	shards [cacheShards]cacheShard
}

const (
	cacheShards    = 16
	cacheShardSize = 1024
)

type cacheShard struct {
	mu       sync.Mutex
	cur, old map[netip.Addr]cacheEntry
}

type cacheEntry struct {
	info  Info
	found bool
}

func (c *cache) shard(a netip.Addr) *cacheShard {
	b := a.As16()
	// The low bytes vary most between callers of both families.
	return &c.shards[(b[15]^b[14]^b[11])%cacheShards]
}

func (c *cache) get(a netip.Addr) (cacheEntry, bool) {
	s := c.shard(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.cur[a]; ok {
		return e, true
	}
	e, ok := s.old[a]
	if ok {
		s.add(a, e)
	}
	return e, ok
}

func (c *cache) put(a netip.Addr, info Info, found bool) {
	s := c.shard(a)
	s.mu.Lock()
	s.add(a, cacheEntry{info, found})
	s.mu.Unlock()
}

func (s *cacheShard) add(a netip.Addr, e cacheEntry) {
	if len(s.cur) >= cacheShardSize {
		s.old, s.cur = s.cur, nil
	}
	if s.cur == nil {
		s.cur = make(map[netip.Addr]cacheEntry, cacheShardSize)
	}
	s.cur[a] = e
}
