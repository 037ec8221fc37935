package profiles

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
)

type rec struct {
	src, dst string
	dir      event.Direction
}

func (r rec) event(at time.Time) *event.Event {
	ev := flowEvent(at, r.src, r.dst, 40000, 22, event.ActionAccept)
	ev.Flow.Direction = r.dir
	return ev
}

func TestNetworkOrient(t *testing.T) {
	for _, tc := range []struct {
		name      string
		learn     []rec // records observed first
		dns       string
		rec       rec
		wantLocal string // "" for not oriented: parked
		outbound  bool
	}{
		{name: "flow-direction egress", rec: rec{"10.0.1.25", "10.0.1.26", event.DirectionEgress}, wantLocal: "10.0.1.25", outbound: true},
		{name: "flow-direction ingress", rec: rec{"10.0.1.26", "10.0.1.25", event.DirectionIngress}, wantLocal: "10.0.1.25"},
		{name: "private to public is outbound", rec: rec{"10.0.1.25", "1.1.1.1", 0}, wantLocal: "10.0.1.25", outbound: true},
		{name: "public to private is inbound", rec: rec{"198.51.100.7", "10.0.1.25", 0}, wantLocal: "10.0.1.25"},
		{name: "shared address space is private", rec: rec{"100.64.3.4", "8.8.8.8", 0}, wantLocal: "100.64.3.4", outbound: true},
		{name: "two private, nothing learned: parked", rec: rec{"10.0.1.26", "10.0.1.25", 0}},
		{name: "two public, nothing learned: parked", rec: rec{"2001:db8::1", "2001:db8::2", 0}},
		{
			name:  "two private, local learned from public traffic",
			learn: []rec{{"10.0.1.25", "52.216.229.53", 0}},
			rec:   rec{"10.0.1.26", "10.0.1.25", 0}, wantLocal: "10.0.1.25",
		},
		{
			name: "two private, local learned from a DNS query", dns: "10.0.1.25",
			rec: rec{"10.0.1.26", "10.0.1.25", 0}, wantLocal: "10.0.1.25",
		},
		{
			name:  "two private, local learned from three partners",
			learn: []rec{{"10.0.1.25", "10.0.2.9", 0}, {"10.0.3.3", "10.0.1.25", 0}},
			rec:   rec{"10.0.1.26", "10.0.1.25", 0}, wantLocal: "10.0.1.25",
		},
		{
			name:  "two partners are not enough",
			learn: []rec{{"10.0.1.25", "10.0.2.9", 0}, {"10.0.1.26", "10.0.1.25", 0}},
			rec:   rec{"10.0.1.26", "10.0.1.25", 0},
		},
		{
			name:  "public pair, IPv6 local learned from three partners",
			learn: []rec{{"2001:db8::10", "2001:db8:1::1", 0}, {"2001:db8:2::2", "2001:db8::10", 0}},
			rec:   rec{"2001:db8::10", "2001:db8:3::3", 0}, wantLocal: "2001:db8::10", outbound: true,
		},
		{
			name:  "a per-record rule is not overridden by what was learned",
			learn: []rec{{"1.1.1.1", "10.0.0.1", event.DirectionEgress}},
			rec:   rec{"1.1.1.1", "10.0.1.25", 0}, wantLocal: "10.0.1.25",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewNetwork("111122223333", "us-east-1", "i-1")
			for i, r := range tc.learn {
				n.Observe(r.event(t0.Add(time.Duration(i)*time.Second)), nil)
			}
			if tc.dns != "" {
				n.Observe(dnsEvent(t0, "example.com", tc.dns), nil)
			}
			parked := len(n.Parked)
			ready := n.Observe(tc.rec.event(t0.Add(time.Minute)), nil)
			var got *OrientedFlow
			for i := range ready {
				if ready[i].Time.Equal(t0.Add(time.Minute)) {
					got = &ready[i]
				}
			}
			if tc.wantLocal == "" {
				if got != nil || len(n.Parked) != parked+1 {
					t.Fatalf("oriented %+v, %d parked; want it parked", got, len(n.Parked))
				}
				return
			}
			if got == nil {
				t.Fatalf("not oriented (learned %v, parked %d)", n.LocalAddrs, len(n.Parked))
			}
			if got.Local != netip.MustParseAddr(tc.wantLocal) || got.Outbound != tc.outbound {
				t.Fatalf("oriented local %s outbound %v; want %s %v (learned %v)", got.Local, got.Outbound, tc.wantLocal, tc.outbound, n.LocalAddrs)
			}
			if got.Outbound && (got.LocalPort != 40000 || got.RemotePort != 22) || !got.Outbound && (got.LocalPort != 22 || got.RemotePort != 40000) {
				t.Fatalf("ports local %d remote %d", got.LocalPort, got.RemotePort)
			}
		})
	}
}

