package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/sources"
	"github.com/vigil-sec/vigil/storage"
)

// FlowFormatHeader is the Kafka record header that carries a VPC flow-log
// format (the field names of a file's header line) for a record that lacks
// its own header line. `vigil replay` sets it.
const FlowFormatHeader = "vpcflow-format"

// IngestConfig configures ingest.
type IngestConfig struct {
	// Client are the kgo options that reach Kafka. Required.
	Client []kgo.Opt
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
	// MaxPollRecords bounds one poll. Default 5000.
	MaxPollRecords int
	Stats          *Stats
	Logger         *slog.Logger
}

// Ingest consumes the raw topics in the ingest consumer group and feeds
// each raw partition's records to an ingest actor.
type Ingest struct {
	cfg      IngestConfig
	system   *actor.ActorSystem
	consumer *kgo.Client
	producer *kgo.Client
	log      *slog.Logger
	actors   map[partitionKey]*actor.PID
	sources  map[string]event.Source
}

type partitionKey struct {
	topic     string
	partition int32
}

// NewIngest connects to Kafka.
func NewIngest(system *actor.ActorSystem, cfg IngestConfig) (*Ingest, error) {
	if cfg.DefaultRegion == "" {
		cfg.DefaultRegion = "us-east-1"
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 5000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if _, err := sources.NewFlowDecoder(cfg.FlowFormat); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	in := &Ingest{
		cfg:     cfg,
		system:  system,
		log:     cfg.Logger.With("component", "ingest"),
		actors:  make(map[partitionKey]*actor.PID),
		sources: map[string]event.Source{cfg.Topics.CloudTrail: event.SourceCloudTrail, cfg.Topics.VPCFlow: event.SourceVPCFlow, cfg.Topics.DNS: event.SourceDNS},
	}
	var err error
	in.producer, err = kgo.NewClient(append(append([]kgo.Opt(nil), cfg.Client...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(2*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.MaxBufferedRecords(100_000),
	)...)
	if err != nil {
		return nil, fmt.Errorf("ingest: producer: %w", err)
	}
	in.consumer, err = kgo.NewClient(append(append([]kgo.Opt(nil), cfg.Client...),
		kgo.ConsumerGroup(kafka.IngestGroup),
		kgo.ConsumeTopics(cfg.Topics.Raw()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(in.forget),
		kgo.OnPartitionsLost(in.forget),
	)...)
	if err != nil {
		in.producer.Close()
		return nil, fmt.Errorf("ingest: consumer: %w", err)
	}
	return in, nil
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
		}
	}
}

// Run polls until ctx ends. Raw offsets are committed only after every
// internal record made from them was acknowledged by Kafka.
func (in *Ingest) Run(ctx context.Context) error {
	// A poll blocks rebalances until AllowRebalance; leaving the group
	// (Close) waits for it.
	defer in.consumer.AllowRebalance()
	for {
		fetches := in.consumer.PollRecords(ctx, in.cfg.MaxPollRecords)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				in.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
			done []*kgo.Record
		)
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			wg.Add(1)
			in.system.Root.Send(in.actorFor(p.Topic, p.Partition), &rawBatch{
				records: p.Records,
				done: func(err error) {
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					} else {
						done = append(done, p.Records[len(p.Records)-1])
					}
					mu.Unlock()
					wg.Done()
				},
			})
		})
		wg.Wait()
		if len(errs) > 0 {
			// Producing failed (client closing): do not commit; the
			// records are consumed again after restart.
			in.consumer.AllowRebalance()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ingest: %w", errors.Join(errs...))
		}
		if len(done) > 0 {
			if err := in.consumer.CommitRecords(ctx, done...); err != nil && ctx.Err() == nil {
				in.log.Warn("committing raw offsets", "err", err)
			}
		}
		in.consumer.AllowRebalance()
	}
}

func (in *Ingest) actorFor(topic string, partition int32) *actor.PID {
	k := partitionKey{topic, partition}
	if pid, ok := in.actors[k]; ok {
		return pid
	}
	src := in.sources[topic]
	flow, _ := sources.NewFlowDecoder(in.cfg.FlowFormat) // validated in NewIngest
	a := &ingestActor{
		cfg: &in.cfg, producer: in.producer, log: in.log, source: src, topic: topic, partition: partition,
		flow: flow, ct: sources.NewCloudTrailDecoder(),
	}
	pid := in.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	in.actors[k] = pid
	return pid
}

// Close stops consuming and producing. Records in flight are not
// committed and will be consumed again.
func (in *Ingest) Close() {
	in.consumer.Close()
	in.producer.Close()
}

// rawBatch is one poll's records of one raw partition.
type rawBatch struct {
	records []*kgo.Record
	done    func(error)
}

