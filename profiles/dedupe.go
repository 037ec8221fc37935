package profiles

import (
	"slices"
	"strconv"
	"time"
)

// CloudTrail delivers some events twice, and replaying an export applies
// all of them again: without a filter every count of the principal would
// double. A principal therefore remembers the eventIDs it applied recently
// (EventIDs), and an event whose id it remembers is a duplicate: it does
// not change the profile and raises nothing.
const (
	// DedupeHorizon is how far behind the principal's latest event time an
	// id is remembered. CloudTrail delivers an event within about 15
	// minutes and its rare redeliveries within hours, but a replayed
	// export brings back every event of its span: an investigation's
	// export spans weeks (the tour's compromised root spans 17 days, which
	// a day's horizon would count twice). Thirty days; MaxDedupeIDs keeps
	// the size bounded whatever the horizon.
	DedupeHorizon = 30 * 24 * time.Hour
	// MaxDedupeIDs bounds the ids remembered, about 10 bytes each encoded:
	// a principal seen a few times keeps a few, a busy one its latest 512
	// (about 5 KB).
	MaxDedupeIDs = 512
)

// EventIDs are the recently applied CloudTrail events of a principal: the
// 64-bit FNV-1a hash of each eventID with the event's time, sorted by
// (time, hash). A duplicate has the same id and so the same event time:
// looking up (time, hash) is a binary search, and an accidental collision
// needs two events of the same second.
//
// The set holds the greatest MaxDedupeIDs entries by (time, hash) among
// the events within DedupeHorizon of the principal's latest event time; it
// is a function of the events applied, not of their order. Duplicate
// detection is exact while a principal applies at most MaxDedupeIDs
// events with ids within any DedupeHorizon, and the copy of an event
// arrives before the principal's latest event time passes the event's time
// plus DedupeHorizon. Otherwise the copy is applied again. An event
// without an eventID is never a duplicate.
type EventIDs []EventID

// EventID is one remembered event.
type EventID struct {
	At   time.Time
	Hash uint64
}

func eventIDLess(a, b *EventID) bool {
	if c := a.At.Compare(b.At); c != 0 {
		return c < 0
	}
	return a.Hash < b.Hash
}

func byEventID(e EventID, k EventID) int {
	if c := e.At.Compare(k.At); c != 0 {
		return c
	}
	switch {
	case e.Hash < k.Hash:
		return -1
	case e.Hash > k.Hash:
		return 1
	}
	return 0
}

// HashEventID is the hash an eventID is remembered by.
func HashEventID(id string) uint64 { return hash64(id) }

// hash64 is FNV-1a, 64 bits: stable across versions and processes, which
// a hash kept in stored profiles must be.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// search returns where the event (at, h) is or would be in s, and
// whether it was applied. Entries older than the horizon of latest count
// as forgotten even before they are pruned, so pruning late changes
// nothing.
func (s EventIDs) search(at time.Time, h uint64, latest time.Time) (int, bool) {
	i, ok := slices.BinarySearchFunc(s, EventID{at, h}, byEventID)
	return i, ok && !at.Before(latest.Add(-DedupeHorizon))
}

// add remembers the event (at, h), which search placed at i, given the
// principal's latest event time (this event's included).
func (s *EventIDs) add(i int, at time.Time, h uint64, latest time.Time) {
	floor := latest.Add(-DedupeHorizon)
	// Forget what the horizon passed, so that what the profile holds is
	// the same whenever it is looked at. Entries are mostly added at the
	// end, so the front is dropped by reslicing rather than by moving the
	// whole list.
	n := 0
	for n < len(*s) && (*s)[n].At.Before(floor) {
		n++
	}
	*s, i = (*s)[n:], max(i-n, 0)
	if at.Before(floor) {
		return
	}
	v := EventID{at, h}
	if i < len(*s) && (*s)[i] == v {
		return // present already (search said forgotten: it was beyond the horizon)
	}
	if len(*s) >= MaxDedupeIDs {
		if i == 0 {
			return // older than every entry kept: v is the least
		}
		*s, i = (*s)[1:], i-1
	}
	*s = slices.Insert(*s, i, v)
}

// live returns the entries within the horizon of latest.
func (s EventIDs) live(latest time.Time) EventIDs {
	floor := latest.Add(-DedupeHorizon)
	i, _ := slices.BinarySearchFunc(s, EventID{At: floor}, byEventID)
	return s[i:]
}

// MarshalJSON writes the number of ids remembered: the hashes mean nothing
// to a reader.
func (s EventIDs) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(len(s)), 10), nil
}

// encode writes the live entries: the first time relative to ref (the
// principal's latest event time), each next one as the seconds and
// nanoseconds after the previous (sorted, so the deltas are small), and
// each hash as 8 bytes.
func (s EventIDs) encode(e *encoder, ref time.Time) {
	s = s.live(ref)
	e.count(len(s))
	prev := ref
	for i, x := range s {
		if i == 0 {
			e.timeRel(x.At, ref)
		} else {
			e.uvarint(uint64(x.At.Unix() - prev.Unix()))
			e.uvarint(uint64(x.At.Nanosecond()))
		}
		e.fixed64(x.Hash)
		prev = x.At
	}
}

func decodeEventIDs(d *decoder, ref time.Time) EventIDs {
	n := d.count("eventIds", MaxDedupeIDs)
	if n == 0 {
		return nil
	}
	s := make(EventIDs, n)
	for i := range s {
		if i == 0 {
			s[i].At = d.timeRel(ref)
		} else {
			sec, nsec := d.Uvarint(), d.Uvarint()
			if d.Err == nil && (nsec >= 1e9 || sec > 1<<62) {
				d.Failf("eventIds: bad time delta %d.%09d", sec, nsec)
			}
			s[i].At = time.Unix(s[i-1].At.Unix()+int64(sec), int64(nsec)).UTC()
		}
		s[i].Hash = d.fixed64()
		if d.Err == nil && i > 0 && !eventIDLess(&s[i-1], &s[i]) {
			d.Failf("eventIds not sorted")
		}
	}
	return s
}
