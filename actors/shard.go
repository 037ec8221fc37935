package actors

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"sort"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/profiles"
	"github.com/vigil-sec/vigil/storage"
)

// shardActor owns one shard: its Pebble keyspace, its entity actors, and
// the order in which its records are applied and committed.
type shardActor struct {
	host      *Host
	partition int32
	store     *storage.Shard
	log       *slog.Logger

	// meta is the state after the last record dispatched: Applied is that
	// record's offset, Watermarks the raw positions seen.
	meta     storage.Meta
	children map[string]*child
	dirty    map[string]struct{} // entities changed since the last flush began
	findings map[string]*findings.Finding

	// The flush in progress, if any.
	flushing  bool
	inFlush   map[string]struct{} // entities whose state this flush writes
	awaiting  int
	snapshots []*snapshot
	flushMeta storage.Meta
	committed int64 // Applied of the last flush written and acknowledged

	drain *actor.PID // who asked to drain, answered once all is committed
	ticks uint64     // flush ticks seen; the clock of passivation
}

// child is a running entity actor.
type child struct {
	pid      *actor.PID
	lastTick uint64 // the tick of its last record
}

// maxCachedFindings bounds the findings a shard keeps decoded in memory
// for aggregation.
const maxCachedFindings = 10000

// passivateEvery is how many flush ticks pass between sweeps for idle
// entities.
const passivateEvery = 8

// shardRecords is one poll's records of the shard's partition.
type shardRecords struct {
	records []*kgo.Record
	release func()
}

// flushTick starts a flush if anything changed.
type flushTick struct{}

// flushAcked says the changelog and findings of a written flush were
// acknowledged, so the consumer offset can be committed.
type flushAcked struct {
	applied int64
	err     error
}

// drainRequest asks the shard to flush and commit everything; the reply is
// a *drained.
type drainRequest struct{}

type drained struct{ applied int64 }

// listRequest asks for the shard's entities of a kind; the reply is a
// *listReply.
type listRequest struct{ kind event.EntityKind }

type listReply struct{ keys []string }

func newShardActor(h *Host, p int32, meta storage.Meta) *shardActor {
	if meta.Watermarks == nil {
		meta.Watermarks = make(map[string]storage.Position)
	}
	return &shardActor{
		host: h, partition: p, store: h.cfg.DB.Shard(p), meta: meta, committed: meta.Applied,
		log:      h.log.With("shard", p),
		children: make(map[string]*child), dirty: make(map[string]struct{}),
		findings: make(map[string]*findings.Finding),
	}
}

func (s *shardActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *shardRecords:
		s.dispatch(ctx, m.records)
		m.release()
	case *flushTick:
		s.ticks++
		if s.ticks%passivateEvery == 0 {
			s.passivateIdle(ctx)
		}
		s.maybeFlush(ctx)
	case *snapshot:
		s.snapshots = append(s.snapshots, m)
		if s.awaiting--; s.awaiting == 0 {
			s.write(ctx)
		}
	case *flushAcked:
		s.acked(ctx, m)
	case *inspectRequest:
		s.inspect(ctx, m)
	case *listRequest:
		ctx.Respond(s.list(m.kind))
	case *drainRequest:
		s.drain = ctx.Sender()
		s.maybeFlush(ctx)
	}
}

// dispatch routes records to entity actors, dropping re-sent ones.
func (s *shardActor) dispatch(ctx actor.Context, records []*kgo.Record) {
	for _, r := range records {
		s.meta.Applied = r.Offset
		pos, data, err := parseEnvelope(r.Value)
		if err != nil {
			s.log.Error("corrupt internal record", "offset", r.Offset, "err", err)
			continue
		}
		wk := pos.watermarkKey()
		if wm, ok := s.meta.Watermarks[wk]; ok && !wm.Less(pos.Position) {
			s.host.cfg.Stats.Duplicates.Add(1) // ingest re-sent it after a crash
			continue
		}
		s.meta.Watermarks[wk] = pos.Position
		key := string(r.Key)
		pid, err := s.child(ctx, key)
		if err != nil {
			s.log.Error("starting entity", "entity", key, "err", err)
			continue
		}
		ctx.Send(pid.pid, &entityRecord{offset: r.Offset, data: data})
		pid.lastTick = s.ticks
		s.dirty[key] = struct{}{}
	}
}

