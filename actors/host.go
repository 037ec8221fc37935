package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/shard"
	"github.com/vigil-sec/vigil/storage"
)

// HostConfig configures the shard host.
type HostConfig struct {
	// Client are the kgo options that reach Kafka. Required.
	Client []kgo.Opt
	// Shards is the partition count of the entities topic. Required.
	Shards int32
	// DB is the node's Pebble database. Required.
	DB *storage.DB
	// Engine runs the detectors. Required.
	Engine *detect.Engine
	// FlushInterval is how often a shard flushes: it writes the profiles
	// that changed (see WriteBehind) with the findings they raised,
	// publishes the findings and commits. Default 500ms.
	FlushInterval time.Duration
	// WriteBehind is how long a profile's changes may wait for a later
	// flush unless they raised a finding or a dead letter: a busy entity is
	// written once per WriteBehind instead of at every flush
	// (shard.Config.WriteBehind). Default 2s; negative: every flush
	// writes every change. A global-service event changes the profile of
	// every enabled region: with 34 regions, writing every changed
	// profile at every flush took a tenth of a node's CPU on CloudTrail
	// (pprof of vigil bench), written behind about half of that.
	WriteBehind time.Duration
	// IdleTimeout is how long an entity actor may go without a record
	// before it is passivated (checked every 8 flush intervals). Default 2m.
	IdleTimeout time.Duration
	// MaxInFlight bounds the polled batches handed to shard actors and not
	// yet applied, so a slow shard pushes back on the consumer instead of
	// growing its mailbox. Default 64.
	MaxInFlight int
	// MaxLiveEntities bounds the entity actors this node keeps running,
	// whatever the number of entities: past it, each shard passivates its
	// least recently used entities that have nothing unwritten (they come
	// back from Pebble on their next record). The bound holds at every
	// flush tick; between two, the entities of one flush interval's
	// records may come on top. Default 100,000: an organisation of 2,000
	// principals in every region and 2,000 instances (vigil bench's
	// default, about 62,000 entities) stays live on one node; at 50,000 it
	// churned through Pebble and the mixed stream ran about 15% slower.
	MaxLiveEntities int
	// FlushRetryTimeout is how long a shard retries failed flushes before
	// it stops. Default 2m.
	FlushRetryTimeout time.Duration
	// SessionTimeout is the group's session timeout: a node that has not
	// reached the group coordinator for that long counts its shards as
	// another node's and stops advertising them. Default 8s.
	SessionTimeout time.Duration
	// Rewound are shards whose partitions were found to have gone back
	// before the host started (see kafka.ResetRewound): each starts a new
	// incarnation. Default none.
	Rewound []int32
	// OnAssigned is called with the shards this node owns after every
	// rebalance. Default: nothing.
	OnAssigned func(shards []int32)
	// OnFatal is called when a shard assigned to this node cannot run (its
	// state cannot be read or restored); the node should stop. Default:
	// log the error.
	OnFatal func(error)
	Stats   *Stats
	Logger  *slog.Logger
}

// Host consumes the entities topic in the shards consumer group and runs
// one shard actor per partition Kafka assigns to this node. It alone owns
// the Kafka clients: the consumer, and one transactional producer per
// shard through which the shard's flushes reach the changelog and the
// findings topic.
type Host struct {
	cfg      HostConfig
	system   *actor.ActorSystem
	consumer *kgo.Client
	log      *slog.Logger
	warn     *throttledLog
	sem      chan struct{}
	rewound  map[int32]bool

	mu     sync.Mutex
	shards map[int32]*hosted
	ready  bool
	// cut is set while the node has not reached the group coordinator
	// for longer than the session timeout.
	cut bool
	// liveCap is each shard's share of MaxLiveEntities.
	liveCap atomic.Int64

	// lastContact is when a heartbeat last reached the group coordinator
	// and came back (Unix nanoseconds).
	lastContact atomic.Int64
}

// OnBrokerRead implements kgo.HookBrokerRead: a heartbeat response read
// is contact with the group coordinator.
func (h *Host) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	const heartbeat = 12
	if key == heartbeat && err == nil {
		h.lastContact.Store(time.Now().UnixNano())
	}
}

