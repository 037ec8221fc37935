package harness

import (
	"math"
	"slices"
	"time"
)

// Results is what a bench run measured; results.json holds it.
//
// The top-level figures are the headline scenario's (mixed when it ran,
// else the last one), except recall and false findings, which count every
// scenario.
type Results struct {
	Headline string `json:"headline"`
	// ThroughputRPS and ThroughputEPS are vigil's saturation throughput,
	// records and events applied per second: catching up with a backlog
	// (backlog phase) when it ran, else with records produced as it goes
	// (max phase), which LiveThroughputRPS always is.
	ThroughputRPS     float64 `json:"throughput_rps"`
	ThroughputEPS     float64 `json:"throughput_eps"`
	LiveThroughputRPS float64 `json:"live_throughput_rps"`
	// BaselineRPS and BaselineEPS are the reference loop's, over the same
	// records; Ratio is ThroughputRPS / BaselineRPS.
	BaselineRPS float64 `json:"baseline_rps"`
	BaselineEPS float64 `json:"baseline_eps"`
	Ratio       float64 `json:"ratio"`
	// RateRPS is the rate phase's target; the latencies are the injected
	// attacks' at that rate (event→finding, milliseconds).
	RateRPS      float64 `json:"rate_rps"`
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyP95MS float64 `json:"latency_p95_ms"`
	LatencyP99MS float64 `json:"latency_p99_ms"`
	// MaxLatency* are the latencies during the max phase (queueing
	// behind up to Window records in flight included).
	MaxLatencyP50MS float64 `json:"max_latency_p50_ms"`
	MaxLatencyP99MS float64 `json:"max_latency_p99_ms"`
	// Recall is found / expected over every injected attack of every
	// scenario; FalseFindings counts the findings about entities no attack
	// involved.
	Recall        float64 `json:"recall"`
	Expected      int     `json:"attacks_expected"`
	Found         int     `json:"attacks_found"`
	FalseFindings int     `json:"false_findings"`
	// RSSBytes and HeapBytes are the peak resident memory and Go heap in
	// use of the headline scenario's nodes (the largest node's).
	RSSBytes  int64 `json:"rss_bytes"`
	HeapBytes int64 `json:"heap_bytes"`
	// BytesPerEntity is Pebble's size on disk over the entities vigil
	// holds; BaselineBytesPerEntity the reference's.
	BytesPerEntity         float64 `json:"bytes_per_entity"`
	BaselineBytesPerEntity float64 `json:"baseline_bytes_per_entity"`
	// CompactedBytesPerEntity: the same once Pebble is flushed and
	// compacted whole; BaselineCompactedBytesPerEntity the reference's.
	CompactedBytesPerEntity         float64 `json:"compacted_bytes_per_entity"`
	BaselineCompactedBytesPerEntity float64 `json:"baseline_compacted_bytes_per_entity"`
	// CPUPerMRecords is the nodes' CPU seconds per million records;
	// BaselineCPUPerMRecords the reference's.
	CPUPerMRecords         float64 `json:"cpu_s_per_m_records"`
	BaselineCPUPerMRecords float64 `json:"baseline_cpu_s_per_m_records"`

	Scenarios []*ScenarioResult `json:"scenarios"`
	Run       RunInfo           `json:"run"`
}

// RunInfo describes the run: configuration and machine.
type RunInfo struct {
	Started     time.Time `json:"started"`
	Seconds     float64   `json:"seconds"`
	Duration    string    `json:"phase_duration"`
	Entities    int       `json:"entities"`
	Uniform     bool      `json:"uniform,omitempty"`
	Nodes       int       `json:"nodes"`
	NodeArgs    []string  `json:"node_args,omitempty"`
	Target      string    `json:"target"`
	Regions     int       `json:"regions"`
	Seed        uint64    `json:"seed"`
	Records     int       `json:"records_cap,omitempty"`
	Window      int       `json:"window"`
	AttackEvery string    `json:"attack_every"`
	Shards      int       `json:"shards"`
	Partitions  int       `json:"raw_partitions"`
	Flush       string    `json:"flush_interval"`
	GOMAXPROCS  int       `json:"gomaxprocs"`
	NumCPU      int       `json:"num_cpu"`
	GoVersion   string    `json:"go_version"`
	OS          string    `json:"os"`
	Kernel      string    `json:"kernel,omitempty"`
	CPUModel    string    `json:"cpu_model,omitempty"`
}

// Footprint is what vigil or the reference loop kept and spent: entities,
// Pebble's size on disk, and CPU.
type Footprint struct {
	Entities int64 `json:"entities"`
	// PebbleBytes is Pebble's size on disk after the run; BytesPerEntity
	// that over Entities. PebbleCompactedBytes is its size once flushed
	// and compacted whole (no write-ahead log, no overwritten versions:
	// what the entities themselves take).
	PebbleBytes             int64   `json:"pebble_bytes"`
	BytesPerEntity          float64 `json:"bytes_per_entity"`
	PebbleCompactedBytes    int64   `json:"pebble_compacted_bytes"`
	CompactedBytesPerEntity float64 `json:"compacted_bytes_per_entity"`
	CPUSeconds              float64 `json:"cpu_seconds"`
	CPUPerMRecords          float64 `json:"cpu_s_per_m_records"`
}

