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
//
// Like Principal, it is a function of the set of records applied, not of
// their order: "latest" fields are chosen by (event time, value), the
// local addresses are learned monotonically (orient.go) and the windows
// are keyed by event time (window.go). The conditions under which that is
// exact are documented there.
type Network struct {
	Header
	// InstanceID is the instance the records name, the latest by (event
	// time, id); InstanceSeen is that time.
	InstanceID   string    `json:"instanceId,omitempty"`
	InstanceSeen time.Time `json:"instanceSeen"`
	// ENIs are the network interfaces seen for the entity, sorted by id.
	ENIs []ENI `json:"enis"`
	// LocalAddrs are the entity's own addresses, learned from the records
	// (orient.go), sorted.
	LocalAddrs []netip.Addr `json:"localAddrs"`
	// Cooccur counts the partners of addresses not learned yet, sorted by
	// address (orient.go).
	Cooccur []Cooccurrence `json:"cooccur,omitempty"`
	// Parked are the records that could not be oriented yet, sorted by
	// (time, record) (orient.go).
	Parked []FlowRecord `json:"parked,omitempty"`

	// Flow-log counters. Flows counts OK records; NoData and SkipData the
	// records of intervals without traffic or with records skipped. Bytes
	// and packets are split by direction; BytesUnknown and PacketsUnknown
	// are those of records not oriented (parked, or dropped from the park).
	Flows          uint64 `json:"flows"`
	Accepted       uint64 `json:"accepted"`
	Rejected       uint64 `json:"rejected"`
	NoData         uint64 `json:"noData"`
	SkipData       uint64 `json:"skipData"`
	BytesIn        uint64 `json:"bytesIn"`
	BytesOut       uint64 `json:"bytesOut"`
	BytesUnknown   uint64 `json:"bytesUnknown"`
	PacketsIn      uint64 `json:"packetsIn"`
	PacketsOut     uint64 `json:"packetsOut"`
	PacketsUnknown uint64 `json:"packetsUnknown"`
	// DNSQueries counts Route 53 Resolver queries.
	DNSQueries uint64 `json:"dnsQueries"`

	// Detection windows (window.go), updated by the detectors through the
	// Observe* methods.
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
	SSHFanout AddrWindows `json:"sshFanout"`
	// DNSTunnel: distinct encoded-looking query names per registrable
	// domain (Trojan:EC2/DNSDataExfiltration).
	DNSTunnel DomainWindows `json:"dnsTunnel"`
	// DNSModels: the DGA model's windows (dns_models.go).
	DNSModels DNSModels `json:"dnsModels"`
	// Inventory is what EC2 says about the entity: its instance,
	// interfaces and addresses (inventory.go).
	Inventory Inventory `json:"inventory"`
	// Baseline is the entity's per-instance baseline (netbaseline.go):
	// remote server ports, protocols, DNS, DoH and DoT servers, daily bytes
	// per remote host.
	Baseline NetBaseline `json:"baseline"`
	// Attacks: the volume and scan windows (attacks.go).
	Attacks AttackWindows `json:"attacks"`
	// Beacons: connection times and sizes per remote host, for the
	// beaconing score (beacons.go).
	Beacons Beacons `json:"beacons"`
}

// ENI is a network interface of the entity. VPCID and SubnetID are the
// latest by (event time, values) among the records that name them;
// DetailsSeen is that time.
type ENI struct {
	ID          string    `json:"id"`
	VPCID       string    `json:"vpcId,omitempty"`
	SubnetID    string    `json:"subnetId,omitempty"`
	DetailsSeen time.Time `json:"detailsSeen"`
	LastSeen    time.Time `json:"lastSeen"`
}

// NewNetwork returns the empty profile of a network entity.
func NewNetwork(account, region, entity string) *Network {
	return &Network{Header: newHeader(account, region, entity)}
}

// Kind returns event.KindNetwork.
func (n *Network) Kind() event.EntityKind { return event.KindNetwork }

