package profiles

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A principal's behavioural baseline is what the anomaly detectors compare
// a call with (spec §2.1, §2.8): per dimension of a call — the API, the
// user agent's family, the caller's network (ASN) and country, the user
// type and the hour of day — the values the principal used, each with
// when it was first and last seen and on which days. Calls and failures
// per day give the error rate. Roles aggregate their sessions: the
// profile is the role's, so a new session of a known role meets the
// role's baseline.
//
// The days a value was active are a 64-bit map of UTC days ending at the
// day of its last sighting, so "how many of the 30 days before day D" is a
// popcount, and the map is the same whatever order the days came in. A
// value is classed by its days active in the BaselineDays days before a
// reference day (spec §2.3):
//
//   - frequent: on FrequentDays (4) days or more, weekly or more often;
//   - infrequent: on 2 or 3 days, a few times a month;
//   - rare: on at most RareDays (1) day — less than about once a month —
//     but seen before the reference day;
//   - new: never seen before the reference day.
//
// Everything is a function of the set of calls applied, not of their
// order: first and last seen are a min and a max, the day maps unions, the
// day counters sums. A full dimension keeps its greatest values by (days
// active, last seen, value) — a daily API survives an enumeration burst of
// one-off ones — so it is exact while no dimension overflows its cap, or
// while a value it dropped is not seen again (then its history starts
// over). The day counters keep the latest MaxBaselineDays days, which is
// exact: a day is dropped only once as many later days exist.

// Baseline caps and classes.
const (
	// MaxBaselineAPIs bounds the APIs of a baseline. Busy automation uses a
	// few hundred; an enumeration tool calls more, one day each, and those
	// go first (about 40 bytes a value encoded: 10 KB full).
	MaxBaselineAPIs = 256
	// MaxBaselineAgents bounds the user-agent families (a person uses a
	// browser, a CLI and an SDK or two).
	MaxBaselineAgents = 16
	// MaxBaselineASNs bounds the networks calls came from (home, office,
	// mobile, VPN, AWS itself).
	MaxBaselineASNs = 32
	// MaxBaselineCountries bounds the countries calls came from.
	MaxBaselineCountries = 16
	// MaxBaselineUserTypes bounds the user types (IAMUser, AssumedRole,
	// Root, FederatedUser, AWSService, AWSAccount).
	MaxBaselineUserTypes = 8
	// MaxBaselineDays bounds the day counters: the 64 days the day maps
	// cover.
	MaxBaselineDays = 64
	// MaxBaselineValueLen bounds a dimension value: an API is
	// "<service>:<name>" (at most about 100 bytes), an ASN its number and
	// organisation.
	MaxBaselineValueLen = 128

	// MaxBaselineSize bounds the encoding of a baseline: every dimension
	// full of values of MaxBaselineValueLen bytes, and every anomaly pane
	// full of calls whose strings all differ and are as long as allowed
	// (about 230 KB; a month of an administrator's calls takes about 2 KB,
	// see TestBaselineSize).
	MaxBaselineSize = (MaxBaselineAPIs+MaxBaselineAgents+MaxBaselineASNs+MaxBaselineCountries+MaxBaselineUserTypes+24)*(MaxBaselineValueLen+40) +
		MaxBaselineDays*30 + 16 +
		MaxAnomalyPanes*(40+MaxPaneCalls*(2*MaxBaselineValueLen+5*MaxCallContextLen+50)+MaxPaneUnusual*(MaxBaselineValueLen+50))

	// BaselineDays is the history a value is classed on (a month), and
	// FrequentDays and RareDays the class limits (spec §2.3).
	BaselineDays = 30
	FrequentDays = 4
	RareDays     = 1
)

// Dim names a dimension of the baseline.
type Dim uint8

// The dimensions, in the order of Baseline's fields.
const (
	DimAPI Dim = iota
	DimUserAgent
	DimASN
	DimCountry
	DimUserType
	DimHour
	// DimErrorRate is not a value dimension: an unusual value of it is a
	// failed call of a principal whose calls rarely fail.
	DimErrorRate
	numDims
)

