package intel

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
)

// BenchmarkIP is the caller check of every CloudTrail event: the built-in
// lists, and the built-in lists with a full customer threat list (250,000
// entries, addresses and networks of five sizes) and a trusted list.
func BenchmarkIP(b *testing.B) {
	var list strings.Builder
	for i := range MaxThreatEntries {
		switch i % 10 {
		case 0:
			fmt.Fprintf(&list, "%d.%d.0.0/16\n", 20+i%200, i%256)
		case 1:
			fmt.Fprintf(&list, "%d.%d.%d.0/24\n", 20+i%200, i/256%256, i%256)
		case 2:
			fmt.Fprintf(&list, "2001:db8:%x:%x::/64\n", i>>16, i&0xffff)
		case 3:
			fmt.Fprintf(&list, "%d.%d.%d.%d/28\n", 20+i%200, i/65536%256, i/256%256, i%256&0xf0)
		default:
			fmt.Fprintf(&list, "%d.%d.%d.%d\n", 20+i%200, i/65536%256, i/256%256, i%256)
		}
	}
	full := fstest.MapFS{
		"custom/lists.json": {Data: []byte(`{"lists": [{"name": "big", "format": "TXT", "kind": "threat", "file": "big.txt"},
			{"name": "ours", "format": "TXT", "kind": "trusted", "file": "ours.txt"}]}`)},
		"custom/big.txt":  {Data: []byte(list.String())},
		"custom/ours.txt": {Data: []byte("198.51.100.0/24\n192.0.2.7\n2001:db8:ffff::/48\n")},
	}
	withCustom, err := loadOver(full, builtinFS())
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []struct {
		name string
		set  *Set
	}{{"builtin", Default()}, {"custom250k", withCustom}} {
		for _, a := range []string{"52.94.133.131", "2600:1f18::1", "185.220.101.1"} {
			addr := netip.MustParseAddr(a)
			b.Run(s.name+"/"+a, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					s.set.IP(addr)
				}
			})
		}
	}
}
