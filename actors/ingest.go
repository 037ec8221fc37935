package actors

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/sources"
)

// FlowFormatHeader is the Kafka record header that carries a VPC flow-log
// format (the field names of a file's header line) for a record that lacks
// its own header line. `vigil replay` sets it.
const FlowFormatHeader = "vpcflow-format"

// IngestConfig configures ingest.
type IngestConfig struct {
	// Client are the kgo options that reach Kafka. Required.
	Client []kgo.Opt
	// TransactionalID identifies this node's ingest producer; it must be
	// unique among nodes and stable across a node's restarts, so that a
	// restarted node fences the transactions its previous run left open.
	// Required.
	TransactionalID string
	// Topics names the raw topics and the shard count. Required.
	Topics kafka.Topics
	// Regions are the enabled regions a global-service event is broadcast
	// to. Required.
	Regions []string
	// DefaultRegion places records that carry no region (VPC flow logs
	// without the region field). Default us-east-1.
	DefaultRegion string
	// FlowFormat is the VPC flow-log format of records without a header
	// line or format header. Default: the version 2 default format.
	FlowFormat string
	// Limits bound what one raw record may cost. Default: sources'
	// defaults.
	Limits sources.Limits
	// MaxEventBytes bounds one internal record; an event that encodes
	// larger is dead-lettered. Default 64 KiB.
	MaxEventBytes int
	// DeadLetterExcerpt is how many bytes of a bad record its dead letter
	// quotes; 0 quotes none. Default 0.
	DeadLetterExcerpt int
	// SessionTimeout is the ingest group's session timeout: a transaction
	// whose end takes longer gives up (see Ingest.poll). Default 30 s.
	SessionTimeout time.Duration
	// MaxPollRecords bounds one poll, and so one transaction. Default
	// 20,000: a transaction's fixed costs (waiting for every produce,
	// ending it, committing the offsets in it) spread over more records;
	// it measured about 10% more records/s than 5,000 on the mixed
	// stream (vigil replay --wait, 300k records, 2 vCPU, median of 8).
	MaxPollRecords int
	Stats          *Stats
	Logger         *slog.Logger
}

// Ingest consumes the raw topics in the ingest consumer group, decodes
// each raw partition's records in that partition's ingest actor, and
// produces the events to the entities topic.
//
// Each poll is one Kafka transaction that holds the internal records, the
// dead letters, the statistics records and the raw offsets consumed: a
// crash between producing and committing aborts the transaction, so the
// shards (which read committed records only) never see a record twice.
//
// A record is the unit of failure. One that cannot be decoded, whose event
// is too large, or whose internal record Kafka rejects is dead-lettered and
// the partition moves on; only a fault of the whole system (the broker
// unreachable) stops progress, and ingest then retries with backoff.
type Ingest struct {
	cfg     IngestConfig
	system  *actor.ActorSystem
	log     *slog.Logger
	warn    *throttledLog
	sources map[string]event.Source

	sess   *kgo.GroupTransactSession
	actors map[partitionKey]*actor.PID
	poison *poisonSet
	// expected is the next offset of each raw partition, to detect a
	// partition whose offsets went back.
	expected map[partitionKey]int64
	// paused stops polling (see Pause).
	paused atomic.Bool
}

// Pause stops (true) or resumes (false) reading raw records. The group
// membership stays: a pause does not move partitions. The bench harness
// builds a backlog with it, to time how fast ingest catches up.
func (in *Ingest) Pause(paused bool) { in.paused.Store(paused) }

type partitionKey struct {
	topic     string
	partition int32
}

