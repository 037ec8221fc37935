package harness

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/bench/loadgen"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
)

// Run runs the scenarios of cfg and returns their results; with cfg.Out it
// writes report.md, results.json and the charts there, and it prints the
// summary to cfg.Stdout.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	started := time.Now()
	res := &Results{Run: runInfo(&cfg, started)}
	base := cfg.Out
	if base == "" || !cfg.Keep {
		tmp, err := os.MkdirTemp("", "vigil-bench-")
		if err != nil {
			return nil, err
		}
		if !cfg.Keep {
			defer os.RemoveAll(tmp)
		}
		base = tmp
	} else {
		base = filepath.Join(cfg.Out, "data")
	}
	if cfg.Out != "" {
		if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
			return nil, err
		}
	}
	bar := newProgress(&cfg)
	defer bar.finish()
	for _, name := range cfg.Sources {
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		// Memory the previous scenario freed goes back to the system, so
		// that an in-process node's RSS is this scenario's.
		runtime.GC()
		debug.FreeOSMemory()
		sr, err := runScenario(ctx, &cfg, name, dir, bar)
		if sr != nil {
			res.Scenarios = append(res.Scenarios, sr)
		}
		if err != nil {
			return res, fmt.Errorf("scenario %s: %w", name, err)
		}
	}
	bar.finish()
	res.Run.Seconds = time.Since(started).Seconds()
	res.finish()
	res.clean()
	if cfg.Out != "" {
		if err := writeReport(cfg.Out, res); err != nil {
			return res, err
		}
	}
	printSummary(cfg.Stdout, res)
	return res, nil
}