// hosted is a shard this node runs.
type hosted struct {
	pid     *actor.PID
	effects *shardEffects
	stopped *shard.Stopped
	// applied and incarnation mirror the shard's mark of the last record
	// admitted, for metrics; owner is its ownership epoch.
	applied     atomic.Int64
	incarnation atomic.Uint32
	owner       uint64
}

// ErrNotHosted says the entity's shard is not on this node.
var ErrNotHosted = errors.New("shard not hosted on this node")

// NewHost connects to Kafka.
func NewHost(system *actor.ActorSystem, cfg HostConfig) (*Host, error) {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 500 * time.Millisecond
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	switch {
	case cfg.WriteBehind == 0:
		cfg.WriteBehind = 2 * time.Second
	case cfg.WriteBehind < 0:
		cfg.WriteBehind = 0
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 64
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = kafka.DefaultSessionTimeout
	}
	if cfg.MaxLiveEntities <= 0 {
		cfg.MaxLiveEntities = 100_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("component", "shards")
	h := &Host{cfg: cfg, system: system, log: log, warn: newThrottledLog(log),
		sem: make(chan struct{}, cfg.MaxInFlight), shards: make(map[int32]*hosted), rewound: make(map[int32]bool)}
	for _, p := range cfg.Rewound {
		h.rewound[p] = true
	}
	var err error
	h.consumer, err = kgo.NewClient(append(append([]kgo.Opt(nil), cfg.Client...),
		kgo.ConsumerGroup(kafka.ShardsGroup),
		kgo.ConsumeTopics(kafka.EntitiesTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Ingest writes in transactions: read only committed records, and
		// see the transaction markers, so that a shard's committed offset
		// moves past them and reaches the end of the partition.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		// Only offsets a shard marks after writing its state are
		// committed (plain autocommit, or CommitUncommittedOffsets, would
		// commit whatever was polled, applied or not).
		kgo.AutoCommitMarks(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(h.assigned),
		kgo.OnPartitionsRevoked(h.revoked),
		kgo.OnPartitionsLost(h.lost),
		kgo.WithHooks(h),
	)...)
	if err != nil {
		return nil, fmt.Errorf("shards: consumer: %w", err)
	}
	h.lastContact.Store(time.Now().UnixNano())
	return h, nil
}

// Run polls until ctx ends.
func (h *Host) Run(ctx context.Context) error {
	go h.tick(ctx)
	defer h.consumer.AllowRebalance() // Close waits for it
	for {
		fetches := h.consumer.PollRecords(ctx, 5000)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			switch {
			case errors.As(err, &loss):
				// The shard sees the lower offsets and starts a new
				// incarnation; this names the cause.
				h.log.Error("shard partition lost records on the broker", "shard", p,
					"consumed_to", loss.ConsumedTo, "reset_to", loss.ResetTo)
			case errors.Is(err, context.Canceled):
			default:
				h.warn.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		committed := h.consumer.CommittedOffsets()
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			h.mu.Lock()
			s := h.shards[p.Partition]
			h.mu.Unlock()
			if s == nil || s.stopped != nil {
				return // revoked between fetch and now, or stopped
			}
			next := int64(-1)
			if o, ok := committed[p.Topic][p.Partition]; ok {
				next = o.Offset
			}
			select {
			case h.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			h.system.Root.Send(s.pid, &shardRecords{records: p.Records, committed: next, release: func() { <-h.sem }})
		})
		h.consumer.AllowRebalance()
	}
}

func (h *Host) tick(ctx context.Context) {
	t := time.NewTicker(h.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.mu.Lock()
			for _, s := range h.shards {
				h.system.Root.Send(s.pid, &flushTick{})
			}
			h.mu.Unlock()
			h.watch()
		}
	}
}

// watch notices a node cut off from the group coordinator: past the
// session timeout the group has given its shards to other nodes, so it
// stops advertising them (lookups go to the new owners) and is not ready;
// it cannot write for them either, its shards' transactional ids being
// fenced by the new owners. When the coordinator is reached again, the
// group takes the shards away (or, had it kept them, they are advertised
// again).
func (h *Host) watch() {
	since := time.Since(time.Unix(0, h.lastContact.Load()))
	h.mu.Lock()
	cut := since > h.cfg.SessionTimeout
	changed := cut != h.cut
	h.cut = cut
	h.mu.Unlock()
	if !changed {
		return
	}
	if cut {
		h.log.Error("no contact with the group coordinator for longer than the session timeout: the shards of this node are other nodes' now",
			"since", since.Round(time.Second), "session_timeout", h.cfg.SessionTimeout)
	} else {
		h.log.Info("in contact with the group coordinator again")
	}
	h.announce()
}

// Cut reports whether the node is cut off from the group coordinator.
func (h *Host) Cut() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cut
}

// stillOwns reports whether the group coordinator has shard p assigned to
// this node right now. A shard checks it before it starts a new
// transactional producer, which would fence the producer of the node that
// took the shard over had this one lost it.
func (h *Host) stillOwns(ctx context.Context, p int32) bool {
	member, _ := h.consumer.GroupMetadata()
	groups, err := kadm.NewClient(h.consumer).DescribeGroups(ctx, kafka.ShardsGroup)
	if err != nil || member == "" {
		return false
	}
	g, ok := groups[kafka.ShardsGroup]
	if !ok || g.Err != nil {
		return false
	}
	for _, m := range g.Members {
		if m.MemberID != member {
			continue
		}
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			return false
		}
		for _, t := range c.Topics {
			if t.Topic == kafka.EntitiesTopic && slices.Contains(t.Partitions, p) {
				return true
			}
		}
	}
	return false
}

