package profiles

import (
	"slices"
)

// The sets and window lists of a profile are slices sorted by key and
// bounded. A full list keeps its greatest entries by an order that does
// not depend on arrival (most often (last seen, key)): adding an entry
// drops the least one, which may be the new entry itself. So the kept
// entries are a function of what was added, not of its order, as long as
// a dropped entry is never added to again (after which its history is
// lost: the documented inexactness of every cap). These helpers are that
// logic, once for every list type.

// find returns the entry of key in the sorted list s, or nil.
func find[E, K any](s []E, key K, cmp func(E, K) int) *E {
	i, ok := slices.BinarySearchFunc(s, key, cmp)
	if !ok {
		return nil
	}
	return &s[i]
}

// insertBounded inserts v at index i of the sorted list s, keeping at most
// max entries: when s is full, the least entry by less is dropped, or v
// itself when no entry is greater than v. It returns s and v's index, or
// -1 when v was dropped. A full list is not reallocated.
//
// less takes values: given a pointer to v, the compiler would move v to
// the heap on every call.
func insertBounded[E any](s []E, i int, v E, max int, less func(a, b E) bool) ([]E, int) {
	if len(s) < max {
		return slices.Insert(s, i, v), i
	}
	if len(s) == 0 {
		return s, -1
	}
	j := 0
	for k := 1; k < len(s); k++ {
		if less(s[k], s[j]) {
			j = k
		}
	}
	if !less(s[j], v) {
		return s, -1
	}
	if j < i {
		copy(s[j:i-1], s[j+1:i])
		i--
	} else {
		copy(s[i+1:j+1], s[i:j])
	}
	s[i] = v
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
