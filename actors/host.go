package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
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
	// FlushInterval is how often a shard writes its changed profiles.
	// Default 500ms.
	FlushInterval time.Duration
	// IdleTimeout is how long an entity actor may go without a record
	// before it is passivated (checked every 8 flush intervals). Default 2m.
	IdleTimeout time.Duration
	// MaxInFlight bounds the polled batches handed to shard actors and not
	// yet applied, so a slow shard pushes back on the consumer instead of
	// growing its mailbox. Default 64.
	MaxInFlight int
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
// one shard actor per partition Kafka assigns to this node.
type Host struct {
	cfg      HostConfig
	system   *actor.ActorSystem
	consumer *kgo.Client
	producer *kgo.Client
	log      *slog.Logger
	sem      chan struct{}

	mu     sync.Mutex
	shards map[int32]*actor.PID
	ready  bool
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
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Host{cfg: cfg, system: system, log: cfg.Logger.With("component", "shards"),
		sem: make(chan struct{}, cfg.MaxInFlight), shards: make(map[int32]*actor.PID)}
	var err error
	h.producer, err = kgo.NewClient(append(append([]kgo.Opt(nil), cfg.Client...),
		// Changelog records go to their shard's partition; findings are
		// spread by id.
		kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
			if topic == kafka.ProfilesTopic {
				return func(r *kgo.Record, _ int) int { return int(r.Partition) }
			}
			return func(r *kgo.Record, n int) int { return int(cluster.ShardOf(string(r.Key), int32(n))) }
		})),
		kgo.ProducerLinger(time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("shards: producer: %w", err)
	}
	h.consumer, err = kgo.NewClient(append(append([]kgo.Opt(nil), cfg.Client...),
		kgo.ConsumerGroup(kafka.ShardsGroup),
		kgo.ConsumeTopics(kafka.EntitiesTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Only offsets a shard marks after writing its state are
		// committed (plain autocommit, or CommitUncommittedOffsets, would
		// commit whatever was polled, applied or not).
		kgo.AutoCommitMarks(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(h.assigned),
		kgo.OnPartitionsRevoked(h.revoked),
		kgo.OnPartitionsLost(h.lost),
	)...)
	if err != nil {
		h.producer.Close()
		return nil, fmt.Errorf("shards: consumer: %w", err)
	}
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
			if !errors.Is(err, context.Canceled) {
				h.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			h.mu.Lock()
			pid := h.shards[p.Partition]
			h.mu.Unlock()
			if pid == nil {
				return // revoked between fetch and now; the new owner consumes it
			}
			select {
			case h.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			h.system.Root.Send(pid, &shardRecords{records: p.Records, release: func() { <-h.sem }})
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
			for _, pid := range h.shards {
				h.system.Root.Send(pid, &flushTick{})
			}
			h.mu.Unlock()
		}
	}
}

// assigned starts shard actors, restoring a shard from its changelog when
// this node has no state for it.
func (h *Host) assigned(ctx context.Context, _ *kgo.Client, parts map[string][]int32) {
	for _, p := range parts[kafka.EntitiesTopic] {
		meta, err := h.open(ctx, p)
		if err != nil {
			// Without its state the shard cannot apply records exactly
			// once: stop the node rather than skip the partition; its
			// records stay uncommitted for the next owner.
			h.fail(fmt.Errorf("opening shard %d: %w", p, err))
			continue
		}
		a := newShardActor(h, p, meta)
		pid, err := h.system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return a }), "shard-"+strconv.Itoa(int(p)))
		if err != nil {
			h.fail(fmt.Errorf("spawning shard actor %d: %w", p, err))
			continue
		}
		h.mu.Lock()
		h.shards[p] = pid
		h.mu.Unlock()
		h.log.Debug("shard assigned", "shard", p, "applied", meta.Applied)
	}
	h.announce()
}

// open loads the shard's meta, restoring the keyspace from the changelog
// first when it is missing here.
func (h *Host) open(ctx context.Context, p int32) (storage.Meta, error) {
	store := h.cfg.DB.Shard(p)
	meta, ok, err := store.Meta()
	if err != nil || ok {
		return meta, err
	}
	entries, err := h.readChangelog(ctx, p)
	if err != nil {
		return meta, err
	}
	if len(entries) == 0 {
		return storage.Meta{Applied: -1}, nil
	}
	if err := store.Restore(entries); err != nil {
		return meta, err
	}
	h.log.Info("shard restored from changelog", "shard", p, "records", len(entries))
	meta, _, err = store.Meta()
	return meta, err
}

