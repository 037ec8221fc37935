package profiles

import (
	"slices"
	"strings"
	"time"
)

// The anomalous calls of a principal are grouped per tactic in hopping
// windows of event time, as the other window detectors' events are
// (window.go): a window of length W is the union of two panes of length
// W/2, and every call lies in two windows. A pane holds the anomalous
// calls of one tactic in one half-window — distinct (API, outcome), each
// with the context of its earliest call and what the baseline knew of the
// API — and the unusual context values that made them anomalous, with
// their evidence. Tactics are independent: a call touches the panes of its
// own tactic only.
//
// Every part of a pane is a function of the set of its calls: counts are
// sums, times mins and maxes, the calls a bottom-K set by (API, outcome)
// whose entries keep the least call by (time, context), and the unusual
// values a bottom-K set by (dimension, value). Panes are forgotten by
// event time (WindowLateness after both their windows ended, as in
// window.go), and a full list drops its least pane by (last call, tactic,
// index) or refuses the new one when that is the least. The state is
// exact unless a call arrives WindowLateness or more after the
// principal's latest event time, or more than MaxAnomalyPanes panes are
// live.

// Anomaly pane caps.
const (
	// AnomalyTactics is how many tactics the panes tell apart.
	AnomalyTactics = 8
	// MaxAnomalyPanes bounds a principal's live panes, tactics times
	// half-windows. Anomalous calls are rare after the learning period;
	// twelve hold an attack of a few tactics over a few hours, and each
	// takes 100 bytes to 14 KB encoded.
	MaxAnomalyPanes = 12
	// MaxPaneCalls bounds the distinct anomalous calls of a pane, so a
	// finding lists at most 16 (Count counts them all).
	MaxPaneCalls = 8
	// MaxPaneUnusual bounds the unusual context values of a pane: a few
	// per dimension.
	MaxPaneUnusual = 8
	// MaxCallContextLen bounds a context string of an anomalous call (a
	// full user agent is cut there).
	MaxCallContextLen = 256
)

// AnomalousCall is one distinct anomalous call of a pane.
type AnomalousCall struct {
	Tactic uint8  `json:"tactic"`
	API    string `json:"api"`
	// Outcome is the error code, empty for a call that succeeded.
	Outcome string    `json:"outcome,omitempty"`
	At      time.Time `json:"at"`
	// The context of the call at At.
	SourceIP    string `json:"sourceIp,omitempty"`
	UserAgent   string `json:"userAgent,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
	UserType    string `json:"userType,omitempty"`
	// FirstSeen, LastSeen and Days are what the baseline knew of the API
	// before the pane's reference day (zero times: never seen).
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Days      uint8     `json:"daysActive"`
}

func (c *AnomalousCall) compareKey(o *AnomalousCall) int {
	if x := strings.Compare(c.API, o.API); x != 0 {
		return x
	}
	return strings.Compare(c.Outcome, o.Outcome)
}

// lessCall orders two calls of the same key: the earlier, then the least
// context.
func lessCall(a, b *AnomalousCall) bool {
	if c := a.At.Compare(b.At); c != 0 {
		return c < 0
	}
	return compareStrings(
		[]string{a.SourceIP, a.UserAgent, a.AccessKeyID, a.PrincipalID, a.UserType},
		[]string{b.SourceIP, b.UserAgent, b.AccessKeyID, b.PrincipalID, b.UserType}) < 0
}

// Unusual is an unusual context value of an anomalous call, with what the
// baseline knew of it before the pane's reference day.
type Unusual struct {
	Dim   Dim    `json:"dim"`
	Value string `json:"value"`
	// FirstSeen and LastSeen are zero for a value never seen before.
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Calls and Failures are the baseline's, for DimErrorRate.
	Calls    uint64 `json:"calls,omitempty"`
	Failures uint64 `json:"failures,omitempty"`
}

func (u *Unusual) compareKey(o *Unusual) int {
	if u.Dim != o.Dim {
		return cmpInt(int64(u.Dim), int64(o.Dim))
	}
	return strings.Compare(u.Value, o.Value)
}

// AnomalyPane is the anomalous calls of one tactic in one half-window.
type AnomalyPane struct {
	Tactic uint8 `json:"tactic"`
	// Index places the pane: it spans [Index·hop, (Index+1)·hop).
	Index int64     `json:"index"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Count counts every anomalous call, repeated ones too.
	Count   uint64          `json:"count"`
	Calls   []AnomalousCall `json:"calls"`
	Unusual []Unusual       `json:"unusual"`
}

