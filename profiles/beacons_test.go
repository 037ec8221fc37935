package profiles

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var beacon0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

type beaconRec struct {
	remote netip.Addr
	at     time.Time
	bytes  uint64
	ex     FlowExemplar
}

// beaconRecs is a minute's beacon to one host, duplicates within a second
// of different sizes, and one-off connections to many IPv6 hosts.
func beaconRecs() []beaconRec {
	var out []beaconRec
	c2 := netip.MustParseAddr("45.77.65.211")
	for i := range 200 {
		at := beacon0.Add(time.Duration(i) * time.Minute)
		x := FlowExemplar{Local: netip.MustParseAddr("10.0.7.21"), Remote: c2, LocalPort: uint16(40000 + i), RemotePort: 443, Protocol: 6,
			ENI: "eni-0beac0n00000001a", VPC: "vpc-0123456789abcdef0", Subnet: "subnet-0123456789abcdef0"}
		out = append(out, beaconRec{c2, at, 400 + uint64(i%7), x})
		if i%10 == 0 {
			x.LocalPort++
			out = append(out, beaconRec{c2, at, 900, x}) // a second record of the same start
		}
	}
	for h := range 300 {
		remote := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(h), 14: byte(h >> 8)})
		x := FlowExemplar{Local: netip.MustParseAddr("fd00::25"), Remote: remote, LocalPort: uint16(h), RemotePort: 8443,
			ENI: fmt.Sprintf("eni-%017x", h), VPC: fmt.Sprintf("vpc-%017x", h), Subnet: fmt.Sprintf("subnet-%017x", h)}
		for k := range 3 {
			out = append(out, beaconRec{remote, beacon0.Add(time.Duration(h*3+k) * 17 * time.Second), uint64(h * k), x})
		}
	}
	return out
}

func applyBeacons(recs []beaconRec) *Network {
	n := NewNetwork("1", "us-east-1", "i-0beac0n000000001a")
	for _, r := range recs {
		n.observe(r.at)
		n.ObserveBeacon(r.remote, r.at, r.bytes, r.ex)
	}
	return n
}

// TestBeaconsOrderIndependent applies the same records in several orders:
// the state is the same, capped as documented.
func TestBeaconsOrderIndependent(t *testing.T) {
	recs := beaconRecs()
	want, _ := json.Marshal(applyBeacons(recs).Beacons)
	for seed := range uint64(5) {
		s := slices.Clone(recs)
		rand.New(rand.NewPCG(seed, 3)).Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		n := applyBeacons(s)
		if got, _ := json.Marshal(n.Beacons); string(got) != string(want) {
			t.Fatalf("seed %d: state depends on order", seed)
		}
	}
	n := applyBeacons(recs)
	if len(n.Beacons.Hosts) != MaxBeaconHosts {
		t.Fatalf("%d hosts, want %d", len(n.Beacons.Hosts), MaxBeaconHosts)
	}
	// The hosts kept are the least by address hash.
	var all []netip.Addr
	for _, r := range recs {
		all = append(all, r.remote)
	}
	slices.SortFunc(all, netip.Addr.Compare)
	all = slices.Compact(all)
	slices.SortFunc(all, func(a, b netip.Addr) int { return cmp.Compare(addrHash(a), addrHash(b)) })
	all = all[:MaxBeaconHosts]
	slices.SortFunc(all, netip.Addr.Compare)
	var kept []netip.Addr
	for _, h := range n.Beacons.Hosts {
		kept = append(kept, h.Remote)
		if !slices.IsSortedFunc(h.Conns, func(a, b BeaconConn) int { return cmp.Compare(a.Time, b.Time) }) || len(h.Conns) > MaxBeaconConns {
			t.Fatalf("host %v: %d conns, unsorted or over the cap", h.Remote, len(h.Conns))
		}
	}
	if !slices.Equal(kept, all) {
		t.Fatalf("hosts kept %v, want the least by hash %v", kept, all)
	}
}

