// Package sources turns raw log records into event.Events.
//
// It holds one decoder per log vigil reads: CloudTrail management events,
// VPC Flow Logs and Route 53 Resolver query logs. The ingest actor calls a
// decoder for every Kafka record, and `vigil replay` feeds files through the
// same decoders with ReadFiles, so a record decodes the same way live and in
// replay. Decoders keep scratch state (a JSON parser, an interning table,
// parsed flow-log formats, a decompression window) and are not safe for
// concurrent use: use one per goroutine.
//
// A decoder hands each event to a callback as soon as it is decoded, and
// reuses the event's memory for the next one: the callback encodes it (or
// copies it) and keeps no pointer into it. With that, and compressed
// records decompressed as a stream, decoding a record takes the memory of
// its largest element whatever the record's size; Limits bounds both.
//
// Decoders never panic on input. A record that cannot be decoded yields a
// *DecodeError, whose Reason goes into the dead-letter record; the events of
// the good elements of a multi-event record are still emitted. Every string
// field is bounded in length, fields that make up an entity id or routing
// key hold no control characters, and event times lie within
// [2000-01-01, 2100-01-01).
package sources
