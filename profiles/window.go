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
	e.count(len(h))
	for _, x := range h {
		key(e, x.Key)
		e.varint(last.Unix() - x.At.Unix())
		e.uvarint(uint64(x.At.Nanosecond()))
	}
}

func decodeHits[K comparable](d *decoder, what string, max int, last time.Time, key func(*decoder) K) Hits[K] {
	n := d.count(what, max)
	if n == 0 {
		return nil
	}
	h := make(Hits[K], n)
	for i := range h {
		h[i].Key = key(d)
		off := d.varint()
		ns := d.uvarint()
		if d.err == nil && ns >= 1e9 {
			d.fail("%s: bad time: %d nanoseconds", what, ns)
		}
		h[i].At = time.Unix(last.Unix()-off, int64(ns)).UTC()
	}
	return h
}

// report is the Report of every window type.
func report(reported *time.Time, at time.Time, window time.Duration) bool {
	if !reported.IsZero() && at.Sub(*reported) <= window {
		return false
	}
	*reported = at
	return true
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

// Find returns the window of remote, or nil.
func (w PortWindows) Find(remote netip.Addr) *PortWindow {
	i, ok := slices.BinarySearchFunc(w, remote, func(e PortWindow, a netip.Addr) int { return e.Remote.Compare(a) })
	if !ok {
		return nil
	}
	return &w[i]
}

// Observe records port for remote at event time at and returns remote's
// window. Adding a remote first drops the windows whose last observation
// is older than window, then, if the list is full, the least recently
// seen one. The pointer is valid until the next call.
func (w *PortWindows) Observe(remote netip.Addr, port uint16, at time.Time, window time.Duration) *PortWindow {
	cmp := func(e PortWindow, a netip.Addr) int { return e.Remote.Compare(a) }
	i, ok := slices.BinarySearchFunc(*w, remote, cmp)
	if !ok {
		*w = slices.DeleteFunc(*w, func(e PortWindow) bool { return at.Sub(e.Last) > window })
		i, _ = slices.BinarySearchFunc(*w, remote, cmp)
		*w = slices.Insert(*w, i, PortWindow{Remote: remote, Last: at})
		if len(*w) > MaxRemoteWindows {
			j := -1
			for k := range *w {
				if k != i && (j < 0 || (*w)[k].Last.Before((*w)[j].Last)) {
					j = k
				}
			}
			*w = slices.Delete(*w, j, j+1)
			if j < i {
				i--
			}
		}
	}
	pw := &(*w)[i]
	pw.Ports.observe(port, at, window, MaxWindowPorts)
	pw.Count++
	if at.After(pw.Last) {
		pw.Last = at
	}
	return pw
}

func (w PortWindows) encode(e *encoder) {
	e.count(len(w))
	for _, pw := range w {
		e.addr(pw.Remote)
		e.time(pw.Last)
		encodeHits(e, pw.Ports, pw.Last, (*encoder).uint16)
		e.uvarint(pw.Count)
		e.optTime(pw.Reported)
	}
}

func decodePortWindows(d *decoder, what string) PortWindows {
	n := d.count(what, MaxRemoteWindows)
	if n == 0 {
		return nil
	}
	w := make(PortWindows, n)
	for i := range w {
		pw := &w[i]
		pw.Remote = d.addr()
		pw.Last = d.time()
		pw.Ports = decodeHits(d, what+" ports", MaxWindowPorts, pw.Last, (*decoder).uint16)
		pw.Count = d.uvarint()
		pw.Reported = d.optTime()
		if d.err == nil && i > 0 && w[i-1].Remote.Compare(pw.Remote) >= 0 {
			d.fail("%s: remotes not sorted", what)
		}
	}
	return w
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
	w.Count++
	if at.After(w.Last) {
		w.Last = at
	}
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
	w.Count = d.uvarint()
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

// Find returns the window of domain, or nil.
func (w DomainWindows) Find(domain string) *DomainWindow {
	i, ok := slices.BinarySearchFunc(w, domain, func(e DomainWindow, d string) int { return strings.Compare(e.Domain, d) })
	if !ok {
		return nil
	}
	return &w[i]
}

// Observe records a name (its hash) under domain at event time at and
// returns domain's window, with the eviction rules of PortWindows.Observe.
// It returns nil for a domain longer than MaxDomainLen.
func (w *DomainWindows) Observe(domain string, name uint32, at time.Time, window time.Duration) *DomainWindow {
	if len(domain) > MaxDomainLen {
		return nil
	}
	cmp := func(e DomainWindow, d string) int { return strings.Compare(e.Domain, d) }
	i, ok := slices.BinarySearchFunc(*w, domain, cmp)
	if !ok {
		*w = slices.DeleteFunc(*w, func(e DomainWindow) bool { return at.Sub(e.Last) > window })
		i, _ = slices.BinarySearchFunc(*w, domain, cmp)
		*w = slices.Insert(*w, i, DomainWindow{Domain: domain, Last: at})
		if len(*w) > MaxDomainWindows {
			j := -1
			for k := range *w {
				if k != i && (j < 0 || (*w)[k].Last.Before((*w)[j].Last)) {
					j = k
				}
			}
			*w = slices.Delete(*w, j, j+1)
			if j < i {
				i--
			}
		}
	}
	dw := &(*w)[i]
	dw.Names.observe(name, at, window, MaxWindowNames)
	dw.Count++
	if at.After(dw.Last) {
		dw.Last = at
	}
	return dw
}

func (w DomainWindows) encode(e *encoder) {
	e.count(len(w))
	for _, dw := range w {
		e.str(dw.Domain)
		e.time(dw.Last)
		encodeHits(e, dw.Names, dw.Last, (*encoder).uint32)
		e.uvarint(dw.Count)
		e.optTime(dw.Reported)
	}
}

func decodeDomainWindows(d *decoder, what string) DomainWindows {
	n := d.count(what, MaxDomainWindows)
	if n == 0 {
		return nil
	}
	w := make(DomainWindows, n)
	for i := range w {
		dw := &w[i]
		dw.Domain = d.str(what, MaxDomainLen)
		dw.Last = d.time()
		dw.Names = decodeHits(d, what+" names", MaxWindowNames, dw.Last, (*decoder).uint32)
		dw.Count = d.uvarint()
		dw.Reported = d.optTime()
		if d.err == nil && i > 0 && w[i-1].Domain >= dw.Domain {
			d.fail("%s: domains not sorted", what)
		}
	}
	return w
}
