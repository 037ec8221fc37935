package storage

import (
	"encoding/binary"
	"errors"

	"github.com/vigil-sec/vigil/wire"
)

// Mark is the place of an internal record in its shard's partition: the
// offset, and the partition's incarnation. Kafka offsets only grow, except
// when a partition is reset (records deleted and the broker reloading it
// at a lower offset, or the topic recreated); a shard that sees its offsets
// go back starts a new incarnation, so records of the new incarnation
// order after every record of the old one even at lower offsets.
type Mark struct {
	Incarnation uint32
	Offset      int64
}

// NoMark orders before every record: the mark of a profile to which
// nothing was applied.
var NoMark = Mark{Offset: -1}

// Less orders marks by incarnation, then offset.
func (m Mark) Less(n Mark) bool {
	return m.Incarnation < n.Incarnation || (m.Incarnation == n.Incarnation && m.Offset < n.Offset)
}

func (m Mark) append(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(m.Incarnation))
	return binary.AppendVarint(b, m.Offset)
}

func readMark(r *wire.Reader) Mark {
	inc := wire.Uint[uint32](r, "bad incarnation %d")
	return Mark{Incarnation: inc, Offset: r.Varint()}
}

// Sources is the number of raw sources Counters keeps apart; a counter
// array is indexed by event.Source (0 is unknown).
const Sources = 4

// Counters are the shard's running totals, persisted with its meta in the
// same batch as its profiles, so they count every record exactly once and
// survive restarts.
type Counters struct {
	// Per raw source, from the ingest statistics the shard receives: raw
	// records consumed, events produced (after global-event broadcast),
	// events dropped (data and Insights events) and raw records or elements
	// dead-lettered.
	Records, Events, Dropped, DeadLetters [Sources]int64
	// Applied counts events applied to profiles, per source.
	Applied [Sources]int64
	// Duplicates counts events not applied because their profile already
	// held them (a re-sent CloudTrail event, a record replayed after a
	// crash).
	Duplicates int64
	// Findings counts finding occurrences raised.
	Findings int64
	// Failures counts events a detector failed on (dead-lettered).
	Failures int64
}

// Add adds every counter of d to c.
func (c *Counters) Add(d *Counters) {
	for i := range Sources {
		c.Records[i] += d.Records[i]
		c.Events[i] += d.Events[i]
		c.Dropped[i] += d.Dropped[i]
		c.DeadLetters[i] += d.DeadLetters[i]
		c.Applied[i] += d.Applied[i]
	}
	c.Duplicates += d.Duplicates
	c.Findings += d.Findings
	c.Failures += d.Failures
}

// arrays returns the per-source arrays in encoding order.
func (c *Counters) arrays() []*[Sources]int64 {
	return []*[Sources]int64{&c.Records, &c.Events, &c.Dropped, &c.DeadLetters, &c.Applied}
}

// AppendBinary appends the counters' encoding to b.
func (c *Counters) AppendBinary(b []byte) []byte {
	for _, a := range c.arrays() {
		for _, v := range a {
			b = binary.AppendVarint(b, v)
		}
	}
	b = binary.AppendVarint(b, c.Duplicates)
	b = binary.AppendVarint(b, c.Findings)
	return binary.AppendVarint(b, c.Failures)
}

func (c *Counters) read(r *wire.Reader) {
	for _, a := range c.arrays() {
		for i := range a {
			a[i] = r.Varint()
		}
	}
	c.Duplicates = r.Varint()
	c.Findings = r.Varint()
	c.Failures = r.Varint()
}

// DecodeCounters decodes what AppendBinary wrote, and nothing more.
func DecodeCounters(b []byte) (Counters, error) {
	var c Counters
	r := wire.Reader{Buf: b}
	c.read(&r)
	if r.Err == nil && r.Left() > 0 {
		r.Err = errors.New("trailing bytes")
	}
	if r.Err != nil {
		return Counters{}, errors.Join(errCorruptMeta, r.Err)
	}
	return c, nil
}

// Meta is a shard's bookkeeping, written with every flush.
type Meta struct {
	// Applied is the mark of the last internal record the flush covers;
	// the shard resumes after it. Its incarnation is the partition's
	// current one.
	Applied Mark
	// Counters are the shard's totals up to Applied.
	Counters Counters
	// Owner counts the times the shard changed hands: a node that takes
	// it over writes one more than the last owner wrote. Every flush
	// carries it, so a reader can tell which owner wrote what.
	Owner uint64
}

// metaVersion is the first byte of an encoded Meta.
const metaVersion = 3

var errCorruptMeta = errors.New("storage: corrupt shard meta")

// MarshalBinary encodes the meta.
func (m Meta) MarshalBinary() ([]byte, error) {
	b := m.Applied.append([]byte{metaVersion})
	b = m.Counters.AppendBinary(b)
	return binary.AppendUvarint(b, m.Owner), nil
}

// UnmarshalBinary decodes the meta.
func (m *Meta) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != metaVersion {
		return errCorruptMeta
	}
	r := wire.Reader{Buf: b[1:]}
	var n Meta
	n.Applied = readMark(&r)
	n.Counters.read(&r)
	n.Owner = r.Uvarint()
	if r.Err == nil && r.Left() > 0 {
		r.Err = errors.New("trailing bytes")
	}
	if r.Err != nil {
		return errors.Join(errCorruptMeta, r.Err)
	}
	*m = n
	return nil
}
