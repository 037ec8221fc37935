package profiles

import (
	"cmp"
	"encoding/json"
	"net/netip"
	"slices"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// A flow-log record names two addresses; which one is the entity's own
// (local) decides whether the record is inbound or outbound, and so the
// byte counters, the windows and the findings. The learned local set is a
// monotone function of the set of records, so that orientation does not
// depend on the order in which they arrive:
//
//  1. Per-record rules orient a record by itself and teach its local
//     address: flow-direction egress (srcaddr is local) or ingress
//     (dstaddr), else a private–public pair (the private side; an
//     interface's own address is private, internet peers are public). A
//     DNS query's srcaddr is local too.
//  2. Co-occurrence: for records no rule orients (both addresses private,
//     or both public, and no flow-direction), each address collects the
//     distinct addresses it was seen with. On an interface's log every
//     record involves one of its own addresses, so its own address
//     collects partners; a remote host talks to one or two of them. An
//     address with CooccurPartners distinct partners is local.
//  3. The inventory (inventory.go): what EC2 says the entity's addresses
//     are, from CloudTrail responses and the --inventory file. It orients
//     a record no per-record rule orients before the addresses learned
//     from the records do (srcaddr in it: outbound; else dstaddr: inbound),
//     and its addresses are learned as local too. It comes after the
//     per-record rules so that a record they orient keeps its orientation
//     whatever facts arrive later (on a real log the two agree: an
//     interface's IPv4 traffic is logged with its private address); it
//     decides what they cannot: two private addresses (a scan between
//     two instances of a VPC) or two public ones (an instance's public
//     address, IPv6).
//  4. Records that no rule orients are oriented by the inventory, then by
//     the learned set (srcaddr learned: outbound; else dstaddr learned:
//     inbound), or else parked:
//     kept in the profile, and oriented and applied (counters, windows,
//     detectors) as soon as an address they carry is learned. Their bytes
//     and packets count as unknown meanwhile, and for good if they are
//     never oriented or dropped from the park: an unknown direction is
//     never counted as outbound or inbound.
//
// Learned addresses are never unlearned except by the MaxLocalAddrs cap.
// So the profile equals the one where every record was oriented with the
// final learned set, whatever the order, while
//
//   - no cap overflows: MaxLocalAddrs, MaxCooccurAddrs, MaxParked (a
//     parked record dropped, and so never oriented, in one order may be
//     oriented in another);
//   - no record's two addresses are both learned local (traffic between
//     two of the entity's own addresses, which a VPC flow log does not
//     normally carry: such a record is oriented by whichever was learned
//     first), nor one in the inventory and the other learned from the
//     records;
//   - the inventory's caps do not overflow (MaxInventoryInterfaces,
//     MaxInventoryAddrs), and the --inventory file does not change while
//     the profile lives;
//   - a parked record is oriented before the entity's latest event time
//     passes its own by WindowLateness (later, its counters are exact but
//     it is too late for the windows).
const (
	// CooccurPartners is how many distinct partners make an address local.
	// Three, because a remote host talking to an entity with two
	// addresses collects two.
	CooccurPartners = 3
	// MaxCooccurAddrs bounds the addresses whose partners are counted. A
	// full table drops its least recently seen address (least (LastSeen,
	// Addr)), or does not add a new one older than all: the entity's own
	// address is in every record, so it is the most recently seen, while
	// one-off peers churn.
	MaxCooccurAddrs = 64
	// MaxParked bounds the parked records. A full park keeps the greatest
	// by (event time, record), dropping the least, whose bytes stay
	// unknown. A record stays parked only until its entity's address is
	// learned, which the first record with a public peer, a flow-direction
	// or a DNS query does. Records of one interface reach vigil through
	// several partitions, so a port scan between two private addresses
	// (hundreds of probes) may all come before the record that tells the
	// address: 256 (about 15 KB, only while the address is unknown) holds
	// such a burst.
	MaxParked = 256
)

// Orientation is a flow record seen from the entity.
type Orientation struct {
	Local      netip.Addr `json:"local"`
	Remote     netip.Addr `json:"remote"`
	LocalPort  uint16     `json:"localPort"`
	RemotePort uint16     `json:"remotePort"`
	// Outbound is set when the local side sent the record's packets.
	Outbound bool `json:"outbound"`
}

// FlowRecord is what a profile keeps of a flow-log record it cannot
// orient yet, and what the detectors see of a record once it is. Addresses
// are unmapped and without zone; strings are the profile's own.
type FlowRecord struct {
	Time     time.Time        `json:"time"`
	Src      netip.Addr       `json:"src"`
	Dst      netip.Addr       `json:"dst"`
	SrcPort  uint16           `json:"srcPort"`
	DstPort  uint16           `json:"dstPort"`
	Protocol uint8            `json:"protocol"`
	Action   event.FlowAction `json:"action"`
	TCPFlags uint16           `json:"tcpFlags,omitempty"`
	Packets  uint64           `json:"packets"`
	Bytes    uint64           `json:"bytes"`
	// Direction is the record's flow-direction; a parked record has none
	// (it would have oriented it), so it is not stored.
	Direction event.Direction `json:"-"`
	ENI       string          `json:"eni,omitempty"`
	VPC       string          `json:"vpc,omitempty"`
	Subnet    string          `json:"subnet,omitempty"`
}

// OrientedFlow is a record with its orientation: what the detectors get.
type OrientedFlow struct {
	FlowRecord
	Orientation
}

// orientation is r seen with its source as the local side if outbound,
// else its destination.
func (r *FlowRecord) orientation(outbound bool) Orientation {
	if outbound {
		return Orientation{Local: r.Src, Remote: r.Dst, LocalPort: r.SrcPort, RemotePort: r.DstPort, Outbound: true}
	}
	return Orientation{Local: r.Dst, Remote: r.Src, LocalPort: r.DstPort, RemotePort: r.SrcPort}
}

// ruleOrientation applies the per-record rules: flow-direction, then the
// private side of a private–public pair.
func ruleOrientation(dir event.Direction, src, dst netip.Addr) (outbound, ok bool) {
	switch dir {
	case event.DirectionEgress:
		return true, true
	case event.DirectionIngress:
		return false, true
	}
	switch sp, dp := IsPrivate(src), IsPrivate(dst); {
	case sp && !dp:
		return true, true
	case dp && !sp:
		return false, true
	}
	return false, false
}

// Orient tells the local and remote side of r: by the per-record rules,
// else by the inventory, else by the learned local addresses. ok is false
// when none applies.
func (n *Network) Orient(r *FlowRecord) (o Orientation, ok bool) {
	if out, ok := ruleOrientation(r.Direction, r.Src, r.Dst); ok {
		return r.orientation(out), true
	}
	switch {
	case n.Inventory.Has(r.Src):
		return r.orientation(true), true
	case n.Inventory.Has(r.Dst):
		return r.orientation(false), true
	case n.IsLocal(r.Src):
		return r.orientation(true), true
	case n.IsLocal(r.Dst):
		return r.orientation(false), true
	}
	return Orientation{}, false
}

// IsLocal reports whether a was learned as one of the entity's addresses.
func (n *Network) IsLocal(a netip.Addr) bool {
	_, ok := slices.BinarySearchFunc(n.LocalAddrs, a.Unmap(), netip.Addr.Compare)
	return ok
}

// orientFlow learns what r teaches, then orients it: it returns ready with
// r appended when r is oriented, and with the parked records that a
// learned address oriented. A record that cannot be oriented is parked.
func (n *Network) orientFlow(r *FlowRecord, ready []OrientedFlow) []OrientedFlow {
	if out, ok := ruleOrientation(r.Direction, r.Src, r.Dst); ok {
		o := r.orientation(out)
		ready = n.learn(o.Local, ready)
		return n.apply(r, o, ready)
	}
	if r.Src != r.Dst {
		ready = n.addPartner(r.Src, r.Dst, r.Time, ready)
		ready = n.addPartner(r.Dst, r.Src, r.Time, ready)
	}
	if o, ok := n.Orient(r); ok {
		return n.apply(r, o, ready)
	}
	n.park(r)
	return ready
}

// apply counts an oriented record's bytes and hands it to the detectors.
func (n *Network) apply(r *FlowRecord, o Orientation, ready []OrientedFlow) []OrientedFlow {
	if o.Outbound {
		n.BytesOut += r.Bytes
		n.PacketsOut += r.Packets
	} else {
		n.BytesIn += r.Bytes
		n.PacketsIn += r.Packets
	}
	return append(ready, OrientedFlow{*r, o})
}

// learn records a as a local address and returns ready with the parked
// records it orients appended. A full set keeps the MaxLocalAddrs
// smallest addresses.
func (n *Network) learn(a netip.Addr, ready []OrientedFlow) []OrientedFlow {
	i, ok := slices.BinarySearchFunc(n.LocalAddrs, a, netip.Addr.Compare)
	if ok {
		return ready
	}
	if len(n.LocalAddrs) >= MaxLocalAddrs {
		if i == len(n.LocalAddrs) {
			return ready
		}
		n.LocalAddrs = n.LocalAddrs[:len(n.LocalAddrs)-1]
	}
	n.LocalAddrs = slices.Insert(n.LocalAddrs, i, a)
	if j, ok := slices.BinarySearchFunc(n.Cooccur, a, byCooccurAddr); ok {
		n.Cooccur = slices.Delete(n.Cooccur, j, j+1)
	}
	return n.unpark(a, ready)
}

// Cooccurrence is an address not learned yet and the distinct addresses
// it was seen with on records no rule orients: fewer than CooccurPartners.
type Cooccurrence struct {
	Addr     netip.Addr
	Partners [CooccurPartners - 1]netip.Addr // sorted; the zero Addr is none
	LastSeen time.Time
}

// MarshalJSON lists only the partners present.
func (c Cooccurrence) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Addr     netip.Addr   `json:"addr"`
		Partners []netip.Addr `json:"partners"`
		LastSeen time.Time    `json:"lastSeen"`
	}{c.Addr, c.partners(), c.LastSeen})
}