// assigned starts shard actors: each shard's transactional producer first
// (which fences a previous owner and aborts what it left open), then its
// state, restored from the changelog when this node has none.
func (h *Host) assigned(ctx context.Context, cl *kgo.Client, parts map[string][]int32) {
	// The group may assign before NewHost has returned: use the client
	// the callback is given.
	adm := kadm.NewClient(cl)
	for _, p := range parts[kafka.EntitiesTopic] {
		if err := h.start(ctx, adm, p); err != nil {
			// Without its state the shard cannot apply records exactly
			// once: stop the node rather than skip the partition; its
			// records stay uncommitted for the next owner.
			h.fail(fmt.Errorf("starting shard %d: %w", p, err))
		}
	}
	h.announce()
}

func (h *Host) start(ctx context.Context, adm *kadm.Client, p int32) error {
	eff, err := newShardEffects(h, p)
	if err != nil {
		return err
	}
	if _, _, err := eff.txn.ProducerID(ctx); err != nil {
		eff.close()
		return fmt.Errorf("initialising the transactional producer: %w", err)
	}
	meta, err := h.open(ctx, adm, p)
	if err != nil {
		eff.close()
		return err
	}
	eff.owner = []byte(strconv.FormatUint(meta.Owner, 10))
	core := shard.New(shard.Config{
		Partition: p, Store: eff.store, Effects: eff, RetryTimeout: h.cfg.FlushRetryTimeout, Logger: h.log,
		WriteBehind: h.cfg.WriteBehind,
	}, meta)
	hs := &hosted{effects: eff, owner: meta.Owner}
	hs.applied.Store(meta.Applied.Offset)
	hs.incarnation.Store(meta.Applied.Incarnation)
	a := &shardActor{host: h, partition: p, core: core, store: eff.store, log: h.log.With("shard", p), children: make(map[string]*child), stat: hs}
	pid, err := h.system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return a }), "shard-"+strconv.Itoa(int(p)))
	if err != nil {
		eff.close()
		return fmt.Errorf("spawning shard actor: %w", err)
	}
	eff.self, hs.pid = pid, pid
	h.mu.Lock()
	h.shards[p] = hs
	h.mu.Unlock()
	h.log.Debug("shard assigned", "shard", p, "applied", meta.Applied)
	return nil
}

