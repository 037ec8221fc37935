package cluster

import "hash/fnv"

// ShardOf returns the shard (internal-topic partition) of an entity key.
// Ingest partitions records with it and the admin endpoint uses it to find
// the shard hosting an entity, so both must agree: FNV-1a, 32 bit.
func ShardOf(key string, shards int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int32(h.Sum32() % uint32(shards))
}