// NewIngest connects to Kafka.
func NewIngest(system *actor.ActorSystem, cfg IngestConfig) (*Ingest, error) {
	if cfg.DefaultRegion == "" {
		cfg.DefaultRegion = "us-east-1"
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = transactionTimeout
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 20_000
	}
	if cfg.MaxEventBytes <= 0 {
		cfg.MaxEventBytes = 64 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TransactionalID == "" {
		return nil, errors.New("ingest: no transactional id")
	}
	if _, err := sources.NewFlowDecoder(cfg.FlowFormat, cfg.Limits); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	log := cfg.Logger.With("component", "ingest")
	in := &Ingest{
		cfg:      cfg,
		system:   system,
		log:      log,
		warn:     newThrottledLog(log),
		actors:   make(map[partitionKey]*actor.PID),
		poison:   &poisonSet{m: make(map[partitionKey]map[int64]string)},
		expected: make(map[partitionKey]int64),
		sources: map[string]event.Source{
			cfg.Topics.CloudTrail: event.SourceCloudTrail, cfg.Topics.VPCFlow: event.SourceVPCFlow, cfg.Topics.DNS: event.SourceDNS,
		},
	}
	if err := in.connect(); err != nil {
		return nil, err
	}
	return in, nil
}

// connect creates the transactional session: a group consumer of the raw
// topics and the producer of the internal records in one client.
func (in *Ingest) connect() error {
	sess, err := kgo.NewGroupTransactSession(append(append([]kgo.Opt(nil), in.cfg.Client...),
		kgo.TransactionalID(in.cfg.TransactionalID),
		kgo.TransactionTimeout(transactionTimeout),
		kgo.ConsumerGroup(kafka.IngestGroup),
		kgo.ConsumeTopics(in.cfg.Topics.Raw()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(in.forget),
		kgo.OnPartitionsLost(in.forget),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(2*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.MaxBufferedRecords(100_000),
	)...)
	if err != nil {
		return fmt.Errorf("ingest: kafka client: %w", err)
	}
	in.sess = sess
	return nil
}

// forget stops the actors of partitions this node no longer consumes. It
// runs while polling is blocked, so no batch is in flight.
func (in *Ingest) forget(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	for topic, parts := range lost {
		for _, p := range parts {
			k := partitionKey{topic, p}
			if pid, ok := in.actors[k]; ok {
				_ = in.system.Root.StopFuture(pid).Wait()
				delete(in.actors, k)
			}
			delete(in.expected, k)
		}
	}
}

// Retry backoff when Kafka as a whole fails.
const (
	minRetry = 200 * time.Millisecond
	maxRetry = 30 * time.Second
)

// Run polls until ctx ends.
func (in *Ingest) Run(ctx context.Context) error {
	var backoff time.Duration
	for {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
		}
		if in.paused.Load() {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		ok, err := in.poll(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			backoff = min(max(2*backoff, minRetry), maxRetry)
			in.log.Error("ingest failed; retrying", "err", err, "retry_in", backoff)
			if in.cfg.Stats != nil {
				in.cfg.Stats.IngestRetries.Add(1)
			}
		case ok:
			backoff = 0
		}
	}
}

// transactionTimeout bounds one ingest transaction, long enough for one
// poll's work: a crashed node's open transaction blocks the shards for at
// most this long, unless the node comes back first and fences it.
const transactionTimeout = 30 * time.Second

// poll runs one poll as one transaction. ok reports progress; err a fault
// that is not about one record.
func (in *Ingest) poll(ctx context.Context) (ok bool, err error) {
	sess := in.sess
	fetches := sess.PollRecords(ctx, in.cfg.MaxPollRecords)
	// A poll blocks rebalances until AllowRebalance; leaving the group
	// (Close) waits for it.
	defer sess.AllowRebalance()
	if fetches.IsClientClosed() || ctx.Err() != nil {
		return false, nil
	}
	fetches.EachError(func(t string, p int32, err error) {
		var loss *kgo.ErrDataLoss
		switch {
		case errors.As(err, &loss):
			in.rewound(t, p, loss.ConsumedTo, loss.ResetTo)
		case errors.Is(err, context.Canceled):
		default:
			in.warn.Warn("fetch error", "topic", t, "partition", p, "err", err)
		}
	})
	var parts []kgo.FetchTopicPartition
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) > 0 {
			parts = append(parts, p)
		}
	})
	if len(parts) == 0 {
		return false, nil
	}
	committed := sess.Client().CommittedOffsets()
	for _, p := range parts {
		k := partitionKey{p.Topic, p.Partition}
		next, known := in.expected[k]
		if !known {
			if o, ok := committed[p.Topic][p.Partition]; ok {
				next, known = o.Offset, true
			}
		}
		if first := p.Records[0].Offset; known && first < next {
			in.rewound(p.Topic, p.Partition, next, first)
		}
	}

	if err := sess.Begin(); err != nil {
		return false, fmt.Errorf("beginning a transaction: %w", err)
	}
	outcomes := make([]batchOutcome, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		in.system.Root.Send(in.actorFor(p.Topic, p.Partition), &rawBatch{records: p.Records, out: &outcomes[i], done: wg.Done})
	}
	wg.Wait()

	var (
		sysErr   error
		poisoned bool
	)
	for i := range outcomes {
		o := &outcomes[i]
		if o.err != nil && sysErr == nil {
			sysErr = o.err
		}
		for _, pr := range o.poisoned {
			poisoned = true
			in.poison.add(pr.key, pr.offset, pr.reason)
			in.warn.Warn("Kafka rejected an internal record; its raw record will be dead-lettered",
				"topic", pr.key.topic, "partition", pr.key.partition, "offset", pr.offset, "reason", pr.reason)
			if in.cfg.Stats != nil {
				in.cfg.Stats.Poisoned.Add(1)
			}
		}
	}
	commit := kgo.TransactionEndTry(sysErr == nil && !poisoned)
	// End heartbeats the group before it commits, and waits for that
	// heartbeat; a member the group dropped (no heartbeat reached the
	// coordinator within the session timeout: a stopped or starved
	// process) rejoins only after this poll allows rebalancing, so
	// without a bound End would wait for ever. An end that takes longer
	// than the session timeout is one of a dropped member: End then
	// fails and ingest starts over with a new client.
	endCtx, cancel := context.WithTimeout(ctx, in.cfg.SessionTimeout)
	committedTxn, err := sess.End(endCtx, commit)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		// End's errors are not retryable on this client: start over with
		// a new one, which rejoins the group and fences the old producer.
		// Closing the old one leaves the group, which waits for any
		// rebalance this poll still blocks: allow it first.
		sess.AllowRebalance()
		in.reconnect()
		return false, fmt.Errorf("ending the transaction: %w", err)
	}
	if !committedTxn {
		// Aborted (by us, or by a rebalance): the session rewinds to the
		// committed offsets and the records come again.
		clear(in.expected)
		if sysErr != nil {
			return false, fmt.Errorf("producing: %w", sysErr)
		}
		return poisoned, nil
	}
	for i, p := range parts {
		k := partitionKey{p.Topic, p.Partition}
		in.expected[k] = p.Records[len(p.Records)-1].Offset + 1
		in.poison.forget(k, in.expected[k])
		outcomes[i].stats.count(in.cfg.Stats)
	}
	return true, nil
}

