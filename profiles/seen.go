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

// SeenSet is a bounded set of values sorted by Value.
type SeenSet []Seen

func bySeenValue(e Seen, v string) int { return strings.Compare(e.Value, v) }
func seenLast(e Seen) time.Time        { return e.LastSeen }

// Find returns the entry for value, or nil.
func (s SeenSet) Find(value string) *Seen { return find(s, value, bySeenValue) }

// observe records value at time t. When the set already holds max values,
// a new value evicts the least recently seen other one. It reports whether
// value is new to the set.
func (s *SeenSet) observe(value string, t time.Time, max int) bool {
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
		return false
	}
	*s, _ = insertCapped(*s, i, Seen{Value: strings.Clone(value), Count: 1, FirstSeen: t, LastSeen: t}, max, seenLast)
	return true
}

func (s SeenSet) encode(e *encoder) {
	encodeList(e, s, func(v *Seen) {
		e.str(v.Value)
		e.uvarint(v.Count)
		e.time(v.FirstSeen)
		e.time(v.LastSeen)
	})
}

func decodeSeenSet(d *decoder, what string, max, maxLen int) SeenSet {
	return decodeList(d, what, max, func(v *Seen) {
		v.Value = d.str(what, maxLen)
		v.Count = d.Uvarint()
		v.FirstSeen = d.time()
		v.LastSeen = d.time()
	}, func(prev, next *Seen) bool { return prev.Value < next.Value }, "%s: values not sorted")
}
