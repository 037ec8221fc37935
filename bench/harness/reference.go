package harness

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/actors"
	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/profiles"
	"github.com/vigil-sec/vigil/sources"
	"github.com/vigil-sec/vigil/storage"
)

// RefResult is what the reference loop measured.
type RefResult struct {
	Records int64   `json:"records"`
	Events  int64   `json:"events"`
	Seconds float64 `json:"seconds"`
	RPS     float64 `json:"records_per_s"`
	EPS     float64 `json:"events_per_s"`
	Footprint
	Findings     int   `json:"findings"`
	DecodeErrors int64 `json:"decode_errors"`
	// Missing counts records produced that the reference could not read
	// (deleted from the raw topics before it ran).
	Missing int64 `json:"missing_records,omitempty"`

	// entityOf maps the reference's finding ids to their entity keys.
	entityOf map[string]string
}

// reference is the yardstick: the plainest loop that does vigil's work.
// One goroutine consumes the raw records from the broker (assigned
// partitions, no group), decodes them with vigil's decoders, broadcasts
// global-service events to every enabled region as ingest does, applies
// each event to an in-memory profile with vigil's detector engine, and
// once per flush interval writes the changed profiles and findings to
// Pebble in one synced batch, with vigil's storage package and options.
type reference struct {
	regions       []string
	defaultRegion string
	flush         time.Duration

	ct     *sources.CloudTrailDecoder
	flow   *sources.FlowDecoder
	dns    *sources.DNSDecoder
	engine *detect.Engine

	profiles map[string]profiles.Profile
	dirty    map[string]bool
	found    map[string]*findings.Finding
	entityOf map[string]string
	changed  map[string]bool
	events   int64
	failed   int64
}

