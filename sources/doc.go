// Package sources turns raw log records into event.Events.
//
// It holds one decoder per log vigil reads: CloudTrail management events,
// VPC Flow Logs and Route 53 Resolver query logs. The ingest actor calls a
// decoder for every Kafka record, and `vigil replay` feeds files through the
// same decoders with ReadFiles, so a record decodes the same way live and in
// replay. Decoders keep scratch state (a JSON parser, an interning table,
// parsed flow-log formats) and are not safe for concurrent use: use one per
// goroutine. Events they return own their memory.
//
// Decoders never panic on input. A record that cannot be decoded yields a
// *DecodeError, whose Reason goes into the dead-letter record; the events of
// the good elements of a multi-event record are still returned.
package sources
