package cluster

import "strings"

// ShardOf returns the shard (internal-topic partition) of an entity key
// "account/region/kind/entity". Ingest partitions records with it and the
// admin endpoint uses it to find the shard hosting an entity, so both must
// agree: FNV-1a, 32 bit, of the key without its region. Every region's
// entity of one principal or instance is therefore on one shard, so a
// global-service event, which goes to every enabled region, is one
// internal record that the shard fans out, not one per shard. A key of
// another shape (a finding id, a statistics key) is hashed whole.
func ShardOf(key string, shards int32) int32 {
	h := uint32(offset32)
	account, rest, _ := strings.Cut(key, "/")
	if _, rest, ok := strings.Cut(rest, "/"); ok && strings.Contains(rest, "/") {
		h = fnv1a(fnv1a(h, account), "/")
		key = rest
	}
	return int32(fnv1a(h, key) % uint32(shards))
}

const (
	offset32 = 2166136261
	prime32  = 16777619
)

func fnv1a(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= prime32
	}
	return h
}
