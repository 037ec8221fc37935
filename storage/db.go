package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Options configures the database.
type Options struct {
	// CacheSize is the block cache size in bytes; memtables are reserved
	// from it. Default 128 MiB.
	CacheSize int64
	// MemTableSize is the size of one memtable. Default 32 MiB (Pebble's
	// 4 MiB flushes and compacts far more often under a write-behind
	// load of whole profiles).
	MemTableSize uint64
	// Logger receives Pebble's messages. Default: slog.Default().
	Logger *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.CacheSize <= 0 {
		o.CacheSize = 128 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 32 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// DB is a node's Pebble database.
type DB struct {
	db    *pebble.DB
	cache *pebble.Cache
}

// Open opens (creating if needed) the database in dir.
func Open(dir string, opts Options) (*DB, error) {
	opts.ensureDefaults()
	cache := pebble.NewCache(opts.CacheSize)
	po := &pebble.Options{
		Cache:              cache,
		MemTableSize:       opts.MemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		// Fewer, larger L0 compactions and no write stalls from L0 file
		// counts: the tuned settings of spec/limits.md §5, 1.3–1.9× the
		// defaults' write rate there.
		L0CompactionThreshold: 2,
		L0StopWritesThreshold: 1000,
		LBaseMaxBytes:         512 << 20,
		Logger:                pebbleLogger{opts.Logger.With("component", "pebble")},
	}
	// A new entity's first record looks up a profile that does not exist
	// yet; bloom filters answer that without reading data blocks. Lower
	// levels inherit the filter.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	po.CompactionConcurrencyRange = func() (int, int) { return 1, 2 }
	db, err := pebble.Open(filepath.Clean(dir), po)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("storage: opening pebble in %s: %w", dir, err)
	}
	return &DB{db: db, cache: cache}, nil
}

// Close closes the database.
func (d *DB) Close() error {
	err := d.db.Close()
	d.cache.Unref()
	if err != nil {
		return fmt.Errorf("storage: closing pebble: %w", err)
	}
	return nil
}

// Shard returns the keyspace of shard p.
func (d *DB) Shard(p int32) *Shard {
	return &Shard{db: d.db, prefix: shardPrefix(p)}
}

func shardPrefix(p int32) []byte {
	b := make([]byte, 5)
	b[0] = 's'
	binary.BigEndian.PutUint32(b[1:], uint32(p))
	return b
}

// upperBound returns the smallest key greater than every key with prefix.
func upperBound(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

func get(db pebble.Reader, key []byte) ([]byte, bool, error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true, nil
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any)  { p.l.Debug(fmt.Sprintf(format, args...)) }
func (p pebbleLogger) Errorf(format string, args ...any) { p.l.Error(fmt.Sprintf(format, args...)) }
func (p pebbleLogger) Fatalf(format string, args ...any) {
	// Pebble calls Fatalf on unrecoverable corruption; it expects the call
	// not to return.
	p.l.Error(fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
