package geoip

import (
	"net/netip"
	"testing"
)

// TestCacheBounded: a shard keeps at most two generations, and an entry
// used again survives the swap.
func TestCacheBounded(t *testing.T) {
	var c cache
	hot := netip.MustParseAddr("198.51.100.7")
	c.put(hot, Info{Country: "DE"}, true)
	for i := range 20 * cacheShards * cacheShardSize {
		c.put(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Info{}, false)
		if i%cacheShardSize == 0 {
			if e, ok := c.get(hot); !ok || e.info.Country != "DE" || !e.found {
				t.Fatalf("after %d puts the used entry is gone", i)
			}
		}
	}
	for i := range c.shards {
		s := &c.shards[i]
		if len(s.cur) > cacheShardSize || len(s.old) > cacheShardSize {
			t.Fatalf("shard %d holds %d + %d entries", i, len(s.cur), len(s.old))
		}
	}
}
