package profiles

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Windows count the distinct things (ports, hosts, query names) an entity
// touched within the last `window` of event time: a sliding window that
// remembers each distinct key with the time it was last seen and forgets
// keys older than the window. Keys are capped; a full window forgets its
// least recently seen key, which detection never needs because thresholds
// are below the caps. A detector raises a finding when a window holds
// enough keys, and calls Report so that a sustained attack raises one
// occurrence per window length rather than one per event. The window
// length is the detector's; profiles only keep the state and its caps.

// Hit is one distinct key of a window and the event time it was last seen.
type Hit[K comparable] struct {
	Key K         `json:"key"`
	At  time.Time `json:"at"`
}

// Hits is the keys of a window in order of arrival.
type Hits[K comparable] []Hit[K]

// observe drops the keys older than window before at, then records key at
// at; when the window holds max keys, a new key replaces the least
// recently seen one.
func (h *Hits[K]) observe(key K, at time.Time, window time.Duration, max int) {
	*h = slices.DeleteFunc(*h, func(x Hit[K]) bool { return at.Sub(x.At) > window })
	for i := range *h {
		if (*h)[i].Key == key {
			if at.After((*h)[i].At) {
				(*h)[i].At = at
			}
			return
		}
	}
	if len(*h) >= max {
		oldest := 0
		for i, x := range *h {
			if x.At.Before((*h)[oldest].At) {
				oldest = i
			}
		}
		*h = slices.Delete(*h, oldest, oldest+1)
	}
	*h = append(*h, Hit[K]{key, at})
}

// Keys returns the keys.
func (h Hits[K]) Keys() []K {
	out := make([]K, len(h))
	for i, x := range h {
		out[i] = x.Key
	}
	return out
}

// encodeHits writes the hits, their times relative to last (windows are
// short, so the offsets are small).
func encodeHits[K comparable](e *encoder, h Hits[K], last time.Time, key func(*encoder, K)) {
	encodeList(e, h, func(x *Hit[K]) {
		key(e, x.Key)
		e.varint(last.Unix() - x.At.Unix())
		e.uvarint(uint64(x.At.Nanosecond()))
	})
}

func decodeHits[K comparable](d *decoder, what string, max int, last time.Time, key func(*decoder) K) Hits[K] {
	return decodeList(d, what, max, func(x *Hit[K]) {
		x.Key = key(d)
		off := d.Varint()
		ns := d.Uvarint()
		if d.Err == nil && ns >= 1e9 {
			d.Failf("%s: bad time: %d nanoseconds", what, ns)
		}
		x.At = time.Unix(last.Unix()-off, int64(ns)).UTC()
	}, nil, "")
}

// report is the Report of every window type.
func report(reported *time.Time, at time.Time, window time.Duration) bool {
	if !reported.IsZero() && at.Sub(*reported) <= window {
		return false
	}
	*reported = at
	return true
}

// windowFor returns the window of key in the sorted list *w, adding fresh
// for it when there is none: adding first drops the windows whose last
// observation is older than window, then, if the list holds more than max,
// the least recently seen one. The pointer is valid until the next call.
func windowFor[S ~[]W, W, K any](w *S, key K, fresh W, at time.Time, window time.Duration, max int, cmp func(W, K) int, last func(W) time.Time) *W {
	i, ok := slices.BinarySearchFunc(*w, key, cmp)
	if !ok {
		*w = slices.DeleteFunc(*w, func(e W) bool { return at.Sub(last(e)) > window })
		i, _ = slices.BinarySearchFunc(*w, key, cmp)
		*w, i = insertCapped(*w, i, fresh, max, last)
	}
	return &(*w)[i]
}

// tick counts an observation at at in a window's count and last time.
func tick(count *uint64, last *time.Time, at time.Time) {
	*count++
	if at.After(*last) {
		*last = at
	}
}

// PortWindow counts the distinct ports one remote host was seen with
// (probed ports for a scan, connection source ports for brute force).
type PortWindow struct {
	Remote netip.Addr `json:"remote"`
	Last   time.Time  `json:"last"`
	// Ports are the distinct ports of the last window, at most
	// MaxWindowPorts.
	Ports Hits[uint16] `json:"ports"`
	// Count counts every observation since the window opened.
	Count uint64 `json:"count"`
	// Reported is when a finding was last raised from the window.
	Reported time.Time `json:"reported"`
}

// Report records a finding raised at at and reports whether it may be
// raised: not if one was raised within the last window.
func (w *PortWindow) Report(at time.Time, window time.Duration) bool {
	return report(&w.Reported, at, window)
}

// PortWindows is a bounded list of port windows sorted by remote address.
type PortWindows []PortWindow

func byRemote(e PortWindow, a netip.Addr) int { return e.Remote.Compare(a) }
func portWindowLast(e PortWindow) time.Time   { return e.Last }

// Find returns the window of remote, or nil.
func (w PortWindows) Find(remote netip.Addr) *PortWindow { return find(w, remote, byRemote) }

// Observe records port for remote at event time at and returns remote's
// window. Adding a remote first drops the windows whose last observation
// is older than window, then, if the list is full, the least recently
// seen one. The pointer is valid until the next call.
func (w *PortWindows) Observe(remote netip.Addr, port uint16, at time.Time, window time.Duration) *PortWindow {
	pw := windowFor(w, remote, PortWindow{Remote: remote, Last: at}, at, window, MaxRemoteWindows, byRemote, portWindowLast)
	pw.Ports.observe(port, at, window, MaxWindowPorts)
	tick(&pw.Count, &pw.Last, at)
	return pw
}