// perEntity sets BytesPerEntity and CompactedBytesPerEntity from the
// totals that are known.
func (f *Footprint) perEntity() {
	if f.Entities > 0 && f.PebbleBytes > 0 {
		f.BytesPerEntity = float64(f.PebbleBytes) / float64(f.Entities)
	}
	if f.Entities > 0 && f.PebbleCompactedBytes > 0 {
		f.CompactedBytesPerEntity = float64(f.PebbleCompactedBytes) / float64(f.Entities)
	}
}

// ScenarioResult is one scenario's figures.
type ScenarioResult struct {
	Name    string       `json:"name"`
	Sources []string     `json:"sources"`
	Max     *PhaseResult `json:"max,omitempty"`
	Rate    *PhaseResult `json:"rate,omitempty"`
	// Backlog is the catch-up phase: records produced while ingest was
	// paused, then applied as fast as vigil can, as the reference loop
	// reads them. Only with a node in the harness's process.
	Backlog *PhaseResult `json:"backlog,omitempty"`
	Ref     *RefResult   `json:"reference,omitempty"`
	// Ratio is vigil's records/s over the reference's: the backlog
	// phase's when it ran (both then read a backlog), else the max
	// phase's. LiveRatio is the max phase's, whose records were produced
	// as vigil went, by this process.
	Ratio       float64 `json:"ratio"`
	EventsRatio float64 `json:"events_ratio"`
	LiveRatio   float64 `json:"live_ratio"`

	Expected      int            `json:"attacks_expected"`
	Found         int            `json:"attacks_found"`
	Recall        float64        `json:"recall"`
	RefFound      int            `json:"attacks_found_by_reference"`
	FalseFindings int            `json:"false_findings"`
	FalseByType   map[string]int `json:"false_findings_by_type,omitempty"`
	// AttackFindings counts the findings about attack entities beyond the
	// expected ones.
	AttackFindings int      `json:"extra_attack_findings"`
	Findings       int      `json:"findings"`
	Attacks        []Attack `json:"attacks"`

	Nodes []NodeResult `json:"nodes"`
	// Footprint is the nodes': their pebble/ directories after the run.
	Footprint
	// CPUIncludesHarness: the node runs in the harness's process, so its
	// CPU and RSS include the broker, the load generator and the findings
	// reader.
	CPUIncludesHarness bool `json:"cpu_includes_harness"`

	Samples []Sample `json:"samples"`
	Seconds float64  `json:"seconds"`
	Errors  []string `json:"errors,omitempty"`
}

