package eval

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-sec/vigil/detect/dga"
	"github.com/vigil-sec/vigil/findings"
)

// Report is the outcome of an evaluation.
type Report struct {
	// Types has a row per finding type expected, forbidden or raised, in
	// type order.
	Types  []TypeRow `json:"types"`
	Totals TypeRow   `json:"totals"`
	Sets   []SetRow  `json:"sets"`
	// ExpectedNone lists the attack units no type is expected of, with
	// the reason and what they raised.
	ExpectedNone []UnitOutcome `json:"expectedNone"`
	// Missed and False list the units behind those counts.
	Missed []UnitOutcome `json:"missed"`
	False  []UnitOutcome `json:"false"`
	// Profiles and NetworkProfiles are the stored sizes of the principal
	// and network profiles.
	Profiles        ProfileSizes `json:"principalProfileBytes"`
	NetworkProfiles ProfileSizes `json:"networkProfileBytes"`
	// DGA is the DGA model's evaluation on its held-back split; when the
	// labelled domain lists are absent it is nil and DGAAbsent says why.
	DGA       *dga.Report `json:"dga,omitempty"`
	DGAAbsent string      `json:"dgaAbsent,omitempty"`
	Records   int         `json:"records"`
	// Elapsed is the replay's wall time (produce to applied), and Total
	// the whole run's.
	Elapsed time.Duration `json:"elapsedNs"`
	Total   time.Duration `json:"totalNs"`
}

// TypeRow scores one finding type over the units: Expected units must
// raise it and Detected did; False units raised it where it is forbidden
// (a benign unit, or a rule test expected not to alert); Other units
// raised it without a label either way (an attack that set off another
// detector).
type TypeRow struct {
	Type string `json:"type"`
	// Implemented is false for a type that is only labelled: vigil does
	// not raise it (yet).
	Implemented bool `json:"implemented"`
	Expected    int  `json:"expected"`
	Detected    int  `json:"detected"`
	Missed      int  `json:"missed"`
	False       int  `json:"false"`
	Other       int  `json:"other"`
}

// SetRow summarises one data set.
type SetRow struct {
	Set      string `json:"set"`
	Units    int    `json:"units"`
	Benign   int    `json:"benignUnits"`
	Records  int    `json:"records"`
	Findings int    `json:"findings"`
}

