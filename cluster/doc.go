// Package cluster holds what the nodes of a vigil cluster share: the shard
// map (which shard an entity belongs to) and gossip membership over
// hashicorp/memberlist, whose node metadata tells every node where each
// other node's admin endpoint is and which shards it owns.
//
// Shard ownership itself is decided by Kafka: the consumer group on the
// entities topic assigns partitions, and partition p is shard p.
package cluster
