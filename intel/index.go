package intel

import (
	"net/netip"
	"slices"
	"strings"
)

// prefixIndex finds the most specific listed network holding an address
// with one map lookup per distinct prefix length of the address's family:
// a few lookups for real lists (addresses plus a handful of network
// sizes), at most 33 for IPv4 and 129 for IPv6, whatever the entry count.
type prefixIndex struct {
	// m maps a masked network to its value (the list holding it).
	m map[netip.Prefix]int32
	// lens4 and lens6 are the prefix lengths present, longest first.
	lens4, lens6 []uint8
}

// add indexes p with value v; a network already indexed keeps its value.
func (x *prefixIndex) add(p netip.Prefix, v int) {
	p = p.Masked()
	if x.m == nil {
		x.m = make(map[netip.Prefix]int32)
	}
	if _, dup := x.m[p]; dup {
		return
	}
	x.m[p] = int32(v)
	lens := &x.lens6
	if p.Addr().Is4() {
		lens = &x.lens4
	}
	b := uint8(p.Bits())
	if i, found := slices.BinarySearchFunc(*lens, b, func(e, t uint8) int { return int(t) - int(e) }); !found {
		*lens = slices.Insert(*lens, i, b)
	}
}

// lookup returns the most specific indexed network holding a and its
// value.
func (x *prefixIndex) lookup(a netip.Addr) (netip.Prefix, int, bool) {
	lens := x.lens6
	if a.Is4() {
		lens = x.lens4
	}
	for _, b := range lens {
		p, _ := a.Prefix(int(b))
		if v, ok := x.m[p]; ok {
			return p, int(v), true
		}
	}
	return netip.Prefix{}, 0, false
}

// domainIndex holds exact domains and wildcard domains ("*.example.org",
// stored as "example.org"), each with a value.
type domainIndex struct {
	exact, under map[string]int32
}

func (x *domainIndex) add(d string, wildcard bool, v int) {
	m := &x.exact
	if wildcard {
		m = &x.under
	}
	if *m == nil {
		*m = make(map[string]int32)
	}
	if _, dup := (*m)[d]; !dup {
		(*m)[d] = int32(v)
	}
}

func (x *domainIndex) empty() bool { return len(x.exact) == 0 && len(x.under) == 0 }

// lookup returns the entry name matches — itself, or the nearest wildcard
// parent, written "*.parent" — and its value. name must be normalised
// (lower case, no trailing dot).
func (x *domainIndex) lookup(name string) (entry string, v int, ok bool) {
	if i, ok := x.exact[name]; ok {
		return name, int(i), true
	}
	if len(x.under) == 0 {
		return "", 0, false
	}
	for rest := name; ; {
		dot := strings.IndexByte(rest, '.')
		if dot < 0 {
			return "", 0, false
		}
		rest = rest[dot+1:]
		if i, ok := x.under[rest]; ok {
			return "*." + rest, int(i), true
		}
	}
}

// routable reports whether a is an address threat lists apply to: as
// GuardDuty's, lists only apply to publicly routable addresses, so
// private, loopback, link-local, multicast and unspecified addresses
// match nothing.
func routable(a netip.Addr) bool {
	return a.IsValid() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!a.IsLinkLocalMulticast() && !a.IsInterfaceLocalMulticast() && !a.IsMulticast() && !a.IsUnspecified()
}

// v4Filter has a bit per IPv4 /24 that holds or lies in a listed network.
// Most addresses a flow record or an API call carries are on no list; one
// bit test answers them without a map lookup per listed prefix length
// (which cost about 2 µs an address with the bundled lists). It takes
// 2 MiB.
type v4Filter []uint64

func newV4Filter() v4Filter { return make(v4Filter, 1<<24/64) }

// add marks the /24s of IPv4 network p.
func (f v4Filter) add(p netip.Prefix) {
	if !p.Addr().Is4() {
		return
	}
	p = p.Masked()
	b := p.Addr().As4()
	first := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	n := uint32(1)
	if p.Bits() < 24 {
		n = 1 << (24 - p.Bits())
	}
	for i := first; i < first+n; i++ {
		f[i/64] |= 1 << (i % 64)
	}
}

// mayHold reports whether IPv4 address a may be listed: false is certain.
func (f v4Filter) mayHold(a netip.Addr) bool {
	b := a.As4()
	i := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	return f[i/64]&(1<<(i%64)) != 0
}