// Observe updates the identity, the counters and the learned local
// addresses with ev. It returns ready with the flow records now oriented
// appended: ev's own record when it could be oriented, and the parked
// records that an address ev taught oriented. The caller hands them to
// the detectors, which update the windows. ready is only appended to, so
// a caller may pass a small stack array to avoid allocating.
func (n *Network) Observe(ev *event.Event, ready []OrientedFlow) []OrientedFlow {
	t := ev.Time.UTC()
	n.observe(t)
	switch {
	case ev.Flow != nil:
		return n.observeFlow(ev.Flow, t, ready)
	case ev.Inventory != nil:
		return n.learnInventory(ev.Inventory, t, ready)
	case ev.DNS != nil:
		q := ev.DNS
		n.DNSQueries++
		n.observeInstance(q.InstanceID, t)
		// The querying address is the entity's own.
		if a := q.SrcAddr.Unmap().WithZone(""); a.IsValid() {
			ready = n.learn(a, ready)
		}
	}
	return ready
}

func (n *Network) observeFlow(f *event.Flow, t time.Time, ready []OrientedFlow) []OrientedFlow {
	n.observeInstance(f.InstanceID, t)
	var eni *ENI
	if f.InterfaceID != "" {
		eni = n.observeENI(f, t)
	}
	switch f.LogStatus {
	case event.StatusNoData:
		n.NoData++
		return ready
	case event.StatusSkipData:
		n.SkipData++
		return ready
	}
	n.Flows++
	switch f.Action {
	case event.ActionAccept:
		n.Accepted++
	case event.ActionReject:
		n.Rejected++
	}
	r := FlowRecord{
		Time: t, Src: f.Src.Unmap().WithZone(""), Dst: f.Dst.Unmap().WithZone(""),
		SrcPort: f.SrcPort, DstPort: f.DstPort, Protocol: f.Protocol, Action: f.Action, TCPFlags: f.TCPFlags,
		Packets: f.Packets, Bytes: f.Bytes, Direction: f.Direction,
		ENI: n.intern(f.InterfaceID, eni), VPC: n.intern(f.VPCID, eni), Subnet: n.intern(f.SubnetID, eni),
	}
	if !r.Src.IsValid() || !r.Dst.IsValid() {
		n.BytesUnknown += r.Bytes
		n.PacketsUnknown += r.Packets
		return ready
	}
	return n.orientFlow(&r, ready)
}

// observeInstance takes id as the instance if it is later than the one
// kept by (event time, id).
func (n *Network) observeInstance(id string, t time.Time) {
	if id = clip(id, MaxIDLen); id == "" {
		return
	}
	if c := t.Compare(n.InstanceSeen); c > 0 || c == 0 && id > n.InstanceID {
		n.InstanceSeen = t
		keep(&n.InstanceID, id, MaxIDLen)
	}
}

func byENIID(e ENI, id string) int { return strings.Compare(e.ID, id) }

