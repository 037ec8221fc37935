package profiles

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// Network is the profile of a network entity: an EC2 instance when the
// records name it, a network interface otherwise (or "ip:<addr>" for DNS
// queries from an unnamed source), built from VPC flow-log and Route 53
// Resolver query-log records.
type Network struct {
	Header
	InstanceID string `json:"instanceId,omitempty"`
	// ENIs are the network interfaces seen for the entity, sorted by id.
	ENIs []ENI `json:"enis"`
	// LocalAddrs are the entity's own addresses, learned from the records
	// (see Orient), sorted by address.
	LocalAddrs []LocalAddr `json:"localAddrs"`
	// LocalCandidates is the address pair of the last record whose local
	// side could not be told (both addresses private): the next record
	// that shares exactly one of them reveals it.
	LocalCandidates []netip.Addr `json:"localCandidates,omitempty"`

	// Flow-log counters. Flows counts OK records; NoData and SkipData the
	// records of intervals without traffic or with records skipped.
	Flows      uint64 `json:"flows"`
	Accepted   uint64 `json:"accepted"`
	Rejected   uint64 `json:"rejected"`
	NoData     uint64 `json:"noData"`
	SkipData   uint64 `json:"skipData"`
	BytesIn    uint64 `json:"bytesIn"`
	BytesOut   uint64 `json:"bytesOut"`
	PacketsIn  uint64 `json:"packetsIn"`
	PacketsOut uint64 `json:"packetsOut"`
	// DNSQueries counts Route 53 Resolver queries.
	DNSQueries uint64 `json:"dnsQueries"`

	// Detection windows (see window.go).
	// Probes: outbound probe-like connections per remote host, distinct
	// remote ports (Recon:EC2/Portscan).
	Probes PortWindows `json:"probes"`
	// SSHInbound: inbound connections to local port 22 per remote host,
	// distinct remote source ports (SSH brute force, TARGET).
	SSHInbound PortWindows `json:"sshInbound"`
	// SSHOutbound: outbound connections to remote port 22 per remote host,
	// distinct local source ports (SSH brute force, ACTOR).
	SSHOutbound PortWindows `json:"sshOutbound"`
	// SSHFanout: distinct remote hosts reached on port 22 (SSH brute
	// force, ACTOR, many hosts).
	SSHFanout AddrWindow `json:"sshFanout"`
	// DNSTunnel: distinct encoded-looking query names per registrable
	// domain (Trojan:EC2/DNSDataExfiltration).
	DNSTunnel DomainWindows `json:"dnsTunnel"`
}

// ENI is a network interface of the entity.
type ENI struct {
	ID       string    `json:"id"`
	VPCID    string    `json:"vpcId,omitempty"`
	SubnetID string    `json:"subnetId,omitempty"`
	LastSeen time.Time `json:"lastSeen"`
}

// LocalAddr is an address learned as the entity's own.
type LocalAddr struct {
	Addr     netip.Addr `json:"addr"`
	LastSeen time.Time  `json:"lastSeen"`
}

// NewNetwork returns the empty profile of a network entity.
func NewNetwork(account, region, entity string) *Network {
	return &Network{Header: newHeader(account, region, entity)}
}

// Kind returns event.KindNetwork.
func (n *Network) Kind() event.EntityKind { return event.KindNetwork }

// Observe updates the identity, the learned local addresses and the
// counters with ev. The detection windows are updated by the detectors.
func (n *Network) Observe(ev *event.Event) {
	t := ev.Time.UTC()
	n.observe(t)
	switch {
	case ev.Flow != nil:
		n.observeFlow(ev.Flow, t)
	case ev.DNS != nil:
		q := ev.DNS
		n.DNSQueries++
		if q.InstanceID != "" {
			keep(&n.InstanceID, q.InstanceID, MaxIDLen)
		}
		// The querying address is the entity's own.
		if a := q.SrcAddr.Unmap().WithZone(""); a.IsValid() {
			n.learn(a, t)
		}
	}
}

func (n *Network) observeFlow(f *event.Flow, t time.Time) {
	if f.InstanceID != "" {
		keep(&n.InstanceID, f.InstanceID, MaxIDLen)
	}
	if f.InterfaceID != "" {
		n.observeENI(f, t)
	}
	switch f.LogStatus {
	case event.StatusNoData:
		n.NoData++
		return
	case event.StatusSkipData:
		n.SkipData++
		return
	}
	n.Flows++
	switch f.Action {
	case event.ActionAccept:
		n.Accepted++
	case event.ActionReject:
		n.Rejected++
	}
	src, dst := f.Src.Unmap().WithZone(""), f.Dst.Unmap().WithZone("")
	if !src.IsValid() || !dst.IsValid() {
		return
	}
	n.learnFromFlow(f.Direction, src, dst, t)
	if o := n.Orient(f); o.Outbound {
		n.BytesOut += f.Bytes
		n.PacketsOut += f.Packets
	} else {
		n.BytesIn += f.Bytes
		n.PacketsIn += f.Packets
	}
}

