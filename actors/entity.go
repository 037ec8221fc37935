package actors

import (
	"encoding/json"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/profiles"
	"github.com/vigil-sec/vigil/shard"
	"github.com/vigil-sec/vigil/storage"
)

// entityActor owns one entity's profile: it applies the entity's events in
// order and runs the detectors. Its parent, the shard actor, is the only
// sender, and persists what the entity hands back on a snapshot.
type entityActor struct {
	key       string
	partition int32
	profile   profiles.Profile
	mark      storage.Mark // of the last record applied
	engine    *detect.Engine
	warn      *throttledLog

	// Since the last snapshot: the finding occurrences raised, merged by
	// finding id (index into occurrences), what was counted, and the
	// records a detector failed on.
	occurrences []findings.Finding
	byID        map[string]int
	counts      storage.Counters
	deadLetters []shard.DeadLetter
}

// entityRecord is one internal record for the entity. region, when set,
// is the entity's region, which a global-service event's record, shared
// by several regions' entities, does not carry; such a record comes
// decoded once for all of them (shared, or decodeErr), and read-only.
type entityRecord struct {
	mark      storage.Mark
	env       envelope
	region    string
	shared    *event.Event
	decodeErr error
}

// entityUrgent tells the shard that the entity raised findings or dead
// letters, which its next flush must not leave behind.
type entityUrgent struct{ key string }

// snapshotRequest asks for the profile and what happened since the last
// snapshot, for a flush.
type snapshotRequest struct{}

// snapshotReply is the entity's answer, sent to its parent.
type snapshotReply struct{ shard.Snapshot }

// inspectRequest asks for an entity's profile as JSON.
type inspectRequest struct{ key string }

// inspectReply answers an inspectRequest.
type inspectReply struct {
	profile json.RawMessage
	mark    storage.Mark
	active  bool
	found   bool
	err     error
}

func (e *entityActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *entityRecord:
		raised := len(e.occurrences) + len(e.deadLetters)
		e.apply(m)
		if raised == 0 && len(e.occurrences)+len(e.deadLetters) > 0 {
			ctx.Send(ctx.Parent(), &entityUrgent{e.key})
		}
	case *snapshotRequest:
		b, err := e.profile.MarshalBinary()
		if err != nil {
			// Profiles encode without error; a failure is a bug, and the
			// stored profile stays as it was.
			e.warn.Warn("encoding profile", "entity", e.key, "err", err)
		}
		ctx.Send(ctx.Parent(), &snapshotReply{shard.Snapshot{Key: e.key, Profile: b, Mark: e.mark,
			Occurrences: e.occurrences, Counts: e.counts, DeadLetters: e.deadLetters}})
		e.occurrences, e.deadLetters, e.counts = nil, nil, storage.Counters{}
		clear(e.byID)
	case *inspectRequest:
		b, err := e.inspect()
		ctx.Respond(&inspectReply{profile: b, mark: e.mark, active: true, found: true, err: err})
	}
}

// apply applies one record unless the profile already holds it.
func (e *entityActor) apply(m *entityRecord) {
	if !e.mark.Less(m.mark) {
		e.counts.Duplicates++ // replayed after a crash: already in the profile
		return
	}
	e.mark = m.mark
	// A local, not a field: an idle entity must not hold its last event.
	var ev event.Event
	err := m.decodeErr
	switch {
	case m.shared != nil:
		// A copy: detectors read the event and never write it, so the
		// regions' copies share what it points to.
		ev = *m.shared
	case err == nil:
		err = ev.UnmarshalBinary(m.env.event)
	}
	if err != nil {
		// Ingest encoded it, so this is corruption or a version mismatch.
		e.fail(m, fmt.Sprintf("undecodable internal record: %v", err))
		return
	}
	if m.region != "" {
		ev.Region = m.region
	}
	occ, applied, err := e.detect(&ev)
	switch {
	case err != nil:
		e.fail(m, err.Error())
		return
	case !applied:
		e.counts.Duplicates++ // a CloudTrail event seen before
		return
	}
	e.counts.Applied[ev.Source]++
	for i := range occ {
		o := &occ[i]
		if o.Service.Count > 0 {
			e.counts.Findings++
		}
		if j, ok := e.byID[o.ID]; ok {
			e.occurrences[j].Merge(o)
			continue
		}
		if e.byID == nil {
			e.byID = make(map[string]int)
		}
		e.byID[o.ID] = len(e.occurrences)
		e.occurrences = append(e.occurrences, *o)
	}
}

// detect runs the detectors. A detector bug costs the one event, which is
// dead-lettered: a panic would make protoactor restart the actor and drop
// the message silently.
func (e *entityActor) detect(ev *event.Event) (occ []findings.Finding, applied bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			occ, applied, err = nil, false, fmt.Errorf("detector failed: %v", p)
		}
	}()
	occ, applied = e.engine.Apply(e.profile, ev)
	return occ, applied, nil
}

// fail dead-letters the record m: the reference names the internal record
// and the raw record it came from.
func (e *entityActor) fail(m *entityRecord, reason string) {
	e.counts.Failures++
	ref := m.env.ref
	e.warn.Warn("event failed", "entity", e.key, "offset", m.mark.Offset,
		"source", ref.source.String(), "raw_partition", ref.partition, "raw_offset", ref.offset, "reason", reason)
	dl := &DeadLetter{Topic: kafka.EntitiesTopic, Partition: e.partition, Offset: m.mark.Offset, Source: ref.source.String(),
		Reason: fmt.Sprintf("%s (raw record %s partition %d offset %d)", reason, ref.source, ref.partition, ref.offset)}
	r := dl.record(0)
	e.deadLetters = append(e.deadLetters, shard.DeadLetter{Key: r.Key, Value: r.Value})
}

// inspect returns the profile as JSON as it would be stored: through its
// encoding, which leaves out what has expired (windows past the lateness
// horizon) but memory still holds until the next change. A running entity
// and a stored one thus show the same profile.
func (e *entityActor) inspect() ([]byte, error) {
	b, err := e.profile.MarshalBinary()
	if err != nil {
		return nil, err
	}
	p, err := profiles.Unmarshal(e.profile.Kind(), b)
	if err != nil {
		return nil, err
	}
	return json.Marshal(p)
}
