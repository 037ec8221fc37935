package profiles

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"time"
)

// AttackWindows are the windows of the volume and scan detectors of a
// network entity: brute force on the services other than SSH (whose
// windows predate them, see Network.SSHInbound), port sweeps and
// denial-of-service volume. They follow window.go: hopping windows of
// event time stored as panes, forgotten by event time, each list bounded
// (its cap below) by dropping the least pane by (last event time, group,
// index).
type AttackWindows struct {
	// BruteIn: inbound connections to a brute-force service per (service,
	// remote host), distinct remote source ports (TARGET).
	BruteIn ServiceWindows `json:"bruteIn"`
	// BruteOut: outbound connections to a service per (service, remote
	// host), distinct local source ports (ACTOR, one host).
	BruteOut ServiceWindows `json:"bruteOut"`
	// BruteFanout: distinct remote hosts (AddrKey) reached on a service
	// (ACTOR, many hosts), grouped by service.
	BruteFanout PortAddrWindows `json:"bruteFanout"`
	// Sweep: distinct public IPv4 hosts probed on one remote port,
	// grouped by the port (Impact:EC2/PortSweep).
	Sweep PortAddrWindows `json:"sweep"`
	// Volume: outbound packets and bytes per (remote host, protocol class),
	// with the distinct local ports they came from (denial of service).
	Volume VolumeWindows `json:"volume"`
}

// Caps of the attack window lists. A pane takes 30 to 250 bytes encoded
// (a few keys to a full set, an IPv6 exemplar with its interface, VPC and
// subnet ids); all full, the lists add about 66 KB to a network profile
// (TestAttackWindowsCaps), within MaxNetworkSize.
const (
	// MaxServicePanes bounds BruteIn and BruteOut: a brute-forced
	// instance sees a few attackers at a time, and the quiet panes go
	// first.
	MaxServicePanes = 64
	// MaxFanoutPanes bounds BruteFanout: one group per service.
	MaxFanoutPanes = 16
	// MaxSweepPanes bounds Sweep: one group per probed port.
	MaxSweepPanes = 64
	// MaxVolumePanes bounds Volume: one group per public remote host and
	// protocol class the entity sends to; a busy server's quiet remotes
	// are the oldest and go first, a flood's target is the most recent.
	MaxVolumePanes = 64
)

// Port is a port number as a window group (the service of BruteFanout,
// the probed port of Sweep).
type Port uint16

// Compare orders ports numerically.
func (p Port) Compare(o Port) int { return cmp.Compare(p, o) }

// ServiceAddr is the group of a brute-force window: a service (its main
// port) and a remote host.
type ServiceAddr struct {
	Service uint16     `json:"service"`
	Addr    netip.Addr `json:"addr"`
}

// Compare orders by service, then address.
func (s ServiceAddr) Compare(o ServiceAddr) int {
	if c := cmp.Compare(s.Service, o.Service); c != 0 {
		return c
	}
	return s.Addr.Compare(o.Addr)
}

type (
	// ServiceWindows count distinct ports per (service, remote host).
	ServiceWindows = Windows[ServiceAddr, uint16, FlowExemplar]
	// PortAddrWindows count distinct remote hosts per port.
	PortAddrWindows = Windows[Port, uint32, FlowExemplar]
)

// ObserveBruteIn adds an inbound connection to service from remote's
// port.
func (n *Network) ObserveBruteIn(service uint16, remote netip.Addr, port uint16, at time.Time, ex FlowExemplar, window time.Duration, threshold int) [2]WindowHit {
	return n.Attacks.BruteIn.observe(ServiceAddr{service, remote}, port, at, ex, window, n.LastEvent, threshold, MaxServicePanes)
}

// ObserveBruteOut adds an outbound connection to service of remote from
// the local port.
func (n *Network) ObserveBruteOut(service uint16, remote netip.Addr, port uint16, at time.Time, ex FlowExemplar, window time.Duration, threshold int) [2]WindowHit {
	return n.Attacks.BruteOut.observe(ServiceAddr{service, remote}, port, at, ex, window, n.LastEvent, threshold, MaxServicePanes)
}