var dimNames = [...]string{"API", "UserAgent", "ASN", "Country", "UserType", "Hour", "ErrorRate"}

// String names the dimension as the finding's evidence does.
func (d Dim) String() string {
	if d < numDims {
		return dimNames[d]
	}
	return "Dim(" + strconv.Itoa(int(d)) + ")"
}

// Class is a value's frequency class before a reference day.
type Class uint8

const (
	ClassNew Class = iota
	ClassRare
	ClassInfrequent
	ClassFrequent
)

var classNames = [...]string{"new", "rare", "infrequent", "frequent"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// ClassOf classes a value seen on days of the BaselineDays before the
// reference day; seen says it was seen before the reference day at all.
func ClassOf(days int, seen bool) Class {
	switch {
	case !seen:
		return ClassNew
	case days >= FrequentDays:
		return ClassFrequent
	case days > RareDays:
		return ClassInfrequent
	}
	return ClassRare
}

// Use is one value of a dimension.
type Use struct {
	Value string    `json:"value"`
	First time.Time `json:"firstSeen"`
	Last  time.Time `json:"lastSeen"`
	// Days has bit i set when the value was seen on the UTC day i days
	// before the day of Last.
	Days uint64 `json:"daysActive"`
}

// Usage is the values of one dimension, sorted by value.
type Usage []Use

func byUseValue(u Use, v string) int { return strings.Compare(u.Value, v) }

// useLess orders values for eviction: fewer days active, then older last
// seen, then the smaller value go first.
func useLess(a, b Use) bool {
	if ca, cb := bits.OnesCount64(a.Days), bits.OnesCount64(b.Days); ca != cb {
		return ca < cb
	}
	if c := a.Last.Compare(b.Last); c != 0 {
		return c < 0
	}
	return a.Value < b.Value
}

// Day is the UTC day of t, counted from the Unix epoch.
func Day(t time.Time) int64 { return floorDiv(t.Unix(), 86400) }

// Find returns the entry of value, or nil.
func (u Usage) Find(value string) *Use { return find(u, value, byUseValue) }

// observe records value at t in a dimension of at most max values.
func (u *Usage) observe(value string, t time.Time, max int) {
	if value == "" {
		return
	}
	d := Day(t)
	i, ok := slices.BinarySearchFunc(*u, value, byUseValue)
	if !ok {
		var j int
		if *u, j = insertBounded(*u, i, Use{Value: value, First: t, Last: t, Days: 1}, max, useLess); j >= 0 {
			(*u)[j].Value = strings.Clone(value)
		}
		return
	}
	e := &(*u)[i]
	if t.Before(e.First) {
		e.First = t
	}
	switch last := Day(e.Last); {
	case d > last:
		if d-last >= 64 {
			e.Days = 0
		} else {
			e.Days <<= uint(d - last)
		}
		e.Days |= 1
		e.Last = t
	case d == last:
		if t.After(e.Last) {
			e.Last = t
		}
	case last-d < 64:
		e.Days |= 1 << uint(last-d)
	}
}

// Before is what a dimension knew of a value before a reference day: the
// days active of the BaselineDays before it, and the first and last
// sightings before it. Seen is false when it has no sighting before the
// reference day (or the value was dropped).
type Before struct {
	Seen bool
	Days int
	// First is the first sighting; Last the last one before the reference
	// day, at the start of its day when it is not the value's last.
	First, Last time.Time
}

// Class is the value's class.
func (b Before) Class() Class { return ClassOf(b.Days, b.Seen) }

// Before returns what the dimension knew of value before day ref. Days
// older than the 64 of the day map count as not active; that is exact
// while the value's last sighting is less than 34 days after ref.
func (u Usage) Before(value string, ref int64) Before {
	e := u.Find(value)
	if e == nil || Day(e.First) >= ref {
		return Before{}
	}
	return e.before(ref)
}

func (e *Use) before(ref int64) Before {
	b := Before{Seen: true, First: e.First}
	last := Day(e.Last)
	if last < ref {
		b.Last = e.Last
	}
	// Bit i is day last-i; the class counts days [ref-BaselineDays, ref-1].
	for i := max(last-ref+1, 0); i < 64; i++ {
		if e.Days&(1<<uint(i)) == 0 {
			continue
		}
		if b.Last.IsZero() {
			b.Last = time.Unix((last-i)*86400, 0).UTC()
		}
		if last-i >= ref-BaselineDays {
			b.Days++
		}
	}
	if b.Last.IsZero() {
		// Seen before ref, but beyond the day map's reach.
		b.Last = b.First
	}
	return b
}

// Each calls fn for every value seen before day ref, in value order, with
// what was known of it then.
func (u Usage) Each(ref int64, fn func(value string, b Before)) {
	for i := range u {
		if Day(u[i].First) < ref {
			fn(u[i].Value, u[i].before(ref))
		}
	}
}

func (u Usage) encode(e *encoder, ref time.Time) {
	encodeList(e, u, func(v *Use) {
		e.str(v.Value)
		e.timeRel(v.Last, ref)
		e.timeRel(v.First, v.Last)
		e.uvarint(v.Days)
	})
}

func decodeUsage(d *decoder, what string, max int, ref time.Time) Usage {
	return decodeList(d, what, max, func(v *Use) {
		v.Value = d.str(what, MaxBaselineValueLen)
		v.Last = d.timeRel(ref)
		v.First = d.timeRel(v.Last)
		v.Days = d.Uvarint()
		if d.Err == nil && (v.Value == "" || v.First.After(v.Last) || v.Days&1 == 0) {
			d.Failf("%s: bad value %q", what, v.Value)
		}
	}, func(prev, next *Use) bool { return prev.Value < next.Value }, "%s: values not sorted")
}

// DayStat counts a principal's calls on one UTC day.
type DayStat struct {
	Day      int64  `json:"day"`
	Calls    uint64 `json:"calls"`
	Failures uint64 `json:"failures"`
}

// Call is what the baseline learns of one call: its values in every
// dimension (empty when unknown, e.g. the ASN without a network
// database).
type Call struct {
	At        time.Time
	API       string // "<service>:<eventName>", service without ".amazonaws.com"
	UserAgent string // the user agent's family
	ASN       string // "<number> <organisation>"
	Country   string
	UserType  string
	Failed    bool
}

// Hour is the call's hour of day (UTC), as the Hour dimension holds it.
func (c *Call) Hour() string { return hourNames[c.At.UTC().Hour()] }

var hourNames = func() (h [24]string) {
	for i := range h {
		h[i] = string([]byte{'0' + byte(i/10), '0' + byte(i%10)})
	}
	return h
}()

// Value returns the call's value in dimension d.
func (c *Call) Value(d Dim) string {
	switch d {
	case DimAPI:
		return c.API
	case DimUserAgent:
		return c.UserAgent
	case DimASN:
		return c.ASN
	case DimCountry:
		return c.Country
	case DimUserType:
		return c.UserType
	case DimHour:
		return c.Hour()
	}
	return ""
}

// Baseline is a principal's behavioural baseline and the state of its
// anomaly windows.
type Baseline struct {
	APIs       Usage `json:"apis"`
	UserAgents Usage `json:"userAgents"`
	ASNs       Usage `json:"asns"`
	Countries  Usage `json:"countries"`
	UserTypes  Usage `json:"userTypes"`
	Hours      Usage `json:"hours"`
	// Days are the calls and failures of the latest MaxBaselineDays days
	// with calls, sorted by day.
	Days []DayStat `json:"days"`
	// Anomalies are the anomalous calls per half-window (anomaly.go).
	Anomalies AnomalyPanes `json:"anomalies"`

	// call is the call Observe took last, for the detectors that run on
	// the same event right after; it is not encoded.
	call Call
}

// usageDim is a value dimension of a baseline (Baseline, NetBaseline):
// its values and their cap.
type usageDim struct {
	u   *Usage
	max int
}

// usageOf returns the values and cap of dimension d of dims, or nil and 0
// when d is not a value dimension.
func usageOf[D ~uint8](dims []usageDim, d D) (*Usage, int) {
	if int(d) >= len(dims) {
		return nil, 0
	}
	return dims[d].u, dims[d].max
}

// dims returns the value dimensions, DimAPI to DimHour, with their caps.
func (b *Baseline) dims() [DimHour + 1]usageDim {
	return [...]usageDim{
		DimAPI:       {&b.APIs, MaxBaselineAPIs},
		DimUserAgent: {&b.UserAgents, MaxBaselineAgents},
		DimASN:       {&b.ASNs, MaxBaselineASNs},
		DimCountry:   {&b.Countries, MaxBaselineCountries},
		DimUserType:  {&b.UserTypes, MaxBaselineUserTypes},
		DimHour:      {&b.Hours, 24},
	}
}

// dim returns value dimension d with its cap, or nil.
func (b *Baseline) dim(d Dim) (*Usage, int) {
	dims := b.dims()
	return usageOf(dims[:], d)
}

// Usage returns the values of dimension d (nil for DimErrorRate).
func (b *Baseline) Usage(d Dim) Usage {
	if u, _ := b.dim(d); u != nil {
		return *u
	}
	return nil
}

// Observe learns call c.
func (b *Baseline) Observe(c Call) {
	c.At = c.At.UTC()
	for d, dim := range b.dims() {
		dim.u.observe(clip(c.Value(Dim(d)), MaxBaselineValueLen), c.At, dim.max)
	}
	day := Day(c.At)
	i, ok := slices.BinarySearchFunc(b.Days, day, func(s DayStat, d int64) int { return cmpInt(s.Day, d) })
	if !ok {
		if b.Days, i = insertBounded(b.Days, i, DayStat{Day: day}, MaxBaselineDays,
			func(a, b DayStat) bool { return a.Day < b.Day }); i < 0 {
			b.call = c
			return
		}
	}
	b.Days[i].Calls++
	if c.Failed {
		b.Days[i].Failures++
	}
	b.call = c
}

// LastCall returns the call Observe took last, if it was at time at (a
// decoded profile has none).
func (b *Baseline) LastCall(at time.Time) (Call, bool) {
	return b.call, !b.call.At.IsZero() && b.call.At.Equal(at.UTC())
}

// Activity returns the calls, failures and days with calls of the
// BaselineDays days before day ref.
func (b *Baseline) Activity(ref int64) (calls, failures uint64, days int) {
	for _, s := range b.Days {
		if s.Day >= ref-BaselineDays && s.Day < ref {
			calls += s.Calls
			failures += s.Failures
			days++
		}
	}
	return calls, failures, days
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// encode writes the baseline, its times relative to ref (the profile's
// latest event time) and its days as deltas.
func (b *Baseline) encode(e *encoder, ref time.Time) {
	for _, dim := range b.dims() {
		dim.u.encode(e, ref)
	}
	prev := int64(0)
	encodeList(e, b.Days, func(s *DayStat) {
		e.varint(s.Day - prev)
		e.uvarint(s.Calls)
		e.uvarint(s.Failures)
		prev = s.Day
	})
	b.Anomalies.encode(e, ref)
}

var dimWhat = [...]string{"baseline apis", "baseline user agents", "baseline asns", "baseline countries", "baseline user types", "baseline hours"}

func decodeBaseline(d *decoder, ref time.Time) Baseline {
	var b Baseline
	for i, dim := range b.dims() {
		*dim.u = decodeUsage(d, dimWhat[i], dim.max, ref)
	}
	prev := int64(0)
	b.Days = decodeList(d, "baseline days", MaxBaselineDays, func(s *DayStat) {
		s.Day = prev + d.Varint()
		s.Calls = d.Uvarint()
		s.Failures = d.Uvarint()
		prev = s.Day
		if d.Err == nil && (s.Calls == 0 || s.Failures > s.Calls) {
			d.Failf("baseline days: %d failures of %d calls", s.Failures, s.Calls)
		}
	}, func(prev, next *DayStat) bool { return prev.Day < next.Day }, "%s: not sorted")
	b.Anomalies = decodeAnomalyPanes(d, ref)
	return b
}
