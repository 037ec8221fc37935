package profiles

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Detection windows are hopping windows of event time: a detector with
// window W counts in windows of length W that start every W/2, so every
// event belongs to exactly two of them, and a burst shorter than W/2 lies
// whole in both. Window j spans [j·W/2, j·W/2 + W). A window holds the
// distinct keys (ports, hosts, query names) of its events, an event count
// and its first and last event time.
//
// A profile stores panes rather than windows: pane k holds the events of
// [k·W/2, (k+1)·W/2), and window j is the union of panes j and j+1, so
// each event is stored once. A pane keeps the MaxWindowKeys smallest of
// its distinct keys (a bottom-K set): the bottom-K of a union is the
// bottom-K of the union of the bottom-K sets, so the window's key set, and
// its size up to MaxWindowKeys, come out of its panes exactly. None of it
// depends on the order of the events: a set, a count, a min and a max, and
// the pane's exemplar (the event at its last time with the greatest
// exemplar, see FlowExemplar), which the findings' details are made of.
// Because detection thresholds are at most MaxWindowKeys, a window reaches
// its threshold with the same event of its set's growth in any order.
//
// Panes are grouped by remote host or domain and kept in a list sorted by
// (group, index). They are forgotten by event time, never by arrival:
//
//   - a pane is dropped once both windows it belongs to ended
//     WindowLateness or more before the entity's latest event time, and an
//     event that old is counted in the profile but not windowed;
//   - a full list drops its least pane by (last event time, group, index),
//     or does not add the new pane when that is the least.
//
// So the panes, and the findings raised from them, are a function of the
// events applied. That is exact unless
//
//   - an event reaches its windows when the entity's latest event time is
//     already WindowLateness or more past the event's own time (it arrived
//     that late, or it waited parked that long, see orient.go), or
//   - a pane list overflows its cap (MaxPortPanes, MaxDomainPanes): a pane
//     dropped, or refused, in one order may be kept in another, and one
//     dropped and seen again starts over.

// Window caps and horizon.
const (
	// MaxWindowKeys bounds the distinct keys of a pane (and of a window).
	// Detection needs only up to its threshold, and thresholds are clamped
	// to it; the rest of a window's activity is counted in Count.
	MaxWindowKeys = 64
	// WindowLateness is how long after a window ends an event may still
	// arrive for it. Flow logs and query logs are delivered within about
	// 10 minutes, and the shards of a cluster interleave an entity's
	// records within that; a replay of files interleaves them within the
	// files' span. Six hours covers both with room, and keeps a quiet
	// entity's windows few.
	WindowLateness = 6 * time.Hour
	// MaxPortPanes bounds each per-remote pane list (port-scan probes,
	// inbound and outbound SSH attempts) and the SSH fan-out list. A pane
	// takes 30 to 500 bytes encoded (a few keys to a full set with an IPv6
	// exemplar); a busy host's quiet panes are the oldest and go first.
	MaxPortPanes = 128
	// MaxDomainPanes bounds the DNS-tunnelling panes: one per registrable
	// domain with encoded-looking queries and half-window, each keeping a
	// query name of up to 253 bytes.
	MaxDomainPanes = 64
)

// paneIndex returns the index of the pane of length hop that holds t:
// floor(t / hop) in Unix time.
func paneIndex(t time.Time, hop time.Duration) int64 {
	sec := t.Unix()
	if hop%time.Second == 0 {
		return floorDiv(sec, int64(hop/time.Second))
	}
	// Sub-second hops (tests): nanoseconds, clamped to what int64 holds.
	const lim = math.MaxInt64/int64(time.Second) - 1
	sec = max(min(sec, lim), -lim)
	return floorDiv(sec*1e9+int64(t.Nanosecond()), int64(hop))
}