// TestNetworkParking: records that cannot be oriented wait, their bytes
// unknown, and are applied when an address they carry is learned.
func TestNetworkParking(t *testing.T) {
	n := NewNetwork("111122223333", "us-east-1", "eni-1")
	for i := range 5 {
		if ready := n.Observe(rec{"10.0.1.25", "10.0.2.40", 0}.event(t0.Add(time.Duration(i)*time.Second)), nil); len(ready) != 0 {
			t.Fatalf("record %d oriented: %+v", i, ready)
		}
	}
	if len(n.Parked) != 5 || n.BytesUnknown != 600 || n.PacketsUnknown != 10 || n.BytesOut+n.BytesIn != 0 {
		t.Fatalf("parked %d, unknown %d bytes %d packets, in+out %d", len(n.Parked), n.BytesUnknown, n.PacketsUnknown, n.BytesIn+n.BytesOut)
	}
	ready := n.Observe(rec{"10.0.1.25", "52.94.222.144", 0}.event(t0.Add(time.Minute)), nil)
	if len(ready) != 6 || len(n.Parked) != 0 || n.BytesUnknown != 0 || n.BytesOut != 720 || n.PacketsOut != 12 {
		t.Fatalf("%d ready, %d parked, unknown %d, out %d", len(ready), len(n.Parked), n.BytesUnknown, n.BytesOut)
	}
	for _, r := range ready {
		if !r.Outbound || r.Local != netip.MustParseAddr("10.0.1.25") {
			t.Fatalf("unparked record %+v", r)
		}
	}
	// A full park keeps the latest records; the bytes of the others stay
	// unknown.
	n = NewNetwork("111122223333", "us-east-1", "eni-1")
	for i := range MaxParked + 8 {
		n.Observe(rec{"10.0.1.25", "10.0.2.40", 0}.event(t0.Add(time.Duration(i)*time.Second)), nil)
	}
	if len(n.Parked) != MaxParked || !n.Parked[0].Time.Equal(t0.Add(8*time.Second)) {
		t.Fatalf("parked %d from %v", len(n.Parked), n.Parked[0].Time)
	}
	n.Observe(rec{"10.0.1.25", "52.94.222.144", 0}.event(t0.Add(time.Minute)), nil)
	if n.BytesUnknown != 8*120 || n.BytesOut != (MaxParked+1)*120 {
		t.Fatalf("unknown %d out %d", n.BytesUnknown, n.BytesOut)
	}
}

func TestNetworkObserveCounters(t *testing.T) {
	n := NewNetwork("111122223333", "us-east-1", "i-00779ebad43b2470d")
	n.Observe(flowEvent(t0, "10.0.1.25", "1.1.1.1", 40612, 853, event.ActionAccept), nil)
	n.Observe(flowEvent(t0, "1.1.1.1", "10.0.1.25", 853, 40612, event.ActionAccept), nil)
	n.Observe(flowEvent(t0, "203.0.113.99", "10.0.1.25", 51514, 3389, event.ActionReject), nil)
	n.Observe(flowEvent(t0, "10.0.5.5", "10.0.6.6", 1, 2, event.ActionAccept), nil) // parked
	nodata := flowEvent(t0, "10.0.1.25", "1.1.1.1", 0, 0, event.ActionNone)
	nodata.Flow.LogStatus, nodata.Flow.Src, nodata.Flow.Dst = event.StatusNoData, netip.Addr{}, netip.Addr{}
	n.Observe(nodata, nil)
	skip := flowEvent(t0, "10.0.1.25", "1.1.1.1", 0, 0, event.ActionNone)
	skip.Flow.LogStatus = event.StatusSkipData
	n.Observe(skip, nil)
	n.Observe(dnsEvent(t0, "example.com", "10.0.1.25"), nil)
	want := [...]uint64{4, 3, 1, 1, 1, 120, 240, 120, 2, 4, 2, 1}
	got := [...]uint64{n.Flows, n.Accepted, n.Rejected, n.NoData, n.SkipData, n.BytesOut, n.BytesIn, n.BytesUnknown,
		n.PacketsOut, n.PacketsIn, n.PacketsUnknown, n.DNSQueries}
	if got != want {
		t.Errorf("counters = %v, want %v", got, want)
	}
	if n.InstanceID != "i-00779ebad43b2470d" || len(n.ENIs) != 1 || n.ENIs[0].VPCID != "vpc-0123456789abcdef0" {
		t.Errorf("identity = %q %+v", n.InstanceID, n.ENIs)
	}
	if e, ok := n.LatestENI(); !ok || e.ID != "eni-0a1b2c3d4e5f67890" {
		t.Errorf("LatestENI = %+v %v", e, ok)
	}
	if len(n.LocalAddrs) != 1 || !n.IsLocal(netip.MustParseAddr("10.0.1.25")) {
		t.Errorf("local addresses = %v", n.LocalAddrs)
	}
}