// phases returns the phases that ran, in the order they ran.
func (s *ScenarioResult) phases() []*PhaseResult {
	var ps []*PhaseResult
	for _, p := range []*PhaseResult{s.Max, s.Rate, s.Backlog} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// PhaseResult is one phase's figures.
type PhaseResult struct {
	Name string `json:"name"`
	// TargetRPS is the rate asked for (0 in the max phase).
	TargetRPS float64          `json:"target_rps"`
	Records   int64            `json:"records"`
	BySource  map[string]int64 `json:"records_by_source"`
	// Events are the events vigil applied (a global-service CloudTrail
	// event counts once per enabled region), from /api/v1/status.
	Events int64 `json:"events"`
	// ProduceSeconds is how long records were produced; Seconds runs from
	// the first record produced to the last one applied.
	ProduceSeconds float64 `json:"produce_seconds"`
	Seconds        float64 `json:"seconds"`
	RPS            float64 `json:"records_per_s"`
	EPS            float64 `json:"events_per_s"`
	ProducedRPS    float64 `json:"produced_per_s"`
	Drained        bool    `json:"drained"`
	MaxIngestLag   int64   `json:"max_ingest_lag"`
	MaxShardsLag   int64   `json:"max_shards_lag"`
	Attacks        int     `json:"attacks"`
	Found          int     `json:"attacks_found"`
	LatencyP50MS   float64 `json:"latency_p50_ms"`
	LatencyP95MS   float64 `json:"latency_p95_ms"`
	LatencyP99MS   float64 `json:"latency_p99_ms"`
	LatencyMaxMS   float64 `json:"latency_max_ms"`
	// start and end are the phase's place in the scenario's samples.
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
}

// Attack is one injected attack and what became of it.
type Attack struct {
	Phase   string `json:"phase"`
	Kind    string `json:"kind"`
	Type    string `json:"type"`
	ID      string `json:"id"`
	Entity  string `json:"entity"`
	Records int    `json:"records"`
	// CompletedS is when its completing record was produced, in seconds
	// since the scenario started.
	CompletedS float64 `json:"completed_s"`
	Found      bool    `json:"found"`
	LatencyMS  float64 `json:"latency_ms,omitempty"`
	ByRef      bool    `json:"found_by_reference"`

	completed time.Time
	markers   []string
}

// NodeResult is one node's resources during the scenario.
type NodeResult struct {
	Name        string  `json:"name"`
	PID         int     `json:"pid,omitempty"`
	InProcess   bool    `json:"in_process"`
	RSSPeak     int64   `json:"rss_peak_bytes"`
	RSSEnd      int64   `json:"rss_end_bytes"`
	HeapPeak    int64   `json:"heap_peak_bytes"`
	HeapEnd     int64   `json:"heap_end_bytes"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	PebbleBytes int64   `json:"pebble_bytes"`
}

// Sample is one second of a scenario.
type Sample struct {
	T     float64 `json:"t"`
	Phase string  `json:"phase"`
	// IngestLag and ShardsLag are the vigil-ingest and vigil-shards
	// groups' lag (kadm Lag): raw records not yet ingested, internal
	// records not yet applied.
	IngestLag int64 `json:"ingest_lag"`
	ShardsLag int64 `json:"shards_lag"`
	// RecordsPerS: raw records ingested (the ingest group's commits) per
	// second; EventsPerS: events applied (/api/v1/status) per second.
	RecordsPerS float64 `json:"records_per_s"`
	EventsPerS  float64 `json:"events_per_s"`
	RSS         []int64 `json:"rss_bytes,omitempty"`
	Heap        []int64 `json:"heap_bytes,omitempty"`

	ingested, applied int64
}

// percentile returns the p-th percentile (0–100) of xs, nearest rank.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// finish computes the headline figures.
func (r *Results) finish() {
	for _, s := range r.Scenarios {
		r.Expected += s.Expected
		r.Found += s.Found
		r.FalseFindings += s.FalseFindings
	}
	if r.Expected > 0 {
		r.Recall = float64(r.Found) / float64(r.Expected)
	}
	var h *ScenarioResult
	for _, s := range r.Scenarios {
		if h == nil || s.Name == "mixed" || h.Name != "mixed" {
			h = s
		}
	}
	if h == nil {
		return
	}
	r.Headline = h.Name
	if h.Max != nil {
		r.ThroughputRPS, r.ThroughputEPS, r.LiveThroughputRPS = h.Max.RPS, h.Max.EPS, h.Max.RPS
		r.MaxLatencyP50MS, r.MaxLatencyP99MS = h.Max.LatencyP50MS, h.Max.LatencyP99MS
	}
	if h.Backlog != nil && h.Backlog.Drained {
		r.ThroughputRPS, r.ThroughputEPS = h.Backlog.RPS, h.Backlog.EPS
	}
	if h.Ref != nil {
		r.BaselineRPS, r.BaselineEPS = h.Ref.RPS, h.Ref.EPS
		r.BaselineBytesPerEntity, r.BaselineCPUPerMRecords = h.Ref.BytesPerEntity, h.Ref.CPUPerMRecords
		r.BaselineCompactedBytesPerEntity = h.Ref.CompactedBytesPerEntity
	}
	r.Ratio = h.Ratio
	if h.Rate != nil {
		r.RateRPS = h.Rate.TargetRPS
		r.LatencyP50MS, r.LatencyP95MS, r.LatencyP99MS = h.Rate.LatencyP50MS, h.Rate.LatencyP95MS, h.Rate.LatencyP99MS
	}
	for _, n := range h.Nodes {
		r.RSSBytes = max(r.RSSBytes, n.RSSPeak)
		r.HeapBytes = max(r.HeapBytes, n.HeapPeak)
	}
	r.BytesPerEntity, r.CompactedBytesPerEntity = h.BytesPerEntity, h.CompactedBytesPerEntity
	r.CPUPerMRecords = h.CPUPerMRecords
}

// cleanNaN replaces NaN figures (nothing to measure) by -1, which JSON
// can hold.
func cleanNaN(v *float64) {
	if math.IsNaN(*v) || math.IsInf(*v, 0) {
		*v = -1
	}
}

func (p *PhaseResult) clean() {
	for _, v := range []*float64{&p.LatencyP50MS, &p.LatencyP95MS, &p.LatencyP99MS, &p.LatencyMaxMS, &p.RPS, &p.EPS} {
		cleanNaN(v)
	}
}

func (r *Results) clean() {
	for _, v := range []*float64{&r.LatencyP50MS, &r.LatencyP95MS, &r.LatencyP99MS, &r.MaxLatencyP50MS, &r.MaxLatencyP99MS,
		&r.Ratio, &r.LiveThroughputRPS, &r.BytesPerEntity, &r.CompactedBytesPerEntity, &r.CPUPerMRecords, &r.ThroughputRPS, &r.ThroughputEPS} {
		cleanNaN(v)
	}
	for _, s := range r.Scenarios {
		for _, p := range s.phases() {
			p.clean()
		}
		for _, v := range []*float64{&s.Ratio, &s.EventsRatio, &s.LiveRatio, &s.BytesPerEntity, &s.CompactedBytesPerEntity, &s.CPUPerMRecords} {
			cleanNaN(v)
		}
	}
}