// rewound reports a raw partition whose offsets went back. Ingest keeps
// no per-record state, so the new records are consumed and applied like
// any; this only makes the event visible.
func (in *Ingest) rewound(topic string, partition int32, from, to int64) {
	in.log.Error("raw partition offsets went back: records were deleted or the topic recreated; consuming the new records from the start",
		"topic", topic, "partition", partition, "expected", from, "now", to)
	if in.cfg.Stats != nil {
		in.cfg.Stats.Rewinds.Add(1)
	}
}

// reconnect replaces the session after a fatal transaction error.
func (in *Ingest) reconnect() {
	in.sess.Close()
	clear(in.expected)
	for k, pid := range in.actors {
		_ = in.system.Root.StopFuture(pid).Wait()
		delete(in.actors, k)
	}
	if err := in.connect(); err != nil {
		in.log.Error("reconnecting", "err", err) // kgo.NewClient fails only on bad options
	}
}

func (in *Ingest) actorFor(topic string, partition int32) *actor.PID {
	k := partitionKey{topic, partition}
	if pid, ok := in.actors[k]; ok {
		return pid
	}
	src := in.sources[topic]
	flow, _ := sources.NewFlowDecoder(in.cfg.FlowFormat, in.cfg.Limits) // validated in NewIngest
	a := &ingestActor{
		cfg: &in.cfg, sess: in.sess, warn: in.warn, poison: in.poison, key: k, source: src,
		flow: flow, ct: sources.NewCloudTrailDecoder(in.cfg.Limits), dns: sources.NewDNSDecoder(in.cfg.Limits),
	}
	pid := in.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	in.actors[k] = pid
	return pid
}

// Close stops consuming and producing; an open transaction is aborted and
// its records are consumed again by the next owner.
func (in *Ingest) Close() {
	in.sess.Close()
}

// poisonSet remembers raw records whose internal records Kafka rejected:
// the transaction was aborted, and when the records come again these are
// dead-lettered instead of produced.
type poisonSet struct {
	mu sync.Mutex
	m  map[partitionKey]map[int64]string
}

func (s *poisonSet) add(k partitionKey, offset int64, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[k] == nil {
		s.m[k] = make(map[int64]string)
	}
	s.m[k][offset] = reason
}

func (s *poisonSet) get(k partitionKey, offset int64) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[k][offset]
	return r, ok
}

// forget drops the entries below next: committed, they will not come
// again.
func (s *poisonSet) forget(k partitionKey, next int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for off := range s.m[k] {
		if off < next {
			delete(s.m[k], off)
		}
	}
	if len(s.m[k]) == 0 {
		delete(s.m, k)
	}
}

