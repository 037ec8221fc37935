package actors

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-sec/vigil/event"
)

// Stats counts what the pipeline did. The admin endpoint reports it and
// Register exposes it as Prometheus metrics.
type Stats struct {
	// Per raw source, indexed by event.Source.
	Records     [4]atomic.Int64 // raw records consumed
	Events      [4]atomic.Int64 // events produced to the entities topic (after broadcast)
	Dropped     [4]atomic.Int64 // data and Insights events, not analysed
	DeadLetters [4]atomic.Int64 // raw records (or elements) that failed to decode

	Applied    atomic.Int64 // events applied to profiles
	Duplicates atomic.Int64 // re-sent or replayed records skipped
	Findings   atomic.Int64 // finding occurrences raised
	Flushes    atomic.Int64 // shard flushes written
	Passivated atomic.Int64 // entity actors stopped when idle
	Spawned    atomic.Int64 // entity actors started

	DetectorErrors atomic.Int64 // events a detector failed on (dead-lettered)

	Rewinds       atomic.Int64 // partitions whose offsets went back
	Poisoned      atomic.Int64 // raw records whose internal records Kafka rejected
	IngestRetries atomic.Int64 // polls retried after a fault of Kafka as a whole
	ShardsStopped atomic.Int64 // shards stopped because their state could not be written
	Fenced        atomic.Int64 // flushes refused because another node took the shard over
}

var allSources = []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS}

// Register exposes the counters on reg.
func (s *Stats) Register(reg prometheus.Registerer) error {
	perSource := func(name, help string, v *[4]atomic.Int64) []prometheus.Collector {
		var cs []prometheus.Collector
		for _, src := range allSources {
			c := &v[src]
			cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: name, Help: help, ConstLabels: prometheus.Labels{"source": src.String()},
			}, func() float64 { return float64(c.Load()) }))
		}
		return cs
	}
	one := func(name, help string, c *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(c.Load()) })
	}
	var cs []prometheus.Collector
	cs = append(cs, perSource("vigil_raw_records_total", "Raw records consumed from the input topics.", &s.Records)...)
	cs = append(cs, perSource("vigil_events_total", "Decoded events produced to the entities topic, after global-event broadcast.", &s.Events)...)
	cs = append(cs, perSource("vigil_dropped_events_total", "CloudTrail data and Insights events, not analysed.", &s.Dropped)...)
	cs = append(cs, perSource("vigil_dead_letters_total", "Raw records that failed to decode and went to the dead-letter topic.", &s.DeadLetters)...)
	cs = append(cs,
		one("vigil_applied_events_total", "Events applied to entity profiles.", &s.Applied),
		one("vigil_duplicate_records_total", "Re-sent or replayed internal records skipped.", &s.Duplicates),
		one("vigil_finding_occurrences_total", "Finding occurrences raised by detectors.", &s.Findings),
		one("vigil_shard_flushes_total", "Shard flushes written to Pebble.", &s.Flushes),
		one("vigil_entities_passivated_total", "Entity actors stopped when idle.", &s.Passivated),
		one("vigil_entities_spawned_total", "Entity actors started.", &s.Spawned),
		one("vigil_detector_errors_total", "Events a detector failed on, dead-lettered (a bug: see the log).", &s.DetectorErrors),
		one("vigil_offset_rewinds_total", "Consumed partitions whose offsets went back (records deleted, topic recreated); their new records are applied.", &s.Rewinds),
		one("vigil_poisoned_records_total", "Raw records whose internal records Kafka rejected, dead-lettered.", &s.Poisoned),
		one("vigil_ingest_retries_total", "Ingest polls retried after a fault of Kafka as a whole.", &s.IngestRetries),
		one("vigil_shards_stopped_total", "Shards stopped because their state could not be written.", &s.ShardsStopped),
		one("vigil_fenced_flushes_total", "Flushes refused because another node took the shard over (this node was cut off and its shards moved).", &s.Fenced),
	)
	cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vigil_live_entities", Help: "Entity actors running (started minus passivated)."},
		func() float64 { return float64(s.Spawned.Load() - s.Passivated.Load()) }))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// shardMetrics are per-shard gauges of the shards this node hosts.
type shardMetrics struct {
	h                           *Host
	applied, incarnation, owner *prometheus.Desc
	stopped                     *prometheus.Desc
}

// Collector returns the per-shard gauges of the shards this node hosts,
// labelled by shard: the offset of the last record admitted, the
// partition's incarnation, the shard's ownership epoch, and whether it
// stopped.
func (h *Host) Collector() prometheus.Collector {
	labels := []string{"shard"}
	return &shardMetrics{h: h,
		applied:     prometheus.NewDesc("vigil_shard_applied_offset", "Offset of the last internal record the shard admitted.", labels, nil),
		incarnation: prometheus.NewDesc("vigil_shard_incarnation", "Incarnation of the shard's partition: how often its offsets went back.", labels, nil),
		owner:       prometheus.NewDesc("vigil_shard_owner_epoch", "Ownership epoch of the shard: how often it changed hands.", labels, nil),
		stopped:     prometheus.NewDesc("vigil_shard_stopped", "1 when the shard stopped because its state could not be written.", labels, nil),
	}
}

func (m *shardMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.applied
	ch <- m.incarnation
	ch <- m.owner
	ch <- m.stopped
}

func (m *shardMetrics) Collect(ch chan<- prometheus.Metric) {
	m.h.mu.Lock()
	defer m.h.mu.Unlock()
	for p, s := range m.h.shards {
		shard := strconv.Itoa(int(p))
		stopped := 0.0
		if s.stopped != nil {
			stopped = 1
		}
		ch <- prometheus.MustNewConstMetric(m.applied, prometheus.GaugeValue, float64(s.applied.Load()), shard)
		ch <- prometheus.MustNewConstMetric(m.incarnation, prometheus.GaugeValue, float64(s.incarnation.Load()), shard)
		ch <- prometheus.MustNewConstMetric(m.owner, prometheus.GaugeValue, float64(s.owner), shard)
		ch <- prometheus.MustNewConstMetric(m.stopped, prometheus.GaugeValue, stopped, shard)
	}
}