// open loads the shard's meta. Local state is used when it is current:
// as new as the last flush in the shard's changelog (a node that ran the
// shard before another one did holds an old state). Otherwise the
// keyspace is restored from the changelog. The shard starts a new
// incarnation when its partition went back while no node ran it, and a
// new ownership epoch.
func (h *Host) open(ctx context.Context, adm *kadm.Client, p int32) (storage.Meta, error) {
	store := h.cfg.DB.Shard(p)
	local, haveLocal, err := store.Meta()
	if err != nil {
		return local, err
	}
	remote, haveRemote, err := h.changelogMeta(ctx, adm, p)
	if err != nil {
		return local, err
	}
	meta := local
	switch {
	case haveLocal && (!haveRemote || !local.Applied.Less(remote.Applied)):
	case haveRemote:
		if haveLocal {
			h.log.Info("local state of the shard is older than its changelog; restoring", "shard", p,
				"local", local.Applied, "changelog", remote.Applied)
		}
		if meta, err = h.restore(ctx, adm, p, store); err != nil {
			return meta, err
		}
	default:
		meta = storage.Meta{Applied: storage.NoMark}
	}
	meta.Owner = max(local.Owner, remote.Owner) + 1
	if h.rewound[p] {
		delete(h.rewound, p)
		meta.Applied = storage.Mark{Incarnation: meta.Applied.Incarnation + 1, Offset: -1}
		if err := store.Write([]storage.Entry{storage.MetaEntry(meta)}); err != nil {
			return meta, err
		}
		h.log.Error("shard partition went back while vigil was down; starting a new incarnation", "shard", p, "incarnation", meta.Applied.Incarnation)
		h.cfg.Stats.Rewinds.Add(1)
	}
	return meta, nil
}

// restore rebuilds the shard's keyspace from its changelog partition.
func (h *Host) restore(ctx context.Context, adm *kadm.Client, p int32, store *storage.Shard) (storage.Meta, error) {
	none := storage.Meta{Applied: storage.NoMark}
	// Per key the record of the newest owner, then the latest: a node cut
	// off after losing the shard may have appended after its successor.
	type version struct {
		owner uint64
		value []byte
	}
	latest := make(map[string]version)
	err := h.readChangelog(ctx, adm, p, 0, func(r *kgo.Record) {
		v := version{OwnerOf(r), r.Value}
		if old, ok := latest[string(r.Key)]; !ok || v.owner >= old.owner {
			latest[string(r.Key)] = v
		}
	})
	if err != nil || len(latest) == 0 {
		return none, err
	}
	keys := sortedKeys(latest)
	entries := make([]storage.Entry, 0, len(keys))
	for _, k := range keys {
		entries = append(entries, storage.Entry{Key: k, Value: latest[k].value})
	}
	if err := store.Restore(entries); err != nil {
		return none, err
	}
	h.log.Info("shard restored from changelog", "shard", p, "records", len(entries))
	meta, ok, err := store.Meta()
	if !ok && err == nil {
		return none, nil
	}
	return meta, err
}

// changelogMeta returns the meta of the shard's last flush in its
// changelog. A flush appends its meta last, so it is read from the end
// back, a growing stretch at a time.
func (h *Host) changelogMeta(ctx context.Context, adm *kadm.Client, p int32) (storage.Meta, bool, error) {
	start, end, err := changelogBounds(ctx, adm, p)
	if err != nil || end <= start {
		return storage.Meta{}, false, err
	}
	for back := int64(16); ; back *= 4 {
		from := max(start, end-back)
		var (
			last  []byte
			owner uint64
		)
		err := h.readChangelog(ctx, adm, p, from, func(r *kgo.Record) {
			if o := OwnerOf(r); string(r.Key) == storage.MetaKey() && o >= owner {
				last, owner = r.Value, o
			}
		})
		if err != nil {
			return storage.Meta{}, false, err
		}
		if last != nil {
			var m storage.Meta
			if err := m.UnmarshalBinary(last); err != nil {
				return m, false, fmt.Errorf("changelog meta of shard %d: %w", p, err)
			}
			return m, true, nil
		}
		if from == start {
			return storage.Meta{}, false, nil
		}
	}
}