// paneStart is the start of pane index: the inverse of paneIndex.
func paneStart(index int64, hop time.Duration) time.Time {
	if hop%time.Second == 0 {
		return time.Unix(index*int64(hop/time.Second), 0).UTC()
	}
	return time.Unix(0, index*int64(hop)).UTC()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// liveFloor is the least index of a pane not yet forgotten when the
// entity's latest event time is latest: window k (panes k and k+1) ends at
// (k+2)·hop, and is forgotten once that is at or before latest minus
// WindowLateness.
func liveFloor(latest time.Time, hop time.Duration) int64 {
	return paneIndex(latest.Add(-WindowLateness), hop) - 1
}

// group is the type panes are grouped by: a remote address, or a domain.
type group[G any] interface {
	comparable
	Compare(G) int
}

// windowKey is the type of a pane's distinct keys.
type windowKey interface{ ~uint16 | ~uint32 }

// exemplar is what a pane keeps of the event at its last time. Of two
// events at the same time, the greater by Compare is kept.
type exemplar[X any] interface {
	Compare(X) int
	// kept returns a copy that does not share memory with a decoded event
	// (see keep), reusing the strings of prev where they are equal.
	kept(prev *X) X
}

// Pane is the activity of one group within one half-window.
type Pane[G group[G], K windowKey, X exemplar[X]] struct {
	Group G `json:"group"`
	// Index places the pane: it spans [Index·hop, (Index+1)·hop).
	Index int64     `json:"index"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Count counts every event, repeated keys too.
	Count uint64 `json:"count"`
	// Keys are the MaxWindowKeys smallest distinct keys, sorted.
	Keys     []K `json:"keys"`
	Exemplar X   `json:"exemplar"`
}

// Windows is a detector's panes, sorted by (group, index).
type Windows[G group[G], K windowKey, X exemplar[X]] struct {
	// Hop is half the detector's window. A pane list observed with another
	// window starts over.
	Hop   time.Duration   `json:"hop"`
	Panes []Pane[G, K, X] `json:"panes"`
}

// The windows of a network profile.
type (
	// PortWindows count distinct ports per remote host.
	PortWindows = Windows[netip.Addr, uint16, FlowExemplar]
	// AddrWindows count distinct remote hosts (as AddrKey hashes); they have
	// one group, the zero address.
	AddrWindows = Windows[netip.Addr, uint32, FlowExemplar]
	// DomainWindows count distinct query names (as hashes) per domain.
	DomainWindows = Windows[Domain, uint32, DNSExemplar]
)

// Domain is a registrable domain, the group of DNS-tunnelling panes.
type Domain string

// Compare orders domains as strings.
func (d Domain) Compare(o Domain) int { return strings.Compare(string(d), string(o)) }

// WindowHit is what adding an event did to one of the two windows that
// contain it.
type WindowHit struct {
	// Index identifies the window: it spans [Index·hop, (Index+2)·hop), the
	// panes Index and Index+1.
	Index int64
	// Reached is set when the window holds at least the threshold of
	// distinct keys after the event.
	Reached bool
	// Crossed is set when it reached the threshold with this event: it did
	// not before. It happens once per window, whatever the order.
	Crossed bool
}

type paneKey[G any] struct {
	group G
	index int64
}

func byPane[G group[G], K windowKey, X exemplar[X]](p Pane[G, K, X], k paneKey[G]) int {
	if c := p.Group.Compare(k.group); c != 0 {
		return c
	}
	switch {
	case p.Index < k.index:
		return -1
	case p.Index > k.index:
		return 1
	}
	return 0
}

func (p *Pane[G, K, X]) paneKey() (G, int64) { return p.Group, p.Index }
func (p *Pane[G, K, X]) paneLast() time.Time { return p.Last }

// observe adds key of group g at event time at, with exemplar ex, to the
// panes of a detector with the given window, when the entity's latest
// event time (this event included) is latest. It returns, for the two
// windows containing at, whether they reached threshold (at most
// MaxWindowKeys). Neither is set when the event is too late to be
// windowed or its pane is the least of a full list.
func (w *Windows[G, K, X]) observe(g G, key K, at time.Time, ex X, window time.Duration, latest time.Time, threshold, maxPanes int) (hits [2]WindowHit) {
	hop := resetHop(&w.Hop, &w.Panes, window)
	i, idx, floor := paneFor(w.Panes, hop, g, at, latest, func(idx, floor int64) int { return w.insert(g, idx, at, ex, floor, maxPanes) })
	if i < 0 {
		return hits
	}
	p := &w.Panes[i]
	var prev, next []K
	a, b := neighbourPanes(w.Panes, i, g, idx)
	if a != nil {
		prev = a.Keys
	}
	if b != nil {
		next = b.Keys
	}
	lo, hi := reachUpTo(prev, p.Keys, threshold), reachUpTo(p.Keys, next, threshold)
	loAfter, hiAfter := lo, hi
	if insertBottomK(&p.Keys, key) {
		loAfter, hiAfter = reachUpTo(prev, p.Keys, threshold), reachUpTo(p.Keys, next, threshold)
	}
	p.Count++
	seenAt(&p.First, &p.Last, &p.Exemplar, at, ex)
	return paneHits(idx, floor, lo >= threshold, hi >= threshold, loAfter >= threshold, hiAfter >= threshold)
}

// insert adds the empty pane (g, idx) for an event at at and returns its
// index, or -1 when the list is full and the new pane is the least (see
// placePane). It reuses the keys of a dropped pane, so that a busy list
// does not allocate.
func (w *Windows[G, K, X]) insert(g G, idx int64, at time.Time, ex X, floor int64, maxPanes int) int {
	var spare []K
	fresh := Pane[G, K, X]{Group: g, Index: idx, First: at, Last: at}
	var i int
	w.Panes, i = placePane[Pane[G, K, X], G](w.Panes, g, idx, at, floor, maxPanes, func(p *Pane[G, K, X]) {
		// The first pane forgotten, or else the one evicted.
		if spare == nil || p.Index >= floor {
			spare = p.Keys[:0]
		}
	})
	if i < 0 {
		return -1
	}
	// A neighbour's exemplar lends its strings (kept).
	var near *X
	switch {
	case i < len(w.Panes):
		near = &w.Panes[i].Exemplar
	case i > 0:
		near = &w.Panes[i-1].Exemplar
	default:
		near = new(X)
	}
	fresh.Exemplar = ex.kept(near)
	if spare == nil {
		spare = make([]K, 0, 4)
	}
	fresh.Keys = spare
	w.Panes = slices.Insert(w.Panes, i, fresh)
	return i
}

// insertBottomK adds key to the sorted bottom-K set *s and reports whether
// the set changed: not when key is present, nor when the set is full and
// key is greater than all of it.
func insertBottomK[K windowKey](s *[]K, key K) bool {
	i, ok := slices.BinarySearch(*s, key)
	switch {
	case ok:
		return false
	case len(*s) < MaxWindowKeys:
		*s = slices.Insert(*s, i, key)
	case i == len(*s):
		return false
	default:
		copy((*s)[i+1:], (*s)[i:len(*s)-1])
		(*s)[i] = key
	}
	return true
}

// reachUpTo is distinctUpTo where only the comparison with limit matters:
// below limit it may return more than the distinct keys (still below
// limit), which spares the merge of small panes.
func reachUpTo[K windowKey](a, b []K, limit int) int {
	if len(a)+len(b) < limit {
		return len(a) + len(b)
	}
	return distinctUpTo(a, b, limit)
}

// distinctUpTo returns the number of distinct keys of the union of the
// sorted sets a and b, or limit if that is more.
func distinctUpTo[K windowKey](a, b []K, limit int) int {
	if len(a) >= limit || len(b) >= limit {
		return limit
	}
	n, i, j := 0, 0, 0
	for n < limit && (i < len(a) || j < len(b)) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			i++
		case i == len(a) || b[j] < a[i]:
			j++
		default:
			i++
			j++
		}
		n++
	}
	return n
}

// Window is the state of one window: the union of its two panes.
type Window[G group[G], K windowKey, X exemplar[X]] struct {
	Group G
	// Index identifies the window (see WindowHit); Start is its start, and
	// it ends at Start + 2·hop.
	Index       int64
	Start       time.Time
	First, Last time.Time
	// Count counts its events; Distinct its distinct keys, up to
	// MaxWindowKeys.
	Count    uint64
	Distinct int
	// Exemplar is the exemplar of its latest pane.
	Exemplar X
	// Crossed is set by Reached only: how many windows of the event
	// reached their threshold with it.
	Crossed int
}

// panes returns the panes of window index of group g.
func (w *Windows[G, K, X]) panes(g G, index int64) (a, b *Pane[G, K, X]) {
	return windowPanes(w.Panes, g, index)
}

// Window returns the state of window index of group g (see WindowHit).
func (w *Windows[G, K, X]) Window(g G, index int64) Window[G, K, X] {
	a, b := w.panes(g, index)
	win := Window[G, K, X]{Group: g, Index: index, Start: paneStart(index, w.Hop)}
	var ka, kb []K
	if a != nil {
		win.First, win.Last, win.Count, win.Exemplar, ka = a.First, a.Last, a.Count, a.Exemplar, a.Keys
	}
	if b != nil {
		if a == nil {
			win.First = b.First
		}
		win.Last, win.Exemplar, kb = b.Last, b.Exemplar, b.Keys
		win.Count += b.Count
	}
	win.Distinct = distinctUpTo(ka, kb, MaxWindowKeys)
	return win
}

// Reached folds the windows of group g that an event reached (its hits)
// into the state of one finding occurrence: the greater window by (last
// event time, event count), First the earliest first event time of the
// two, and Crossed how many of them reached their threshold with the
// event. That is the merge (findings.Merge) of the two windows'
// occurrences, built once: the greater window's details win, and two
// windows that tie hold the same events (the event's pane alone), so
// their details are the same. ok is false when neither was reached.
func (w *Windows[G, K, X]) Reached(g G, hits [2]WindowHit) (win Window[G, K, X], ok bool) {
	return foldReached(hits, func(index int64) Window[G, K, X] { return w.Window(g, index) },
		func(x Window[G, K, X]) (time.Time, time.Time, uint64, int) {
			return x.First, x.Last, x.Count, x.Crossed
		},
		func(x Window[G, K, X], first time.Time, crossed int) Window[G, K, X] {
			x.First, x.Crossed = first, crossed
			return x
		})
}

// AppendKeys appends the distinct keys of window index of group g, sorted,
// at most MaxWindowKeys, to dst.
func (w *Windows[G, K, X]) AppendKeys(dst []K, g G, index int64) []K {
	a, b := w.panes(g, index)
	var ka, kb []K
	if a != nil {
		ka = a.Keys
	}
	if b != nil {
		kb = b.Keys
	}
	n := 0
	for (len(ka) > 0 || len(kb) > 0) && n < MaxWindowKeys {
		switch {
		case len(kb) == 0 || len(ka) > 0 && ka[0] < kb[0]:
			dst, ka = append(dst, ka[0]), ka[1:]
		case len(ka) == 0 || kb[0] < ka[0]:
			dst, kb = append(dst, kb[0]), kb[1:]
		default:
			dst, ka, kb = append(dst, ka[0]), ka[1:], kb[1:]
		}
		n++
	}
	return dst
}

// Find returns the pane (g, index), or nil.
func (w *Windows[G, K, X]) Find(g G, index int64) *Pane[G, K, X] {
	return find(w.Panes, paneKey[G]{g, index}, byPane[G, K, X])
}

// encode writes the panes not yet forgotten when the entity's latest
// event time is latest: the hop, then per pane its group (or a reference
// to the previous pane's), its index as a delta, its times relative to
// latest and to its last time, its count, its keys as deltas and its
// exemplar (strings as references to the previous exemplar's).
func (w *Windows[G, K, X]) encode(e *encoder, latest time.Time, group func(G), ex func(x, prev *X)) {
	encodePanes[Pane[G, K, X], G](e, w.Hop, latest, w.Panes, func(p, prev *Pane[G, K, X]) {
		if p.Group == prev.Group {
			e.byte(0)
		} else {
			e.byte(1)
			group(p.Group)
		}
		e.paneHead(p.Index, prev.Index, p.First, p.Last, latest, p.Count)
		encodeKeys(e, p.Keys)
		ex(&p.Exemplar, &prev.Exemplar)
	})
}

// decode reads what encode wrote; panes must be sorted by (group, index)
// and keys strictly increasing.
func (w *Windows[G, K, X]) decode(d *decoder, what string, latest time.Time, maxPanes int, group func() G, ex func(x, prev *X)) {
	hop, panes := decodePanes[Pane[G, K, X], G](d, what, math.MaxInt64, maxPanes, func(p, prev *Pane[G, K, X]) {
		switch b := d.Byte(); b {
		case 0:
			p.Group = prev.Group
		case 1:
			p.Group = group()
		default:
			d.Failf("%s: bad group flag %d", what, b)
		}
		p.Index, p.First, p.Last, p.Count = d.paneHead(prev.Index, latest)
		p.Keys = decodeKeys[K](d, what, "key")
		ex(&p.Exemplar, &prev.Exemplar)
	})
	w.Hop = hop
	if panes != nil {
		w.Panes = panes
	}
}
