package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// Relative-key prefixes within a shard's keyspace.
const (
	profilePrefix = "p/"
	findingPrefix = "f/"
	metaKey       = "m"
)

// ProfileKey, FindingKey and MetaKey return relative keys, as used in
// changelog records.
func ProfileKey(entity string) string { return profilePrefix + entity }
func FindingKey(id string) string     { return findingPrefix + id }
func MetaKey() string                 { return metaKey }

// Shard is one shard's keyspace.
type Shard struct {
	db     *pebble.DB
	prefix []byte
}

func (s *Shard) key(rel string) []byte {
	k := make([]byte, 0, len(s.prefix)+len(rel))
	return append(append(k, s.prefix...), rel...)
}

// Profile returns an entity's stored profile and the offset of the last
// internal record applied to it.
func (s *Shard) Profile(entity string) (data []byte, offset int64, ok bool, err error) {
	v, ok, err := get(s.db, s.key(ProfileKey(entity)))
	if err != nil || !ok {
		return nil, 0, ok, wrap("reading profile", err)
	}
	data, offset, err = DecodeProfile(v)
	return data, offset, err == nil, err
}

// EncodeProfile is the stored form of a profile: the applied offset, then
// the profile's own encoding.
func EncodeProfile(data []byte, offset int64) []byte {
	b := binary.AppendVarint(make([]byte, 0, len(data)+binary.MaxVarintLen64), offset)
	return append(b, data...)
}

// DecodeProfile is the inverse of EncodeProfile.
func DecodeProfile(v []byte) (data []byte, offset int64, err error) {
	offset, n := binary.Varint(v)
	if n <= 0 {
		return nil, 0, errors.New("storage: corrupt profile record")
	}
	return v[n:], offset, nil
}

// Finding returns a stored finding's JSON.
func (s *Shard) Finding(id string) ([]byte, bool, error) {
	v, ok, err := get(s.db, s.key(FindingKey(id)))
	return v, ok, wrap("reading finding", err)
}

// Meta returns the shard's metadata; ok is false for a shard never flushed
// on this node.
func (s *Shard) Meta() (m Meta, ok bool, err error) {
	v, ok, err := get(s.db, s.key(metaKey))
	if err != nil || !ok {
		return Meta{}, ok, wrap("reading shard meta", err)
	}
	err = m.UnmarshalBinary(v)
	return m, err == nil, err
}

// Each calls fn for every stored record whose relative key starts with
// relPrefix, in key order, until fn returns false. The slices are valid
// only during the call.
func (s *Shard) Each(relPrefix string, fn func(relKey string, value []byte) bool) error {
	lower := s.key(relPrefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upperBound(lower)})
	if err != nil {
		return wrap("iterating", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(string(it.Key()[len(s.prefix):]), it.Value()) {
			break
		}
	}
	return wrap("iterating", it.Error())
}

// Profiles calls fn for every stored profile of the shard.
func (s *Shard) Profiles(fn func(entity string, data []byte, offset int64) bool) error {
	return s.Each(profilePrefix, func(k string, v []byte) bool {
		data, off, err := DecodeProfile(v)
		if err != nil {
			return true
		}
		return fn(k[len(profilePrefix):], data, off)
	})
}

// Findings calls fn for every stored finding of the shard.
func (s *Shard) Findings(fn func(id string, json []byte) bool) error {
	return s.Each(findingPrefix, func(k string, v []byte) bool { return fn(k[len(findingPrefix):], v) })
}

// Drop deletes the shard's whole keyspace (before a restore).
func (s *Shard) Drop() error {
	return wrap("dropping shard", s.db.DeleteRange(s.prefix, upperBound(s.prefix), pebble.Sync))
}

// Batch collects one flush of a shard: profiles, findings and meta, written
// atomically. Entries returns the same pairs for the changelog.
type Batch struct {
	s       *Shard
	b       *pebble.Batch
	entries []Entry
}

// Entry is one relative key and its value.
type Entry struct {
	Key   string
	Value []byte
}