func changelogBounds(ctx context.Context, adm *kadm.Client, p int32) (start, end int64, err error) {
	ends, err := adm.ListEndOffsets(ctx, kafka.ProfilesTopic)
	if err != nil {
		return 0, 0, fmt.Errorf("changelog end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, kafka.ProfilesTopic)
	if err != nil {
		return 0, 0, fmt.Errorf("changelog start offsets: %w", err)
	}
	e, ok := ends.Lookup(kafka.ProfilesTopic, p)
	s, ok2 := starts.Lookup(kafka.ProfilesTopic, p)
	if !ok || !ok2 || e.Err != nil || s.Err != nil {
		return 0, 0, fmt.Errorf("changelog offsets of shard %d: %v %v", p, e.Err, s.Err)
	}
	return s.Offset, e.Offset, nil
}

// readChangelog calls fn for every committed record of the shard's
// changelog partition from offset from to its end.
func (h *Host) readChangelog(ctx context.Context, adm *kadm.Client, p int32, from int64, fn func(*kgo.Record)) error {
	start, end, err := changelogBounds(ctx, adm, p)
	if err != nil || end <= max(start, from) {
		return err
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), h.cfg.Client...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{kafka.ProfilesTopic: {p: kgo.NewOffset().At(max(start, from))}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // to see the end: the last offset is a marker
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var last int64 = -1
		fetches.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				fn(r)
			}
			last = r.Offset
		})
		if last >= end-1 {
			return nil
		}
	}
}

// revoked drains the shards: flush, append to the changelog, commit, stop.
func (h *Host) revoked(ctx context.Context, cl *kgo.Client, parts map[string][]int32) {
	h.stop(ctx, cl, parts[kafka.EntitiesTopic], true)
}

// lost stops the shards without committing: another node owns them now.
func (h *Host) lost(ctx context.Context, cl *kgo.Client, parts map[string][]int32) {
	if len(parts[kafka.EntitiesTopic]) > 0 {
		h.log.Warn("shards lost to another node (the group moved them while this node could not be reached); dropping what they had not written",
			"shards", parts[kafka.EntitiesTopic])
	}
	h.stop(ctx, cl, parts[kafka.EntitiesTopic], false)
}

func (h *Host) stop(ctx context.Context, cl *kgo.Client, parts []int32, drain bool) {
	for _, p := range parts {
		h.mu.Lock()
		s := h.shards[p]
		delete(h.shards, p)
		h.mu.Unlock()
		if s == nil {
			continue
		}
		if drain {
			if _, err := h.system.Root.RequestFuture(s.pid, &drainRequest{}, 30*time.Second).Result(); err != nil {
				h.log.Warn("draining shard", "shard", p, "err", err)
			}
		}
		_ = h.system.Root.StopFuture(s.pid).Wait()
		s.effects.close()
	}
	if drain {
		if err := cl.CommitMarkedOffsets(ctx); err != nil {
			h.log.Warn("committing on revoke", "err", err)
		}
	}
	h.announce()
}

// shardStopped takes a shard that cannot write its state out of service:
// its partition is no longer fetched, so no record is applied that could
// not be made durable; readiness and the status report it.
func (h *Host) shardStopped(p int32, st *shard.Stopped) {
	h.mu.Lock()
	s := h.shards[p]
	if s != nil {
		s.stopped = st
	}
	h.mu.Unlock()
	h.consumer.PauseFetchPartitions(map[string][]int32{kafka.EntitiesTopic: {p}})
	h.cfg.Stats.ShardsStopped.Add(1)
}

// Stopped returns the shards of this node that stopped, and why.
func (h *Host) Stopped() map[int32]shard.Stopped {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[int32]shard.Stopped)
	for p, s := range h.shards {
		if s.stopped != nil {
			out[p] = *s.stopped
		}
	}
	return out
}

func (h *Host) fail(err error) {
	h.log.Error("shard cannot run", "err", err)
	if h.cfg.OnFatal != nil {
		h.cfg.OnFatal(err)
	}
}