// UnitOutcome is a unit's labels and the types it raised.
type UnitOutcome struct {
	Set    string   `json:"set"`
	Name   string   `json:"name"`
	Expect []string `json:"expect,omitempty"`
	Raised []string `json:"raised,omitempty"`
	Type   string   `json:"type,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// ProfileSizes are the bytes the stored principal profiles take (key and
// value as Pebble stores them, before compression).
type ProfileSizes struct {
	Count  int `json:"count"`
	Median int `json:"median"`
	P99    int `json:"p99"`
	Max    int `json:"max"`
}

// Sizes returns the median, p99 and max of sizes (nearest rank).
func Sizes(sizes []int) ProfileSizes {
	if len(sizes) == 0 {
		return ProfileSizes{}
	}
	s := slices.Sorted(slices.Values(sizes))
	rank := func(q float64) int {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return ProfileSizes{Count: len(s), Median: rank(0.5), P99: rank(0.99), Max: s[len(s)-1]}
}

// Score scores the findings raised (merged, any order) against the
// corpus's units. catalogue lists the types the engine raises: each has a
// row, raised or not.
func Score(c *Corpus, raised []findings.Finding, catalogue []string) *Report {
	byAccount := map[string]map[string]bool{}
	perAccount := map[string]int{}
	known := map[string]bool{}
	for _, t := range catalogue {
		known[t] = true
	}
	implemented := func(t string) bool { return known[t] }
	for _, f := range raised {
		known[f.Type] = true
		m := byAccount[f.AccountID]
		if m == nil {
			m = map[string]bool{}
			byAccount[f.AccountID] = m
		}
		m[f.Type] = true
		perAccount[f.AccountID]++
	}
	rows := map[string]*TypeRow{}
	row := func(typ string) *TypeRow {
		r, ok := rows[typ]
		if !ok {
			r = &TypeRow{Type: typ, Implemented: implemented(typ)}
			rows[typ] = r
		}
		return r
	}
	r := &Report{Records: c.Records()}
	for _, t := range catalogue {
		row(t)
	}
	sets := map[string]*SetRow{}
	var setOrder []string
	for _, u := range c.Units {
		got := byAccount[u.Account]
		types := make([]string, 0, len(got))
		for t := range got {
			types = append(types, t)
		}
		sort.Strings(types)
		s, ok := sets[u.Set]
		if !ok {
			s = &SetRow{Set: u.Set}
			sets[u.Set] = s
			setOrder = append(setOrder, u.Set)
		}
		s.Units++
		if u.Benign {
			s.Benign++
		}
		s.Records += len(u.Records)
		s.Findings += perAccount[u.Account]
		out := UnitOutcome{Set: u.Set, Name: u.Name, Expect: u.Expect, Raised: types, Reason: u.Reason}
		for _, t := range u.Expect {
			x := row(t)
			x.Expected++
			if got[t] {
				x.Detected++
			} else {
				x.Missed++
				o := out
				o.Type = t
				r.Missed = append(r.Missed, o)
			}
		}
		for _, t := range u.Forbid {
			row(t)
		}
		for _, t := range types {
			switch {
			case slices.Contains(u.Expect, t):
			case u.Benign || slices.Contains(u.Forbid, t):
				row(t).False++
				o := out
				o.Type = t
				r.False = append(r.False, o)
			default:
				row(t).Other++
			}
		}
		if len(u.Expect) == 0 && !u.Benign && len(u.Forbid) == 0 && u.Set == SetStratus {
			r.ExpectedNone = append(r.ExpectedNone, out)
		}
	}
	for _, x := range rows {
		r.Types = append(r.Types, *x)
		r.Totals.Expected += x.Expected
		r.Totals.Detected += x.Detected
		r.Totals.Missed += x.Missed
		r.Totals.False += x.False
		r.Totals.Other += x.Other
	}
	r.Totals.Type = "total"
	sort.Slice(r.Types, func(i, j int) bool { return r.Types[i].Type < r.Types[j].Type })
	for _, s := range setOrder {
		r.Sets = append(r.Sets, *sets[s])
	}
	return r
}

// WriteTable prints the report as text tables.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "finding type\texpected\tdetected\tmissed\tfalse\tother\t")
	for _, t := range r.Types {
		name := t.Type
		if !t.Implemented {
			name += " (not implemented)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", name, t.Expected, t.Detected, t.Missed, t.False, t.Other)
	}
	t := r.Totals
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", t.Type, t.Expected, t.Detected, t.Missed, t.False, t.Other)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nexpected: units labelled with the type; false: units that must not raise it (benign data, rule tests expected not to alert) and did; other: attack units that raised it unlabelled.")

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "data set\tunits\tbenign\trecords\tfindings\t")
	for _, s := range r.Sets {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", s.Set, s.Units, s.Benign, s.Records, s.Findings)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	list := func(title string, us []UnitOutcome, withType bool) {
		if len(us) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, u := range us {
			line := "  " + u.Set + " " + u.Name
			if withType {
				line += ": " + u.Type
			}
			if len(u.Raised) > 0 {
				line += " (raised " + strings.Join(u.Raised, ", ") + ")"
			}
			if !withType && u.Reason != "" {
				line += ": " + u.Reason
			}
			fmt.Fprintln(w, line)
		}
	}
	list("Stratus techniques no type is expected of", r.ExpectedNone, false)
	list("missed", r.Missed, true)
	list("false findings", r.False, true)
	fmt.Fprintln(w)
	switch {
	case r.DGA != nil:
		dga.WriteReport(w, r.DGA)
	case r.DGAAbsent != "":
		fmt.Fprintf(w, "DGA model (Trojan:EC2/DGADomainRequest.B): not evaluated, labelled data absent: %s\n", r.DGAAbsent)
	}
	p := r.Profiles
	fmt.Fprintf(w, "\nprincipal profiles: %d stored, %d bytes median, %d bytes p99, %d bytes max\n", p.Count, p.Median, p.P99, p.Max)
	p = r.NetworkProfiles
	fmt.Fprintf(w, "network profiles: %d stored, %d bytes median, %d bytes p99, %d bytes max\n", p.Count, p.Median, p.P99, p.Max)
	fmt.Fprintf(w, "%d records replayed in %s (%s in all)\n", r.Records, r.Elapsed.Round(time.Millisecond), r.Total.Round(time.Millisecond))
	return nil
}
