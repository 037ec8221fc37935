package actors

import (
	"cmp"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/profiles"
	"github.com/vigil-sec/vigil/shard"
	"github.com/vigil-sec/vigil/storage"
)

// shardActor runs one shard: it feeds the partition's records to the
// shard's core (package shard), routes events to entity actors, spawning
// them on demand and passivating idle ones, and carries out the core's
// flushes through the host's effects.
type shardActor struct {
	host      *Host
	partition int32
	core      *shard.Core
	store     *storage.Shard
	log       *slog.Logger

	children map[string]*child
	stat     *hosted    // the host's record of this shard, for metrics
	drain    *actor.PID // who asked to drain, answered once all is committed
	ticks    uint64     // flush ticks seen; the clock of passivation
}

// child is a running entity actor.
type child struct {
	pid      *actor.PID
	lastTick uint64 // the tick of its last record
}

// passivateEvery is how many flush ticks pass between sweeps for idle
// entities.
const passivateEvery = 8

// entityDispatcher runs an entity's mailbox on the goroutine that sends to
// it, its shard's, up to 300 messages at a time. It holds no state.
var entityDispatcher = actor.NewSynchronizedDispatcher(300)

// shardRecords is one poll's records of the shard's partition. committed
// is the group's committed offset when known (else -1): the offset the
// partition should deliver first.
type shardRecords struct {
	records   []*kgo.Record
	committed int64
	release   func()
}

// flushTick starts a flush if anything changed.
type flushTick struct{}

// flushPublished reports the outcome of a flush's Kafka transaction.
type flushPublished struct {
	id  uint64
	err error
}

// drainRequest asks the shard to flush and commit everything; the reply
// is a *drained.
type drainRequest struct{}

type drained struct{ stopped *shard.Stopped }

// listRequest asks for up to limit of the shard's entities of a kind with
// keys at or after from; the reply is a *listReply.
type listRequest struct {
	kind  event.EntityKind
	from  string
	limit int
}

type listReply struct {
	keys []string
	err  error
}

func (s *shardActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *shardRecords:
		s.dispatch(ctx, m)
		m.release()
	case *flushTick:
		s.ticks++
		if s.ticks%passivateEvery == 0 {
			s.passivateIdle(ctx)
		}
		s.passivateOverCap(ctx)
		s.flush(ctx)
	case *entityUrgent:
		// A finding does not wait for the next tick: a flush starts now
		// unless one is under way, which starts the next when it ends.
		s.core.Urgent(m.key)
		s.flush(ctx)
	case *snapshotReply:
		s.count(&m.Counts)
		s.core.Snapshot(m.Snapshot)
		s.answerDrain(ctx)
	case *flushPublished:
		if errors.Is(m.err, errFenced) {
			// Another node owns the shard: stop at once, write and commit
			// nothing more; the group takes the partition away when this
			// node reaches it again.
			s.core.Stop(m.err.Error())
		} else {
			s.core.Published(m.id, m.err)
		}
		if st := s.core.Stopped(); st != nil {
			s.host.shardStopped(s.partition, st)
		}
		s.flush(ctx) // a drain continues at once
		s.answerDrain(ctx)
	case *inspectRequest:
		s.inspect(ctx, m)
	case *listRequest:
		ctx.Respond(s.list(m))
	case *drainRequest:
		s.drain = ctx.Sender()
		s.flush(ctx)
		s.answerDrain(ctx)
	}
}

// count adds an entity's counts to the process's metrics; the core
// persists the same counts in the shard's meta.
func (s *shardActor) count(c *storage.Counters) {
	st := s.host.cfg.Stats
	for _, n := range c.Applied {
		st.Applied.Add(n)
	}
	st.Duplicates.Add(c.Duplicates)
	st.Findings.Add(c.Findings)
	st.DetectorErrors.Add(c.Failures)
}