// commit marks the shard's next offset and commits the marks in the
// background; kgo orders commits, and a failed one is superseded by the
// next flush's.
func (h *Host) commit(p int32, next int64) {
	h.consumer.MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{kafka.EntitiesTopic: {p: {Epoch: -1, Offset: next}}})
	go func() {
		if err := h.consumer.CommitMarkedOffsets(context.Background()); err != nil && !errors.Is(err, kgo.ErrClientClosed) {
			h.warn.Warn("committing shard offsets", "err", err)
		}
	}()
}

func (h *Host) announce() {
	h.mu.Lock()
	h.ready = true
	owned := h.ownedLocked()
	h.liveCap.Store(int64(h.cfg.MaxLiveEntities / max(1, len(owned))))
	if h.cut {
		owned = nil
	}
	h.mu.Unlock()
	if h.cfg.OnAssigned != nil {
		h.cfg.OnAssigned(owned)
	}
}

func (h *Host) ownedLocked() []int32 {
	out := make([]int32, 0, len(h.shards))
	for p := range h.shards {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Owned returns the shards this node hosts.
func (h *Host) Owned() []int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ownedLocked()
}

// Ready reports whether the first assignment has completed.
func (h *Host) Ready() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ready
}

// Profile is an entity's profile as the admin endpoint shows it.
type Profile struct {
	Key     string
	Shard   int32
	Mark    storage.Mark // of the last internal record applied
	Active  bool         // an actor holds it (else it was read from Pebble)
	Profile []byte       // JSON
}

// Inspect returns an entity's profile as JSON, from its actor if it is
// active and from Pebble otherwise; nil if the entity is unknown.
func (h *Host) Inspect(ctx context.Context, key string) (*Profile, error) {
	p := cluster.ShardOf(key, h.cfg.Shards)
	h.mu.Lock()
	s := h.shards[p]
	h.mu.Unlock()
	if s == nil {
		return nil, ErrNotHosted
	}
	res, err := h.system.Root.RequestFuture(s.pid, &inspectRequest{key: key}, requestTimeout(ctx)).Result()
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", key, err)
	}
	r := res.(*inspectReply)
	if r.err != nil {
		return nil, r.err
	}
	if !r.found {
		return nil, nil
	}
	return &Profile{Key: key, Shard: p, Mark: r.mark, Active: r.active, Profile: r.profile}, nil
}

// ListShard returns up to limit keys of entities of a kind in shard p,
// which this node hosts, in key order from key from on; next is the key
// the following page starts at, or "" after the last.
func (h *Host) ListShard(ctx context.Context, kind event.EntityKind, p int32, from string, limit int) (keys []string, next string, err error) {
	h.mu.Lock()
	s := h.shards[p]
	h.mu.Unlock()
	if s == nil {
		return nil, "", ErrNotHosted
	}
	res, err := h.system.Root.RequestFuture(s.pid, &listRequest{kind: kind, from: from, limit: limit + 1}, requestTimeout(ctx)).Result()
	if err != nil {
		return nil, "", fmt.Errorf("listing entities of shard %d: %w", p, err)
	}
	r := res.(*listReply)
	if r.err != nil {
		return nil, "", fmt.Errorf("listing entities of shard %d: %w", p, r.err)
	}
	if len(r.keys) > limit {
		return r.keys[:limit], r.keys[limit], nil
	}
	return r.keys, "", nil
}

// Meta returns the stored meta of every shard this node hosts.
func (h *Host) Meta() (map[int32]storage.Meta, error) {
	out := make(map[int32]storage.Meta)
	for _, p := range h.Owned() {
		m, ok, err := h.cfg.DB.Shard(p).Meta()
		if err != nil {
			return nil, err
		}
		if ok {
			out[p] = m
		}
	}
	return out, nil
}

func requestTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return 10 * time.Second
}

// Close drains every shard (revoke callbacks flush and commit) and leaves
// the group.
func (h *Host) Close() {
	h.consumer.Close() // leaves the group: runs the revoke callback
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
