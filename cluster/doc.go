// Package cluster holds what the nodes of a vigil cluster share: the shard
// map (which shard an entity belongs to) and gossip membership over
// hashicorp/memberlist, whose node metadata tells every node where each
// other node's admin endpoint is and which shards it owns.
//
// Every node republishes its metadata with a heartbeat count every
// Config.HeartbeatInterval, so each node knows when it last heard from
// each other one; failure detection is tuned to declare a killed node
// dead within seconds. Gossip is encrypted with a keyring whose keys can
// be rotated on a running cluster (Membership.SetKeys).
//
// Shard ownership itself is decided by Kafka: the consumer group on the
// entities topic assigns partitions, and partition p is shard p.
package cluster