// ObserveBruteFanout adds an outbound connection to service of remote to
// the service's fan-out windows.
func (n *Network) ObserveBruteFanout(service uint16, remote netip.Addr, at time.Time, ex FlowExemplar, window time.Duration, threshold int) [2]WindowHit {
	return n.Attacks.BruteFanout.observe(Port(service), AddrKey(remote), at, ex, window, n.LastEvent, threshold, MaxFanoutPanes)
}

// ObserveSweep adds a probe of port of remote to the port's sweep
// windows. Only IPv4 remotes are windowed, keyed by their address (so a
// window's keys are a sample of the hosts probed, see SweepAddr): flow
// findings do not cover IPv6 (spec §1.4), and the IPv6 space is too
// large to sweep.
func (n *Network) ObserveSweep(port uint16, remote netip.Addr, at time.Time, ex FlowExemplar, window time.Duration, threshold int) [2]WindowHit {
	remote = remote.Unmap()
	if !remote.Is4() {
		return [2]WindowHit{}
	}
	b := remote.As4()
	key := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return n.Attacks.Sweep.observe(Port(port), key, at, ex, window, n.LastEvent, threshold, MaxSweepPanes)
}

// SweepAddr is the remote host of a sweep window key.
func SweepAddr(key uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(key >> 24), byte(key >> 16), byte(key >> 8), byte(key)})
}

// ObserveVolume adds an outbound record of class to remote, from the
// local port, carrying packets and bytes, to the volume windows. A window
// reaches its threshold when it holds at least minPackets packets from at
// least minPorts distinct local ports.
func (n *Network) ObserveVolume(remote netip.Addr, class uint8, port uint16, packets, bytes uint64, at time.Time, ex FlowExemplar,
	window time.Duration, minPackets uint64, minPorts int) [2]WindowHit {
	return n.Attacks.Volume.observe(VolumeGroup{remote, class}, port, packets, bytes, at, ex, window, n.LastEvent, minPackets, minPorts, MaxVolumePanes)
}

func (a *AttackWindows) encode(e *encoder, ref time.Time) {
	flowEx := func(x, prev *FlowExemplar) { x.encode(e, prev) }
	service := func(g ServiceAddr) { e.uint16(g.Service); e.addr(g.Addr) }
	port := func(p Port) { e.uint16(uint16(p)) }
	a.BruteIn.encode(e, ref, service, flowEx)
	a.BruteOut.encode(e, ref, service, flowEx)
	a.BruteFanout.encode(e, ref, port, flowEx)
	a.Sweep.encode(e, ref, port, flowEx)
	a.Volume.encode(e, ref)
}

func (a *AttackWindows) decode(d *decoder, ref time.Time) {
	flowEx := func(x, prev *FlowExemplar) { x.decode(d, prev) }
	service := func() ServiceAddr { s := d.uint16(); return ServiceAddr{s, d.addr()} }
	port := func() Port { return Port(d.uint16()) }
	a.BruteIn.decode(d, "bruteIn", ref, MaxServicePanes, service, flowEx)
	a.BruteOut.decode(d, "bruteOut", ref, MaxServicePanes, service, flowEx)
	a.BruteFanout.decode(d, "bruteFanout", ref, MaxFanoutPanes, port, flowEx)
	a.Sweep.decode(d, "sweep", ref, MaxSweepPanes, port, flowEx)
	a.Volume.decode(d, ref)
}

// VolumeGroup is the group of a volume pane: a remote host and a protocol
// class (the detector's: DNS, TCP, UDP, ...).
type VolumeGroup struct {
	Remote netip.Addr `json:"remote"`
	Class  uint8      `json:"class"`
}

// Compare orders by remote, then class.
func (g VolumeGroup) Compare(o VolumeGroup) int {
	if c := g.Remote.Compare(o.Remote); c != 0 {
		return c
	}
	return cmp.Compare(g.Class, o.Class)
}