// NewBatch starts a flush.
func (s *Shard) NewBatch() *Batch { return &Batch{s: s, b: s.db.NewBatch()} }

// Set stores value under a relative key.
func (b *Batch) Set(relKey string, value []byte) {
	_ = b.b.Set(b.s.key(relKey), value, nil) // a batch Set cannot fail
	b.entries = append(b.entries, Entry{Key: relKey, Value: value})
}

// SetProfile stores an entity's profile with its applied offset.
func (b *Batch) SetProfile(entity string, data []byte, offset int64) {
	b.Set(ProfileKey(entity), EncodeProfile(data, offset))
}

// SetFinding stores a finding's JSON.
func (b *Batch) SetFinding(id string, json []byte) { b.Set(FindingKey(id), json) }

// SetMeta stores the shard's metadata.
func (b *Batch) SetMeta(m Meta) {
	v, _ := m.MarshalBinary()
	b.Set(metaKey, v)
}

// Entries returns what the batch writes, in order.
func (b *Batch) Entries() []Entry { return b.entries }

// Commit writes the batch durably (the WAL is synced: the consumer offset
// is committed to Kafka right after, so the write must survive a crash).
func (b *Batch) Commit() error {
	defer b.b.Close()
	return wrap("committing batch", b.b.Commit(pebble.Sync))
}

// Restore replaces the shard's keyspace with changelog entries.
func (s *Shard) Restore(entries []Entry) error {
	if err := s.Drop(); err != nil {
		return err
	}
	b := s.NewBatch()
	for _, e := range entries {
		b.Set(e.Key, e.Value)
	}
	return b.Commit()
}

// Meta is a shard's bookkeeping, written with every flush.
type Meta struct {
	// Applied is the offset of the last internal record applied; the
	// shard resumes after it.
	Applied int64
	// Watermarks holds, per raw source partition ("<source>/<partition>"),
	// the position of the last raw record applied. Ingest re-sends raw
	// records after a crash between producing and committing; positions
	// at or below the watermark are such re-sends and are dropped.
	Watermarks map[string]Position
}

// Position is a raw record's place: its offset in the raw partition and
// the index of the event within the record (a record can hold many events,
// and a global event is broadcast to many regions).
type Position struct {
	Offset int64
	Index  int32
}

// Less orders positions.
func (p Position) Less(q Position) bool {
	return p.Offset < q.Offset || (p.Offset == q.Offset && p.Index < q.Index)
}

// MarshalBinary encodes the meta.
func (m Meta) MarshalBinary() ([]byte, error) {
	b := []byte{1}
	b = binary.AppendVarint(b, m.Applied)
	keys := make([]string, 0, len(m.Watermarks))
	for k := range m.Watermarks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendVarint(b, m.Watermarks[k].Offset)
		b = binary.AppendVarint(b, int64(m.Watermarks[k].Index))
	}
	return b, nil
}

// UnmarshalBinary decodes the meta.
func (m *Meta) UnmarshalBinary(b []byte) error {
	bad := errors.New("storage: corrupt shard meta")
	if len(b) == 0 || b[0] != 1 {
		return bad
	}
	b = b[1:]
	var n int
	if m.Applied, n = binary.Varint(b); n <= 0 {
		return bad
	}
	b = b[n:]
	cnt, n := binary.Uvarint(b)
	if n <= 0 || cnt > uint64(len(b)) {
		return bad
	}
	b = b[n:]
	m.Watermarks = make(map[string]Position, cnt)
	for range cnt {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return bad
		}
		k := string(b[n : n+int(l)])
		b = b[n+int(l):]
		off, n := binary.Varint(b)
		if n <= 0 {
			return bad
		}
		b = b[n:]
		idx, n := binary.Varint(b)
		if n <= 0 {
			return bad
		}
		b = b[n:]
		m.Watermarks[k] = Position{Offset: off, Index: int32(idx)}
	}
	return nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("storage: %s: %w", what, err)
}
