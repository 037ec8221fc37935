package profiles

import (
	"net/netip"
	"slices"
	"time"
)

// Beaconing state: the start times and sizes of the connections an
// entity opened to each remote host, from which a detector scores how
// regular the connections are (a beacon calls home on a timer, with
// requests of one size).
const (
	// MaxBeaconHosts bounds the remote hosts kept. A full list keeps the
	// hosts of least address hash (beaconHostLess), a bottom-k sample that
	// depends on the set of hosts alone: a host in it was never evicted,
	// so its connection set is exact.
	MaxBeaconHosts = 32
	// MaxBeaconConns bounds the connections kept per host: the latest by
	// start second. 64 connections span an hour of a one-minute beacon
	// and most of a day of a twenty-minute one, enough to judge the
	// interval's regularity.
	MaxBeaconConns = 64
	// maxBeaconGap bounds a decoded gap between two start seconds (about
	// 34 years): larger ones are hostile input.
	maxBeaconGap = 1 << 30
	// MaxBeaconsSize bounds the encoding: per host an IPv6 address, the
	// reported day, the record count, the first start, the list length, every connection's gap and bytes
	// (5 + 10 bytes at most) and an exemplar.
	MaxBeaconsSize = 3 + MaxBeaconHosts*(17+10+10+10+10+3+MaxBeaconConns*15+flowExemplarSize)
)

// BeaconConn is one connection: its start second (Unix time) and the
// bytes the entity sent in it.
type BeaconConn struct {
	Time  int64  `json:"time"`
	Bytes uint64 `json:"bytes"`
}

// BeaconHost is the connections to one remote host, sorted by start
// second, distinct: two records starting in the same second are one
// connection with the greater of their byte counts, so the set does not
// depend on their order. Exemplar is the record of the latest start
// (the greatest, of several). Reported is the latest UTC day (Day) for
// which a finding occurrence was counted, 0 for none. Records counts the
// records added, a sum; First is the earliest start second added, a min
// (the kept connections may have lost it).
type BeaconHost struct {
	Remote   netip.Addr   `json:"remote"`
	Records  uint64       `json:"records"`
	First    int64        `json:"first"`
	Conns    []BeaconConn `json:"conns"`
	Exemplar FlowExemplar `json:"exemplar"`
	Reported int64        `json:"reported,omitempty"`
}

// Beacons is the beaconing state of a network entity, sorted by remote
// address.
type Beacons struct {
	Hosts []BeaconHost `json:"hosts,omitempty"`
}

// beaconHostLess orders hosts for eviction as hostLess does: the greater
// address hash goes first.
func beaconHostLess(a, b BeaconHost) bool {
	if ha, hb := addrHash(a.Remote), addrHash(b.Remote); ha != hb {
		return ha > hb
	}
	return b.Remote.Less(a.Remote)
}

// ObserveBeacon adds a connection to remote started at t (its second)
// with out bytes sent. It returns the host's state after it, or nil when
// the host is not kept (the least of a full list). The caller may update
// the returned host's Reported field.
func (n *Network) ObserveBeacon(remote netip.Addr, t time.Time, out uint64, ex FlowExemplar) *BeaconHost {
	b := &n.Beacons
	i, found := slices.BinarySearchFunc(b.Hosts, remote, func(h BeaconHost, a netip.Addr) int { return h.Remote.Compare(a) })
	if !found {
		var j int
		if b.Hosts, j = insertBounded(b.Hosts, i, BeaconHost{Remote: remote}, MaxBeaconHosts, beaconHostLess); j < 0 {
			return nil
		}
		i = j
	}
	h := &b.Hosts[i]
	if h.Records == 0 || t.Unix() < h.First {
		h.First = t.Unix()
	}
	h.Records++
	h.add(BeaconConn{Time: t.Unix(), Bytes: out}, ex)
	return h
}

// add inserts c; the exemplar is the greatest record of the latest start.
func (h *BeaconHost) add(c BeaconConn, ex FlowExemplar) {
	switch {
	case len(h.Conns) == 0 || c.Time > h.Conns[len(h.Conns)-1].Time:
		h.Exemplar = ex
	case c.Time == h.Conns[len(h.Conns)-1].Time && ex.Compare(h.Exemplar) > 0:
		h.Exemplar = ex
	}
	k, found := slices.BinarySearchFunc(h.Conns, c.Time, func(x BeaconConn, t int64) int { return cmpInt(x.Time, t) })
	if found {
		h.Conns[k].Bytes = max(h.Conns[k].Bytes, c.Bytes)
		return
	}
	// The cap keeps the greatest start seconds: the earliest goes first.
	h.Conns, _ = insertBounded(h.Conns, k, c, MaxBeaconConns, func(a, b BeaconConn) bool { return a.Time < b.Time })
}

func (b *Beacons) encode(e *encoder) {
	var prevEx FlowExemplar
	encodeList(e, b.Hosts, func(h *BeaconHost) {
		e.addr(h.Remote)
		e.varint(h.Reported)
		e.uvarint(h.Records)
		e.varint(h.First)
		e.count(len(h.Conns))
		var prev int64
		for i, c := range h.Conns {
			if i == 0 {
				e.varint(c.Time)
			} else {
				e.uvarint(uint64(c.Time - prev))
			}
			e.uvarint(c.Bytes)
			prev = c.Time
		}
		h.Exemplar.encode(e, &prevEx)
		prevEx = h.Exemplar
	})
}

func decodeBeacons(d *decoder) Beacons {
	var prevEx FlowExemplar
	hosts := decodeList(d, "beacons", MaxBeaconHosts, func(h *BeaconHost) {
		h.Remote = d.addr()
		h.Reported = d.Varint()
		h.Records = d.Uvarint()
		h.First = d.Varint()
		n := d.count("beacon conns", MaxBeaconConns)
		if n > 0 {
			h.Conns = make([]BeaconConn, n)
		}
		for i := range n {
			if i == 0 {
				t := d.Varint()
				if d.Err == nil && (t < -maxBeaconGap<<4 || t > maxBeaconGap<<4) {
					d.Failf("beacons: start %d out of range", t)
				}
				h.Conns[0].Time = t
			} else {
				gap := d.Uvarint()
				if d.Err == nil && (gap == 0 || gap > maxBeaconGap) {
					d.Failf("beacons: bad gap %d", gap)
				}
				h.Conns[i].Time = h.Conns[i-1].Time + int64(gap)
			}
			h.Conns[i].Bytes = d.Uvarint()
			if d.Err != nil {
				return
			}
		}
		h.Exemplar.decode(d, &prevEx)
		prevEx = h.Exemplar
		if d.Err == nil && (!h.Remote.IsValid() || n == 0 || h.First > h.Conns[0].Time || h.Records < uint64(n)) {
			d.Failf("beacons: inconsistent host %v", h.Remote)
		}
	}, func(prev, next *BeaconHost) bool { return prev.Remote.Less(next.Remote) }, "%s not sorted")
	return Beacons{Hosts: hosts}
}