func (c *Cooccurrence) partners() []netip.Addr {
	n := 0
	for n < len(c.Partners) && c.Partners[n].IsValid() {
		n++
	}
	return c.Partners[:n]
}

func byCooccurAddr(c Cooccurrence, a netip.Addr) int { return c.Addr.Compare(a) }

func cooccurLess(a, b Cooccurrence) bool {
	if c := a.LastSeen.Compare(b.LastSeen); c != 0 {
		return c < 0
	}
	return a.Addr.Less(b.Addr)
}

// addPartner records that a was seen with partner at t; a learned local
// address counts no more.
func (n *Network) addPartner(a, partner netip.Addr, t time.Time, ready []OrientedFlow) []OrientedFlow {
	if n.IsLocal(a) {
		return ready
	}
	i, ok := slices.BinarySearchFunc(n.Cooccur, a, byCooccurAddr)
	if !ok {
		c := Cooccurrence{Addr: a, LastSeen: t}
		c.Partners[0] = partner
		n.Cooccur, _ = insertBounded(n.Cooccur, i, c, MaxCooccurAddrs, cooccurLess)
		return ready
	}
	c := &n.Cooccur[i]
	if t.After(c.LastSeen) {
		c.LastSeen = t
	}
	p := c.partners()
	j, found := slices.BinarySearchFunc(p, partner, netip.Addr.Compare)
	switch {
	case found:
	case len(p) < len(c.Partners):
		copy(c.Partners[j+1:], p[j:])
		c.Partners[j] = partner
	default:
		return n.learn(a, ready) // its CooccurPartners-th partner
	}
	return ready
}

