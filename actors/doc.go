// Package actors is vigil's pipeline, built on protoactor-go actors.
//
// One event's path: the ingest loop (ingest.go) polls the raw topics and
// hands each raw partition's records to that partition's ingest actor,
// which decodes them (package sources), broadcasts global-service events to
// every enabled region, and produces one internal record per event to the
// entities topic, keyed by entity and partitioned by shard (record.go). The
// shard host (host.go) consumes the entities topic in a consumer group; for
// every partition Kafka assigns it, it runs a shard actor (shard.go) that
// owns that shard's Pebble keyspace. The shard actor drops re-sent records,
// routes each event to its entity actor (entity.go), spawning it on demand
// and passivating it when idle. The entity actor updates its profile and
// runs the detectors (package detect). Every flush interval the shard
// collects the changed profiles and new finding occurrences, aggregates the
// findings, writes everything in one Pebble batch, appends it to the
// changelog topic, publishes the findings, and only then commits its
// consumer offset.
package actors
