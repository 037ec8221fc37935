// Package rules holds custom detection rules: declarative matches over the
// fields of a CloudTrail management event, each raising a finding of the
// rule's own type and severity, optionally only once a count of matching
// events is reached within a window of event time (spec §1.7).
//
// A rule set is loaded from YAML or JSON files (Load, LoadDir), validated
// whole before use: an unknown key, a bad finding type, an unknown field
// or operator, a count or size past its bound is an error naming the file,
// the line, the rule and the key. The starter rules (Starter) are built in
// and loaded by default.
//
// A Set is immutable once loaded and safe for concurrent use.
package rules

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// Rule is one custom detection rule.
type Rule struct {
	// ID names the rule: unique within a set, and the signal name in the
	// findings it raises.
	ID string
	// Type is the finding type it raises, "Tactic:Service/Technique".
	// Rules of one type raise one finding per principal (GuardDuty
	// aggregates signals that share a type).
	Type string
	// Severity is between 1 and 10.
	Severity    float64
	Description string
	// Conditions must all hold for an event to match.
	Conditions []Condition
	// Threshold, when set, raises the finding only once Count matching
	// events of one principal lie within one window.
	Threshold *Threshold
	// File is the file the rule was read from ("starter/x.yaml" for a
	// starter rule).
	File string

	wild *wildcards // of the conditions' paths, nil without any
}

// Threshold is a rule's "count N within D": N distinct matching events
// (by event id) of one principal within a window of length Within, per
// value of the GroupBy field when one is named.
type Threshold struct {
	Count   int
	Within  time.Duration
	GroupBy string
	group   getter
	// Distinct, when set, names the field whose distinct values are
	// counted (secrets read, not reads of one secret); an event without
	// the field counts as itself. Empty counts events.
	Distinct string
	distinct getter
}

// Key returns what the threshold counts of ct: the value of its Distinct
// field, or "" for the event itself.
func (t *Threshold) Key(ct *event.CloudTrail) string {
	if t.distinct == nil {
		return ""
	}
	v, _ := t.distinct(ct)
	return v
}

// Group returns the value of the threshold's group-by field in ct, or ""
// without one (or when the event lacks the field).
func (t *Threshold) Group(ct *event.CloudTrail) string {
	if t.group == nil {
		return ""
	}
	v, _ := t.group(ct)
	return v
}

// Match reports whether every condition of r holds for ct: for a rule
// with wildcards, for some choice of list elements (see wildcard.go).
func (r *Rule) Match(ct *event.CloudTrail) bool {
	for i := range r.Conditions {
		if c := &r.Conditions[i]; c.segs == nil && !c.Match(ct) {
			return false
		}
	}
	if r.wild == nil {
		return true
	}
	return r.wild.each(ct.RequestParameters, func(idx []int) bool { return r.holdsAt(ct, idx) })
}

// Operators a condition may use.
const (
	OpEquals         = "equals"
	OpPrefix         = "prefix"
	OpIn             = "in"
	OpNotIn          = "notIn"
	OpContains       = "contains"
	OpCIDR           = "cidr"
	OpCovers         = "covers"
	OpAtLeast        = "atLeast"
	OpAtMost         = "atMost"
	OpAbsent         = "absent"
	OpPresent        = "present"
	OpNotEqualsField = "notEqualsField"
	OpForeignAccount = "foreignAccount"
)

// Condition is one test on one field of an event.
type Condition struct {
	// Field is the field's name as rules write it ("eventName",
	// "requestParameters.userName").
	Field string
	// Op is one of the Op constants.
	Op string
	// Values are the operator's arguments as written.
	Values []string

	get      getter
	segs     []string   // the path of a field with a wildcard (get is nil)
	slots    []int      // the rule's wildcard of each "*" of segs
	own      *wildcards // the wildcards of segs alone
	ownSlots []int
	rule     *Rule
	others   []getter            // notEqualsField
	set      map[string]struct{} // in, notIn
	nets     []netip.Prefix      // cidr, covers
	num      float64             // atLeast, atMost
}

// String describes the condition: "eventName in [GetSecretValue]".
func (c *Condition) String() string {
	switch c.Op {
	case OpAbsent, OpPresent, OpForeignAccount:
		return c.Field + " " + c.Op
	case OpEquals, OpAtLeast, OpAtMost:
		return c.Field + " " + c.Op + " " + c.Values[0]
	}
	return c.Field + " " + c.Op + " [" + strings.Join(c.Values, ", ") + "]"
}

// Observed returns the field's value in ct, and whether the event has it.
// For a path with a wildcard it is the value at the first choice of
// elements for which the rule matches.
func (c *Condition) Observed(ct *event.CloudTrail) (string, bool) {
	if c.segs == nil {
		return c.get(ct)
	}
	slots, idx := c.binding(ct)
	if idx == nil {
		return "", false
	}
	return c.valueAt(ct, slots, idx)
}

// Match reports whether the condition holds for ct. A field the event
// lacks fails every operator but absent and notIn; notEqualsField holds
// when the field is present and differs from each of the other fields
// the event has. A path with a wildcard holds when it holds for some
// element the event has (in a rule, the same element as the rule's other
// conditions on that list: see Rule.Match).
func (c *Condition) Match(ct *event.CloudTrail) bool {
	if c.segs != nil {
		return c.own.each(ct.RequestParameters, func(idx []int) bool { return c.holdsAt(ct, idx) })
	}
	v, ok := c.get(ct)
	return c.test(ct, v, ok)
}