func runInfo(cfg *Config, started time.Time) RunInfo {
	target := "in-process node, embedded broker"
	switch {
	case cfg.Nodes > 0 && len(cfg.Brokers) > 0:
		target = fmt.Sprintf("%d vigil run processes, external Kafka", cfg.Nodes)
	case cfg.Nodes > 0:
		target = fmt.Sprintf("%d vigil run processes, embedded broker in the harness", cfg.Nodes)
	case len(cfg.Brokers) > 0:
		target = "running nodes, external Kafka"
	}
	ri := RunInfo{Started: started.UTC(), Duration: cfg.Duration.String(), Entities: cfg.Entities, Uniform: cfg.Uniform, NodeArgs: cfg.NodeArgs, Nodes: cfg.Nodes,
		Target: target, Regions: len(cfg.Regions), Seed: cfg.Seed, Records: cfg.Records, Window: cfg.Window,
		AttackEvery: cfg.AttackEvery.String(), Shards: cfg.Shards, Partitions: cfg.RawPartitions, Flush: cfg.FlushInterval.String(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		ri.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				ri.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return ri
}

// scenario is one scenario being run.
type scenario struct {
	cfg   *Config
	name  string
	srcs  []event.Source
	t     *target
	cl    *kgo.Client
	adm   *kadm.Client
	gen   *loadgen.Generator
	kinds []loadgen.Kind
	next  int
	// jitter spaces the attacks.
	jitter *rand.Rand
	w      *watcher
	bar    *progress
	start  time.Time

	produced atomic.Int64
	failed   atomic.Value // error
	phase    atomic.Value // string

	// The gate's view of the pipeline, refreshed every 100ms in the max
	// phase: raw records ingested (the ingest group's commits) and
	// internal records not yet applied.
	ingested0, ingested, shardsLag atomic.Int64

	mu      sync.Mutex
	samples []Sample
	attacks []*Attack
}

func runScenario(ctx context.Context, cfg *Config, name, dir string, bar *progress) (_ *ScenarioResult, err error) {
	srcs, err := scenarioSources(name)
	if err != nil {
		return nil, err
	}
	sr := &ScenarioResult{Name: name}
	for _, s := range srcs {
		sr.Sources = append(sr.Sources, s.String())
	}
	bar.describe(name + ": starting")
	t, err := startTarget(ctx, cfg, dir)
	if err != nil {
		return sr, err
	}
	defer t.close()
	gc := loadgen.ForEntities(cfg.Entities)
	gc.Seed, gc.Regions, gc.DayRecords, gc.Uniform = cfg.Seed, orgRegions(cfg.Regions), cfg.DayRecords, cfg.Uniform
	gc.Tag = fmt.Sprintf("%s%x", name[:2], time.Now().Unix()%0xfffff)
	s := &scenario{cfg: cfg, name: name, srcs: srcs, t: t, gen: loadgen.New(gc), kinds: loadgen.KindsFor(srcs), bar: bar,
		jitter: rand.New(rand.NewPCG(cfg.Seed, 7))}
	s.phase.Store("start")
	s.cl, err = kgo.NewClient(kgo.SeedBrokers(t.brokers...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(100_000), kgo.MaxBufferedBytes(256<<20))
	if err != nil {
		return sr, err
	}
	defer s.cl.Close()
	s.adm = kadm.NewClient(s.cl)
	if s.w, err = startWatcher(ctx, t.brokers); err != nil {
		return sr, err
	}
	defer s.w.stop()
	from, err := rawEnds(ctx, s.adm, t.topics)
	if err != nil {
		return sr, err
	}
	ing, _, err := s.pipeline(ctx)
	if err != nil {
		return sr, err
	}
	s.ingested0.Store(ing)
	s.ingested.Store(ing)

	s.start = time.Now()
	cpu0 := s.cpu(ctx)
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() { defer close(sampled); s.sample(sctx) }()
	defer func() {
		stopSampling()
		<-sampled
	}()

	if cfg.Max {
		if sr.Max, err = s.runPhase(ctx, "max", 0); err != nil {
			return sr, err
		}
	}
	rate := cfg.Rate
	if rate <= 0 {
		rate = sr.Max.RPS / 2
	}
	if sr.Rate, err = s.runPhase(ctx, "rate", rate); err != nil {
		return sr, err
	}
	if cfg.Max && t.inproc != nil && sr.Max != nil && sr.Max.RPS > 0 {
		n := max(int64(sr.Max.RPS*cfg.Duration.Seconds()), 1000)
		if cfg.Records > 0 {
			n = min(n, int64(cfg.Records))
		}
		if sr.Backlog, err = s.runBacklog(ctx, n); err != nil {
			return sr, err
		}
	}
	s.phase.Store("end")
	bar.describe(name + ": waiting for findings")
	var ids []string
	for _, a := range s.attacks {
		ids = append(ids, a.ID)
	}
	s.w.waitFor(ids, 10*time.Second)
	cpu1 := s.cpu(ctx)
	stopSampling()
	<-sampled

	// Resources, then storage, while the nodes still run.
	s.mu.Lock()
	sr.Samples = s.samples
	s.mu.Unlock()
	for _, p := range sr.phases() {
		for _, smp := range sr.Samples {
			if smp.Phase == p.Name {
				p.MaxIngestLag, p.MaxShardsLag = max(p.MaxIngestLag, smp.IngestLag), max(p.MaxShardsLag, smp.ShardsLag)
			}
		}
	}
	end := make([]nodeSample, len(t.nodes))
	for i, n := range t.nodes {
		end[i] = t.sample(ctx, n)
		nr := NodeResult{Name: n.Name, PID: n.PID, InProcess: n.Self, RSSEnd: end[i].RSS, HeapEnd: end[i].Heap, RSSPeak: end[i].RSS, HeapPeak: end[i].Heap,
			CPUSeconds: -1, PebbleBytes: -1}
		for _, smp := range sr.Samples {
			if i < len(smp.RSS) {
				nr.RSSPeak = max(nr.RSSPeak, smp.RSS[i])
				nr.HeapPeak = max(nr.HeapPeak, smp.Heap[i])
			}
		}
		if cpu0[i] >= 0 && cpu1[i] >= 0 {
			nr.CPUSeconds = cpu1[i] - cpu0[i]
			sr.CPUSeconds += nr.CPUSeconds
		}
		sr.CPUIncludesHarness = sr.CPUIncludesHarness || n.Self
		sr.Nodes = append(sr.Nodes, nr)
	}
	records := phaseRecords(sr)
	sr.CPUPerMRecords = math.NaN()
	if records > 0 && len(t.nodes) > 0 {
		sr.CPUPerMRecords = sr.CPUSeconds / float64(records) * 1e6
	}
	sr.BytesPerEntity = math.NaN()
	if n, err := t.entities(ctx); err == nil {
		sr.Entities = n
	} else if len(t.nodes) > 0 {
		sr.Errors = append(sr.Errors, "counting entities: "+err.Error())
	}
	to, err := rawEnds(ctx, s.adm, t.topics)
	if err != nil {
		return sr, err
	}

	// The reference loop, over the same records, once vigil has stopped
	// (nodes the harness does not own keep running, idle).
	t.stopNodes()
	s.w.stop()
	// Pebble's size once the nodes closed it (memtables flushed), as the
	// reference's is measured; nodes the harness does not own still run.
	sr.CompactedBytesPerEntity = math.NaN()
	for i, n := range t.nodes {
		if n.DataDir == "" {
			continue
		}
		dir := filepath.Join(n.DataDir, "pebble")
		sr.Nodes[i].PebbleBytes = dirSize(dir)
		sr.PebbleBytes += sr.Nodes[i].PebbleBytes
		if !t.stopped || len(t.procs) == 0 && t.inproc == nil {
			continue // a node the harness does not own still has it open
		}
		if c, err := compactedSize(ctx, dir); err == nil {
			sr.PebbleCompactedBytes += c
		} else {
			sr.Errors = append(sr.Errors, "compacting "+dir+": "+err.Error())
		}
	}
	sr.perEntity()
	bar.describe(name + ": reference loop")
	sr.Ref, err = runReference(ctx, t.brokers, t.topics, from, to, cfg.Regions, cfg.FlushInterval, filepath.Join(dir, "reference"))
	if err != nil {
		return sr, err
	}
	if sr.Max != nil && sr.Max.ProduceSeconds < 0.9*cfg.Duration.Seconds() {
		sr.Errors = append(sr.Errors, fmt.Sprintf("the max phase reached its --records cap after %.1fs of %s: its records/s (and the ratio) include the pipeline's latency, not only its throughput",
			sr.Max.ProduceSeconds, cfg.Duration))
	}
	if sr.Ref.Missing > 0 {
		msg := fmt.Sprintf("the reference loop found %d of the records produced deleted (is vigil managing the raw topics? run it with --manage-raw-topics=false); its throughput is over the %d it read",
			sr.Ref.Missing, sr.Ref.Records)
		sr.Errors = append(sr.Errors, msg)
		s.warnf("%s: %s", name, msg)
	}
	sr.Ratio, sr.EventsRatio, sr.LiveRatio = math.NaN(), math.NaN(), math.NaN()
	if sr.Max != nil && sr.Ref.RPS > 0 {
		sr.Ratio = sr.Max.RPS / sr.Ref.RPS
		sr.EventsRatio = sr.Max.EPS / sr.Ref.EPS
		sr.LiveRatio = sr.Ratio
	}
	if sr.Backlog != nil && sr.Backlog.Drained && sr.Ref.RPS > 0 {
		// Like for like: both read a backlog from the same broker.
		sr.Ratio = sr.Backlog.RPS / sr.Ref.RPS
		sr.EventsRatio = sr.Backlog.EPS / sr.Ref.EPS
	}
	s.score(sr)
	sr.Seconds = time.Since(s.start).Seconds()
	return sr, nil
}

// orgRegions are the regions the simulated organisation works in: up to
// four of the enabled ones, us-east-1 first when enabled.
func orgRegions(enabled []string) []string {
	var out []string
	if slices.Contains(enabled, "us-east-1") {
		out = append(out, "us-east-1")
	}
	for _, r := range []string{"us-west-2", "eu-west-1", "ap-southeast-2"} {
		if slices.Contains(enabled, r) {
			out = append(out, r)
		}
	}
	for _, r := range enabled {
		if len(out) >= 4 {
			break
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func phaseRecords(sr *ScenarioResult) int64 {
	var n int64
	for _, p := range sr.phases() {
		n += p.Records
	}
	return n
}

// cpu reads every node's CPU seconds (-1 unknown).
func (s *scenario) cpu(ctx context.Context) []float64 {
	out := make([]float64, len(s.t.nodes))
	for i, n := range s.t.nodes {
		out[i] = s.t.sample(ctx, n).CPU
	}
	return out
}

func rawEnds(ctx context.Context, adm *kadm.Client, topics kafka.Topics) (map[string]map[int32]int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topics.Raw()...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			if out[o.Topic] == nil {
				out[o.Topic] = make(map[int32]int64)
			}
			out[o.Topic][o.Partition] = o.Offset
		}
	})
	return out, nil
}

// pipeline returns the raw records the ingest group has committed (summed
// over the raw partitions) and the internal records the shards group has
// yet to apply.
func (s *scenario) pipeline(ctx context.Context) (ingested, shardsLag int64, err error) {
	got, err := s.adm.FetchOffsets(ctx, kafka.IngestGroup)
	if err != nil && !isGroupMissing(err) {
		return 0, 0, err
	}
	raw := s.t.topics.Raw()
	got.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At > 0 && slices.Contains(raw, o.Topic) {
			ingested += o.At
		}
	})
	ends, err := s.adm.ListEndOffsets(ctx, kafka.EntitiesTopic)
	if err != nil {
		return 0, 0, err
	}
	committed, err := s.adm.FetchOffsets(ctx, kafka.ShardsGroup)
	if err != nil && !isGroupMissing(err) {
		return 0, 0, err
	}
	ends.Each(func(o kadm.ListedOffset) {
		at := int64(0)
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil && c.At > 0 {
			at = c.At
		}
		shardsLag += max(o.Offset-at, 0)
	})
	return ingested, shardsLag, nil
}

func isGroupMissing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND")
}