// VolumePane is the outbound traffic of one group within one
// half-window: sums of packets and bytes (which do not depend on order),
// the bottom-K of the local ports it came from, and the exemplar of the
// record at its last time (see Pane).
type VolumePane struct {
	Group    VolumeGroup  `json:"group"`
	Index    int64        `json:"index"`
	First    time.Time    `json:"first"`
	Last     time.Time    `json:"last"`
	Count    uint64       `json:"count"`
	Packets  uint64       `json:"packets"`
	Bytes    uint64       `json:"bytes"`
	Ports    []uint16     `json:"ports"`
	Exemplar FlowExemplar `json:"exemplar"`
}

// VolumeWindows are volume panes sorted by (group, index); Hop is half
// the detector's window, as in Windows.
type VolumeWindows struct {
	Hop   time.Duration `json:"hop"`
	Panes []VolumePane  `json:"panes"`
}

func (p *VolumePane) paneKey() (VolumeGroup, int64) { return p.Group, p.Index }
func (p *VolumePane) paneLast() time.Time           { return p.Last }

// volumeReached reports whether panes a and b (either may be nil) hold
// at least minPackets packets from at least minPorts local ports. Both
// sums only grow as records are added, so a window reaches it once, with
// the same record of its set in any order.
func volumeReached(a, b *VolumePane, minPackets uint64, minPorts int) bool {
	var pk uint64
	var pa, pb []uint16
	if a != nil {
		pk, pa = a.Packets, a.Ports
	}
	if b != nil {
		pk, pb = satAdd(pk, b.Packets), b.Ports
	}
	return pk >= minPackets && reachUpTo(pa, pb, minPorts) >= minPorts
}

func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// observe adds a record to the panes (see Windows.observe).
func (w *VolumeWindows) observe(g VolumeGroup, port uint16, packets, bytes uint64, at time.Time, ex FlowExemplar, window time.Duration,
	latest time.Time, minPackets uint64, minPorts, maxPanes int) (hits [2]WindowHit) {
	hop := resetHop(&w.Hop, &w.Panes, window)
	minPorts = min(max(minPorts, 1), MaxWindowKeys)
	i, idx, floor := paneFor(w.Panes, hop, g, at, latest, func(idx, floor int64) int { return w.insert(g, idx, at, ex, floor, maxPanes) })
	if i < 0 {
		return hits
	}
	p := &w.Panes[i]
	prev, next := neighbourPanes(w.Panes, i, g, idx)
	lo, hi := volumeReached(prev, p, minPackets, minPorts), volumeReached(p, next, minPackets, minPorts)
	insertBottomK(&p.Ports, port)
	p.Packets = satAdd(p.Packets, packets)
	p.Bytes = satAdd(p.Bytes, bytes)
	p.Count++
	loAfter, hiAfter := volumeReached(prev, p, minPackets, minPorts), volumeReached(p, next, minPackets, minPorts)
	seenAt(&p.First, &p.Last, &p.Exemplar, at, ex)
	return paneHits(idx, floor, lo, hi, loAfter, hiAfter)
}

// insert adds the empty pane (g, idx), as Windows.insert does.
func (w *VolumeWindows) insert(g VolumeGroup, idx int64, at time.Time, ex FlowExemplar, floor int64, maxPanes int) int {
	var spare []uint16
	fresh := VolumePane{Group: g, Index: idx, First: at, Last: at, Exemplar: ex}
	var i int
	w.Panes, i = placePane[VolumePane, VolumeGroup](w.Panes, g, idx, at, floor, maxPanes, func(p *VolumePane) {
		// The first pane forgotten, or else the one evicted.
		if spare == nil || p.Index >= floor {
			spare = p.Ports[:0]
		}
	})
	if i < 0 {
		return -1
	}
	if spare == nil {
		spare = make([]uint16, 0, 4)
	}
	fresh.Ports = spare
	w.Panes = slices.Insert(w.Panes, i, fresh)
	return i
}

