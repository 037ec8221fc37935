package profiles

import (
	"slices"
	"strings"
	"time"
)

// The pane-list logic shared by every kind of hopping-window state
// (Windows, VolumeWindows, Signals; see window.go): a list of panes sorted
// by (group, index), forgotten by event time and bounded by dropping the
// least pane by (last event time, group, index), and encoded as its live
// panes with their indexes as deltas and times relative to the entity's
// latest event time. Each pane type keeps only what it holds of its
// events.

// paneOf is what the pane-list helpers need of a pane: its group and
// index, and its last event time.
type paneOf[G any] interface {
	paneKey() (G, int64)
	paneLast() time.Time
}

// listedPane is a pointer to a pane type P.
type listedPane[P any, G group[G]] interface {
	*P
	paneOf[G]
}

// The pane types.
var (
	_ paneOf[VolumeGroup] = (*VolumePane)(nil)
	_ paneOf[credential]  = (*SignalPane)(nil)
)

// comparePane orders pane p against (g, index).
func comparePane[P any, G group[G], PP listedPane[P, G]](p *P, g G, index int64) int {
	pg, pi := PP(p).paneKey()
	if c := pg.Compare(g); c != 0 {
		return c
	}
	switch {
	case pi < index:
		return -1
	case pi > index:
		return 1
	}
	return 0
}

// searchPane returns the place of pane (g, index) in list, and whether it
// is there.
// (It searches by pointer: a pane passed by value to the generic
// comparison would move to the heap.)
func searchPane[P any, G group[G], PP listedPane[P, G]](list []P, g G, index int64) (int, bool) {
	i, j := 0, len(list)
	for i < j {
		h := int(uint(i+j) >> 1)
		if comparePane[P, G, PP](&list[h], g, index) < 0 {
			i = h + 1
		} else {
			j = h
		}
	}
	return i, i < len(list) && comparePane[P, G, PP](&list[i], g, index) == 0
}

// paneEvictsBefore orders pane a before the pane (g, index) last seen at
// last by (last event time, group, index): a full list drops its least.
func paneEvictsBefore[P any, G group[G], PP listedPane[P, G]](a *P, last time.Time, g G, index int64) bool {
	if c := PP(a).paneLast().Compare(last); c != 0 {
		return c < 0
	}
	return comparePane[P, G, PP](a, g, index) < 0
}

// isPane reports whether p is the pane (g, index).
func isPane[P any, G group[G], PP listedPane[P, G]](p *P, g G, index int64) bool {
	pg, pi := PP(p).paneKey()
	return pg == g && pi == index
}

// resetHop sets the hop of a detector with the given window, and empties
// the list when it had another.
func resetHop[P any](hop *time.Duration, list *[]P, window time.Duration) time.Duration {
	h := max(window/2, 1)
	if *hop != h {
		clear(*list)
		*hop, *list = h, (*list)[:0]
	}
	return h
}

// neighbourPanes returns the panes (g, index-1) and (g, index+1) next to
// list[i], or nil.
func neighbourPanes[P any, G group[G], PP listedPane[P, G]](list []P, i int, g G, index int64) (prev, next *P) {
	if i > 0 && isPane[P, G, PP](&list[i-1], g, index-1) {
		prev = &list[i-1]
	}
	if i+1 < len(list) && isPane[P, G, PP](&list[i+1], g, index+1) {
		next = &list[i+1]
	}
	return prev, next
}

// windowPanes returns the panes of window index of group g, or nil.
func windowPanes[P any, G group[G], PP listedPane[P, G]](list []P, g G, index int64) (a, b *P) {
	i, ok := searchPane[P, G, PP](list, g, index)
	if ok {
		a = &list[i]
		i++
	}
	if i < len(list) && isPane[P, G, PP](&list[i], g, index+1) {
		b = &list[i]
	}
	return a, b
}

// paneHits are the hits of an event in pane idx (see WindowHit), given
// whether the windows idx-1 and idx were reached before and after it.
func paneHits(idx, floor int64, lo, hi, loAfter, hiAfter bool) (hits [2]WindowHit) {
	if idx-1 >= floor {
		hits[0] = WindowHit{Index: idx - 1, Reached: loAfter, Crossed: !lo}
	}
	hits[1] = WindowHit{Index: idx, Reached: hiAfter, Crossed: !hi}
	return hits
}

