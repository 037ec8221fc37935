// Package storage is vigil's on-disk state: one Pebble database per node,
// divided into one keyspace per shard.
//
// A shard's keyspace holds its entities' profiles (each with the offset of
// the last internal record applied to it), its aggregated findings, and its
// metadata (the last internal offset applied and the raw-record watermarks
// used to drop replayed records). A shard writes all of it in one batch per
// flush; the same key/value pairs go to the shard's changelog partition so
// that another node can rebuild the keyspace (Restore). Raw logs are never
// stored.
//
// Keys: "s" + shard (4 bytes, big endian) + relative key, where the
// relative key is "p/<entity key>", "f/<finding id>" or "m".
package storage