func (n *Network) observeENI(f *event.Flow, t time.Time) {
	id := clip(f.InterfaceID, MaxIDLen)
	i, ok := slices.BinarySearchFunc(n.ENIs, id, byENIID)
	if !ok {
		n.ENIs, i = insertCapped(n.ENIs, i, ENI{ID: strings.Clone(id)}, MaxENIs, eniLast)
	}
	e := &n.ENIs[i]
	if f.VPCID != "" {
		keep(&e.VPCID, f.VPCID, MaxIDLen)
	}
	if f.SubnetID != "" {
		keep(&e.SubnetID, f.SubnetID, MaxIDLen)
	}
	if t.After(e.LastSeen) {
		e.LastSeen = t
	}
}

func byENIID(e ENI, id string) int              { return strings.Compare(e.ID, id) }
func eniLast(e ENI) time.Time                   { return e.LastSeen }
func byLocalAddr(e LocalAddr, a netip.Addr) int { return e.Addr.Compare(a) }
func localAddrLast(e LocalAddr) time.Time       { return e.LastSeen }

// LatestENI returns the most recently seen interface, if any.
func (n *Network) LatestENI() (ENI, bool) {
	var best ENI
	found := false
	for _, e := range n.ENIs {
		if !found || e.LastSeen.After(best.LastSeen) {
			best, found = e, true
		}
	}
	return best, found
}

// IsLocal reports whether a was learned as one of the entity's addresses.
func (n *Network) IsLocal(a netip.Addr) bool {
	return find(n.LocalAddrs, a.Unmap(), byLocalAddr) != nil
}

// learnFromFlow learns the entity's own address from one flow record:
// the flow direction names it when present; else the private side of a
// private–public pair is local; else a pair of private addresses is kept
// as candidates until a record sharing exactly one of them reveals which.
func (n *Network) learnFromFlow(dir event.Direction, src, dst netip.Addr, t time.Time) {
	switch dir {
	case event.DirectionEgress:
		n.learn(src, t)
		return
	case event.DirectionIngress:
		n.learn(dst, t)
		return
	}
	srcLocal, dstLocal := n.IsLocal(src), n.IsLocal(dst)
	switch {
	case srcLocal || dstLocal:
		if srcLocal {
			n.learn(src, t)
		}
		if dstLocal {
			n.learn(dst, t)
		}
	case IsPrivate(src) && !IsPrivate(dst):
		n.learn(src, t)
	case IsPrivate(dst) && !IsPrivate(src):
		n.learn(dst, t)
	case IsPrivate(src) && IsPrivate(dst) && src != dst:
		if len(n.LocalCandidates) != 2 {
			n.LocalCandidates = []netip.Addr{src, dst}
			return
		}
		a, b := n.LocalCandidates[0], n.LocalCandidates[1]
		aIn := a == src || a == dst
		bIn := b == src || b == dst
		switch {
		case aIn && !bIn:
			n.learn(a, t)
		case bIn && !aIn:
			n.learn(b, t)
		case !aIn && !bIn:
			n.LocalCandidates = []netip.Addr{src, dst}
		}
	}
}

// learn records a as a local address seen at t.
func (n *Network) learn(a netip.Addr, t time.Time) {
	i, ok := slices.BinarySearchFunc(n.LocalAddrs, a, byLocalAddr)
	if !ok {
		n.LocalAddrs, _ = insertCapped(n.LocalAddrs, i, LocalAddr{Addr: a, LastSeen: t}, MaxLocalAddrs, localAddrLast)
		n.LocalCandidates = nil
		return
	}
	if t.After(n.LocalAddrs[i].LastSeen) {
		n.LocalAddrs[i].LastSeen = t
	}
}

// Orientation is a flow record seen from the entity.
type Orientation struct {
	Local, Remote         netip.Addr
	LocalPort, RemotePort uint16
	// Outbound is set when the local side sent the record's packets.
	Outbound bool
	// Known is set when the direction was determined rather than guessed:
	// a guess (both addresses private and neither learned) takes the
	// source as local.
	Known bool
}