// child returns the entity's actor, starting it from its stored profile.
func (s *shardActor) child(ctx actor.Context, key string) (*child, error) {
	if c, ok := s.children[key]; ok {
		return c, nil
	}
	kind, account, region, entity, err := splitKey(key)
	if err != nil {
		return nil, err
	}
	data, offset, ok, err := s.store.Profile(key)
	if err != nil {
		return nil, err
	}
	p := profiles.New(kind, account, region, entity)
	if ok {
		if p, err = profiles.Unmarshal(kind, data); err != nil {
			return nil, err
		}
	} else {
		offset = -1
	}
	e := &entityActor{key: key, profile: p, offset: offset, engine: s.host.cfg.Engine, stats: s.host.cfg.Stats, log: s.log}
	c := &child{pid: ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return e })), lastTick: s.ticks}
	s.children[key] = c
	s.host.cfg.Stats.Spawned.Add(1)
	return c, nil
}

// splitKey parses "account/region/kind/entity"; the entity may hold
// slashes (ARNs do).
func splitKey(key string) (kind event.EntityKind, account, region, entity string, err error) {
	parts := strings.SplitN(key, "/", 4)
	if len(parts) != 4 {
		return 0, "", "", "", errKey(key)
	}
	kind, ok := event.ParseEntityKind(parts[2])
	if !ok {
		return 0, "", "", "", errKey(key)
	}
	return kind, parts[0], parts[1], parts[3], nil
}

type errKey string

func (e errKey) Error() string { return "actors: malformed entity key " + string(e) }

// maybeFlush starts a flush: it asks every changed entity for a snapshot.
// Messages to an entity are handled in order, so each snapshot includes
// every record dispatched before it.
func (s *shardActor) maybeFlush(ctx actor.Context) {
	if s.flushing {
		return
	}
	if len(s.dirty) == 0 && s.meta.Applied == s.committed {
		s.answerDrain(ctx)
		return
	}
	s.flushing = true
	s.inFlush, s.dirty = s.dirty, make(map[string]struct{})
	s.flushMeta = storage.Meta{Applied: s.meta.Applied, Watermarks: maps.Clone(s.meta.Watermarks)}
	clear(s.snapshots) // drop the last flush's profile bytes
	s.snapshots = s.snapshots[:0]
	s.awaiting = len(s.inFlush)
	if s.awaiting == 0 {
		s.write(ctx)
		return
	}
	for key := range s.inFlush {
		ctx.Send(s.children[key].pid, &snapshotRequest{})
	}
}

// write stores the flush in one Pebble batch, then appends it to the
// changelog and publishes the findings; the offset is committed once
// Kafka has acknowledged both.
func (s *shardActor) write(ctx actor.Context) {
	// Sorted so that the batch and the changelog are the same on replay.
	sort.Slice(s.snapshots, func(i, j int) bool { return s.snapshots[i].key < s.snapshots[j].key })
	batch := s.store.NewBatch()
	changed := make(map[string]struct{})
	for _, snap := range s.snapshots {
		batch.SetProfile(snap.key, snap.profile, snap.offset)
		for i := range snap.findings {
			s.aggregate(&snap.findings[i])
			changed[snap.findings[i].ID] = struct{}{}
		}
	}
	var published []storage.Entry
	for _, id := range sortedKeys(changed) {
		b, err := json.Marshal(s.findings[id])
		if err != nil {
			s.log.Error("encoding finding", "id", id, "err", err)
			continue
		}
		batch.SetFinding(id, b)
		published = append(published, storage.Entry{Key: id, Value: b})
	}
	batch.SetMeta(s.flushMeta)
	entries := batch.Entries()
	if err := batch.Commit(); err != nil {
		// Nothing is committed to Kafka, so the records are applied
		// again after a restart.
		s.log.Error("writing flush", "err", err)
		s.flushing = false
		return
	}
	s.host.cfg.Stats.Flushes.Add(1)

	applied := s.flushMeta.Applied
	self := ctx.Self()
	root := ctx.ActorSystem().Root
	produced := new(acks)
	for _, e := range entries {
		s.host.producer.Produce(context.Background(), &kgo.Record{Topic: kafka.ProfilesTopic, Partition: s.partition,
			Key: []byte(e.Key), Value: e.Value}, produced.promise())
	}
	for _, f := range published {
		s.host.producer.Produce(context.Background(), &kgo.Record{Topic: kafka.FindingsTopic,
			Key: []byte(f.Key), Value: f.Value}, produced.promise())
	}
	go func() {
		err := produced.wait()
		root.Send(self, &flushAcked{applied: applied, err: err})
	}()
}