func eniLess(a, b ENI) bool {
	if c := a.LastSeen.Compare(b.LastSeen); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

// observeENI records the record's interface and returns it, or nil when a
// full list (MaxENIs) keeps more recent ones.
func (n *Network) observeENI(f *event.Flow, t time.Time) *ENI {
	id := clip(f.InterfaceID, MaxIDLen)
	i, ok := slices.BinarySearchFunc(n.ENIs, id, byENIID)
	if !ok {
		if n.ENIs, i = insertBounded(n.ENIs, i, ENI{ID: id, LastSeen: t}, MaxENIs, eniLess); i < 0 {
			return nil
		}
		n.ENIs[i].ID = strings.Clone(id)
	}
	e := &n.ENIs[i]
	if t.After(e.LastSeen) {
		e.LastSeen = t
	}
	vpc, subnet := clip(f.VPCID, MaxIDLen), clip(f.SubnetID, MaxIDLen)
	if vpc == "" && subnet == "" {
		return e
	}
	if c := t.Compare(e.DetailsSeen); c > 0 || c == 0 && compareStrings([]string{vpc, subnet}, []string{e.VPCID, e.SubnetID}) > 0 {
		e.DetailsSeen = t
		keep(&e.VPCID, vpc, MaxIDLen)
		keep(&e.SubnetID, subnet, MaxIDLen)
	}
	return e
}

// intern returns s clipped, as a string of the profile's own: the same
// string of an interface when one holds it (the common case, which does
// not allocate), else a copy (see keep).
func (n *Network) intern(s string, e *ENI) string {
	if s = clip(s, MaxIDLen); s == "" {
		return ""
	}
	if e != nil {
		switch s {
		case e.ID:
			return e.ID
		case e.VPCID:
			return e.VPCID
		case e.SubnetID:
			return e.SubnetID
		}
	}
	for i := range n.ENIs {
		switch e := &n.ENIs[i]; s {
		case e.ID:
			return e.ID
		case e.VPCID:
			return e.VPCID
		case e.SubnetID:
			return e.SubnetID
		}
	}
	return strings.Clone(s)
}

// LatestENI returns the most recently seen interface (ties by id), if any.
func (n *Network) LatestENI() (ENI, bool) {
	var best *ENI
	for i := range n.ENIs {
		if best == nil || eniLess(*best, n.ENIs[i]) {
			best = &n.ENIs[i]
		}
	}
	if best == nil {
		return ENI{}, false
	}
	return *best, true
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

// AddrKey is the key of a remote host in the SSH fan-out windows: the
// 32-bit FNV-1a hash of its 16-byte form. Windows count distinct keys, and
// two hosts of one window colliding is negligible below thousands.
func AddrKey(a netip.Addr) uint32 {
	b := a.Unmap().As16()
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// Each window list has a method that adds an event to it, given the
// detector's window and threshold, and returns what the event did to the
// two windows containing it (see window.go).

// ObserveProbe adds a probe of port of remote.
func (n *Network) ObserveProbe(remote netip.Addr, port uint16, at time.Time, ex FlowExemplar, window time.Duration, threshold int) [2]WindowHit {
	return n.Probes.observe(remote, port, at, ex, window, n.LastEvent, threshold, MaxPortPanes)
}

// ObserveSSHInbound adds an inbound SSH connection from remote's port.
func (n *Network) ObserveSSHInbound(remote netip.Addr, port uint16, at time.Time, ex FlowExemplar, window time.Duration, threshold int) [2]WindowHit {
	return n.SSHInbound.observe(remote, port, at, ex, window, n.LastEvent, threshold, MaxPortPanes)
}

// ObserveSSHOutbound adds an outbound SSH connection to remote from the
// local port.
func (n *Network) ObserveSSHOutbound(remote netip.Addr, port uint16, at time.Time, ex FlowExemplar, window time.Duration, threshold int) [2]WindowHit {
	return n.SSHOutbound.observe(remote, port, at, ex, window, n.LastEvent, threshold, MaxPortPanes)
}

// ObserveSSHFanout adds an outbound SSH connection to remote to the
// fan-out windows.
func (n *Network) ObserveSSHFanout(remote netip.Addr, at time.Time, ex FlowExemplar, window time.Duration, threshold int) [2]WindowHit {
	return n.SSHFanout.observe(netip.Addr{}, AddrKey(remote), at, ex, window, n.LastEvent, threshold, MaxPortPanes)
}

// ObserveDNSTunnel adds the hash of an encoded-looking query name under
// domain. A domain longer than MaxDomainLen is not windowed.
func (n *Network) ObserveDNSTunnel(domain string, name uint32, at time.Time, ex DNSExemplar, window time.Duration, threshold int) [2]WindowHit {
	if len(domain) > MaxDomainLen {
		return [2]WindowHit{}
	}
	ex.Name = clip(ex.Name, MaxDomainLen)
	// The group is kept in the pane: the profile's own string (see keep),
	// shared with the domain's other panes.
	d := Domain(domain)
	if i, _ := slices.BinarySearchFunc(n.DNSTunnel.Panes, paneKey[Domain]{d, minIndex}, byPane[Domain, uint32, DNSExemplar]); i < len(n.DNSTunnel.Panes) && n.DNSTunnel.Panes[i].Group == d {
		d = n.DNSTunnel.Panes[i].Group
	} else {
		d = Domain(strings.Clone(domain))
	}
	return n.DNSTunnel.observe(d, name, at, ex, window, n.LastEvent, threshold, MaxDomainPanes)
}

const minIndex = -1 << 63

// MarshalBinary returns the compact encoding of n: the windows' panes
// that WindowLateness forgot are left out.
func (n *Network) MarshalBinary() ([]byte, error) {
	e := newEncoder(event.KindNetwork, &n.Header)
	ref := n.LastEvent
	e.strRef(n.InstanceID, n.Entity)
	e.optTimeRel(n.InstanceSeen, ref)
	var prevENI ENI
	encodeList(&e, n.ENIs, func(x *ENI) {
		e.str(x.ID)
		e.strRef(x.VPCID, prevENI.VPCID)
		e.strRef(x.SubnetID, prevENI.SubnetID)
		e.timeRel(x.LastSeen, ref)
		e.optTimeRel(x.DetailsSeen, x.LastSeen)
		prevENI = *x
	})
	encodeList(&e, n.LocalAddrs, func(a *netip.Addr) { e.addr(*a) })
	encodeList(&e, n.Cooccur, func(c *Cooccurrence) {
		e.addr(c.Addr)
		p := c.partners()
		e.count(len(p))
		for _, a := range p {
			e.addr(a)
		}
		e.timeRel(c.LastSeen, ref)
	})
	var prev FlowRecord
	encodeList(&e, n.Parked, func(r *FlowRecord) {
		e.timeRel(r.Time, ref)
		e.addr(r.Src)
		e.addr(r.Dst)
		e.uint16(r.SrcPort)
		e.uint16(r.DstPort)
		e.byte(r.Protocol)
		e.byte(byte(r.Action))
		e.uint16(r.TCPFlags)
		e.uvarint(r.Packets)
		e.uvarint(r.Bytes)
		e.strRef(r.ENI, prev.ENI)
		e.strRef(r.VPC, prev.VPC)
		e.strRef(r.Subnet, prev.Subnet)
		prev = *r
	})
	for _, v := range [...]uint64{n.Flows, n.Accepted, n.Rejected, n.NoData, n.SkipData,
		n.BytesIn, n.BytesOut, n.BytesUnknown, n.PacketsIn, n.PacketsOut, n.PacketsUnknown, n.DNSQueries} {
		e.uvarint(v)
	}
	flowEx := func(x, prev *FlowExemplar) { x.encode(&e, prev) }
	addr := func(a netip.Addr) { e.addr(a) }
	n.Probes.encode(&e, ref, addr, flowEx)
	n.SSHInbound.encode(&e, ref, addr, flowEx)
	n.SSHOutbound.encode(&e, ref, addr, flowEx)
	n.SSHFanout.encode(&e, ref, addr, flowEx)
	n.DNSTunnel.encode(&e, ref, func(d Domain) { e.str(string(d)) }, func(x, prev *DNSExemplar) { x.encode(&e, prev) })
	n.Beacons.encode(&e)
	n.DNSModels.encode(&e, ref)
	n.Inventory.encode(&e, ref)
	n.Baseline.encode(&e, ref)
	n.Attacks.encode(&e, ref)
	return e.b, nil
}

// UnmarshalBinary replaces n with the network profile encoded in b. On
// error n is left unchanged.
func (n *Network) UnmarshalBinary(b []byte) error {
	d := newDecoder(b)
	var q Network
	d.header(event.KindNetwork, &q.Header)
	ref := q.LastEvent
	q.InstanceID = d.strRef("instanceId", MaxIDLen, q.Entity)
	q.InstanceSeen = d.optTimeRel(ref)
	var prevENI ENI
	q.ENIs = decodeList(&d, "enis", MaxENIs, func(x *ENI) {
		x.ID = d.str("eni", MaxIDLen)
		x.VPCID = d.strRef("vpcId", MaxIDLen, prevENI.VPCID)
		x.SubnetID = d.strRef("subnetId", MaxIDLen, prevENI.SubnetID)
		x.LastSeen = d.timeRel(ref)
		x.DetailsSeen = d.optTimeRel(x.LastSeen)
		prevENI = *x
	}, func(prev, next *ENI) bool { return prev.ID < next.ID }, "%s not sorted")
	q.LocalAddrs = decodeList(&d, "localAddrs", MaxLocalAddrs, func(a *netip.Addr) { *a = d.addr() },
		func(prev, next *netip.Addr) bool { return prev.Less(*next) }, "%s not sorted")
	q.Cooccur = decodeList(&d, "cooccur", MaxCooccurAddrs, func(c *Cooccurrence) {
		c.Addr = d.addr()
		np := d.count("cooccur partners", CooccurPartners-1)
		if np == 0 && d.Err == nil {
			d.Failf("cooccur: an address without partners")
		}
		for i := range np {
			c.Partners[i] = d.addr()
			if d.Err == nil && (!c.Partners[i].IsValid() || i > 0 && !c.Partners[i-1].Less(c.Partners[i])) {
				d.Failf("cooccur: partners not sorted valid addresses")
			}
		}
		c.LastSeen = d.timeRel(ref)
	}, func(prev, next *Cooccurrence) bool { return prev.Addr.Less(next.Addr) }, "%s not sorted")
	var prev FlowRecord
	q.Parked = decodeList(&d, "parked", MaxParked, func(r *FlowRecord) {
		r.Time = d.timeRel(ref)
		r.Src = d.addr()
		r.Dst = d.addr()
		r.SrcPort = d.uint16()
		r.DstPort = d.uint16()
		r.Protocol = d.Byte()
		if a := d.Byte(); d.Err == nil && a > byte(event.ActionReject) {
			d.Failf("parked: bad action %d", a)
		} else {
			r.Action = event.FlowAction(a)
		}
		r.TCPFlags = d.uint16()
		r.Packets = d.Uvarint()
		r.Bytes = d.Uvarint()
		r.ENI = d.strRef("parked eni", MaxIDLen, prev.ENI)
		r.VPC = d.strRef("parked vpc", MaxIDLen, prev.VPC)
		r.Subnet = d.strRef("parked subnet", MaxIDLen, prev.Subnet)
		prev = *r
	}, func(prev, next *FlowRecord) bool { return compareFlow(prev, next) <= 0 }, "%s not sorted")
	for _, v := range [...]*uint64{&q.Flows, &q.Accepted, &q.Rejected, &q.NoData, &q.SkipData,
		&q.BytesIn, &q.BytesOut, &q.BytesUnknown, &q.PacketsIn, &q.PacketsOut, &q.PacketsUnknown, &q.DNSQueries} {
		*v = d.Uvarint()
	}
	flowEx := func(x, prev *FlowExemplar) { x.decode(&d, prev) }
	addr := func() netip.Addr { return d.addr() }
	q.Probes.decode(&d, "probes", ref, MaxPortPanes, addr, flowEx)
	q.SSHInbound.decode(&d, "sshInbound", ref, MaxPortPanes, addr, flowEx)
	q.SSHOutbound.decode(&d, "sshOutbound", ref, MaxPortPanes, addr, flowEx)
	q.SSHFanout.decode(&d, "sshFanout", ref, MaxPortPanes, addr, flowEx)
	q.DNSTunnel.decode(&d, "dnsTunnel", ref, MaxDomainPanes, func() Domain { return Domain(d.str("dnsTunnel domain", MaxDomainLen)) },
		func(x, prev *DNSExemplar) { x.decode(&d, prev) })
	q.Beacons = decodeBeacons(&d)
	q.DNSModels.decode(&d, ref)
	q.Inventory.decode(&d, ref)
	q.Baseline = decodeNetBaseline(&d, ref)
	q.Attacks.decode(&d, ref)
	if err := d.finish("network"); err != nil {
		return err
	}
	*n = q
	return nil
}