// rawBatch is one poll's records of one raw partition.
type rawBatch struct {
	records []*kgo.Record
	out     *batchOutcome
	done    func()
}

// batchOutcome is what ingesting a batch came to.
type batchOutcome struct {
	stats ingestStats
	// poisoned are records whose internal records Kafka rejected.
	poisoned []poisoned
	// err is a failure that is not about one record.
	err error
}

type poisoned struct {
	key    partitionKey
	offset int64
	reason string
}

// count adds the batch's statistics to the process's metrics; the shards
// persist the same figures from the statistics record.
func (s *ingestStats) count(st *Stats) {
	if st == nil {
		return
	}
	st.Records[s.source].Add(s.records)
	st.Events[s.source].Add(s.events)
	st.Dropped[s.source].Add(s.dropped)
	st.DeadLetters[s.source].Add(s.deadLetters)
}

// ingestActor decodes one raw partition's records and produces them to
// the entities topic. An actor per partition keeps the partition's order
// and lets partitions decode in parallel.
type ingestActor struct {
	cfg    *IngestConfig
	sess   *kgo.GroupTransactSession
	warn   *throttledLog
	poison *poisonSet
	key    partitionKey
	source event.Source

	ct   *sources.CloudTrailDecoder
	flow *sources.FlowDecoder
	dns  *sources.DNSDecoder
	buf  []byte
	// Reused per global-service event.
	byShard []regionShard
	regions []string
}

func (a *ingestActor) Receive(ctx actor.Context) {
	b, ok := ctx.Message().(*rawBatch)
	if !ok {
		return
	}
	defer b.done()
	a.ingest(b.records, b.out)
}