// TestBeaconsRoundTrip encodes a full state: it decodes to the same, stays
// under MaxBeaconsSize, and truncated or corrupted encodings fail without
// panicking.
func TestBeaconsRoundTrip(t *testing.T) {
	// Every host a full list: 64 connections each.
	var recs []beaconRec
	for h := range MaxBeaconHosts {
		remote := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(h)})
		x := FlowExemplar{Local: netip.MustParseAddr("fd00::25"), Remote: remote, LocalPort: 65535, RemotePort: 65535,
			ENI: fmt.Sprintf("eni-%017x", h), VPC: fmt.Sprintf("vpc-%017x", h), Subnet: fmt.Sprintf("subnet-%017x", h)}
		for k := range 2 * MaxBeaconConns {
			recs = append(recs, beaconRec{remote, beacon0.Add(time.Duration(k*1000+h) * time.Hour), 1 << 62, x})
		}
	}
	n := applyBeacons(recs)
	n.Beacons.Hosts[3].Reported = Day(beacon0)
	var e encoder
	n.Beacons.encode(&e)
	if len(e.b) > MaxBeaconsSize {
		t.Errorf("full state: %d bytes, more than MaxBeaconsSize %d", len(e.b), MaxBeaconsSize)
	}
	t.Logf("full state: %d bytes (MaxBeaconsSize %d)", len(e.b), MaxBeaconsSize)
	b := mustMarshal(t, n)
	var q Network
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode: %v", err)
	}
	g, _ := json.Marshal(q.Beacons)
	w, _ := json.Marshal(n.Beacons)
	if string(g) != string(w) {
		t.Fatalf("state changed across its encoding")
	}
	for i := range b {
		_ = new(Network).UnmarshalBinary(b[:i])
	}
}

// TestBeaconsDecodeHostile refuses states that contradict themselves.
func TestBeaconsDecodeHostile(t *testing.T) {
	c2 := netip.MustParseAddr("45.77.65.211")
	x := FlowExemplar{Remote: c2}
	for _, tc := range []struct {
		name   string
		break_ func(b *Beacons)
	}{
		{"unsorted hosts", func(b *Beacons) { b.Hosts[0], b.Hosts[1] = b.Hosts[1], b.Hosts[0] }},
		{"duplicate connections", func(b *Beacons) { b.Hosts[0].Conns[1].Time = b.Hosts[0].Conns[0].Time }},
		{"unsorted connections", func(b *Beacons) { b.Hosts[0].Conns[1].Time = b.Hosts[0].Conns[0].Time - 5 }},
		{"first after the kept", func(b *Beacons) { b.Hosts[0].First = b.Hosts[0].Conns[0].Time + 1 }},
		{"fewer records than connections", func(b *Beacons) { b.Hosts[0].Records = 1 }},
		{"host without connections", func(b *Beacons) { b.Hosts[0].Conns = nil }},
		{"too many connections", func(b *Beacons) {
			for i := range MaxBeaconConns {
				b.Hosts[0].Conns = append(b.Hosts[0].Conns, BeaconConn{Time: beacon0.Unix() + 1e6 + int64(i)})
			}
			b.Hosts[0].Records = 1 << 20
		}},
		{"too many hosts", func(b *Beacons) {
			for i := range MaxBeaconHosts {
				a := netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)})
				b.Hosts = append(b.Hosts, BeaconHost{Remote: a, Records: 1, First: beacon0.Unix(), Conns: []BeaconConn{{Time: beacon0.Unix()}}})
			}
			slices.SortFunc(b.Hosts, func(x, y BeaconHost) int { return x.Remote.Compare(y.Remote) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewNetwork("1", "us-east-1", "i-1")
			n.observe(beacon0)
			for i := range 3 {
				n.ObserveBeacon(c2, beacon0.Add(time.Duration(i)*time.Minute), 400, x)
				n.ObserveBeacon(netip.MustParseAddr("198.51.100.7"), beacon0.Add(time.Duration(i)*time.Minute), 400, x)
			}
			if err := new(Network).UnmarshalBinary(mustMarshal(t, n)); err != nil {
				t.Fatalf("valid state: %v", err)
			}
			tc.break_(&n.Beacons)
			if err := new(Network).UnmarshalBinary(mustMarshal(t, n)); err == nil {
				t.Fatal("decoded a hostile state")
			}
		})
	}
}