// compareFlow orders records by time, then field by field.
func compareFlow(a, b *FlowRecord) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	if c := a.Src.Compare(b.Src); c != 0 {
		return c
	}
	if c := a.Dst.Compare(b.Dst); c != 0 {
		return c
	}
	for _, c := range [...]int{
		cmp.Compare(a.SrcPort, b.SrcPort), cmp.Compare(a.DstPort, b.DstPort), cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.Action, b.Action), cmp.Compare(a.TCPFlags, b.TCPFlags), cmp.Compare(a.Packets, b.Packets),
		cmp.Compare(a.Bytes, b.Bytes),
	} {
		if c != 0 {
			return c
		}
	}
	return compareStrings([]string{a.ENI, a.VPC, a.Subnet}, []string{b.ENI, b.VPC, b.Subnet})
}

func flowLess(a, b FlowRecord) bool { return compareFlow(&a, &b) < 0 }

// park keeps r until an address it carries is learned.
func (n *Network) park(r *FlowRecord) {
	n.BytesUnknown += r.Bytes
	n.PacketsUnknown += r.Packets
	i, _ := slices.BinarySearchFunc(n.Parked, *r, func(e, r FlowRecord) int { return compareFlow(&e, &r) })
	n.Parked, _ = insertBounded(n.Parked, i, *r, MaxParked, flowLess)
}

// unpark applies the parked records that carry the newly learned a.
func (n *Network) unpark(a netip.Addr, ready []OrientedFlow) []OrientedFlow {
	for i := 0; i < len(n.Parked); {
		r := &n.Parked[i]
		if r.Src != a && r.Dst != a {
			i++
			continue
		}
		o, ok := n.Orient(r)
		if !ok {
			i++
			continue
		}
		n.BytesUnknown -= min(n.BytesUnknown, r.Bytes)
		n.PacketsUnknown -= min(n.PacketsUnknown, r.Packets)
		ready = n.apply(r, o, ready)
		n.Parked = slices.Delete(n.Parked, i, i+1)
	}
	return ready
}