// TestNetworkLatest: instance and interface details are the latest by
// (event time, value), whatever the order.
func TestNetworkLatest(t *testing.T) {
	ev := func(at time.Time, instance, eni, vpc, subnet string) *event.Event {
		e := flowEvent(at, "10.0.1.25", "1.1.1.1", 1, 2, event.ActionAccept)
		e.Flow.InstanceID, e.Flow.InterfaceID, e.Flow.VPCID, e.Flow.SubnetID = instance, eni, vpc, subnet
		return e
	}
	evs := []*event.Event{
		ev(t0, "i-b", "eni-1", "vpc-1", "subnet-1"),
		ev(t0, "i-a", "eni-1", "vpc-1", "subnet-2"),
		ev(t0.Add(-time.Minute), "i-z", "eni-1", "vpc-9", "subnet-9"),
		ev(t0.Add(time.Minute), "", "eni-1", "", ""), // v2: no details
		ev(t0.Add(-time.Hour), "", "eni-2", "vpc-2", ""),
	}
	b := checkOrderIndependent(t, func() Profile { return NewNetwork("1", "r", "i-b") }, evs, 20)
	var n Network
	if err := n.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if e, _ := n.LatestENI(); n.InstanceID != "i-b" || e.ID != "eni-1" || e.VPCID != "vpc-1" || e.SubnetID != "subnet-2" ||
		!e.LastSeen.Equal(t0.Add(time.Minute)) || !e.DetailsSeen.Equal(t0) {
		j, _ := json.Marshal(n)
		t.Errorf("latest: %s", j)
	}
}

// TestNetworkOrderIndependent: a mixed log — the tour's scan between two
// private addresses before and after the interface's address is known,
// co-occurring IPv6 peers, DNS queries, NODATA — gives the same profile
// in any order.
func TestNetworkOrderIndependent(t *testing.T) {
	var evs []*event.Event
	for i := range 24 {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		v2 := func(ev *event.Event) *event.Event {
			ev.Flow.Version, ev.Flow.InstanceID, ev.Flow.VPCID, ev.Flow.SubnetID = 2, "", "", ""
			return ev
		}
		evs = append(evs,
			v2(flowEvent(at, "10.0.1.25", "10.0.2.40", uint16(50000+i), uint16(20+i), event.ActionReject)),
			v2(flowEvent(at, "10.0.2.40", "10.0.1.25", uint16(20+i), uint16(50000+i), event.ActionAccept)),
			v2(flowEvent(at, "2001:db8::10", fmt.Sprintf("2001:db8:%x::1", i%5), 443, uint16(40000+i), event.ActionAccept)))
		if i%8 == 7 {
			evs = append(evs, v2(flowEvent(at, "10.0.1.25", "52.94.222.144", uint16(40000+i), 443, event.ActionAccept)))
		}
	}
	evs = append(evs, dnsEvent(t0, "example.com", "10.0.1.25"))
	b := checkOrderIndependent(t, func() Profile { return NewNetwork("111122223333", "us-east-1", "eni-0a1b2c3d4e5f67890") }, evs, 50)
	var n Network
	if err := n.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if len(n.Parked) != 0 || n.BytesUnknown != 0 || len(n.LocalAddrs) != 2 || n.Flows != uint64(len(evs)-1) {
		j, _ := json.MarshalIndent(n, "", " ")
		t.Errorf("profile:\n%s", j)
	}
}