type anomalyPaneKey struct {
	tactic uint8
	index  int64
}

func byAnomalyPane(p AnomalyPane, k anomalyPaneKey) int {
	if p.Tactic != k.tactic {
		return cmpInt(int64(p.Tactic), int64(k.tactic))
	}
	return cmpInt(p.Index, k.index)
}

// AnomalyPanes are a principal's anomaly panes, sorted by (tactic, index).
type AnomalyPanes struct {
	// Hop is half the window; panes observed with another window start
	// over.
	Hop   time.Duration `json:"hop"`
	Panes []AnomalyPane `json:"panes"`
}

// AnomalyPaneStart is the start of the pane of a window of length window
// that holds t.
func AnomalyPaneStart(t time.Time, window time.Duration) time.Time {
	hop := max(window/2, 1)
	return paneStart(paneIndex(t, hop), hop)
}

// Observe adds anomalous call c, made unusual by unusual, to the panes of
// its tactic for a window of length window, when the principal's latest
// event time (this call's included) is latest. It returns the call's pane
// index, and whether the pane was new with it (once per pane, whatever
// the order). ok is false when the call is too late to be windowed or its
// pane is the least of a full list.
func (a *AnomalyPanes) Observe(c AnomalousCall, unusual []Unusual, window time.Duration, latest time.Time) (index int64, crossed, ok bool) {
	hop := max(window/2, 1)
	if a.Hop != hop {
		a.Hop, a.Panes = hop, nil
	}
	c.At = c.At.UTC()
	if c.Tactic >= AnomalyTactics {
		return 0, false, false
	}
	idx := paneIndex(c.At, hop)
	floor := liveFloor(latest, hop)
	if idx < floor {
		return idx, false, false
	}
	a.Panes = slices.DeleteFunc(a.Panes, func(p AnomalyPane) bool { return p.Index < floor })
	i, found := slices.BinarySearchFunc(a.Panes, anomalyPaneKey{c.Tactic, idx}, byAnomalyPane)
	if !found {
		fresh := AnomalyPane{Tactic: c.Tactic, Index: idx, First: c.At, Last: c.At}
		if a.Panes, i = insertBounded(a.Panes, i, fresh, MaxAnomalyPanes, func(x, y AnomalyPane) bool {
			if c := x.Last.Compare(y.Last); c != 0 {
				return c < 0
			}
			if x.Tactic != y.Tactic {
				return x.Tactic < y.Tactic
			}
			return x.Index < y.Index
		}); i < 0 {
			return idx, false, false
		}
	}
	p := &a.Panes[i]
	crossed = p.Count == 0
	p.Count++
	if c.At.Before(p.First) {
		p.First = c.At
	}
	if c.At.After(p.Last) {
		p.Last = c.At
	}
	c.API = clip(c.API, MaxBaselineValueLen)
	c.Outcome = clip(c.Outcome, MaxBaselineValueLen)
	for _, s := range []*string{&c.SourceIP, &c.UserAgent, &c.AccessKeyID, &c.PrincipalID, &c.UserType} {
		*s = clip(*s, MaxCallContextLen)
	}
	j, have := slices.BinarySearchFunc(p.Calls, &c, func(x AnomalousCall, k *AnomalousCall) int { return x.compareKey(k) })
	switch {
	case have && lessCall(&c, &p.Calls[j]):
		p.Calls[j] = c.clone()
	case !have:
		if p.Calls, j = insertBounded(p.Calls, j, c, MaxPaneCalls, func(x, y AnomalousCall) bool { return x.compareKey(&y) > 0 }); j >= 0 {
			p.Calls[j] = c.clone()
		}
	}
	for _, u := range unusual {
		u.Value = clip(u.Value, MaxBaselineValueLen)
		k, have := slices.BinarySearchFunc(p.Unusual, &u, func(x Unusual, k *Unusual) int { return x.compareKey(k) })
		switch {
		case have && lessUnusual(&u, &p.Unusual[k]):
			p.Unusual[k] = u
			p.Unusual[k].Value = strings.Clone(u.Value)
		case !have:
			if p.Unusual, k = insertBounded(p.Unusual, k, u, MaxPaneUnusual, func(x, y Unusual) bool { return x.compareKey(&y) > 0 }); k >= 0 {
				p.Unusual[k].Value = strings.Clone(u.Value)
			}
		}
	}
	return idx, crossed, true
}