// dispatch admits the records in order and routes events to their
// entities.
func (s *shardActor) dispatch(ctx actor.Context, m *shardRecords) {
	if m.committed >= 0 {
		s.core.Expect(m.committed)
	}
	for _, r := range m.records {
		rec := shard.Record{Offset: r.Offset, Kind: shard.KindControl}
		var env envelope
		if !r.Attrs.IsControl() {
			var err error
			switch env, err = parseEnvelope(r.Value); {
			case err != nil:
				s.host.warn.Warn("corrupt internal record", "shard", s.partition, "offset", r.Offset, "err", err)
			case env.kind == envelopeStats:
				rec.Kind, rec.Stats = shard.KindStats, env.stats
			default:
				rec.Kind, rec.Key = shard.KindEvent, string(r.Key)
				for _, region := range env.regions {
					rec.Keys = append(rec.Keys, withRegion(rec.Key, region))
				}
			}
		}
		a := s.core.Admit(rec)
		if a.Rewound {
			s.host.cfg.Stats.Rewinds.Add(1)
		}
		if !a.Apply {
			continue
		}
		if len(env.regions) == 0 {
			s.send(ctx, rec.Key, &entityRecord{mark: a.Mark, env: env})
			continue
		}
		// Decoded once for all its regions: a global-service event is
		// applied to every enabled region's entity.
		shared := new(event.Event)
		err := shared.UnmarshalBinary(env.event)
		if err != nil {
			shared = nil
		}
		for i, key := range rec.Keys {
			s.send(ctx, key, &entityRecord{mark: a.Mark, env: env, region: env.regions[i], shared: shared, decodeErr: err})
		}
	}
	applied := s.core.Applied()
	s.stat.applied.Store(applied.Offset)
	s.stat.incarnation.Store(applied.Incarnation)
}

// send hands an entity its record, starting the entity if need be.
func (s *shardActor) send(ctx actor.Context, key string, m *entityRecord) {
	c, err := s.child(ctx, key)
	if err != nil {
		s.host.warn.Warn("starting entity", "shard", s.partition, "entity", key, "err", err)
		return
	}
	ctx.Send(c.pid, m)
	c.lastTick = s.ticks
}

// withRegion returns the entity key "account/region/kind/entity" with
// another region.
func withRegion(key, region string) string {
	account, rest, ok := strings.Cut(key, "/")
	if !ok {
		return key
	}
	_, rest, ok = strings.Cut(rest, "/")
	if !ok {
		return key
	}
	return account + "/" + region + "/" + rest
}

// child returns the entity's actor, starting it from its stored profile.
func (s *shardActor) child(ctx actor.Context, key string) (*child, error) {
	if c, ok := s.children[key]; ok {
		return c, nil
	}
	p, mark, err := s.load(key)
	if err != nil {
		return nil, err
	}
	if p == nil {
		kind, account, region, entity, err := splitKey(key)
		if err != nil {
			return nil, err
		}
		p = profiles.New(kind, account, region, entity)
	}
	e := &entityActor{key: key, partition: s.partition, profile: p, mark: mark, engine: s.host.cfg.Engine, warn: s.host.warn}
	// Entities run on their shard's goroutine (a synchronized
	// dispatcher): the shard is their only sender, so a message to an
	// entity is handled at once, in order, without starting a goroutine
	// per busy mailbox; shards still run in parallel.
	props := actor.PropsFromProducer(func() actor.Actor { return e }, actor.WithDispatcher(entityDispatcher))
	c := &child{pid: ctx.Spawn(props), lastTick: s.ticks}
	s.children[key] = c
	s.host.cfg.Stats.Spawned.Add(1)
	return c, nil
}

