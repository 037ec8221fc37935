package intel

import (
	"net/netip"
	"testing"
)

// TestV4Filter: the /24 filter in front of the IPv4 lookups never hides a
// listed address (a false "no" would drop a match) and answers no for
// /24s no network touches.
func TestV4Filter(t *testing.T) {
	f := newV4Filter()
	for _, p := range []string{"10.0.0.0/8", "192.0.2.77/32", "198.51.100.0/30", "203.0.113.0/23", "2001:db8::/32"} {
		f.add(netip.MustParsePrefix(p))
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.255.255.255", true}, {"10.0.0.1", true}, {"11.0.0.0", false}, {"9.255.255.255", false},
		{"192.0.2.77", true}, {"192.0.2.1", true}, {"192.0.3.77", false},
		{"198.51.100.200", true}, {"203.0.113.9", true}, {"203.0.112.9", true}, {"203.0.114.9", false},
		{"0.0.0.0", false}, {"255.255.255.255", false},
	} {
		if got := f.mayHold(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("mayHold(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
