package profiles

import (
	"slices"
	"time"
)

// The sets and window lists of a profile are slices sorted by key and
// capped: adding a key to a full one evicts its least recently seen entry.
// These helpers are that logic, once for every list type.

// find returns the entry of key in the sorted list s, or nil.
func find[E, K any](s []E, key K, cmp func(E, K) int) *E {
	i, ok := slices.BinarySearchFunc(s, key, cmp)
	if !ok {
		return nil
	}
	return &s[i]
}

// insertCapped inserts v at index i of s; when s then holds more than max
// entries, it drops the least recently seen entry other than v (the first
// of equals, so eviction is deterministic). It returns s and v's index.
func insertCapped[E any](s []E, i int, v E, max int, seen func(E) time.Time) ([]E, int) {
	s = slices.Insert(s, i, v)
	if len(s) <= max {
		return s, i
	}
	j := -1
	for k := range s {
		if k != i && (j < 0 || seen(s[k]).Before(seen(s[j]))) {
			j = k
		}
	}
	s = slices.Delete(s, j, j+1)
	if j < i {
		i--
	}
	return s, i
}

// encodeList writes the length of s, then each entry. entry (like that of
// decodeList) reaches the encoder through its closure: passed as an
// argument of a func value, the encoder would escape to the heap.
func encodeList[E any](e *encoder, s []E, entry func(*E)) {
	e.count(len(s))
	for i := range s {
		entry(&s[i])
	}
}

// decodeList reads what encodeList wrote, at most max entries (nil for
// none). Unless inOrder is nil it fails, with the format unsorted given
// what, when an entry is not in order after the one before.
func decodeList[E any](d *decoder, what string, max int, entry func(*E), inOrder func(prev, next *E) bool, unsorted string) []E {
	n := d.count(what, max)
	if n == 0 {
		return nil
	}
	s := make([]E, n)
	for i := range s {
		entry(&s[i])
		if inOrder != nil && d.Err == nil && i > 0 && !inOrder(&s[i-1], &s[i]) {
			d.Failf(unsorted, what)
		}
	}
	return s
}