// inflight is what the max phase has in the pipeline: raw records produced
// and not yet ingested, plus internal records not yet applied.
func (s *scenario) inflight() int64 {
	return s.produced.Load() - (s.ingested.Load() - s.ingested0.Load()) + s.shardsLag.Load()
}

// runPhase produces records for the phase's duration, at rate (records/s)
// or, with rate 0, as fast as the pipeline takes them; then it waits until
// vigil has applied them all.
func (s *scenario) runPhase(ctx context.Context, name string, rate float64) (*PhaseResult, error) {
	cfg := s.cfg
	p := &PhaseResult{Name: name, TargetRPS: rate, BySource: make(map[string]int64)}
	s.phase.Store(name)
	s.bar.phase(s.name, name)
	st0, _ := s.t.status(ctx)
	var gateStop context.CancelFunc
	if rate == 0 {
		gctx, cancel := context.WithCancel(ctx)
		gateStop = cancel
		go s.gate(gctx)
	}
	produced0 := s.produced.Load()
	t0 := time.Now()
	p.StartS = t0.Sub(s.start).Seconds()
	nextAttack := t0 // the first at once: a short phase has one too
	due := 0.0
	last := t0
	var n int64
	limit := int64(cfg.Records)
	for ctx.Err() == nil {
		now := time.Now()
		elapsed := now.Sub(t0)
		if elapsed >= cfg.Duration || (limit > 0 && n >= limit) {
			break
		}
		if err, _ := s.failed.Load().(error); err != nil {
			return p, fmt.Errorf("producing: %w", err)
		}
		if !now.Before(nextAttack) {
			n += s.inject(ctx, name, p)
			// Jittered, so that attacks do not keep one phase of the
			// flush cycle and the latencies sample all of it.
			nextAttack = nextAttack.Add(time.Duration(float64(cfg.AttackEvery) * (0.5 + s.jitter.Float64())))
			continue
		}
		var batch int64
		if rate > 0 {
			f := 1.0
			if cfg.Diurnal {
				f = loadgen.DayFactor(s.gen.Now())
			}
			due += rate * f * now.Sub(last).Seconds()
			last = now
			batch = int64(due) - n
		} else {
			batch = min(int64(cfg.Window)-s.inflight(), 2000)
		}
		if limit > 0 {
			batch = min(batch, limit-n)
		}
		if batch <= 0 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		for range batch {
			r := s.gen.NextOf(s.srcs)
			s.produce(ctx, r.Source, r.Value, time.Time{})
			p.BySource[r.Source.String()]++
		}
		n += batch
	}
	if err := s.acknowledged(ctx, p, t0, produced0); err != nil {
		return p, err
	}
	s.bar.describe(s.name + ": " + name + " phase: draining")
	ends, err := rawEnds(ctx, s.adm, s.t.topics)
	if err != nil {
		return p, err
	}
	err = s.drain(ctx, ends)
	if gateStop != nil {
		gateStop()
	}
	p.Seconds = time.Since(t0).Seconds()
	p.EndS = time.Since(s.start).Seconds()
	p.Drained = err == nil
	if err != nil && ctx.Err() != nil {
		return p, ctx.Err()
	}
	st1, _ := s.t.status(ctx)
	if st0 != nil && st1 != nil {
		p.Events = st1.Applied - st0.Applied
	}
	p.RPS = float64(p.Records) / p.Seconds
	p.EPS = float64(p.Events) / p.Seconds
	p.ProducedRPS = float64(p.Records) / p.ProduceSeconds
	if !p.Drained {
		// Not all applied: what was applied within the timeout.
		ing, _, _ := s.pipeline(ctx)
		p.RPS = float64(ing-s.ingested0.Load()) / p.Seconds
		s.warnf("%s %s phase: not drained within %s (%v); throughput counts the records ingested", s.name, name, cfg.DrainTimeout, err)
	}
	return p, nil
}