// readChangelog reads the shard's changelog partition up to its end and
// keeps the latest value of every key.
func (h *Host) readChangelog(ctx context.Context, p int32) ([]storage.Entry, error) {
	ends, err := kadm.NewClient(h.producer).ListEndOffsets(ctx, kafka.ProfilesTopic)
	if err != nil {
		return nil, fmt.Errorf("changelog end offsets: %w", err)
	}
	end, ok := ends.Lookup(kafka.ProfilesTopic, p)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("changelog end offset of shard %d: %v", p, end.Err)
	}
	if end.Offset <= 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), h.cfg.Client...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{kafka.ProfilesTopic: {p: kgo.NewOffset().AtStart()}}))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	latest := make(map[string][]byte)
	for {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var last int64 = -1
		fetches.EachRecord(func(r *kgo.Record) {
			latest[string(r.Key)] = r.Value
			last = r.Offset
		})
		var hwm int64 = -1
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) { hwm = fp.HighWatermark })
		if last >= end.Offset-1 || (hwm >= 0 && hwm <= last+1 && last >= 0) {
			break
		}
	}
	keys := sortedKeys(latest)
	out := make([]storage.Entry, 0, len(keys))
	for _, k := range keys {
		out = append(out, storage.Entry{Key: k, Value: latest[k]})
	}
	return out, nil
}

// revoked drains the shards: flush, append to the changelog, commit, stop.
func (h *Host) revoked(ctx context.Context, _ *kgo.Client, parts map[string][]int32) {
	h.stop(ctx, parts[kafka.EntitiesTopic], true)
}

// lost stops the shards without committing: another node owns them now.
func (h *Host) lost(ctx context.Context, _ *kgo.Client, parts map[string][]int32) {
	h.stop(ctx, parts[kafka.EntitiesTopic], false)
}

func (h *Host) stop(ctx context.Context, parts []int32, drain bool) {
	for _, p := range parts {
		h.mu.Lock()
		pid := h.shards[p]
		delete(h.shards, p)
		h.mu.Unlock()
		if pid == nil {
			continue
		}
		if drain {
			if _, err := h.system.Root.RequestFuture(pid, &drainRequest{}, 30*time.Second).Result(); err != nil {
				h.log.Warn("draining shard", "shard", p, "err", err)
			}
		}
		_ = h.system.Root.StopFuture(pid).Wait()
	}
	if drain {
		if err := h.consumer.CommitMarkedOffsets(ctx); err != nil {
			h.log.Warn("committing on revoke", "err", err)
		}
	}
	h.announce()
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
			h.log.Warn("committing shard offsets", "err", err)
		}
	}()
}

func (h *Host) announce() {
	h.mu.Lock()
	h.ready = true
	owned := h.ownedLocked()
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
	Offset  int64  // of the last internal record applied
	Active  bool   // an actor holds it (else it was read from Pebble)
	Profile []byte // JSON
}

// Inspect returns an entity's profile as JSON, from its actor if it is
// active and from Pebble otherwise.
func (h *Host) Inspect(ctx context.Context, key string) (*Profile, error) {
	p := cluster.ShardOf(key, h.cfg.Shards)
	h.mu.Lock()
	pid := h.shards[p]
	h.mu.Unlock()
	if pid == nil {
		return nil, ErrNotHosted
	}
	res, err := h.system.Root.RequestFuture(pid, &inspectRequest{key: key}, requestTimeout(ctx)).Result()
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
	return &Profile{Key: key, Shard: p, Offset: r.offset, Active: r.active, Profile: r.profile}, nil
}

// List returns the keys of every entity of a kind on this node's shards.
func (h *Host) List(ctx context.Context, kind event.EntityKind) ([]string, error) {
	h.mu.Lock()
	pids := make([]*actor.PID, 0, len(h.shards))
	for _, pid := range h.shards {
		pids = append(pids, pid)
	}
	h.mu.Unlock()
	var keys []string
	for _, pid := range pids {
		res, err := h.system.Root.RequestFuture(pid, &listRequest{kind: kind}, requestTimeout(ctx)).Result()
		if err != nil {
			return nil, fmt.Errorf("listing entities: %w", err)
		}
		keys = append(keys, res.(*listReply).keys...)
	}
	sort.Strings(keys)
	return keys, nil
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
	h.producer.Close()
}
