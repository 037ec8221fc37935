package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vigil-sec/vigil/wire"
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

// Profile returns an entity's stored profile and the mark of the last
// internal record applied to it.
func (s *Shard) Profile(entity string) (data []byte, mark Mark, ok bool, err error) {
	v, ok, err := get(s.db, s.key(ProfileKey(entity)))
	if err != nil || !ok {
		return nil, NoMark, ok, wrap("reading profile", err)
	}
	data, mark, err = DecodeProfile(v)
	return data, mark, err == nil, err
}

// EncodeProfile is the stored form of a profile: the mark of the last
// record applied, then the profile's own encoding.
func EncodeProfile(data []byte, mark Mark) []byte {
	b := mark.append(make([]byte, 0, len(data)+2*binary.MaxVarintLen64))
	return append(b, data...)
}

// DecodeProfile is the inverse of EncodeProfile.
func DecodeProfile(v []byte) (data []byte, mark Mark, err error) {
	r := wire.Reader{Buf: v}
	mark = readMark(&r)
	if r.Err != nil {
		return nil, NoMark, fmt.Errorf("storage: corrupt profile record: %w", r.Err)
	}
	return v[r.Off:], mark, nil
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
	return s.each(relPrefix, "", fn)
}

// each is Each starting at relPrefix+from.
func (s *Shard) each(relPrefix, from string, fn func(relKey string, value []byte) bool) error {
	prefix := s.key(relPrefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: s.key(relPrefix + from), UpperBound: upperBound(prefix)})
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

// Profiles calls fn for every stored profile of the shard whose entity
// key is at or after from, in key order.
func (s *Shard) Profiles(from string, fn func(entity string, data []byte, mark Mark) bool) error {
	return s.each(profilePrefix, from, func(k string, v []byte) bool {
		data, mark, err := DecodeProfile(v)
		if err != nil {
			return true
		}
		return fn(k[len(profilePrefix):], data, mark)
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

// Entry is one relative key and its value: what a flush writes to Pebble
// and appends to the changelog.
type Entry struct {
	Key   string
	Value []byte
}

// ProfileEntry is the entry of an entity's profile with the mark of the
// last record applied to it.
func ProfileEntry(entity string, data []byte, mark Mark) Entry {
	return Entry{Key: ProfileKey(entity), Value: EncodeProfile(data, mark)}
}

// FindingEntry is the entry of a stored finding.
func FindingEntry(id string, stored []byte) Entry {
	return Entry{Key: FindingKey(id), Value: stored}
}

// MetaEntry is the entry of the shard's meta.
func MetaEntry(m Meta) Entry {
	v, _ := m.MarshalBinary()
	return Entry{Key: metaKey, Value: v}
}

// Write stores entries in one batch, durably: the WAL is synced, because
// the consumer offset is committed to Kafka right after.
func (s *Shard) Write(entries []Entry) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, e := range entries {
		_ = b.Set(s.key(e.Key), e.Value, nil) // a batch Set cannot fail
	}
	return wrap("writing batch", b.Commit(pebble.Sync))
}

// Restore replaces the shard's keyspace with changelog entries.
func (s *Shard) Restore(entries []Entry) error {
	if err := s.Drop(); err != nil {
		return err
	}
	return s.Write(entries)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("storage: %s: %w", what, err)
}
