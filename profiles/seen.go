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

// Find returns the entry for value, or nil.
func (s SeenSet) Find(value string) *Seen {
	i, ok := slices.BinarySearchFunc(s, value, func(e Seen, v string) int { return strings.Compare(e.Value, v) })
	if !ok {
		return nil
	}
	return &s[i]
}

// observe records value at time t. When the set already holds max values,
// a new value evicts the least recently seen other one. It reports whether
// value is new to the set.
func (s *SeenSet) observe(value string, t time.Time, max int) bool {
	i, ok := slices.BinarySearchFunc(*s, value, func(e Seen, v string) int { return strings.Compare(e.Value, v) })
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
	*s = slices.Insert(*s, i, Seen{Value: value, Count: 1, FirstSeen: t, LastSeen: t})
	if len(*s) > max {
		j := oldestSeen(*s, i)
		*s = slices.Delete(*s, j, j+1)
	}
	return true
}

// oldestSeen returns the index of the least recently seen entry other than
// skip; ties go to the smallest value, so eviction is deterministic.
func oldestSeen(s SeenSet, skip int) int {
	best := -1
	for i := range s {
		if i == skip {
			continue
		}
		if best < 0 || s[i].LastSeen.Before(s[best].LastSeen) {
			best = i
		}
	}
	return best
}

func (s SeenSet) encode(e *encoder) {
	e.count(len(s))
	for _, v := range s {
		e.str(v.Value)
		e.uvarint(v.Count)
		e.time(v.FirstSeen)
		e.time(v.LastSeen)
	}
}

func decodeSeenSet(d *decoder, what string, max, maxLen int) SeenSet {
	n := d.count(what, max)
	if n == 0 {
		return nil
	}
	s := make(SeenSet, n)
	for i := range s {
		s[i].Value = d.str(what, maxLen)
		s[i].Count = d.uvarint()
		s[i].FirstSeen = d.time()
		s[i].LastSeen = d.time()
		if d.err == nil && i > 0 && s[i-1].Value >= s[i].Value {
			d.fail("%s: values not sorted", what)
		}
	}
	return s
}