// seenAt widens [*first, *last] to event time at, and keeps in *x the
// exemplar of the events at *last: ex when at is after it, or at it with
// a greater exemplar (kept).
func seenAt[X exemplar[X]](first, last *time.Time, x *X, at time.Time, ex X) {
	if at.Before(*first) {
		*first = at
	}
	switch c := at.Compare(*last); {
	case c > 0:
		*last, *x = at, ex.kept(x)
	case c == 0 && ex.Compare(*x) > 0:
		*x = ex.kept(x)
	}
}

// paneFor returns the place in list of the pane of group g that holds
// event time at, calling insert to add it when it is not there, with the
// pane's index and the live floor (see liveFloor) when the entity's
// latest event time is latest. The place is -1 when the event is too late
// to be windowed or insert refused the pane.
func paneFor[P any, G group[G], PP listedPane[P, G]](list []P, hop time.Duration, g G, at, latest time.Time, insert func(idx, floor int64) int) (i int, idx, floor int64) {
	idx = paneIndex(at, hop)
	floor = liveFloor(latest, hop)
	if idx < floor {
		return -1, idx, floor
	}
	i, ok := searchPane[P, G, PP](list, g, idx)
	if !ok {
		i = insert(idx, floor)
	}
	return i, idx, floor
}

// placePane finds the place of a new pane (g, idx) last seen at last in
// list: it first drops the panes below floor, then, when the list is full,
// the least pane (paneEvictsBefore), or refuses the new one (-1) when that
// is the least. dropped, unless nil, is called with each pane dropped,
// before it goes. The new pane is not inserted.
func placePane[P any, G group[G], PP listedPane[P, G]](list []P, g G, idx int64, last time.Time, floor int64, maxPanes int, dropped func(*P)) ([]P, int) {
	j := 0
	for k := range list {
		if _, idx := PP(&list[k]).paneKey(); idx >= floor {
			list[j] = list[k]
			j++
		} else if dropped != nil {
			dropped(&list[k])
		}
	}
	clear(list[j:])
	list = list[:j]
	i, _ := searchPane[P, G, PP](list, g, idx)
	if len(list) >= maxPanes {
		least := 0
		for k := 1; k < len(list); k++ {
			if lg, li := PP(&list[least]).paneKey(); paneEvictsBefore[P, G, PP](&list[k], PP(&list[least]).paneLast(), lg, li) {
				least = k
			}
		}
		if !paneEvictsBefore[P, G, PP](&list[least], last, g, idx) {
			return list, -1
		}
		if dropped != nil {
			dropped(&list[least])
		}
		list = slices.Delete(list, least, least+1)
		if least < i {
			i--
		}
	}
	return list, i
}

// encodePanes writes the panes of list not yet forgotten when the
// entity's latest event time is latest: the hop, their number, then each
// with pane, given the pane written before it (a zero pane for the first).
func encodePanes[P any, G group[G], PP listedPane[P, G]](e *encoder, hop time.Duration, latest time.Time, list []P, pane func(p, prev *P)) {
	e.uvarint(uint64(hop))
	if hop <= 0 {
		e.count(0)
		return
	}
	floor := liveFloor(latest, hop)
	n := 0
	for i := range list {
		if _, idx := PP(&list[i]).paneKey(); idx >= floor {
			n++
		}
	}
	e.count(n)
	prev := new(P)
	for i := range list {
		p := &list[i]
		if _, idx := PP(p).paneKey(); idx < floor {
			continue
		}
		pane(p, prev)
		prev = p
	}
}