// lessUnusual orders two evidences of the same value (the same unless a
// call came later than the lateness horizon): the least times and counts.
func lessUnusual(a, b *Unusual) bool {
	if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
		return c < 0
	}
	if c := a.LastSeen.Compare(b.LastSeen); c != 0 {
		return c < 0
	}
	if a.Calls != b.Calls {
		return a.Calls < b.Calls
	}
	return a.Failures < b.Failures
}

// clone copies the strings of c, which may share memory with a decoded
// event.
func (c AnomalousCall) clone() AnomalousCall {
	for _, s := range []*string{&c.API, &c.Outcome, &c.SourceIP, &c.UserAgent, &c.AccessKeyID, &c.PrincipalID, &c.UserType} {
		*s = strings.Clone(*s)
	}
	return c
}

// AnomalyWindow is the state of one window of one tactic: the union of
// its two panes.
type AnomalyWindow struct {
	Tactic uint8
	// Index identifies the window: it spans [Start, Start + 2·hop), the
	// panes Index and Index+1.
	Index       int64
	Start       time.Time
	First, Last time.Time
	Count       uint64
	// Calls are sorted by (API, outcome); of a call in both panes the
	// earlier entry is kept. Unusual is sorted by (dimension, value).
	Calls   []AnomalousCall
	Unusual []Unusual
}

// Pane returns the pane (tactic, index), or nil.
func (a *AnomalyPanes) Pane(tactic uint8, index int64) *AnomalyPane {
	return find(a.Panes, anomalyPaneKey{tactic, index}, byAnomalyPane)
}

// Window returns the state of window index (panes index and index+1) of
// tactic; ok is false when both are empty.
func (a *AnomalyPanes) Window(tactic uint8, index int64) (w AnomalyWindow, ok bool) {
	w = AnomalyWindow{Tactic: tactic, Index: index, Start: paneStart(index, max(a.Hop, 1))}
	for _, p := range []*AnomalyPane{a.Pane(tactic, index), a.Pane(tactic, index+1)} {
		if p == nil {
			continue
		}
		if !ok || p.First.Before(w.First) {
			w.First = p.First
		}
		if !ok || p.Last.After(w.Last) {
			w.Last = p.Last
		}
		ok = true
		w.Count += p.Count
		for _, c := range p.Calls {
			j, have := slices.BinarySearchFunc(w.Calls, &c, func(x AnomalousCall, k *AnomalousCall) int { return x.compareKey(k) })
			switch {
			case !have:
				w.Calls = slices.Insert(w.Calls, j, c)
			case lessCall(&c, &w.Calls[j]):
				w.Calls[j] = c
			}
		}
		for _, u := range p.Unusual {
			j, have := slices.BinarySearchFunc(w.Unusual, &u, func(x Unusual, k *Unusual) int { return x.compareKey(k) })
			switch {
			case !have:
				w.Unusual = slices.Insert(w.Unusual, j, u)
			case lessUnusual(&u, &w.Unusual[j]):
				w.Unusual[j] = u
			}
		}
	}
	return w, ok
}

// encode writes the panes not yet forgotten when the latest event time is
// latest: the hop, then per pane its tactic, its index as a delta, its
// times relative to latest and its last time, its count, its calls
// (strings as references to the previous call's) and unusual values.
func (a *AnomalyPanes) encode(e *encoder, latest time.Time) {
	e.uvarint(uint64(a.Hop))
	if a.Hop <= 0 {
		e.count(0)
		return
	}
	floor := liveFloor(latest, a.Hop)
	n := 0
	for i := range a.Panes {
		if a.Panes[i].Index >= floor {
			n++
		}
	}
	e.count(n)
	prevIndex := int64(0)
	for i := range a.Panes {
		p := &a.Panes[i]
		if p.Index < floor {
			continue
		}
		e.byte(p.Tactic)
		e.varint(p.Index - prevIndex)
		prevIndex = p.Index
		e.timeRel(p.Last, latest)
		e.timeRel(p.First, p.Last)
		e.uvarint(p.Count)
		var prev AnomalousCall
		encodeList(e, p.Calls, func(c *AnomalousCall) {
			e.strRef(c.API, prev.API)
			e.strRef(c.Outcome, prev.Outcome)
			e.timeRel(c.At, p.Last)
			e.strRef(c.SourceIP, prev.SourceIP)
			e.strRef(c.UserAgent, prev.UserAgent)
			e.strRef(c.AccessKeyID, prev.AccessKeyID)
			e.strRef(c.PrincipalID, prev.PrincipalID)
			e.strRef(c.UserType, prev.UserType)
			e.optTimeRel(c.FirstSeen, c.At)
			e.optTimeRel(c.LastSeen, c.At)
			e.byte(c.Days)
			prev = *c
		})
		encodeList(e, p.Unusual, func(u *Unusual) {
			e.byte(byte(u.Dim))
			e.str(u.Value)
			e.optTimeRel(u.FirstSeen, p.Last)
			e.optTimeRel(u.LastSeen, p.Last)
			e.uvarint(u.Calls)
			e.uvarint(u.Failures)
		})
	}
}