// VolumeWindow is the state of one volume window: the union of its two
// panes (see Window).
type VolumeWindow struct {
	Group       VolumeGroup
	Index       int64
	Start       time.Time
	First, Last time.Time
	// Count counts its records; Packets and Bytes sum them; Ports counts
	// their distinct local ports, up to MaxWindowKeys.
	Count, Packets, Bytes uint64
	Ports                 int
	Exemplar              FlowExemplar
	// Crossed is set by Reached only (see Window).
	Crossed int
}

// Window returns the state of window index of group g.
func (w *VolumeWindows) Window(g VolumeGroup, index int64) VolumeWindow {
	win := VolumeWindow{Group: g, Index: index, Start: paneStart(index, w.Hop)}
	a, b := windowPanes(w.Panes, g, index)
	var pa, pb []uint16
	if a != nil {
		win.First, win.Last, win.Exemplar, pa = a.First, a.Last, a.Exemplar, a.Ports
		win.Count, win.Packets, win.Bytes = a.Count, a.Packets, a.Bytes
	}
	if b != nil {
		if a == nil {
			win.First = b.First
		}
		win.Last, win.Exemplar, pb = b.Last, b.Exemplar, b.Ports
		win.Count += b.Count
		win.Packets = satAdd(win.Packets, b.Packets)
		win.Bytes = satAdd(win.Bytes, b.Bytes)
	}
	win.Ports = distinctUpTo(pa, pb, MaxWindowKeys)
	return win
}

// Reached folds the windows of g an event reached into the state of one
// finding occurrence, as Windows.Reached does.
func (w *VolumeWindows) Reached(g VolumeGroup, hits [2]WindowHit) (win VolumeWindow, ok bool) {
	return foldReached(hits, func(index int64) VolumeWindow { return w.Window(g, index) },
		func(x VolumeWindow) (time.Time, time.Time, uint64, int) { return x.First, x.Last, x.Count, x.Crossed },
		func(x VolumeWindow, first time.Time, crossed int) VolumeWindow {
			x.First, x.Crossed = first, crossed
			return x
		})
}

// encode writes the live panes as Windows.encode does, with each pane's
// sums.
func (w *VolumeWindows) encode(e *encoder, latest time.Time) {
	encodePanes[VolumePane, VolumeGroup](e, w.Hop, latest, w.Panes, func(p, prev *VolumePane) {
		if p.Group == prev.Group {
			e.byte(0)
		} else {
			e.byte(1)
			e.addr(p.Group.Remote)
			e.byte(p.Group.Class)
		}
		e.paneHead(p.Index, prev.Index, p.First, p.Last, latest, p.Count)
		e.uvarint(p.Packets)
		e.uvarint(p.Bytes)
		encodeKeys(e, p.Ports)
		p.Exemplar.encode(e, &prev.Exemplar)
	})
}

// decode reads what encode wrote; panes must be sorted by (group, index)
// and ports strictly increasing.
func (w *VolumeWindows) decode(d *decoder, latest time.Time) {
	const what = "volume"
	hop, panes := decodePanes[VolumePane, VolumeGroup](d, what, math.MaxInt64, MaxVolumePanes, func(p, prev *VolumePane) {
		switch b := d.Byte(); b {
		case 0:
			p.Group = prev.Group
		case 1:
			p.Group.Remote = d.addr()
			p.Group.Class = d.Byte()
		default:
			d.Failf("%s: bad group flag %d", what, b)
		}
		p.Index, p.First, p.Last, p.Count = d.paneHead(prev.Index, latest)
		p.Packets = d.Uvarint()
		p.Bytes = d.Uvarint()
		p.Ports = decodeKeys[uint16](d, what, "port")
		p.Exemplar.decode(d, &prev.Exemplar)
	})
	w.Hop = hop
	if panes != nil {
		w.Panes = panes
	}
}

// maxAttackWindowsSize bounds the encoded attack windows: about 66 KB
// measured with every list full (TestAttackWindowsCaps), with room.
const maxAttackWindowsSize = 80 << 10