// runBacklog measures how fast vigil catches up, as the reference loop
// does: with ingest paused it produces n records (no attacks), then
// resumes ingest and times it from there until every record is applied.
// It needs a node in this process, whose ingest it can pause.
func (s *scenario) runBacklog(ctx context.Context, n int64) (*PhaseResult, error) {
	p := &PhaseResult{Name: "backlog", BySource: make(map[string]int64)}
	s.phase.Store(p.Name)
	s.bar.phase(s.name, p.Name)
	s.t.inproc.PauseIngest(true)
	defer s.t.inproc.PauseIngest(false)
	produced0 := s.produced.Load()
	t0 := time.Now()
	for i := int64(0); i < n && ctx.Err() == nil; i++ {
		r := s.gen.NextOf(s.srcs)
		s.produce(ctx, r.Source, r.Value, time.Time{})
		p.BySource[r.Source.String()]++
	}
	if err := s.acknowledged(ctx, p, t0, produced0); err != nil {
		return p, err
	}
	p.ProducedRPS = float64(p.Records) / p.ProduceSeconds
	ends, err := rawEnds(ctx, s.adm, s.t.topics)
	if err != nil {
		return p, err
	}
	st0, _ := s.t.status(ctx)
	s.bar.describe(s.name + ": backlog phase: catching up")
	t1 := time.Now()
	s.t.inproc.PauseIngest(false)
	p.StartS = t1.Sub(s.start).Seconds()
	err = s.drain(ctx, ends)
	p.Seconds = time.Since(t1).Seconds()
	p.EndS = time.Since(s.start).Seconds()
	p.Drained = err == nil
	if err != nil {
		if ctx.Err() != nil {
			return p, ctx.Err()
		}
		s.warnf("%s backlog phase: not drained within %s (%v)", s.name, s.cfg.DrainTimeout, err)
	}
	if st1, _ := s.t.status(ctx); st0 != nil && st1 != nil {
		p.Events = st1.Applied - st0.Applied
	}
	p.RPS = float64(p.Records) / p.Seconds
	p.EPS = float64(p.Events) / p.Seconds
	return p, nil
}