// ingestActor decodes one raw partition's records and produces them to
// the entities topic. An actor per partition keeps the partition's order
// and lets partitions decode in parallel.
type ingestActor struct {
	cfg       *IngestConfig
	producer  *kgo.Client
	log       *slog.Logger
	source    event.Source
	topic     string
	partition int32

	ct   *sources.CloudTrailDecoder
	flow *sources.FlowDecoder
	dns  sources.DNSDecoder
	evs  []event.Event
}

func (a *ingestActor) Receive(ctx actor.Context) {
	b, ok := ctx.Message().(*rawBatch)
	if !ok {
		return
	}
	// The poll loop waits for done: it must be called even on a bug, and
	// then nothing is committed.
	defer func() {
		if p := recover(); p != nil {
			b.done(fmt.Errorf("ingest of %s/%d failed: %v", a.topic, a.partition, p))
		}
	}()
	b.done(a.ingest(b.records))
}

// ingest decodes and produces a batch, then waits for every produce.
func (a *ingestActor) ingest(records []*kgo.Record) error {
	var produced acks
	stats := a.cfg.Stats
	for _, r := range records {
		stats.Records[a.source].Add(1)
		evs, res, err := a.decode(r)
		stats.Dropped[a.source].Add(int64(res.Dropped))
		if err != nil {
			failed := int64(res.Failed)
			if failed == 0 {
				failed = 1
			}
			stats.DeadLetters[a.source].Add(failed)
			a.producer.Produce(context.Background(), a.deadLetter(r, err), produced.promise())
		}
		pos := rawPosition{source: a.source, partition: r.Partition, Position: storage.Position{Offset: r.Offset}}
		for i := range evs {
			ev := &evs[i]
			if ev.Region == "" {
				ev.Region = a.cfg.DefaultRegion
			}
			regions := []string{ev.Region}
			if ev.CloudTrail != nil && sources.IsGlobal(ev.CloudTrail) {
				ev.CloudTrail.Global = true
				regions = a.cfg.Regions
			}
			for _, region := range regions {
				ev.Region = region
				value, err := appendEnvelope(nil, pos, ev)
				if err != nil {
					return fmt.Errorf("encoding event: %w", err)
				}
				key := ev.Key()
				a.producer.Produce(context.Background(), &kgo.Record{
					Topic:     kafka.EntitiesTopic,
					Partition: cluster.ShardOf(key, a.cfg.Topics.Shards),
					Key:       []byte(key),
					Value:     value,
				}, produced.promise())
				pos.Index++
				stats.Events[a.source].Add(1)
			}
		}
	}
	if err := produced.wait(); err != nil {
		return fmt.Errorf("producing: %w", err)
	}
	return nil
}

func (a *ingestActor) decode(r *kgo.Record) (evs []event.Event, res sources.Result, err error) {
	// A decoder bug must cost one record, not stall the partition: the
	// record goes to the dead-letter topic like any undecodable one.
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("decoder panic", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "panic", p)
			evs, res, err = nil, sources.Result{}, &sources.DecodeError{Reason: fmt.Sprintf("%s: decoder failed: %v", a.source, p)}
		}
	}()
	a.evs = a.evs[:0]
	switch a.source {
	case event.SourceCloudTrail:
		return a.ct.Decode(r.Value, a.evs)
	case event.SourceVPCFlow:
		for _, h := range r.Headers {
			if h.Key == FlowFormatHeader {
				return a.flow.DecodeWithFormat(r.Value, string(h.Value), a.evs)
			}
		}
		return a.flow.Decode(r.Value, a.evs)
	case event.SourceDNS:
		return a.dns.Decode(r.Value, a.evs)
	}
	return nil, sources.Result{}, &sources.DecodeError{Reason: "no decoder for topic " + a.topic}
}

// DeadLetter is the dead-letter record: a reference to the raw record and
// why it failed, with at most a short excerpt, never the record itself.
type DeadLetter struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Source    string    `json:"source"`
	Reason    string    `json:"reason"`
	Excerpt   string    `json:"excerpt,omitempty"`
	Size      int       `json:"size"`
	Time      time.Time `json:"time"`
}

func (a *ingestActor) deadLetter(r *kgo.Record, err error) *kgo.Record {
	dl := DeadLetter{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Source: a.source.String(),
		Reason: err.Error(), Size: len(r.Value), Time: r.Timestamp.UTC()}
	var de *sources.DecodeError
	if errors.As(err, &de) {
		dl.Reason, dl.Excerpt = de.Reason, de.Excerpt
	}
	if len(dl.Reason) > 512 {
		dl.Reason = dl.Reason[:512]
	}
	dl.Reason = strings.ToValidUTF8(dl.Reason, "\uFFFD")
	dl.Excerpt = strings.ToValidUTF8(dl.Excerpt, "\uFFFD")
	a.log.Warn("dead letter", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", dl.Reason)
	v, _ := json.Marshal(dl)
	return &kgo.Record{Topic: kafka.DeadLetterTopic, Key: []byte(r.Topic), Value: v}
}