// recordRejected reports whether a produce error is about the record
// itself, so that producing it again cannot succeed.
func recordRejected(err error) bool {
	for _, e := range []error{kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord,
		kerr.CorruptMessage, kerr.InvalidTimestamp, kerr.InvalidRequest} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ingest decodes and produces a batch, then waits for every produce.
func (a *ingestActor) ingest(records []*kgo.Record, out *batchOutcome) {
	out.stats = ingestStats{source: a.source, partition: a.key.partition}
	var (
		produced acks
		mu       sync.Mutex
	)
	failed := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if out.err == nil {
			out.err = err
		}
	}
	for _, r := range records {
		// A rejection of any internal record made from r poisons r.
		rejected := func(err error) {
			if !recordRejected(err) {
				failed(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			out.poisoned = append(out.poisoned, poisoned{a.key, r.Offset, "Kafka rejected an internal record made from it: " + err.Error()})
		}
		a.ingestRecord(r, &out.stats, func(rec *kgo.Record) { produced.produce(a.sess, rec, rejected) })
	}
	if out.stats.records > 0 {
		a.buf = appendStats(a.buf[:0], &out.stats)
		key := statsKey(a.source, a.key.partition)
		produced.produce(a.sess, &kgo.Record{
			Topic: kafka.EntitiesTopic, Partition: cluster.ShardOf(key, a.cfg.Topics.Shards),
			Key: []byte(key), Value: append([]byte(nil), a.buf...),
		}, failed)
	}
	produced.wait()
}

// ingestRecord decodes one raw record and produces its events and, if
// anything failed, its dead letter.
func (a *ingestActor) ingestRecord(r *kgo.Record, st *ingestStats, produce func(*kgo.Record)) {
	st.records++
	dl := &DeadLetter{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Source: a.source.String(),
		Size: len(r.Value), Time: r.Timestamp.UTC()}
	if reason, ok := a.poison.get(a.key, r.Offset); ok {
		dl.Reason = reason
		st.deadLetters++
		a.deadLetter(dl, produce)
		return
	}
	ref := rawRef{source: a.source, partition: r.Partition, offset: r.Offset}
	var oversized, events int
	emit := func(ev *event.Event) {
		if ev.Region == "" {
			ev.Region = a.cfg.DefaultRegion
		}
		// What an EC2 call says about instances and interfaces goes to
		// those network entities as events of their own, beside the
		// caller's event.
		if inv := ev.Inventory; inv != nil {
			ev.Inventory = nil
			sources.DeriveInventory(ev, inv, func(d *event.Event) {
				events += a.produceEvent(d, ref, nil, dl, &oversized, produce)
			})
		}
		if ev.CloudTrail == nil || !sources.IsGlobal(ev.CloudTrail) {
			events += a.produceEvent(ev, ref, nil, dl, &oversized, produce)
			return
		}
		// A global-service event goes to every enabled region's entity:
		// one record per shard, listing the regions that shard owns.
		ev.CloudTrail.Global = true
		byShard := a.byShard[:0]
		for _, region := range a.cfg.Regions {
			ev.Region = region
			byShard = append(byShard, regionShard{cluster.ShardOf(ev.Key(), a.cfg.Topics.Shards), region})
		}
		slices.SortStableFunc(byShard, func(x, y regionShard) int { return cmp.Compare(x.shard, y.shard) })
		for i := 0; i < len(byShard); {
			j := i
			regions := a.regions[:0]
			for ; j < len(byShard) && byShard[j].shard == byShard[i].shard; j++ {
				regions = append(regions, byShard[j].region)
			}
			ev.Region = regions[0]
			events += a.produceEvent(ev, ref, regions, dl, &oversized, produce)
			a.regions = regions
			i = j
		}
		a.byShard = byShard
	}
	res, err := a.decode(r, emit)
	st.events += int64(events)
	st.dropped += int64(res.Dropped)
	failed := res.Failed
	if err != nil {
		var de *sources.DecodeError
		if errors.As(err, &de) {
			dl.Reason, dl.Excerpt = de.Reason, de.Excerpt
		} else {
			dl.Reason = err.Error()
		}
		failed = max(failed, 1)
	}
	if oversized > 0 {
		failed += oversized
		if err != nil {
			dl.Reason += fmt.Sprintf("; and %d events larger than --max-event-bytes", oversized)
		}
	}
	if failed > 0 {
		st.deadLetters += int64(failed)
		a.deadLetter(dl, produce)
	}
}

// regionShard is a region of a global-service event and the shard its
// entity is on.
type regionShard struct {
	shard  int32
	region string
}

// produceEvent produces ev as one internal record for regions (its own
// region when none) and returns how many events that is; an event too
// large to produce is counted in oversized and described in dl.
func (a *ingestActor) produceEvent(ev *event.Event, ref rawRef, regions []string, dl *DeadLetter, oversized *int, produce func(*kgo.Record)) int {
	a.buf, _ = appendEnvelope(a.buf[:0], ref, regions, ev)
	key := ev.Key()
	if size := len(a.buf) + len(key); size > a.cfg.MaxEventBytes {
		if *oversized++; *oversized == 1 {
			dl.Reason = fmt.Sprintf("%s: an event encodes to %d bytes, more than --max-event-bytes (%d)", a.source, size, a.cfg.MaxEventBytes)
		}
		return 0
	}
	// Key and value in one allocation: Kafka holds both until acknowledged.
	kv := make([]byte, 0, len(key)+len(a.buf))
	kv = append(append(kv, key...), a.buf...)
	produce(&kgo.Record{
		Topic:     kafka.EntitiesTopic,
		Partition: cluster.ShardOf(key, a.cfg.Topics.Shards),
		Key:       kv[:len(key):len(key)],
		Value:     kv[len(key):],
	})
	return max(1, len(regions))
}

// deadLetter produces dl and logs it, naming the record, never quoting it.
func (a *ingestActor) deadLetter(dl *DeadLetter, produce func(*kgo.Record)) {
	a.warn.Warn("dead letter", "topic", dl.Topic, "partition", dl.Partition, "offset", dl.Offset, "source", dl.Source, "size", dl.Size)
	produce(dl.record(a.cfg.DeadLetterExcerpt))
}

// decode decodes r with the partition's decoder. A decoder bug costs one
// record, not the partition: a panic is that record's decode error.
func (a *ingestActor) decode(r *kgo.Record, emit func(*event.Event)) (res sources.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			a.warn.Warn("decoder panic", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "panic", fmt.Sprint(p))
			res, err = sources.Result{Failed: 1}, &sources.DecodeError{Reason: fmt.Sprintf("%s: decoder failed: %v", a.source, p)}
		}
	}()
	switch a.source {
	case event.SourceCloudTrail:
		return a.ct.Decode(r.Value, emit)
	case event.SourceVPCFlow:
		for _, h := range r.Headers {
			if h.Key == FlowFormatHeader {
				return a.flow.DecodeWithFormat(r.Value, string(h.Value), emit)
			}
		}
		return a.flow.Decode(r.Value, emit)
	case event.SourceDNS:
		return a.dns.Decode(r.Value, emit)
	}
	return sources.Result{Failed: 1}, &sources.DecodeError{Reason: "no decoder for topic " + r.Topic}
}