// Orient tells the local and remote side of a flow record, in this order:
// the record's flow-direction (version 5); an address learned as local;
// the private side of a private–public pair (the interface's own address
// is private, and incoming traffic from the internet shows a public
// source). When none applies (two private or two public addresses, neither
// learned) the source is taken as local and Known is false. Call Observe
// with the record first so that it can learn from it.
func (n *Network) Orient(f *event.Flow) Orientation {
	src, dst := f.Src.Unmap().WithZone(""), f.Dst.Unmap().WithZone("")
	out := func(outbound, known bool) Orientation {
		if outbound {
			return Orientation{Local: src, Remote: dst, LocalPort: f.SrcPort, RemotePort: f.DstPort, Outbound: true, Known: known}
		}
		return Orientation{Local: dst, Remote: src, LocalPort: f.DstPort, RemotePort: f.SrcPort, Known: known}
	}
	switch f.Direction {
	case event.DirectionEgress:
		return out(true, true)
	case event.DirectionIngress:
		return out(false, true)
	}
	srcLocal, dstLocal := n.IsLocal(src), n.IsLocal(dst)
	switch {
	case srcLocal:
		return out(true, true)
	case dstLocal:
		return out(false, true)
	case IsPrivate(src) && !IsPrivate(dst):
		return out(true, true)
	case IsPrivate(dst) && !IsPrivate(src):
		return out(false, true)
	}
	return out(true, false)
}

// sharedSpace is RFC 6598 shared address space, which VPCs use as a
// secondary CIDR (often for pods).
var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// IsPrivate reports whether a is a non-internet address an interface can
// hold: RFC 1918, RFC 6598 shared space, IPv6 ULA, link-local or loopback.
func IsPrivate(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLoopback() || sharedSpace.Contains(a)
}

// MarshalBinary returns the compact encoding of n.
func (n *Network) MarshalBinary() ([]byte, error) {
	e := newEncoder(event.KindNetwork, &n.Header)
	e.str(n.InstanceID)
	encodeList(&e, n.ENIs, func(x *ENI) {
		e.str(x.ID)
		e.str(x.VPCID)
		e.str(x.SubnetID)
		e.time(x.LastSeen)
	})
	encodeList(&e, n.LocalAddrs, func(x *LocalAddr) {
		e.addr(x.Addr)
		e.time(x.LastSeen)
	})
	e.count(len(n.LocalCandidates))
	for _, a := range n.LocalCandidates {
		e.addr(a)
	}
	for _, v := range []uint64{n.Flows, n.Accepted, n.Rejected, n.NoData, n.SkipData,
		n.BytesIn, n.BytesOut, n.PacketsIn, n.PacketsOut, n.DNSQueries} {
		e.uvarint(v)
	}
	n.Probes.encode(&e)
	n.SSHInbound.encode(&e)
	n.SSHOutbound.encode(&e)
	n.SSHFanout.encode(&e)
	n.DNSTunnel.encode(&e)
	return e.b, nil
}

// UnmarshalBinary replaces n with the network profile encoded in b. On
// error n is left unchanged.
func (n *Network) UnmarshalBinary(b []byte) error {
	d := newDecoder(b)
	var q Network
	d.header(event.KindNetwork, &q.Header)
	q.InstanceID = d.str("instanceId", MaxIDLen)
	q.ENIs = decodeList(&d, "enis", MaxENIs, func(x *ENI) {
		x.ID = d.str("eni", MaxIDLen)
		x.VPCID = d.str("vpcId", MaxIDLen)
		x.SubnetID = d.str("subnetId", MaxIDLen)
		x.LastSeen = d.time()
	}, func(prev, next *ENI) bool { return prev.ID < next.ID }, "%s not sorted")
	q.LocalAddrs = decodeList(&d, "localAddrs", MaxLocalAddrs, func(x *LocalAddr) {
		x.Addr = d.addr()
		x.LastSeen = d.time()
	}, func(prev, next *LocalAddr) bool { return prev.Addr.Less(next.Addr) }, "%s not sorted")
	switch c := d.count("localCandidates", 2); c {
	case 0:
	case 2:
		q.LocalCandidates = []netip.Addr{d.addr(), d.addr()}
	default:
		d.Failf("localCandidates: %d addresses, want 0 or 2", c)
	}
	for _, v := range []*uint64{&q.Flows, &q.Accepted, &q.Rejected, &q.NoData, &q.SkipData,
		&q.BytesIn, &q.BytesOut, &q.PacketsIn, &q.PacketsOut, &q.DNSQueries} {
		*v = d.Uvarint()
	}
	q.Probes = decodePortWindows(&d, "probes")
	q.SSHInbound = decodePortWindows(&d, "sshInbound")
	q.SSHOutbound = decodePortWindows(&d, "sshOutbound")
	q.SSHFanout.decode(&d, "sshFanout")
	q.DNSTunnel = decodeDomainWindows(&d, "dnsTunnel")
	if err := d.finish("network"); err != nil {
		return err
	}
	*n = q
	return nil
}
