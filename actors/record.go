package actors

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/storage"
)

// An internal record's value is an envelope: the position of the raw
// record it came from, then the encoded event. The position lets a shard
// drop records that ingest re-sends after a crash.
//
//	version(1) source(1) rawPartition(uvarint) rawOffset(uvarint) index(uvarint) event...
const envelopeVersion = 1

type rawPosition struct {
	source    event.Source
	partition int32
	storage.Position
}

// watermarkKey names the raw partition in shard metadata.
func (p rawPosition) watermarkKey() string {
	return p.source.String() + "/" + strconv.FormatInt(int64(p.partition), 10)
}

func appendEnvelope(b []byte, pos rawPosition, ev *event.Event) ([]byte, error) {
	b = append(b, envelopeVersion, byte(pos.source))
	b = binary.AppendUvarint(b, uint64(pos.partition))
	b = binary.AppendUvarint(b, uint64(pos.Offset))
	b = binary.AppendUvarint(b, uint64(pos.Index))
	return ev.AppendBinary(b)
}

var errEnvelope = errors.New("actors: corrupt internal record")

// parseEnvelope returns the raw position and the encoded event.
func parseEnvelope(b []byte) (rawPosition, []byte, error) {
	var pos rawPosition
	if len(b) < 2 || b[0] != envelopeVersion {
		return pos, nil, errEnvelope
	}
	pos.source = event.Source(b[1])
	b = b[2:]
	var v [3]uint64
	for i := range v {
		x, n := binary.Uvarint(b)
		if n <= 0 {
			return pos, nil, errEnvelope
		}
		v[i], b = x, b[n:]
	}
	pos.partition, pos.Offset, pos.Index = int32(v[0]), int64(v[1]), int32(v[2])
	return pos, b, nil
}
