// Package harness is vigil's load-test harness, the code behind
// `vigil bench`: it drives a vigil node (in process, as local `vigil run`
// processes, or one already running against an external Kafka) with the
// records of bench/loadgen, injects attacks whose findings it expects,
// measures throughput, consumer lag, event→finding latency, recall, false
// findings, memory, CPU and Pebble's size, runs the reference loop over
// the same records, and reports.
//
// For every scenario (one source, or the three mixed) it runs:
//
//  1. a max phase: records produced as fast as vigil takes them (no more
//     than Window records or events in flight, so the backlog stays
//     bounded), for Duration, then drained: vigil's saturation
//     throughput;
//  2. a rate phase: records produced at Rate records/s (by default half
//     the max phase's throughput) for Duration, then drained: latency and
//     lag at a load vigil keeps up with;
//  3. the reference loop over the same records: one goroutine consumes
//     them from the same broker, decodes them with vigil's decoders,
//     updates a map of profiles with vigil's detector engine and writes
//     the changed profiles to Pebble once per flush interval. vigil's
//     throughput is reported as a ratio of the reference's.
package harness

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/sources"
)

// Scenarios are the scenario names Config.Sources takes.
var Scenarios = []string{"cloudtrail", "vpcflow", "dns", "mixed"}

// Config is what a bench run is told.
type Config struct {
	// Duration is the length of each measured phase (records are produced
	// for that long; draining the backlog comes on top). Default 20s.
	Duration time.Duration
	// Rate is the rate phase's records per second. Zero: half the max
	// phase's throughput.
	Rate float64
	// Max runs the max (saturation) phase. Without it Rate is required
	// and there is no ratio to the reference.
	Max bool
	// Diurnal makes the rate phase's rate follow the day curve of the
	// records' event times (loadgen.DayFactor), averaging Rate.
	Diurnal bool
	// Entities sets the organisation's size: principals and instances;
	// remote hosts are ten times as many (loadgen.ForEntities). Default
	// 2000.
	Entities int
	// Uniform draws principals, instances and remote hosts alike rather
	// than Zipf-like, so that a run touches every entity soon (to measure
	// memory and storage at Entities).
	Uniform bool
	// Nodes is 0 for one in-process node, N to start N local `vigil run`
	// processes (VigilCommand) that join one cluster.
	Nodes int
	// Brokers is an external Kafka. With Nodes 0 a vigil node must be
	// running against it already (Admin names its admin endpoints); the
	// default is an embedded broker in this process.
	Brokers []string
	// Admin are the admin endpoints (host:port) of running nodes, with
	// Brokers and Nodes 0. Without them the figures read from the nodes
	// (events, memory, CPU, storage) are missing.
	Admin []string
	// AdminToken is the bearer token of those endpoints, if any.
	AdminToken string
	// DataDirs are the data directories of running nodes (for Pebble's
	// size), with Brokers and Nodes 0.
	DataDirs []string
	// Out is the directory report.md, results.json and the charts are
	// written to; "" writes none.
	Out string
	// Seed makes the records repeatable. Default 1.
	Seed uint64
	// Sources are the scenarios: cloudtrail, vpcflow, dns, mixed. Default
	// all four.
	Sources []string
	// Regions are the enabled regions global-service events are broadcast
	// to (vigil's --regions). Default: every commercial region, as
	// `vigil run`.
	Regions []string
	// Records caps the records produced in each phase; 0 is no cap.
	Records int
	// AttackEvery is how often an attack is injected. Default 500ms.
	AttackEvery time.Duration
	// Window bounds the max phase's records and events in flight (raw
	// records not yet ingested plus internal records not yet applied and
	// committed). Default 200,000: a node commits a busy entity's records
	// only when it writes them, up to --write-behind (2s) later, so a
	// smaller window throttled the max phase below vigil's speed.
	Window int
	// DayRecords is how many records make one simulated day. Default
	// loadgen's.
	DayRecords int
	// Shards, RawPartitions and FlushInterval configure the nodes the
	// harness starts (and the topics it creates). Defaults 16, 4, 500ms
	// (vigil run's).
	Shards, RawPartitions int
	FlushInterval         time.Duration
	// DrainTimeout bounds the wait for vigil to apply a phase's records.
	// Default 4 × Duration, at least 1m.
	DrainTimeout time.Duration
	// VigilCommand starts a vigil process: the executable and any
	// arguments before "run". Required with Nodes > 0.
	VigilCommand []string
	// NodeArgs are more `vigil run` flags for the processes the harness
	// starts (--nodes), after its own: --max-live-entities 10000, say.
	NodeArgs []string
	// VigilEnv is the environment of the vigil processes (default: this
	// process's).
	VigilEnv []string
	// Keep keeps the data directories of the nodes, the broker and the
	// reference (under Out, or the temporary directory).
	Keep bool
	// Stdout receives the summary; Stderr the progress bar (only when it
	// is a terminal) and warnings. Default: discarded.
	Stdout, Stderr io.Writer
	// Logger receives the in-process node's log. Default: a file in Out
	// (node.log), or none.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Duration <= 0 {
		c.Duration = 20 * time.Second
	}
	if c.Entities <= 0 {
		c.Entities = 2000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if len(c.Sources) == 0 {
		c.Sources = Scenarios
	}
	if len(c.Regions) == 0 {
		c.Regions = sources.CommercialRegions
	}
	if c.AttackEvery <= 0 {
		c.AttackEvery = 500 * time.Millisecond
	}
	if c.Window <= 0 {
		c.Window = 200_000
	}
	if c.Shards <= 0 {
		c.Shards = 16
	}
	if c.RawPartitions <= 0 {
		c.RawPartitions = 4
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 500 * time.Millisecond
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = max(4*c.Duration, time.Minute)
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.Stderr == nil {
		c.Stderr = io.Discard
	}
}

func (c *Config) validate() error {
	for _, s := range c.Sources {
		if _, err := scenarioSources(s); err != nil {
			return err
		}
	}
	switch {
	case !c.Max && c.Rate <= 0:
		return errors.New("--max=false needs a --rate")
	case c.Nodes < 0:
		return fmt.Errorf("--nodes %d: want 0 (one in-process node) or more", c.Nodes)
	case c.Nodes > 0 && len(c.VigilCommand) == 0:
		return errors.New("--nodes needs the vigil executable to start")
	case len(c.Admin) > 0 && (len(c.Brokers) == 0 || c.Nodes > 0):
		return errors.New("--admin names the nodes of an external cluster: use it with --brokers and no --nodes")
	}
	return nil
}

// scenarioSources returns the sources of a scenario.
func scenarioSources(name string) ([]event.Source, error) {
	if name == "mixed" {
		return []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS}, nil
	}
	if s, ok := event.ParseSource(name); ok {
		return []event.Source{s}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q: want %s", name, strings.Join(Scenarios, ", "))
}

// Flags binds a Config to command-line flags.
type Flags struct {
	cfg                                    Config
	brokers, admin, dataDirs, srcs, region string
	seed                                   uint64
	// Gen and GenRecords: write a corpus instead of measuring.
	Gen        string
	GenRecords int
}

// NewFlags registers the bench flags on fs.
func NewFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	c := &f.cfg
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "length of each measured phase (max and rate), draining not included")
	fs.Float64Var(&c.Rate, "rate", 0, "records/s of the rate phase (default: half the throughput of the max phase)")
	fs.BoolVar(&c.Max, "max", true, "run the max phase: records as fast as vigil takes them, for its saturation throughput")
	fs.BoolVar(&c.Diurnal, "diurnal", false, "make the rate phase's rate follow the day curve of the records' event times (averaging --rate)")
	fs.IntVar(&c.Entities, "entities", 2000, "organisation size: principals and instances (remote hosts 10×, an account per 250)")
	fs.BoolVar(&c.Uniform, "uniform", false, "draw principals, instances and remote hosts alike instead of Zipf-like, so that a run touches every entity soon (to measure memory and storage at --entities)")
	fs.Func("node-args", "more vigil run flags for the processes --nodes starts, space-separated (e.g. \"--max-live-entities 10000 --memory-limit-mb 1024\")", func(v string) error {
		c.NodeArgs = strings.Fields(v)
		return nil
	})
	fs.IntVar(&c.Nodes, "nodes", 0, "0: one in-process node; N: start N local vigil run processes (this executable) joined in a cluster")
	fs.StringVar(&f.brokers, "brokers", "", "external Kafka brokers host:port,... (default: an embedded broker in this process); with --nodes 0 a node must be running against them")
	fs.StringVar(&f.admin, "admin", "", "admin endpoints host:port,... of the running nodes, with --brokers and --nodes 0 (for events, memory and CPU)")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token of those admin endpoints")
	fs.StringVar(&f.dataDirs, "data-dirs", "", "data directories of the running nodes, with --brokers and --nodes 0 (for Pebble's size)")
	fs.StringVar(&c.Out, "out", "", "directory to write report.md, results.json and the charts (SVG) to")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the generated records")
	fs.StringVar(&f.srcs, "sources", strings.Join(Scenarios, ","), "scenarios to run: cloudtrail, vpcflow, dns, mixed")
	fs.StringVar(&f.region, "regions", "", "enabled regions global-service events are broadcast to, as vigil run's --regions (default all commercial regions); started nodes get the same")
	fs.IntVar(&c.Records, "records", 0, "cap on the records of each phase (0: none; a max phase that ends at its cap measures latency as much as throughput); with --gen, background records per source")
	fs.DurationVar(&c.AttackEvery, "attack-every", 500*time.Millisecond, "how often an attack is injected")
	fs.IntVar(&c.Window, "window", 200_000, "max phase: records and events in flight before the producer waits")
	fs.IntVar(&c.DayRecords, "day-records", 0, "records per simulated day (default 2,000,000)")
	fs.IntVar(&c.Shards, "shards", 16, "shard count of the nodes and topics the harness starts")
	fs.IntVar(&c.RawPartitions, "raw-partitions", 4, "partitions of the raw topics the harness creates")
	fs.DurationVar(&c.FlushInterval, "flush-interval", 500*time.Millisecond, "flush interval of the nodes the harness starts, and of the reference loop")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 0, "how long to wait for vigil to apply a phase's records (default 4× --duration, at least 1m)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the data directories of the nodes, broker and reference")
	fs.StringVar(&f.Gen, "gen", "", "write a corpus (one file per source, attacks included, and attacks.json) to this directory instead of measuring")
	return f
}

// Config returns the configuration the flags set.
func (f *Flags) Config() (Config, error) {
	c := f.cfg
	c.Seed = f.seed
	c.Brokers = splitList(f.brokers)
	c.Admin = splitList(f.admin)
	c.DataDirs = splitList(f.dataDirs)
	c.Sources = splitList(f.srcs)
	regions, err := sources.ParseRegions(f.region)
	if err != nil {
		return c, err
	}
	c.Regions = regions
	f.GenRecords = c.Records
	if c.Duration <= 0 {
		return c, fmt.Errorf("--duration %s: want a positive duration", c.Duration)
	}
	if c.Rate < 0 || c.Records < 0 || c.Entities <= 0 {
		return c, errors.New("--rate, --records and --entities cannot be negative, and --entities not 0")
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