// runReference reads the raw records of topics between from and to.
func runReference(ctx context.Context, brokers []string, topics kafka.Topics, from, to map[string]map[int32]int64,
	regions []string, flush time.Duration, dir string) (*RefResult, error) {
	ref := &reference{regions: regions, defaultRegion: "us-east-1", flush: flush}
	if err := ref.init(); err != nil {
		return nil, err
	}
	db, err := storage.Open(dir, storage.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	closeDB := sync.OnceValue(db.Close)
	defer closeDB()
	shard := db.Shard(0)

	srcOf := map[string]event.Source{topics.CloudTrail: event.SourceCloudTrail, topics.VPCFlow: event.SourceVPCFlow, topics.DNS: event.SourceDNS}
	offsets := make(map[string]map[int32]kgo.Offset)
	left := 0
	var want int64
	for topic, parts := range to {
		for p, end := range parts {
			start := from[topic][p]
			if end <= start {
				continue
			}
			if offsets[topic] == nil {
				offsets[topic] = make(map[int32]kgo.Offset)
			}
			offsets[topic][p] = kgo.NewOffset().At(start)
			want += end - start
			left++
		}
	}
	res := &RefResult{}
	if left == 0 {
		return res, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(offsets))
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	cpu0 := selfCPU()
	var start time.Time
	lastFlush := time.Now()
	done := make(map[string]map[int32]bool)
	for left > 0 {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if fs.NumRecords() == 0 && pctx.Err() != nil {
			return nil, fmt.Errorf("reference: no records for 10s with %d partitions unread (were the raw records deleted?)", left)
		}
		fs.EachError(func(t string, p int32, err error) {
			if err != nil && ctx.Err() == nil {
				slog.Debug("reference fetch", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			end := to[p.Topic][p.Partition]
			for _, r := range p.Records {
				if r.Offset >= end {
					break
				}
				if start.IsZero() {
					start = time.Now()
				}
				ref.apply(srcOf[r.Topic], r)
				res.Records++
			}
			if n := len(p.Records); n > 0 && p.Records[n-1].Offset+1 >= end && !done[p.Topic][p.Partition] {
				if done[p.Topic] == nil {
					done[p.Topic] = make(map[int32]bool)
				}
				done[p.Topic][p.Partition] = true
				left--
			}
		})
		if time.Since(lastFlush) >= ref.flush {
			if err := ref.write(shard); err != nil {
				return nil, err
			}
			lastFlush = time.Now()
		}
	}
	if err := ref.write(shard); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.CPUSeconds = selfCPU() - cpu0
	res.Events = ref.events
	res.DecodeErrors = ref.failed
	res.Missing = max(want-res.Records, 0)
	if res.Seconds > 0 {
		res.RPS = float64(res.Records) / res.Seconds
		res.EPS = float64(res.Events) / res.Seconds
	}
	if res.Records > 0 {
		res.CPUPerMRecords = res.CPUSeconds / float64(res.Records) * 1e6
	}
	res.Entities = int64(len(ref.profiles))
	res.Findings = len(ref.found)
	res.entityOf = ref.entityOf
	if err := closeDB(); err != nil {
		return nil, err
	}
	res.PebbleBytes = dirSize(dir)
	if res.PebbleCompactedBytes, err = compactedSize(ctx, dir); err != nil {
		return nil, err
	}
	res.perEntity()
	return res, nil
}

func (ref *reference) init() error {
	var err error
	if ref.flow, err = sources.NewFlowDecoder("", sources.Limits{}); err != nil {
		return err
	}
	ref.ct, ref.dns = sources.NewCloudTrailDecoder(sources.Limits{}), sources.NewDNSDecoder(sources.Limits{})
	dc := detect.DefaultConfig()
	dc.Regions = ref.regions // as a node's: global-service findings once
	ref.engine = detect.New(dc)
	ref.profiles, ref.dirty = make(map[string]profiles.Profile), make(map[string]bool)
	ref.found, ref.entityOf, ref.changed = make(map[string]*findings.Finding), make(map[string]string), make(map[string]bool)
	return nil
}

func (ref *reference) apply(src event.Source, r *kgo.Record) {
	emit := func(ev *event.Event) {
		if ev.Region == "" {
			ev.Region = ref.defaultRegion
		}
		// As ingest does: EC2's inventory facts go to the network
		// entities they name.
		if inv := ev.Inventory; inv != nil {
			ev.Inventory = nil
			sources.DeriveInventory(ev, inv, func(d *event.Event) { ref.applyEvent(d) })
		}
		if ev.CloudTrail != nil && sources.IsGlobal(ev.CloudTrail) {
			ev.CloudTrail.Global = true
			for _, region := range ref.regions {
				ev.Region = region
				ref.applyEvent(ev)
			}
			return
		}
		ref.applyEvent(ev)
	}
	var err error
	switch src {
	case event.SourceCloudTrail:
		_, err = ref.ct.Decode(r.Value, emit)
	case event.SourceVPCFlow:
		format := ""
		for _, h := range r.Headers {
			if h.Key == actors.FlowFormatHeader {
				format = string(h.Value)
			}
		}
		if format != "" {
			_, err = ref.flow.DecodeWithFormat(r.Value, format, emit)
		} else {
			_, err = ref.flow.Decode(r.Value, emit)
		}
	case event.SourceDNS:
		_, err = ref.dns.Decode(r.Value, emit)
	}
	if err != nil {
		ref.failed++
	}
}

func (ref *reference) applyEvent(ev *event.Event) {
	key := ev.Key()
	p, ok := ref.profiles[key]
	if !ok {
		if p = profiles.New(ev.Kind, ev.Account, ev.Region, ev.Entity); p == nil {
			return
		}
		ref.profiles[key] = p
	}
	occ, applied := ref.engine.Apply(p, ev)
	if !applied {
		return
	}
	ref.events++
	ref.dirty[key] = true
	for i := range occ {
		f := &occ[i]
		if findings.MergeInto(ref.found, f) {
			ref.entityOf[f.ID] = key
		}
		ref.changed[f.ID] = true
	}
}

// write stores the changed profiles and findings in one synced batch.
func (ref *reference) write(shard *storage.Shard) error {
	if len(ref.dirty) == 0 && len(ref.changed) == 0 {
		return nil
	}
	entries := make([]storage.Entry, 0, len(ref.dirty)+len(ref.changed))
	for key := range ref.dirty {
		b, err := ref.profiles[key].MarshalBinary()
		if err != nil {
			return err
		}
		entries = append(entries, storage.ProfileEntry(key, b, storage.NoMark))
	}
	for id := range ref.changed {
		b, err := ref.found[id].MarshalStored()
		if err != nil {
			return err
		}
		entries = append(entries, storage.FindingEntry(id, b))
	}
	clear(ref.dirty)
	clear(ref.changed)
	return shard.Write(entries)
}
