package actors

import (
	"encoding/json"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// entityActor owns one entity's profile: it applies the entity's events in
// order and runs the detectors. Its parent, the shard actor, is the only
// sender, and persists what the entity hands back on a snapshot.
type entityActor struct {
	key     string
	profile profiles.Profile
	offset  int64 // last internal record applied
	engine  *detect.Engine
	stats   *Stats
	log     *slog.Logger
	pending []findings.Finding // occurrences not yet handed to the shard
}

// entityRecord is one internal record for the entity.
type entityRecord struct {
	offset int64
	data   []byte // encoded event.Event
}

// snapshotRequest asks for the profile and new findings, for a flush.
type snapshotRequest struct{}

// snapshot is the entity's answer, sent to its parent.
type snapshot struct {
	key      string
	profile  []byte
	offset   int64
	findings []findings.Finding
}

// inspectRequest asks for an entity's profile as JSON.
type inspectRequest struct{ key string }

// InspectReply answers an inspectRequest.
type inspectReply struct {
	profile json.RawMessage
	offset  int64
	active  bool
	found   bool
	err     error
}

// apply runs the detectors. A detector bug costs the one event (logged and
// counted), not the actor: a panic would make protoactor restart it and
// drop the message silently.
func (e *entityActor) apply(ev *event.Event, offset int64) (occ []findings.Finding) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("detector panic", "entity", e.key, "offset", offset, "panic", p)
			e.stats.DetectorErrors.Add(1)
			occ = nil
		}
	}()
	return e.engine.Apply(e.profile, ev)
}

func (e *entityActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *entityRecord:
		if m.offset <= e.offset {
			e.stats.Duplicates.Add(1) // already in the stored profile
			return
		}
		// A local, not a field: an idle entity must not hold its last
		// event (thousands of entities, a kilobyte each).
		var ev event.Event
		if err := ev.UnmarshalBinary(m.data); err != nil {
			// Ingest encoded it, so this is corruption, not bad input.
			e.log.Error("undecodable internal record", "entity", e.key, "offset", m.offset, "err", err)
			e.offset = m.offset
			return
		}
		occ := e.apply(&ev, m.offset)
		e.stats.Applied.Add(1)
		e.stats.Findings.Add(int64(len(occ)))
		e.pending = append(e.pending, occ...)
		e.offset = m.offset
	case *snapshotRequest:
		b, err := e.profile.MarshalBinary()
		if err != nil {
			e.log.Error("encoding profile", "entity", e.key, "err", err)
		}
		ctx.Send(ctx.Parent(), &snapshot{key: e.key, profile: b, offset: e.offset, findings: e.pending})
		e.pending = nil
	case *inspectRequest:
		b, err := json.Marshal(e.profile)
		ctx.Respond(&inspectReply{profile: b, offset: e.offset, active: true, found: true, err: err})
	}
}
