package rules

import (
	"math/bits"
	"slices"
	"strconv"

	"github.com/vigil-sec/vigil/event"
)

// A request-parameter path may name any element of a list with a "*"
// segment: "requestParameters.createVolumePermission.add.items.*.group".
// Within one rule, conditions whose paths share a wildcard (the same path
// up to and including that "*") name the same element, so
//
//	requestParameters.ipPermissions.items.*.fromPort: {atMost: 22}
//	requestParameters.ipPermissions.items.*.ipRanges.items.*.cidrIp: {covers: 0.0.0.0/0}
//
// hold for one permission and one of its ranges, not for a port of one
// permission and the range of another. A rule matches when some choice
// of elements makes every condition hold; the elements tried are those
// the decoder kept (the first 16 of each list).

// wildPrefix is the path of a list's elements up to and including its
// "*"; slots has, for each "*" of segs, the index of that wildcard's
// prefix in the rule (the last is the prefix itself).
type wildPrefix struct {
	segs  []string
	slots []int
}

// wildcards are the distinct wildcards of a rule (or of one condition),
// each listed after the wildcards of the lists that hold it.
type wildcards struct {
	prefixes []wildPrefix
}

// add registers the wildcards of a path and returns, for each "*" of
// segs, the index of its prefix.
func (w *wildcards) add(segs []string) []int {
	var slots []int
	for i, s := range segs {
		if s != wildcard {
			continue
		}
		pre := segs[:i+1]
		k := slices.IndexFunc(w.prefixes, func(p wildPrefix) bool { return slices.Equal(p.segs, pre) })
		if k < 0 {
			k = len(w.prefixes)
			w.prefixes = append(w.prefixes, wildPrefix{segs: pre, slots: append(slices.Clone(slots), k)})
		}
		slots = append(slots, k)
	}
	return slots
}

// each calls fn with each choice of element indices, one per wildcard,
// among the elements params has, until fn returns true; it reports
// whether one did.
func (w *wildcards) each(params map[string]string, fn func(idx []int) bool) bool {
	if len(params) == 0 {
		return false
	}
	var idx [maxRuleWildcards]int
	return w.bind(params, idx[:len(w.prefixes)], 0, fn)
}

func (w *wildcards) bind(params map[string]string, idx []int, k int, fn func(idx []int) bool) bool {
	if k == len(idx) {
		return fn(idx)
	}
	p := &w.prefixes[k]
	var buf [maxParamKeyLen + 8]byte
	// The list's path, its own "*" left out: "ipPermissions.items."
	key := appendPath(buf[:0], p.segs[:len(p.segs)-1], p.slots, idx)
	key = append(key, '.')
	for set := elements(params, key); set != 0; set &= set - 1 {
		idx[k] = bits.TrailingZeros32(set)
		if w.bind(params, idx, k+1, fn) {
			return true
		}
	}
	return false
}

// elements returns the set of the indices of the elements of the list
// at prefix ("items.") that params has.
func elements(params map[string]string, prefix []byte) uint32 {
	var set uint32
	for k := range params {
		if len(k) <= len(prefix) || k[:len(prefix)] != string(prefix) {
			continue
		}
		n, i := 0, len(prefix)
		for ; i < len(k) && isDigit(k[i]) && n < maxListElems; i++ {
			n = n*10 + int(k[i]-'0')
		}
		if i > len(prefix) && n < maxListElems && (i == len(k) || k[i] == '.') {
			set |= 1 << n
		}
	}
	return set
}

// appendPath appends segs joined by '.', each "*" replaced by its
// element index: idx[slots[j]] for the j-th "*".
func appendPath(b []byte, segs []string, slots []int, idx []int) []byte {
	j := 0
	for i, s := range segs {
		if i > 0 {
			b = append(b, '.')
		}
		if s == wildcard {
			b = strconv.AppendInt(b, int64(idx[slots[j]]), 10)
			j++
			continue
		}
		b = append(b, s...)
	}
	return b
}

// valueAt returns the value of the condition's path for the elements idx.
func (c *Condition) valueAt(ct *event.CloudTrail, slots, idx []int) (string, bool) {
	var buf [maxParamKeyLen + 8]byte
	v, ok := ct.RequestParameters[string(appendPath(buf[:0], c.segs, slots, idx))]
	return v, ok
}

// binding returns the first choice of elements for which the condition's
// rule matches ct (the condition alone, outside a rule), or nil.
func (c *Condition) binding(ct *event.CloudTrail) (slots, idx []int) {
	w, slots, test := c.own, c.ownSlots, c.holdsAt
	if r := c.rule; r != nil {
		w, slots, test = r.wild, c.slots, func(ct *event.CloudTrail, idx []int) bool { return r.holdsAt(ct, idx) }
	}
	var found []int
	w.each(ct.RequestParameters, func(i []int) bool {
		if test(ct, i) {
			found = slices.Clone(i)
			return true
		}
		return false
	})
	return slots, found
}

// holdsAt reports whether the condition alone holds for its own
// wildcards' elements idx.
func (c *Condition) holdsAt(ct *event.CloudTrail, idx []int) bool {
	v, ok := c.valueAt(ct, c.ownSlots, idx)
	return c.test(ct, v, ok)
}

// holdsAt reports whether every wildcard condition of r holds for the
// rule's wildcards' elements idx.
func (r *Rule) holdsAt(ct *event.CloudTrail, idx []int) bool {
	for i := range r.Conditions {
		c := &r.Conditions[i]
		if c.segs == nil {
			continue
		}
		if v, ok := c.valueAt(ct, c.slots, idx); !c.test(ct, v, ok) {
			return false
		}
	}
	return true
}

// bindWildcards registers the wildcards of r's conditions, and refuses a
// rule with more than maxRuleWildcards.
func (r *Rule) bindWildcards() bool {
	w := &wildcards{}
	for i := range r.Conditions {
		c := &r.Conditions[i]
		c.rule = r
		if c.segs == nil {
			continue
		}
		c.slots = w.add(c.segs)
		c.own = &wildcards{}
		c.ownSlots = c.own.add(c.segs)
	}
	if len(w.prefixes) > maxRuleWildcards {
		return false
	}
	if len(w.prefixes) > 0 {
		r.wild = w
	}
	return true
}