// load reads an entity's stored profile; nil if there is none.
func (s *shardActor) load(key string) (profiles.Profile, storage.Mark, error) {
	kind, _, _, _, err := splitKey(key)
	if err != nil {
		return nil, storage.NoMark, err
	}
	data, mark, ok, err := s.store.Profile(key)
	if err != nil || !ok {
		return nil, storage.NoMark, err
	}
	p, err := profiles.Unmarshal(kind, data)
	if err != nil {
		return nil, storage.NoMark, err
	}
	return p, mark, nil
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

// flush starts a flush if the core has one to make: it asks every changed
// entity for a snapshot. Messages to an entity are handled in order, so
// each snapshot includes every record dispatched before it.
func (s *shardActor) flush(ctx actor.Context) {
	// Everything is written for a drain, and when the shard runs more
	// entities than its share of the cap: only written ones passivate.
	keys, ok := s.core.Begin(s.drain != nil || s.overCap())
	if !ok {
		return
	}
	for _, key := range keys {
		c, ok := s.children[key]
		if !ok {
			// Cannot happen: a changed entity is never passivated.
			s.log.Error("changed entity has no actor", "entity", key)
			continue
		}
		ctx.Send(c.pid, &snapshotRequest{})
	}
}

func (s *shardActor) answerDrain(ctx actor.Context) {
	if s.drain == nil {
		return
	}
	if st := s.core.Stopped(); st != nil || s.core.Idle() {
		ctx.Send(s.drain, &drained{stopped: st})
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
		if s.ticks-c.lastTick < idleTicks || s.core.Busy(key) {
			continue
		}
		ctx.Poison(c.pid)
		delete(s.children, key)
		s.host.cfg.Stats.Passivated.Add(1)
	}
}

// passivateOverCap passivates the least recently used entities that have
// nothing unwritten while the shard runs more than its share of the
// node's live entities (HostConfig.MaxLiveEntities), down to 90% of it so
// that a sweep frees room for a while.
func (s *shardActor) passivateOverCap(ctx actor.Context) {
	if !s.overCap() {
		return
	}
	limit := int(s.host.liveCap.Load())
	type idle struct {
		key  string
		tick uint64
	}
	var idles []idle
	for key, c := range s.children {
		if !s.core.Busy(key) {
			idles = append(idles, idle{key, c.lastTick})
		}
	}
	slices.SortFunc(idles, func(a, b idle) int {
		if a.tick != b.tick {
			return cmp.Compare(a.tick, b.tick)
		}
		return strings.Compare(a.key, b.key)
	})
	for _, e := range idles {
		if len(s.children) <= limit*9/10 {
			break
		}
		ctx.Poison(s.children[e.key].pid)
		delete(s.children, e.key)
		s.host.cfg.Stats.Passivated.Add(1)
	}
}

// overCap reports whether the shard runs more entities than its share of
// the node's cap.
func (s *shardActor) overCap() bool {
	limit := int(s.host.liveCap.Load())
	return limit > 0 && len(s.children) > limit
}

func (s *shardActor) inspect(ctx actor.Context, m *inspectRequest) {
	if c, ok := s.children[m.key]; ok {
		ctx.Forward(c.pid)
		return
	}
	p, mark, err := s.load(m.key)
	if err != nil || p == nil {
		ctx.Respond(&inspectReply{err: err})
		return
	}
	b, err := json.Marshal(p)
	ctx.Respond(&inspectReply{profile: b, mark: mark, found: true, err: err})
}

// list answers a listRequest from the stored profiles and the running
// entities not stored yet.
func (s *shardActor) list(m *listRequest) *listReply {
	var keys []string
	err := s.store.Profiles(m.from, func(key string, _ []byte, _ storage.Mark) bool {
		if k, _, _, _, err := splitKey(key); err == nil && k == m.kind {
			keys = append(keys, key)
		}
		return len(keys) < m.limit
	})
	for key := range s.children {
		if key < m.from || (len(keys) >= m.limit && key > keys[len(keys)-1]) {
			continue
		}
		if k, _, _, _, err := splitKey(key); err == nil && k == m.kind {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(keys) > m.limit {
		keys = keys[:m.limit]
	}
	return &listReply{keys: keys, err: err}
}