// acknowledged waits until every record of the phase, which started at t0
// with produced0 records produced before it, is acknowledged, and counts
// them.
func (s *scenario) acknowledged(ctx context.Context, p *PhaseResult, t0 time.Time, produced0 int64) error {
	if err := s.cl.Flush(ctx); err != nil {
		return err
	}
	if err, _ := s.failed.Load().(error); err != nil {
		return fmt.Errorf("producing: %w", err)
	}
	p.ProduceSeconds = time.Since(t0).Seconds()
	p.Records = s.produced.Load() - produced0
	return nil
}

// drain waits, up to the drain timeout, until vigil has applied every
// raw record below ends.
func (s *scenario) drain(ctx context.Context, ends map[string]map[int32]int64) error {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	return kafka.WaitApplied(dctx, s.cl, ends)
}

// gate refreshes the max phase's view of the pipeline.
func (s *scenario) gate(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if ing, lag, err := s.pipeline(ctx); err == nil {
			s.ingested.Store(ing)
			s.shardsLag.Store(lag)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// inject produces the next attack and returns its record count.
func (s *scenario) inject(ctx context.Context, phase string, p *PhaseResult) int64 {
	k := s.kinds[s.next%len(s.kinds)]
	s.next++
	a, err := s.gen.Attack(k)
	if err != nil {
		s.failed.Store(err)
		return 0
	}
	at := &Attack{Phase: phase, Kind: k.String(), Type: a.Finding.Type, ID: a.Finding.ID, Entity: a.Finding.Entity,
		Records: len(a.Records), markers: a.Markers}
	for i, rec := range a.Records {
		ts := time.Time{}
		if i == a.Completes {
			ts = time.Now()
			at.completed = ts
			at.CompletedS = ts.Sub(s.start).Seconds()
		}
		s.produce(ctx, a.Source, rec, ts)
		p.BySource[a.Source.String()]++
	}
	p.Attacks++
	s.mu.Lock()
	s.attacks = append(s.attacks, at)
	s.mu.Unlock()
	return int64(len(a.Records))
}

func (s *scenario) produce(ctx context.Context, src event.Source, v []byte, ts time.Time) {
	topic := s.t.topics.CloudTrail
	switch src {
	case event.SourceVPCFlow:
		topic = s.t.topics.VPCFlow
	case event.SourceDNS:
		topic = s.t.topics.DNS
	}
	s.produced.Add(1)
	s.cl.Produce(ctx, &kgo.Record{Topic: topic, Value: v, Timestamp: ts}, func(_ *kgo.Record, err error) {
		if err != nil {
			s.failed.CompareAndSwap(nil, err)
		}
	})
}

// sample records, every second, the groups' lag, throughput and every
// node's memory.
func (s *scenario) sample(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var prev *Sample
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		smp := Sample{T: time.Since(s.start).Seconds(), Phase: s.phase.Load().(string), ingested: -1, applied: -1}
		if lags, err := s.adm.Lag(ctx, kafka.IngestGroup, kafka.ShardsGroup); err == nil {
			raw := s.t.topics.Raw()
			for _, l := range lags {
				var sum, ingested int64
				for topic, parts := range l.Lag {
					for _, pl := range parts {
						if pl.Lag > 0 {
							sum += pl.Lag
						}
						if l.Group == kafka.IngestGroup && slices.Contains(raw, topic) && pl.Commit.At > 0 {
							ingested += pl.Commit.At
						}
					}
				}
				if l.Group == kafka.IngestGroup {
					smp.IngestLag, smp.ingested = sum, ingested
				} else {
					smp.ShardsLag = sum
				}
			}
		}
		if st, err := s.t.status(ctx); err == nil && st != nil {
			smp.applied = st.Applied
		}
		for _, n := range s.t.nodes {
			ns := s.t.sample(ctx, n)
			smp.RSS = append(smp.RSS, ns.RSS)
			smp.Heap = append(smp.Heap, ns.Heap)
		}
		if prev != nil {
			dt := smp.T - prev.T
			if smp.ingested >= 0 && prev.ingested >= 0 {
				smp.RecordsPerS = float64(smp.ingested-prev.ingested) / dt
			}
			if smp.applied >= 0 && prev.applied >= 0 {
				smp.EventsPerS = float64(smp.applied-prev.applied) / dt
			}
		}
		s.mu.Lock()
		s.samples = append(s.samples, smp)
		prev = &s.samples[len(s.samples)-1]
		s.mu.Unlock()
		s.bar.tick(smp)
	}
}

// score matches the findings seen with the attacks: recall, latency,
// false findings.
func (s *scenario) score(sr *ScenarioResult) {
	seen := s.w.snapshot()
	sr.Findings = len(seen)
	expected := make(map[string]*Attack)
	attackEntities := make(map[string]bool)
	byPhase := map[string][]float64{}
	for _, a := range s.attacks {
		expected[a.ID] = a
		attackEntities[a.Entity] = true
		f, ok := seen[a.ID]
		sr.Expected++
		if ok {
			a.Found = true
			a.LatencyMS = float64(f.At.Sub(a.completed).Microseconds()) / 1000
			sr.Found++
			byPhase[a.Phase] = append(byPhase[a.Phase], a.LatencyMS)
		}
		if _, ok := sr.Ref.entityOf[a.ID]; ok {
			a.ByRef = true
			sr.RefFound++
		}
		sr.Attacks = append(sr.Attacks, *a)
	}
	if sr.Expected > 0 {
		sr.Recall = float64(sr.Found) / float64(sr.Expected)
	}
	for _, p := range sr.phases() {
		lat := byPhase[p.Name]
		p.Found = len(lat)
		p.LatencyP50MS, p.LatencyP95MS, p.LatencyP99MS, p.LatencyMaxMS = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99), percentile(lat, 100)
	}
	for id, f := range seen {
		if expected[id] != nil {
			continue
		}
		if s.aboutAttack(id, f, sr.Ref.entityOf, attackEntities) {
			sr.AttackFindings++
			continue
		}
		sr.FalseFindings++
		if sr.FalseByType == nil {
			sr.FalseByType = make(map[string]int)
		}
		sr.FalseByType[f.Type]++
	}
}

// aboutAttack reports whether a finding is about an attack's entity: by
// the entity the reference loop raised it for, or else by the attack
// entities' names in its JSON.
func (s *scenario) aboutAttack(id string, f seenFinding, entityOf map[string]string, attackEntities map[string]bool) bool {
	if key, ok := entityOf[id]; ok {
		// key is account/region/kind/entity; the entity may hold slashes.
		parts := strings.SplitN(key, "/", 4)
		return len(parts) == 4 && attackEntities[parts[3]]
	}
	for _, a := range s.attacks {
		for _, m := range a.markers {
			if strings.Contains(string(f.JSON), m) {
				return true
			}
		}
	}
	return false
}

func (s *scenario) warnf(format string, args ...any) {
	s.bar.clear()
	fmt.Fprintf(s.cfg.Stderr, "bench: "+format+"\n", args...)
}