// TestNetworkCaps floods every list of a network profile for the whole
// lateness horizon, with IPv6 remotes, ports across the range and a new
// interface on every record: the worst an attacker (or a very busy host)
// can do, and still under MaxNetworkSize.
func TestNetworkCaps(t *testing.T) {
	n := NewNetwork("1", "us-east-1", "i-00779ebad43b2470d")
	const w, events = 10 * time.Minute, 3000
	every := WindowLateness / events
	long := strings.Repeat("d", 200)
	for i := range events {
		at := t0.Add(time.Duration(i) * every)
		remote := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8)})
		ev := flowEvent(at, "10.0.1.25", remote.String(), 40000, uint16(i), event.ActionAccept)
		ev.Flow.InterfaceID = fmt.Sprintf("eni-%017x", i)
		ev.Flow.Src = netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i % 256)})
		ev.Flow.Direction = event.DirectionEgress
		n.Observe(ev, nil)
		n.Observe(flowEvent(at, netip.AddrFrom4([4]byte{192, 168, byte(i / 256), byte(i % 256)}).String(), "10.9.9.9", 1, 2, event.ActionAccept), nil)
		x := FlowExemplar{Local: netip.MustParseAddr("fd00::25"), Remote: remote, LocalPort: uint16(i), RemotePort: uint16(i * 7),
			ENI: fmt.Sprintf("eni-%017x", i), VPC: fmt.Sprintf("vpc-%017x", i), Subnet: fmt.Sprintf("subnet-%017x", i)}
		for k := range 8 {
			port := uint16(i*8+k) * 613
			n.ObserveProbe(remote, port, at, x, w, 25)
			n.ObserveProbe(netip.MustParseAddr("2001:db8::1"), port, at, x, w, 25)
			n.ObserveSSHInbound(remote, port, at, x, w, 10)
			n.ObserveSSHOutbound(remote, port, at, x, w, 20)
			n.ObserveSSHFanout(netip.AddrFrom16([16]byte{0x20, 0x01, 15: byte(k), 14: byte(i)}), at, x, w, 30)
			name := fmt.Sprintf("%s-%d.example", long, i)
			n.ObserveDNSTunnel(name, uint32(i*8+k)*2654435761, at, DNSExemplar{Name: strings.Repeat("n", 40) + "." + name, VPC: x.VPC}, w, 30)
		}
	}
	if len(n.ENIs) != MaxENIs || len(n.LocalAddrs) != MaxLocalAddrs || len(n.Parked) != MaxParked || len(n.Cooccur) != MaxCooccurAddrs {
		t.Errorf("ENIs %d, local addresses %d, parked %d, cooccur %d", len(n.ENIs), len(n.LocalAddrs), len(n.Parked), len(n.Cooccur))
	}
	for name, l := range map[string]int{"probes": len(n.Probes.Panes), "sshInbound": len(n.SSHInbound.Panes), "sshOutbound": len(n.SSHOutbound.Panes)} {
		if l != MaxPortPanes {
			t.Errorf("%s has %d panes, want %d", name, l, MaxPortPanes)
		}
	}
	if len(n.DNSTunnel.Panes) != MaxDomainPanes || len(n.SSHFanout.Panes) < 70 {
		t.Errorf("dns panes %d, fan-out panes %d", len(n.DNSTunnel.Panes), len(n.SSHFanout.Panes))
	}
	// The busy remote's latest pane survives the churn of new remotes (its
	// older ones do not: the list keeps its most recent panes).
	last := t0.Add((events - 1) * every)
	if busy := n.Probes.Find(netip.MustParseAddr("2001:db8::1"), paneIndex(last, w/2)); busy == nil || len(busy.Keys) != MaxWindowKeys {
		t.Fatalf("busy remote pane = %+v", busy)
	}
	b := mustMarshal(t, n)
	if len(b) > MaxNetworkSize {
		t.Errorf("encoding of a flooded network profile is %d bytes, more than MaxNetworkSize %d", len(b), MaxNetworkSize)
	}
	t.Logf("flooded network profile: %d bytes (MaxNetworkSize %d)", len(b), MaxNetworkSize)
	if err := new(Network).UnmarshalBinary(b); err != nil {
		t.Fatalf("a capped profile does not decode: %v", err)
	}
}