func (w PortWindows) encode(e *encoder) {
	encodeList(e, w, func(pw *PortWindow) {
		e.addr(pw.Remote)
		e.time(pw.Last)
		encodeHits(e, pw.Ports, pw.Last, (*encoder).uint16)
		e.uvarint(pw.Count)
		e.optTime(pw.Reported)
	})
}

func decodePortWindows(d *decoder, what string) PortWindows {
	return decodeList(d, what, MaxRemoteWindows, func(pw *PortWindow) {
		pw.Remote = d.addr()
		pw.Last = d.time()
		pw.Ports = decodeHits(d, what+" ports", MaxWindowPorts, pw.Last, (*decoder).uint16)
		pw.Count = d.Uvarint()
		pw.Reported = d.optTime()
	}, func(prev, next *PortWindow) bool { return prev.Remote.Less(next.Remote) }, "%s: remotes not sorted")
}

// AddrWindow counts the distinct remote hosts an entity reached (SSH
// fan-out).
type AddrWindow struct {
	Last time.Time `json:"last"`
	// Addrs are the distinct hosts of the last window, at most
	// MaxFanoutAddrs.
	Addrs    Hits[netip.Addr] `json:"addrs"`
	Count    uint64           `json:"count"`
	Reported time.Time        `json:"reported"`
}

// Observe records remote at event time at.
func (w *AddrWindow) Observe(remote netip.Addr, at time.Time, window time.Duration) {
	w.Addrs.observe(remote, at, window, MaxFanoutAddrs)
	tick(&w.Count, &w.Last, at)
}

// Report is PortWindow.Report for the fan-out window.
func (w *AddrWindow) Report(at time.Time, window time.Duration) bool {
	return report(&w.Reported, at, window)
}

func (w *AddrWindow) encode(e *encoder) {
	e.time(w.Last)
	encodeHits(e, w.Addrs, w.Last, (*encoder).addr)
	e.uvarint(w.Count)
	e.optTime(w.Reported)
}

func (w *AddrWindow) decode(d *decoder, what string) {
	w.Last = d.time()
	w.Addrs = decodeHits(d, what, MaxFanoutAddrs, w.Last, (*decoder).addr)
	w.Count = d.Uvarint()
	w.Reported = d.optTime()
}

// DomainWindow counts the distinct suspicious query names under one
// registrable domain (DNS tunnelling).
type DomainWindow struct {
	Domain string    `json:"domain"`
	Last   time.Time `json:"last"`
	// Names are hashes of the distinct names of the last window, at most
	// MaxWindowNames. Hashes, not names: tunnel names are long, and only
	// their distinctness matters.
	Names    Hits[uint32] `json:"names"`
	Count    uint64       `json:"count"`
	Reported time.Time    `json:"reported"`
}

// Report is PortWindow.Report for a domain window.
func (w *DomainWindow) Report(at time.Time, window time.Duration) bool {
	return report(&w.Reported, at, window)
}

// DomainWindows is a bounded list of domain windows sorted by domain.
type DomainWindows []DomainWindow

func byDomain(e DomainWindow, d string) int     { return strings.Compare(e.Domain, d) }
func domainWindowLast(e DomainWindow) time.Time { return e.Last }

// Find returns the window of domain, or nil.
func (w DomainWindows) Find(domain string) *DomainWindow { return find(w, domain, byDomain) }

// Observe records a name (its hash) under domain at event time at and
// returns domain's window, with the eviction rules of PortWindows.Observe.
// It returns nil for a domain longer than MaxDomainLen.
func (w *DomainWindows) Observe(domain string, name uint32, at time.Time, window time.Duration) *DomainWindow {
	if len(domain) > MaxDomainLen {
		return nil
	}
	if w.Find(domain) == nil {
		domain = strings.Clone(domain) // see keep: do not hold the event's buffer
	}
	dw := windowFor(w, domain, DomainWindow{Domain: domain, Last: at}, at, window, MaxDomainWindows, byDomain, domainWindowLast)
	dw.Names.observe(name, at, window, MaxWindowNames)
	tick(&dw.Count, &dw.Last, at)
	return dw
}

func (w DomainWindows) encode(e *encoder) {
	encodeList(e, w, func(dw *DomainWindow) {
		e.str(dw.Domain)
		e.time(dw.Last)
		encodeHits(e, dw.Names, dw.Last, (*encoder).uint32)
		e.uvarint(dw.Count)
		e.optTime(dw.Reported)
	})
}

func decodeDomainWindows(d *decoder, what string) DomainWindows {
	return decodeList(d, what, MaxDomainWindows, func(dw *DomainWindow) {
		dw.Domain = d.str(what, MaxDomainLen)
		dw.Last = d.time()
		dw.Names = decodeHits(d, what+" names", MaxWindowNames, dw.Last, (*decoder).uint32)
		dw.Count = d.Uvarint()
		dw.Reported = d.optTime()
	}, func(prev, next *DomainWindow) bool { return prev.Domain < next.Domain }, "%s: domains not sorted")
}
