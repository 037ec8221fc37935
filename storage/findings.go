package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// FindingsTable is the node's copy of every finding of the cluster: the
// findings topic, compacted by finding id, with the offsets it was read
// to, so that any node answers findings queries for the whole cluster
// without asking the others. It lives beside the shards' keyspaces, under
// its own prefix.
type FindingsTable struct {
	db *pebble.DB
}

// Keys of the table: "g" then "f/<id>" for a finding's JSON and
// "o/<partition>" for the next offset to read of a partition.
var (
	tablePrefix        = []byte("g")
	tableFindingPrefix = []byte("gf/")
	tableOffsetPrefix  = []byte("go/")
)

// FindingsTable returns the node's findings table.
func (d *DB) FindingsTable() *FindingsTable { return &FindingsTable{db: d.db} }

// TableFinding is one finding as published: its id, GuardDuty JSON, and
// the ownership epoch of the shard that published it.
type TableFinding struct {
	ID    string
	Owner uint64
	JSON  []byte
}

// Apply stores findings and the offsets read to, in one batch. A finding
// replaces the stored one of its id unless that came from a newer owner
// of the shard (one that took the shard over from a node cut off, which
// may have published after it). It need not be synced: the table is
// rebuilt from the topic from the offsets it stored.
func (t *FindingsTable) Apply(fs []TableFinding, next map[int32]int64) error {
	b := t.db.NewIndexedBatch()
	defer b.Close()
	for _, f := range fs {
		key := append(append([]byte(nil), tableFindingPrefix...), f.ID...)
		old, ok, err := get(b, key)
		if err != nil {
			return wrap("reading findings table", err)
		}
		if ok {
			if owner, n := binary.Uvarint(old); n > 0 && owner > f.Owner {
				continue
			}
		}
		v := binary.AppendUvarint(make([]byte, 0, len(f.JSON)+4), f.Owner)
		_ = b.Set(key, append(v, f.JSON...), nil) // a batch Set cannot fail
	}
	for p, off := range next {
		_ = b.Set(tableOffsetKey(p), binary.AppendVarint(nil, off), nil)
	}
	return wrap("writing findings table", b.Commit(pebble.NoSync))
}

func tableOffsetKey(p int32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), tableOffsetPrefix...), uint32(p))
}

// Offsets returns the next offset to read of every partition read before.
func (t *FindingsTable) Offsets() (map[int32]int64, error) {
	out := make(map[int32]int64)
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: tableOffsetPrefix, UpperBound: upperBound(tableOffsetPrefix)})
	if err != nil {
		return nil, wrap("reading findings table offsets", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[len(tableOffsetPrefix):]
		off, n := binary.Varint(it.Value())
		if len(k) != 4 || n <= 0 {
			return nil, fmt.Errorf("storage: corrupt findings table offset")
		}
		out[int32(binary.BigEndian.Uint32(k))] = off
	}
	return out, wrap("reading findings table offsets", it.Error())
}

// Each calls fn with every finding's id and JSON, in id order, until fn
// returns false. The slices are valid only during the call.
func (t *FindingsTable) Each(fn func(id string, json []byte) bool) error {
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: tableFindingPrefix, UpperBound: upperBound(tableFindingPrefix)})
	if err != nil {
		return wrap("reading findings table", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		_, n := binary.Uvarint(v)
		if n <= 0 {
			return fmt.Errorf("storage: corrupt findings table entry")
		}
		if !fn(string(it.Key()[len(tableFindingPrefix):]), v[n:]) {
			break
		}
	}
	return wrap("reading findings table", it.Error())
}

// Drop empties the table (before it is read again from the start).
func (t *FindingsTable) Drop() error {
	return wrap("dropping findings table", t.db.DeleteRange(tablePrefix, upperBound(tablePrefix), pebble.Sync))
}