// decodePanes reads what encodePanes wrote: a hop up to maxHop and up to
// maxPanes panes, sorted by (group, index). On an error in a pane it
// returns the panes read so far.
func decodePanes[P any, G group[G], PP listedPane[P, G]](d *decoder, what string, maxHop uint64, maxPanes int, pane func(p, prev *P)) (time.Duration, []P) {
	h := d.Uvarint()
	if d.Err == nil && h > maxHop {
		d.Failf("%s: bad hop %d", what, h)
	}
	hop := time.Duration(h)
	n := d.count(what, maxPanes)
	if n > 0 && hop <= 0 && d.Err == nil {
		d.Failf("%s: %d panes without a hop", what, n)
	}
	if n == 0 || d.Err != nil {
		return hop, nil
	}
	list := make([]P, n)
	prev := new(P)
	for i := range list {
		p := &list[i]
		pane(p, prev)
		if d.Err != nil {
			return hop, list
		}
		if i > 0 {
			if g, idx := PP(p).paneKey(); comparePane[P, G, PP](prev, g, idx) >= 0 {
				d.Failf("%s: panes not sorted", what)
				return hop, list
			}
		}
		prev = p
	}
	return hop, list
}

// paneHead writes what every pane has: its index as a delta from
// the previous pane's, its last time relative to latest, its first
// relative to its last, and its count.
func (e *encoder) paneHead(index, prevIndex int64, first, last, latest time.Time, count uint64) {
	e.varint(index - prevIndex)
	e.timeRel(last, latest)
	e.timeRel(first, last)
	e.uvarint(count)
}

// paneHead reads what encoder.paneHead wrote.
func (d *decoder) paneHead(prevIndex int64, latest time.Time) (index int64, first, last time.Time, count uint64) {
	index = prevIndex + d.Varint()
	last = d.timeRel(latest)
	first = d.timeRel(last)
	count = d.Uvarint()
	return index, first, last, count
}

// encodeKeys writes a pane's sorted keys: their number, then each as a
// delta from the one before.
func encodeKeys[K windowKey](e *encoder, keys []K) {
	e.count(len(keys))
	for j, k := range keys {
		if j == 0 {
			e.uvarint(uint64(k))
		} else {
			e.uvarint(uint64(k - keys[j-1] - 1))
		}
	}
}

// decodeKeys reads what encodeKeys wrote, at most MaxWindowKeys strictly
// increasing keys; noun names them in errors.
func decodeKeys[K windowKey](d *decoder, what, noun string) []K {
	nk := d.count(what+" "+noun+"s", MaxWindowKeys)
	var keys []K
	if nk > 0 {
		keys = make([]K, nk)
	}
	var k uint64
	for j := range keys {
		v := d.Uvarint()
		if j > 0 {
			v += k + 1
			if v <= k { // wrapped
				d.Failf("%s: bad "+noun+" delta", what)
			}
		}
		if d.Err == nil && v > uint64(^K(0)) {
			d.Failf("%s: "+noun+" %d out of range", what, v)
		}
		k = v
		keys[j] = K(v)
	}
	return keys
}

// foldReached folds the windows an event reached (its hits), each the
// state window returns, into the state of one finding occurrence (see
// Windows.Reached). state returns a window state's first and last event
// times, its count and its Crossed; set returns it with First and Crossed
// set. (States go by value: through a pointer they would move to the
// heap.)
func foldReached[W any](hits [2]WindowHit, window func(index int64) W,
	state func(W) (first, last time.Time, count uint64, crossed int), set func(w W, first time.Time, crossed int) W) (win W, ok bool) {
	for _, h := range hits {
		if !h.Reached {
			continue
		}
		x := window(h.Index)
		xFirst, xLast, xCount, xCrossed := state(x)
		if h.Crossed {
			xCrossed = 1
			x = set(x, xFirst, xCrossed)
		}
		if !ok {
			win, ok = x, true
			continue
		}
		first, wLast, wCount, crossed := state(win)
		crossed += xCrossed
		if xFirst.Before(first) {
			first = xFirst
		}
		if c := xLast.Compare(wLast); c > 0 || c == 0 && xCount > wCount {
			win = x
		}
		win = set(win, first, crossed)
	}
	return win, ok
}

// credential is a credential as the group of signal panes.
type credential string

// Compare orders credentials as strings.
func (c credential) Compare(o credential) int { return strings.Compare(string(c), string(o)) }
