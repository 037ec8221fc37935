// Package shard is the state machine of one shard: which internal records
// it applies and under which mark, which entities changed since the last
// flush, what a flush writes, how finding occurrences aggregate into stored
// findings, when the consumer offset may be committed, and what happens
// when a write fails.
//
// A Core holds no Kafka client and no actor. The shard actor (package
// actors) forwards its messages to it; the side effects — the synced
// Pebble batch, the changelog and findings appends, the offset commit — go
// through Effects. The rules that make profile updates exactly-once live
// here, where tests drive them directly:
//
//   - Every record gets a storage.Mark (partition incarnation, offset).
//     An offset lower than the one expected means the partition went back
//     (records deleted and reloaded at a lower offset, a recreated topic):
//     the shard starts a new incarnation, so the new records order after
//     everything applied before and are applied, not skipped.
//   - A flush covers every record admitted before it began. It asks the
//     changed entities for snapshots, writes their profiles (each with the
//     mark of the last record applied to it), the aggregated findings and
//     the shard's meta in one batch, appends the same entries to the
//     changelog, and only when Kafka has acknowledged them commits the
//     offset after the flush's mark.
//   - A failed write or append leaves the entities and findings dirty and
//     the offset uncommitted; the flush is retried with backoff, and after
//     Config.RetryTimeout the shard stops (the node keeps running).
//   - Occurrences are merged into findings exactly once: a failure after
//     merging keeps the merged finding dirty instead of merging again, and
//     a failure to read a stored finding keeps its occurrences for the next
//     flush instead of starting the finding over.
package shard