// test applies the operator to a value of the field (ok if present).
func (c *Condition) test(ct *event.CloudTrail, v string, ok bool) bool {
	switch c.Op {
	case OpAbsent:
		return !ok
	case OpPresent:
		return ok
	case OpNotIn:
		_, in := c.set[v]
		return !ok || !in
	}
	if !ok {
		return false
	}
	switch c.Op {
	case OpEquals:
		return v == c.Values[0]
	case OpIn:
		_, in := c.set[v]
		return in
	case OpPrefix:
		for _, p := range c.Values {
			if strings.HasPrefix(v, p) {
				return true
			}
		}
	case OpContains:
		for _, p := range c.Values {
			if strings.Contains(v, p) {
				return true
			}
		}
	case OpCIDR:
		p, ok := parseNet(v)
		if !ok {
			return false
		}
		for _, n := range c.nets {
			if n.Bits() <= p.Bits() && n.Contains(p.Addr()) {
				return true
			}
		}
	case OpCovers:
		p, ok := parseNet(v)
		if !ok {
			return false
		}
		for _, n := range c.nets {
			if p.Bits() <= n.Bits() && p.Contains(n.Addr()) {
				return true
			}
		}
	case OpAtLeast, OpAtMost:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		if c.Op == OpAtLeast {
			return f >= c.num
		}
		return f <= c.num
	case OpNotEqualsField:
		for _, other := range c.others {
			if o, ok := other(ct); ok && o == v {
				return false
			}
		}
		return true
	case OpForeignAccount:
		return hasForeignAccount(v, eventAccount(ct))
	}
	return false
}

// parseNet reads an address or a network in CIDR form, masked: AWS
// accepts host bits in a CIDR ("198.51.100.7/0" is the whole internet).
func parseNet(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr()))
		return p.Masked(), p.IsValid()
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// unmapBits is how many bits Unmap takes off a prefix of a.
func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

// eventAccount is the account an event belongs to: the recipient, or the
// caller's when the record names no recipient.
func eventAccount(ct *event.CloudTrail) string {
	if ct.RecipientAccount != "" {
		return ct.RecipientAccount
	}
	return ct.Identity.AccountID
}

// hasForeignAccount reports whether s names an AWS account other than own:
// a run of exactly 12 digits, alone or inside an ARN
// ("arn:aws:iam::444455556666:root").
func hasForeignAccount(s, own string) bool {
	return foreignAccount(s, own) != ""
}

// foreignAccount returns the first 12-digit account id in s other than
// own, or "".
func foreignAccount(s, own string) string {
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i == 12 && s[i:j] != own {
			return s[i:j]
		}
		i = j
	}
	return ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// ForeignAccount returns the account id that made a foreignAccount
// condition hold on ct, for evidence, or "".
func (c *Condition) ForeignAccount(ct *event.CloudTrail) string {
	if c.Op != OpForeignAccount {
		return ""
	}
	v, _ := c.Observed(ct)
	return foreignAccount(v, eventAccount(ct))
}

// Set is a loaded, validated rule set.
type Set struct {
	rules []*Rule // by ID
	// byName indexes the rules with an eventName equals or in condition;
	// other holds the rest, checked on every event.
	byName map[string][]*Rule
	other  []*Rule
}

// Rules returns the rules, sorted by ID. The slice must not be changed.
func (s *Set) Rules() []*Rule {
	if s == nil {
		return nil
	}
	return s.rules
}

// Len returns the number of rules.
func (s *Set) Len() int { return len(s.Rules()) }

// Matching appends to dst the rules that match ct, in ID order.
func (s *Set) Matching(ct *event.CloudTrail, dst []*Rule) []*Rule {
	if s == nil || ct == nil {
		return dst
	}
	a, b := s.byName[ct.EventName], s.other
	for len(a) > 0 || len(b) > 0 {
		var r *Rule
		if len(b) == 0 || len(a) > 0 && a[0].ID < b[0].ID {
			r, a = a[0], a[1:]
		} else {
			r, b = b[0], b[1:]
		}
		if r.Match(ct) {
			dst = append(dst, r)
		}
	}
	return dst
}

// Types returns the distinct finding types of the set's rules, sorted.
func (s *Set) Types() []string {
	var out []string
	for _, r := range s.Rules() {
		out = append(out, r.Type)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// newSet indexes rules (sorted by ID, validated).
func newSet(rs []*Rule) *Set {
	s := &Set{rules: rs, byName: map[string][]*Rule{}}
	for _, r := range rs {
		names := eventNames(r)
		if names == nil {
			s.other = append(s.other, r)
			continue
		}
		for _, n := range names {
			s.byName[n] = append(s.byName[n], r)
		}
	}
	return s
}

// eventNames returns the event names a rule can match when one of its
// conditions pins eventName, or nil.
func eventNames(r *Rule) []string {
	var names []string
	for i := range r.Conditions {
		c := &r.Conditions[i]
		if c.Field != "eventName" || (c.Op != OpEquals && c.Op != OpIn) {
			continue
		}
		vals := slices.Clone(c.Values)
		slices.Sort(vals)
		vals = slices.Compact(vals)
		if names == nil {
			names = vals
			continue
		}
		names = slices.DeleteFunc(names, func(n string) bool { return !slices.Contains(vals, n) })
		if len(names) == 0 {
			return []string{} // never matches: indexed under no name
		}
	}
	return names
}
