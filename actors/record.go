package actors

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/storage"
	"github.com/vigil-sec/vigil/wire"
)

// An internal record's value is an envelope. An event record carries the
// reference of the raw record it came from (for dead letters), the
// regions it is for, and the encoded event. A global-service event is for
// every enabled region: ingest sends it once per shard, listing the
// regions whose entity that shard owns, and the shard hands it to each of
// those regions' entity; any other event is for its own region (an empty
// list). A statistics record carries what ingest counted in one batch of
// one raw partition, so that the shard persists it exactly once with its
// meta:
//
//	version(1) kind(1)=event source(1) rawPartition(uvarint) rawOffset(uvarint) regions(uvarint n, n strings) event...
//	version(1) kind(1)=stats source(1) rawPartition(uvarint) records events dropped deadLetters (uvarints)
const envelopeVersion = 3

// Kinds of envelope.
const (
	envelopeEvent = 0
	envelopeStats = 1
)

// maxEnvelopeRegions bounds the regions of one event record (there are
// about 35 AWS regions).
const maxEnvelopeRegions = 256

// rawRef names a raw record.
type rawRef struct {
	source    event.Source
	partition int32
	offset    int64
}

// appendEnvelope encodes ev for regions, or for its own region when
// regions is empty.
func appendEnvelope(b []byte, ref rawRef, regions []string, ev *event.Event) ([]byte, error) {
	b = append(b, envelopeVersion, envelopeEvent, byte(ref.source))
	b = binary.AppendUvarint(b, uint64(ref.partition))
	b = binary.AppendUvarint(b, uint64(ref.offset))
	b = binary.AppendUvarint(b, uint64(len(regions)))
	for _, r := range regions {
		b = wire.AppendString(b, r)
	}
	return ev.AppendBinary(b)
}

// ingestStats is what ingest counted for one batch of one raw partition.
type ingestStats struct {
	source                                event.Source
	partition                             int32
	records, events, dropped, deadLetters int64
}

// statsKey is the key of a statistics record: the raw partition it counts,
// so that one raw partition's statistics always go to the same shard.
func statsKey(source event.Source, partition int32) string {
	return "stats/" + source.String() + "/" + strconv.Itoa(int(partition))
}

func appendStats(b []byte, s *ingestStats) []byte {
	b = append(b, envelopeVersion, envelopeStats, byte(s.source))
	b = binary.AppendUvarint(b, uint64(s.partition))
	for _, v := range [...]int64{s.records, s.events, s.dropped, s.deadLetters} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	return b
}

var errEnvelope = errors.New("actors: corrupt internal record")

// envelope is a parsed internal record.
type envelope struct {
	kind    byte
	ref     rawRef
	regions []string          // for envelopeEvent: the target regions, none for the event's own
	event   []byte            // encoded event.Event, for envelopeEvent
	stats   *storage.Counters // for envelopeStats
}

func parseEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) < 3 || b[0] != envelopeVersion || b[2] >= storage.Sources {
		return e, errEnvelope
	}
	e.kind, e.ref.source = b[1], event.Source(b[2])
	r := wire.Reader{Buf: b, Off: 3}
	e.ref.partition = int32(wire.Uint[uint32](&r, "bad partition %d"))
	switch e.kind {
	case envelopeEvent:
		e.ref.offset = int64(r.Uvarint())
		n := r.Uvarint()
		if n > maxEnvelopeRegions {
			return e, errEnvelope
		}
		for range n {
			l := r.Uvarint()
			if r.Err != nil || l > uint64(r.Left()) {
				return e, errEnvelope
			}
			e.regions = append(e.regions, string(b[r.Off:r.Off+int(l)]))
			r.Off += int(l)
		}
		e.event = b[r.Off:]
	case envelopeStats:
		c := new(storage.Counters)
		src := e.ref.source
		for _, v := range []*int64{&c.Records[src], &c.Events[src], &c.Dropped[src], &c.DeadLetters[src]} {
			*v = int64(r.Uvarint())
		}
		if r.Left() > 0 {
			return e, errEnvelope
		}
		e.stats = c
	default:
		return e, errEnvelope
	}
	if r.Err != nil {
		return e, errEnvelope
	}
	return e, nil
}