// aggregate merges a finding occurrence into the stored finding of the
// same id, as GuardDuty does: count, last seen and details update.
func (s *shardActor) aggregate(occ *findings.Finding) {
	f, ok := s.findings[occ.ID]
	if !ok {
		if b, found, err := s.store.Finding(occ.ID); err == nil && found {
			var stored findings.Finding
			if err := json.Unmarshal(b, &stored); err == nil {
				f, ok = &stored, true
				s.findings[occ.ID] = f
			}
		}
	}
	if !ok {
		if len(s.findings) >= maxCachedFindings {
			clear(s.findings) // a cache: Pebble holds them all
		}
		c := *occ
		s.findings[occ.ID] = &c
		return
	}
	f.Merge(occ)
}

func (s *shardActor) acked(ctx actor.Context, m *flushAcked) {
	s.flushing = false
	s.inFlush = nil
	if m.err != nil {
		s.log.Error("appending flush to changelog", "err", m.err)
		return
	}
	s.committed = m.applied
	s.host.commit(s.partition, m.applied+1)
	if s.drain != nil {
		s.maybeFlush(ctx)
	}
}

func (s *shardActor) answerDrain(ctx actor.Context) {
	if s.drain != nil {
		ctx.Send(s.drain, &drained{applied: s.committed})
		s.drain = nil
	}
}

// passivateIdle stops the entities that had no record for the idle time
// and have nothing unflushed; the next record starts them again from
// Pebble. The shard keeps the clock, not a timer per entity: protoactor's
// receive timeout races with message handling (go test -race), and
// thousands of timers cost more than one sweep.
func (s *shardActor) passivateIdle(ctx actor.Context) {
	idleTicks := uint64(s.host.cfg.IdleTimeout / s.host.cfg.FlushInterval)
	for key, c := range s.children {
		if s.ticks-c.lastTick < idleTicks {
			continue
		}
		if _, d := s.dirty[key]; d {
			continue
		}
		if _, f := s.inFlush[key]; f {
			continue
		}
		ctx.Poison(c.pid)
		delete(s.children, key)
		s.host.cfg.Stats.Passivated.Add(1)
	}
}

func (s *shardActor) inspect(ctx actor.Context, m *inspectRequest) {
	if c, ok := s.children[m.key]; ok {
		ctx.Forward(c.pid)
		return
	}
	kind, _, _, _, err := splitKey(m.key)
	if err != nil {
		ctx.Respond(&inspectReply{err: err})
		return
	}
	data, offset, ok, err := s.store.Profile(m.key)
	if err != nil || !ok {
		ctx.Respond(&inspectReply{err: err})
		return
	}
	p, err := profiles.Unmarshal(kind, data)
	if err != nil {
		ctx.Respond(&inspectReply{err: err})
		return
	}
	b, err := json.Marshal(p)
	ctx.Respond(&inspectReply{profile: b, offset: offset, found: true, err: err})
}

func (s *shardActor) list(kind event.EntityKind) *listReply {
	seen := make(map[string]struct{})
	for key := range s.children {
		if k, _, _, _, err := splitKey(key); err == nil && k == kind {
			seen[key] = struct{}{}
		}
	}
	_ = s.store.Profiles(func(key string, _ []byte, _ int64) bool {
		if k, _, _, _, err := splitKey(key); err == nil && k == kind {
			seen[key] = struct{}{}
		}
		return true
	})
	return &listReply{keys: sortedKeys(seen)}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
