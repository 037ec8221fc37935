package profiles

import (
	"slices"
	"strings"
	"time"
)

// Seen is one value of a bounded set: how often and when it was seen.
type Seen struct {
	Value     string    `json:"value"`
	Count     uint64    `json:"count"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// SeenSet is a bounded set of values sorted by Value. Count, FirstSeen and
// LastSeen of a value are a sum, a min and a max, so they do not depend on
// the order of the events. A full set keeps the values with the smallest
// hashes (a bottom-k sample): which values those are depends only on the
// values seen, never on their order, so a kept value was never dropped and
// its figures are exact whatever the order. A value outside a full set
// may or may not have been seen; Saturated says when that can be.
type SeenSet []Seen

func bySeenValue(e Seen, v string) int { return strings.Compare(e.Value, v) }

// seenLess orders entries for eviction: the greatest hash goes first (a
// hash collision is settled by the value).
func seenLess(a, b Seen) bool {
	ha, hb := hash64(a.Value), hash64(b.Value)
	if ha != hb {
		return ha > hb
	}
	return a.Value > b.Value
}

// Saturated reports whether the set is full, so that a value it does not
// hold may have been seen and dropped.
func (s SeenSet) Saturated(max int) bool { return len(s) >= max }

// Find returns the entry for value, or nil.
func (s SeenSet) Find(value string) *Seen { return find(s, value, bySeenValue) }

// observe records value at time t in a set of at most max values.
func (s *SeenSet) observe(value string, t time.Time, max int) {
	i, ok := slices.BinarySearchFunc(*s, value, bySeenValue)
	if ok {
		e := &(*s)[i]
		e.Count++
		if t.Before(e.FirstSeen) {
			e.FirstSeen = t
		}
		if t.After(e.LastSeen) {
			e.LastSeen = t
		}
		return
	}
	// The value is copied only once kept: see keep.
	if *s, i = insertBounded(*s, i, Seen{Value: value, Count: 1, FirstSeen: t, LastSeen: t}, max, seenLess); i >= 0 {
		(*s)[i].Value = strings.Clone(value)
	}
}

// encode writes the set, its times relative to ref (the profile's latest
// event time) and each FirstSeen relative to its LastSeen.
func (s SeenSet) encode(e *encoder, ref time.Time) {
	encodeList(e, s, func(v *Seen) {
		e.str(v.Value)
		e.uvarint(v.Count)
		e.timeRel(v.LastSeen, ref)
		e.timeRel(v.FirstSeen, v.LastSeen)
	})
}

func decodeSeenSet(d *decoder, what string, max, maxLen int, ref time.Time) SeenSet {
	return decodeList(d, what, max, func(v *Seen) {
		v.Value = d.str(what, maxLen)
		v.Count = d.Uvarint()
		v.LastSeen = d.timeRel(ref)
		v.FirstSeen = d.timeRel(v.LastSeen)
	}, func(prev, next *Seen) bool { return prev.Value < next.Value }, "%s: values not sorted")
}
