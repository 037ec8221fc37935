package profiles

import (
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// A network entity's baseline (spec §2.5) is what the per-instance
// deviation detectors compare a flow with: the remote server ports the
// entity opened connections to, the IP protocols it used, the public DNS,
// DNS-over-HTTPS and DNS-over-TLS servers it queried, and the bytes it
// sent to each remote host per day. Port-25 history is the "tcp/25" value
// of the ports. The detectors decide what a flow teaches (detect's
// network_baseline.go); this file keeps it.
//
// The value sets are Usage lists (baseline.go): each value with its first
// and last sighting and a 64-day map of the UTC days it was active, so
// "seen before day R" and "active on how many of the 30 days before R" are
// the same whatever order the records came in. A full set keeps its
// greatest values by (days active, last seen, value).
//
// Volume keeps, per remote host, the outbound and inbound bytes of each of
// its latest VolumeDays days, and the outbound bytes of the part of the day
// that a record may no longer arrive late for when the next day starts
// (Settled, see NetBaselineLateness): sums, so a function of the set of
// records. A host keeps its latest VolumeDays days (a day is dropped only
// once as many later days exist, which is exact). A full host list keeps
// the hosts of least address hash (hostLess): exact for the hosts it
// holds; a host outside it is judged against the volume floor alone.
//
// Mail holds the outbound port-25 connections of entities without port-25
// history, as distinct remote hosts per hopping window (window.go): the
// evidence that an instance without a mail history mails many hosts.
//
// Exactness: everything is a function of the set of records applied while
// no set overflows its cap (a value or host dropped and seen again starts
// over) and, for the windows, within WindowLateness.

// Baseline caps and horizon.
const (
	// MaxNetPorts bounds the remote server ports (protocol/port) an entity
	// opened connections to. An application server uses a dozen (DNS,
	// NTP, HTTPS, its database, its queue); 128 hold a busy build host's.
	MaxNetPorts = 128
	// MaxNetProtocols bounds the IP protocols (TCP, UDP, ICMP and a few
	// tunnels).
	MaxNetProtocols = 16
	// MaxNetResolvers bounds the public DNS servers; an instance that runs
	// its own recursive resolver meets hundreds, and keeps its most active.
	MaxNetResolvers = 32
	// MaxNetDoH and MaxNetDoT bound the DNS-over-HTTPS and DNS-over-TLS
	// servers (a client uses one provider's two or three addresses).
	MaxNetDoH = 16
	MaxNetDoT = 16
	// MaxVolumeHosts bounds the remote hosts whose daily bytes are kept,
	// and VolumeDays the days kept per host: the day and the week before
	// it. A host-day takes 25 to 180 bytes encoded (its exemplar's strings
	// are references to the previous one's when equal): 32 hosts of 8 days
	// take 7 to 46 KB. Hosts that send little go first, and losing their
	// history costs nothing: the detector's floor is above it.
	MaxVolumeHosts = 32
	VolumeDays     = 8
	// MaxMailPanes bounds the port-25 window panes.
	MaxMailPanes = 16
	// NetBaselineLateness is how late a record may reach the profile after
	// a later one for the baseline's judgments to be exact: a record at t
	// is judged against the values first seen before the UTC day of
	// t − NetBaselineLateness, which every record of those days reached
	// first. Flow logs arrive within about 10 minutes; an hour leaves room
	// for the shards' interleaving.
	NetBaselineLateness = time.Hour

	// MaxNetBaselineSize bounds the baseline's encoding: every value set
	// full of 70-byte entries, every host-day of every host (IPv6 hosts),
	// and the port-25 panes full, with AWS-length interface, VPC and
	// subnet ids (about 70 KB; a week of an application server's traffic
	// takes a few KB, see TestNetBaselineSize).
	MaxNetBaselineSize = (MaxNetPorts+MaxNetProtocols+MaxNetResolvers+MaxNetDoH+MaxNetDoT)*70 +
		MaxVolumeHosts*(18+VolumeDays*(60+flowExemplarSize)) + MaxMailPanes*(50+MaxWindowKeys*5+flowExemplarSize) + 32
)

// flowExemplarSize bounds an encoded FlowExemplar with AWS-length ids
// (25 bytes) that differ from the previous exemplar's: two IPv6
// addresses, two ports, the protocol, the flag and three strings.
const flowExemplarSize = 2*17 + 2*3 + 2 + 3*(1+25)

// DayVolume is the traffic with one remote host on one UTC day.
type DayVolume struct {
	Day int64 `json:"day"`
	// Out and In are the bytes sent to and received from the host; Settled
	// is Out of the records before the day's last NetBaselineLateness.
	Out     uint64 `json:"outBytes"`
	Settled uint64 `json:"settledOutBytes"`
	In      uint64 `json:"inBytes"`
	// Records counts the records of the host-day; First and Last are their
	// earliest and latest times.
	Records uint64    `json:"records"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
	// Exemplar is the record at Last (the greatest, of several), what a
	// finding shows of the connection.
	Exemplar FlowExemplar `json:"exemplar"`
}

// HostVolume is the daily traffic with one remote host, its latest
// VolumeDays days sorted by day.
type HostVolume struct {
	Remote netip.Addr  `json:"remote"`
	Days   []DayVolume `json:"days"`
}

// hostLess orders hosts for eviction: the greater hash of the address goes
// first, so a full list holds the MaxVolumeHosts hosts of least hash — a
// bottom-k sample that depends on the set of hosts alone. A host in it was
// never evicted, so its sums are exact; ordering by traffic or recency
// would evict a host in one arrival order and not in another, and its
// sums would then differ.
func hostLess(a, b HostVolume) bool {
	if ha, hb := addrHash(a.Remote), addrHash(b.Remote); ha != hb {
		return ha > hb
	}
	return b.Remote.Less(a.Remote)
}

// addrHash is FNV-1a over the 16-byte form of a, mixed (splitmix64's
// finaliser) so that neighbouring addresses spread over the whole range.
func addrHash(a netip.Addr) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range a.As16() {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

func byHost(h HostVolume, a netip.Addr) int { return h.Remote.Compare(a) }

// NetBaseline is a network entity's baseline.
type NetBaseline struct {
	// Ports are the remote server ports of the connections the entity
	// opened, as "tcp/443" (see PortValue).
	Ports Usage `json:"ports"`
	// Protocols are the IP protocols of its records, as "tcp", "udp",
	// "icmp" or the protocol number.
	Protocols Usage `json:"protocols"`
	// Resolvers, DoH and DoT are the public DNS servers it queried on port
	// 53, and the DNS-over-HTTPS and DNS-over-TLS servers it used, by
	// address.
	Resolvers Usage `json:"resolvers"`
	DoH       Usage `json:"doh"`
	DoT       Usage `json:"dot"`
	// Volume is the daily traffic per remote host, sorted by address.
	Volume []HostVolume `json:"volume"`
	// Mail counts distinct port-25 hosts per window (one group).
	Mail AddrWindows `json:"mail"`
}

// PortValue is the Ports value of a remote server port.
func PortValue(protocol uint8, port uint16) string {
	return ProtocolValue(protocol) + "/" + strconv.Itoa(int(port))
}

// ProtocolValue is the Protocols value of an IP protocol number.
func ProtocolValue(protocol uint8) string {
	switch protocol {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	}
	return strconv.Itoa(int(protocol))
}

// Which value set of the baseline a value belongs to.
type NetDim uint8

const (
	NetPort NetDim = iota
	NetProtocol
	NetResolver
	NetDoH
	NetDoT
	numNetDims
)

var netDimNames = [...]string{"port", "protocol", "resolver", "doh", "dot"}

func (d NetDim) String() string {
	if d < numNetDims {
		return netDimNames[d]
	}
	return "NetDim(" + strconv.Itoa(int(d)) + ")"
}

// dims returns the sets with their caps (see usageDim).
func (b *NetBaseline) dims() [numNetDims]usageDim {
	return [...]usageDim{
		NetPort:     {&b.Ports, MaxNetPorts},
		NetProtocol: {&b.Protocols, MaxNetProtocols},
		NetResolver: {&b.Resolvers, MaxNetResolvers},
		NetDoH:      {&b.DoH, MaxNetDoH},
		NetDoT:      {&b.DoT, MaxNetDoT},
	}
}

func (b *NetBaseline) dim(d NetDim) (*Usage, int) {
	dims := b.dims()
	return usageOf(dims[:], d)
}

// Usage returns the values of set d.
func (b *NetBaseline) Usage(d NetDim) Usage {
	if u, _ := b.dim(d); u != nil {
		return *u
	}
	return nil
}

// Learn records value of set d seen at t.
func (b *NetBaseline) Learn(d NetDim, value string, t time.Time) {
	if u, max := b.dim(d); u != nil {
		u.observe(clip(value, MaxBaselineValueLen), t.UTC(), max)
	}
}

// BaselineRef is the reference day of a record at t: it is judged against
// what was seen on the days before it (see NetBaselineLateness).
func BaselineRef(t time.Time) int64 { return Day(t.Add(-NetBaselineLateness)) }

// settledBefore is the time from which a record of day d no longer counts
// as settled.
func settledBefore(d int64) time.Time {
	return time.Unix((d+1)*86400, 0).UTC().Add(-NetBaselineLateness)
}

// AddVolume adds a record's bytes with remote at t: out bytes the entity
// sent, in bytes it received; ex is the record's exemplar. It returns the
// host-day's state after the record, and the state before it, or ok false
// when the host is not kept (the least of a full list).
func (b *NetBaseline) AddVolume(remote netip.Addr, t time.Time, out, in uint64, ex FlowExemplar) (before, after DayVolume, ok bool) {
	t = t.UTC()
	day := Day(t)
	i, found := slices.BinarySearchFunc(b.Volume, remote, byHost)
	if !found {
		h := HostVolume{Remote: remote, Days: []DayVolume{{Day: day, First: t, Last: t, Exemplar: ex}}}
		h.Days[0].Out = out // the eviction order counts the record's bytes
		var j int
		if b.Volume, j = insertBounded(b.Volume, i, h, MaxVolumeHosts, hostLess); j < 0 {
			return DayVolume{}, DayVolume{}, false
		}
		b.Volume[j].Days[0].Out = 0
		i = j
	}
	h := &b.Volume[i]
	k, found := slices.BinarySearchFunc(h.Days, day, func(d DayVolume, day int64) int { return cmpInt(d.Day, day) })
	if !found {
		if h.Days, k = insertBounded(h.Days, k, DayVolume{Day: day, First: t, Last: t, Exemplar: ex}, VolumeDays,
			func(a, b DayVolume) bool { return a.Day < b.Day }); k < 0 {
			return DayVolume{}, DayVolume{}, false
		}
	}
	d := &h.Days[k]
	before = *d
	d.Out += out
	d.In += in
	if t.Before(settledBefore(day)) {
		d.Settled += out
	}
	d.Records++
	seenAt(&d.First, &d.Last, &d.Exemplar, t, ex)
	return before, *d, true
}

// VolumeHistory is what the baseline knew of the bytes sent to a host
// before a day.
type VolumeHistory struct {
	// Peak is the greatest daily outbound bytes of the days, PeakDay its
	// day; Days counts the days with traffic.
	Peak    uint64
	PeakDay int64
	Days    int
}

// VolumeBefore returns the host's daily outbound bytes on the days
// [day−days, day−1], the day before counted by its settled part only: the
// part whose records all reached the profile before any record of day
// (see NetBaselineLateness), so the history of a day is the same in any
// order.
func (b *NetBaseline) VolumeBefore(remote netip.Addr, day int64, days int) VolumeHistory {
	var v VolumeHistory
	h := find(b.Volume, remote, byHost)
	if h == nil {
		return v
	}
	for _, d := range h.Days {
		if d.Day < day-int64(days) || d.Day >= day {
			continue
		}
		out := d.Out
		if d.Day == day-1 {
			out = d.Settled
		}
		v.Days++
		if out > v.Peak || v.Days == 1 {
			v.Peak, v.PeakDay = out, d.Day
		}
	}
	return v
}

// VolumeDay returns the host-day's traffic, if kept.
func (b *NetBaseline) VolumeDay(remote netip.Addr, day int64) (DayVolume, bool) {
	h := find(b.Volume, remote, byHost)
	if h == nil {
		return DayVolume{}, false
	}
	d := find(h.Days, day, func(d DayVolume, day int64) int { return cmpInt(d.Day, day) })
	if d == nil {
		return DayVolume{}, false
	}
	return *d, true
}

// ObserveMail adds an outbound port-25 connection to remote to the mail
// windows (threshold one host: every window with one is reached).
func (n *Network) ObserveMail(remote netip.Addr, at time.Time, ex FlowExemplar, window time.Duration) [2]WindowHit {
	return n.Baseline.Mail.observe(netip.Addr{}, AddrKey(remote), at, ex, window, n.LastEvent, 1, MaxMailPanes)
}

// Active counts the values of set d active on at least one of the
// BaselineDays days before day ref.
func (b *NetBaseline) Active(d NetDim, ref int64) int {
	n := 0
	b.Usage(d).Each(ref, func(_ string, x Before) {
		if x.Days > 0 {
			n++
		}
	})
	return n
}

// encode writes the baseline, times relative to ref (the profile's latest
// event time).
func (b *NetBaseline) encode(e *encoder, ref time.Time) {
	for _, dim := range b.dims() {
		dim.u.encode(e, ref)
	}
	prevEx := new(FlowExemplar)
	encodeList(e, b.Volume, func(h *HostVolume) {
		e.addr(h.Remote)
		prev := int64(0)
		encodeList(e, h.Days, func(d *DayVolume) {
			e.varint(d.Day - prev)
			prev = d.Day
			e.uvarint(d.Out)
			e.uvarint(d.Out - d.Settled)
			e.uvarint(d.In)
			e.uvarint(d.Records)
			e.timeRel(d.Last, ref)
			e.timeRel(d.First, d.Last)
			d.Exemplar.encode(e, prevEx)
			prevEx = &d.Exemplar
		})
	})
	flowEx := func(x, prev *FlowExemplar) { x.encode(e, prev) }
	b.Mail.encode(e, ref, func(a netip.Addr) { e.addr(a) }, flowEx)
}

var netDimWhat = [...]string{"baseline ports", "baseline protocols", "baseline resolvers", "baseline doh", "baseline dot"}

func decodeNetBaseline(d *decoder, ref time.Time) NetBaseline {
	var b NetBaseline
	for i, dim := range b.dims() {
		*dim.u = decodeUsage(d, netDimWhat[i], dim.max, ref)
	}
	prevEx := new(FlowExemplar)
	b.Volume = decodeList(d, "baseline volume", MaxVolumeHosts, func(h *HostVolume) {
		h.Remote = d.addr()
		prev := int64(0)
		h.Days = decodeList(d, "baseline volume days", VolumeDays, func(v *DayVolume) {
			v.Day = prev + d.Varint()
			prev = v.Day
			v.Out = d.Uvarint()
			unsettled := d.Uvarint()
			v.In = d.Uvarint()
			v.Records = d.Uvarint()
			v.Last = d.timeRel(ref)
			v.First = d.timeRel(v.Last)
			v.Exemplar.decode(d, prevEx)
			prevEx = &v.Exemplar
			if d.Err == nil && (unsettled > v.Out || v.Records == 0 || Day(v.First) != v.Day || Day(v.Last) != v.Day) {
				d.Failf("baseline volume: bad day %d", v.Day)
			}
			v.Settled = v.Out - unsettled
		}, func(prev, next *DayVolume) bool { return prev.Day < next.Day }, "%s: not sorted")
		if d.Err == nil && len(h.Days) == 0 {
			d.Failf("baseline volume: a host without days")
		}
	}, func(prev, next *HostVolume) bool { return prev.Remote.Less(next.Remote) }, "%s: not sorted")
	addr := func() netip.Addr { return d.addr() }
	b.Mail.decode(d, "baseline mail", ref, MaxMailPanes, addr, func(x, prev *FlowExemplar) { x.decode(d, prev) })
	return b
}
