package geoip_test

import (
	"net/netip"
	"os"
	"testing"

	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/geoip/geoiptest"
)

// benchAddrs are public addresses of several networks, countries and both
// families, as CloudTrail callers are.
var benchAddrs = func() []netip.Addr {
	var out []netip.Addr
	for _, s := range []string{
		"1.1.1.1", "8.8.8.8", "81.2.69.160", "3.5.140.2", "52.95.110.1", "185.220.101.4",
		"203.0.113.9", "198.51.100.7", "2001:4860:4860::8888", "2a03:2880:f10c:83:face:b00c:0:25de",
	} {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}()

// BenchmarkLookup measures one address through every database: on the
// fixture, and on the real databases when VIGIL_GEOIP_DIR names a
// directory `make data` filled; "cached" repeats ten addresses, "misses"
// looks up a new one every time.
func BenchmarkLookup(b *testing.B) {
	cached := func(b *testing.B, db *geoip.DB) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			db.Lookup(benchAddrs[i%len(benchAddrs)])
		}
	}
	misses := func(b *testing.B, db *geoip.DB) {
		b.ReportAllocs()
		for i := uint32(0); b.Loop(); i++ {
			x := i * 2654435761 // spread over the address space
			db.Lookup(netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}))
		}
	}
	fix := geoiptest.Open(b, fixture...)
	b.Run("fixture/cached", func(b *testing.B) { cached(b, fix) })
	b.Run("fixture/misses", func(b *testing.B) { misses(b, fix) })
	dir := os.Getenv("VIGIL_GEOIP_DIR")
	if dir == "" {
		return
	}
	db := geoip.Open(dir)
	defer db.Close()
	if st := db.Status(); st.Degraded() {
		b.Fatalf("databases: %v", st.Problems)
	}
	b.Run("real/cached", func(b *testing.B) { cached(b, db) })
	b.Run("real/misses", func(b *testing.B) { misses(b, db) })
}