func decodeAnomalyPanes(d *decoder, latest time.Time) AnomalyPanes {
	var a AnomalyPanes
	hop := d.Uvarint()
	if d.Err == nil && hop > uint64(24*time.Hour) {
		d.Failf("anomaly panes: bad hop %d", hop)
	}
	a.Hop = time.Duration(hop)
	n := d.count("anomaly panes", MaxAnomalyPanes)
	if n > 0 && a.Hop <= 0 && d.Err == nil {
		d.Failf("anomaly panes: %d panes without a hop", n)
	}
	if n == 0 || d.Err != nil {
		return a
	}
	a.Panes = make([]AnomalyPane, n)
	prevIndex := int64(0)
	for i := range a.Panes {
		p := &a.Panes[i]
		p.Tactic = d.Byte()
		p.Index = prevIndex + d.Varint()
		prevIndex = p.Index
		p.Last = d.timeRel(latest)
		p.First = d.timeRel(p.Last)
		p.Count = d.Uvarint()
		var prev AnomalousCall
		p.Calls = decodeList(d, "anomalous calls", MaxPaneCalls, func(c *AnomalousCall) {
			c.Tactic = p.Tactic
			c.API = d.strRef("anomalous api", MaxBaselineValueLen, prev.API)
			c.Outcome = d.strRef("anomalous outcome", MaxBaselineValueLen, prev.Outcome)
			c.At = d.timeRel(p.Last)
			c.SourceIP = d.strRef("anomalous source", MaxCallContextLen, prev.SourceIP)
			c.UserAgent = d.strRef("anomalous user agent", MaxCallContextLen, prev.UserAgent)
			c.AccessKeyID = d.strRef("anomalous key", MaxCallContextLen, prev.AccessKeyID)
			c.PrincipalID = d.strRef("anomalous principal", MaxCallContextLen, prev.PrincipalID)
			c.UserType = d.strRef("anomalous user type", MaxCallContextLen, prev.UserType)
			c.FirstSeen = d.optTimeRel(c.At)
			c.LastSeen = d.optTimeRel(c.At)
			c.Days = d.Byte()
			if d.Err == nil && c.Days > BaselineDays {
				d.Failf("anomalous call %q: %d days", c.API, c.Days)
			}
			prev = *c
		}, func(x, y *AnomalousCall) bool { return x.compareKey(y) < 0 }, "%s: not sorted")
		p.Unusual = decodeList(d, "unusual values", MaxPaneUnusual, func(u *Unusual) {
			u.Dim = Dim(d.Byte())
			u.Value = d.str("unusual value", MaxBaselineValueLen)
			u.FirstSeen = d.optTimeRel(p.Last)
			u.LastSeen = d.optTimeRel(p.Last)
			u.Calls = d.Uvarint()
			u.Failures = d.Uvarint()
			if d.Err == nil && u.Dim >= numDims {
				d.Failf("unusual value: bad dimension %d", u.Dim)
			}
		}, func(x, y *Unusual) bool { return x.compareKey(y) < 0 }, "%s: not sorted")
		if d.Err != nil {
			return a
		}
		if p.Count == 0 || p.Tactic >= AnomalyTactics || p.First.After(p.Last) || len(p.Calls) == 0 {
			d.Failf("anomaly pane %d: tactic %d, %d calls", p.Index, p.Tactic, p.Count)
			return a
		}
		if i > 0 && byAnomalyPane(a.Panes[i-1], anomalyPaneKey{p.Tactic, p.Index}) >= 0 {
			d.Failf("anomaly panes: not sorted")
			return a
		}
	}
	return a
}
