// Package node assembles one vigil process: Kafka (or the embedded
// broker), Pebble, the ingest and shard actors, gossip membership and the
// admin endpoint. cmd/vigil's run command is a thin wrapper around Start.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/actors"
	"github.com/vigil-sec/vigil/admin"
	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/sources"
	"github.com/vigil-sec/vigil/storage"
)

// Config is everything a node can be told. cmd/vigil fills it from flags,
// VIGIL_* environment variables and a YAML file.
type Config struct {
	// DataDir holds Pebble (pebble/) and the embedded broker (kafka/).
	// Default "vigil-data".
	DataDir string
	// Kafka reaches the brokers. With no brokers the embedded broker is
	// started on EmbeddedBrokerAddr.
	Kafka kafka.Config
	// EmbeddedBrokerAddr is where the embedded broker listens. Default
	// 127.0.0.1:9092.
	EmbeddedBrokerAddr string
	// Topics names the raw topics and sizes the internal ones.
	Topics kafka.Topics
	// Regions are the enabled regions global-service events are broadcast
	// to. Default: every commercial region (sources.CommercialRegions).
	Regions []string
	// GlobalFindings is where the findings of a global-service event are
	// raised (detect.Config.GlobalFindings). Default: once, in the region
	// the event is logged in.
	GlobalFindings string
	// LearningPeriod is how long after a principal's first event its
	// baseline only learns (detect.Config.LearningPeriod). Default 7 days.
	LearningPeriod time.Duration
	// NetworkLearningPeriod is how long after a network entity's first
	// record its baseline only learns
	// (detect.Config.NetworkLearningPeriod). Default 7 days.
	NetworkLearningPeriod time.Duration
	// DefaultRegion places records without a region. Default us-east-1.
	DefaultRegion string
	// FlowFormat is the VPC flow-log format of records without a header.
	// Default: the version 2 default format.
	FlowFormat string
	// IntelDir holds threat-intelligence lists: its crypto, tor/ and
	// malicious/ lists replace the built-in ones of their kind, and
	// custom/ holds customer threat and trusted lists (see
	// intel.LoadOverBuiltin). Default: only the built-in lists.
	IntelDir string
	// GeoIPDir holds the GeoIP databases (package geoip; `make data`
	// fills data/geoip). Default: DefaultGeoIPDir when it exists, else
	// none; missing databases degrade detection (see openGeoIP).
	GeoIPDir string
	// AWSIPRanges is a copy of AWS's ip-ranges.json (package awsranges),
	// which tells the InstanceCredentialExfiltration types whether a
	// caller is inside AWS. Default: DefaultAWSIPRanges when it exists,
	// else the bundled subset, with which OutsideAWS needs the ASN
	// database.
	AWSIPRanges string
	// AffiliatedAccounts are the organisation's accounts:
	// InstanceCredentialExfiltration.InsideAWS from one is Medium.
	AffiliatedAccounts []string
	// LeakedKeys is a file of access key ids known to be leaked, one a
	// line (detect.ParseLeakedKeys). Default: none.
	LeakedKeys string
	// Inventory is the EC2 inventory file or directory (package
	// inventory): describe-instances and describe-network-interfaces
	// output, which orients flow records. Default: none, CloudTrail only.
	Inventory string
	// IntelReloadInterval is how often IntelDir is polled for changed
	// files, which are then reloaded without a restart. Default 30s;
	// negative turns polling off (POST /api/v1/intel/reload still works).
	IntelReloadInterval time.Duration
	// RulesDir holds custom detection rule files (*.yaml, *.yml, *.json,
	// see package rules). Default: none, the starter rules only.
	RulesDir string
	// NoStarterRules leaves the built-in starter rules out.
	NoStarterRules bool
	// Admin configures the admin endpoint.
	Admin admin.Config
	// Gossip configures cluster membership.
	Gossip cluster.Config
	// AdvertiseAddr is the host (an IP or a name) other nodes reach this
	// one at, when it differs from the listen addresses (NAT, containers);
	// it is advertised with the actual gossip and admin ports. Default:
	// the listen addresses.
	AdvertiseAddr string
	// GossipKey is one or more base64 gossip encryption keys (16, 24 or 32
	// bytes), one per line, the first primary; used when Gossip has no
	// keys.
	// Default: none (plain text).
	GossipKey string
	// Storage sizes Pebble's cache and memtables; see storage.Options.
	Storage storage.Options
	// FlushInterval, WriteBehind, IdleTimeout, MaxInFlight: see
	// actors.HostConfig.
	FlushInterval time.Duration
	WriteBehind   time.Duration
	IdleTimeout   time.Duration
	MaxInFlight   int
	// MaxPollRecords bounds the raw records of one ingest transaction
	// (see actors.IngestConfig). Default 20,000.
	MaxPollRecords int
	// MaxLiveEntities bounds the entity actors the node keeps running (see
	// actors.HostConfig). Default 100,000.
	MaxLiveEntities int
	// FlushRetryTimeout is how long a shard retries a failed flush (a
	// Pebble or Kafka write) before it stops; the node keeps running and
	// reports the stopped shard. Default 2m.
	FlushRetryTimeout time.Duration
	// DeadLetterExcerpt is how many bytes of a bad record its dead letter
	// quotes; 0 quotes none. The zero value quotes none; `vigil run`
	// defaults to 64.
	DeadLetterExcerpt int
	// MaxDecompressed bounds what one gzip-compressed raw record may
	// expand to, in bytes. Default 64 MiB.
	MaxDecompressed int64
	// TrimInterval is how often records consumed from the raw topics (when
	// vigil owns them) and applied from the entities topic are deleted.
	// Default 10s.
	TrimInterval time.Duration
	// MaxEventBytes bounds one internal record (one decoded event); a
	// larger one is dead-lettered instead of produced. Default 64 KiB.
	MaxEventBytes int
	Logger        *slog.Logger
}

// Node is a running vigil process.
type Node struct {
	cfg     Config
	log     *slog.Logger
	broker  *kafka.Broker
	db      *storage.DB
	system  *actor.ActorSystem
	ingest  *actors.Ingest
	host    *actors.Host
	members *cluster.Membership
	found   *findingsReader
	peers   *peers
	admin   *admin.Server
	admCl   *kgo.Client
	stats   *actors.Stats
	reg     *prometheus.Registry
	geo     *geoip.DB // nil without databases
	intel   *intel.Reloader
	types   []detect.TypeInfo // the engine's finding types, custom rules' included

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error
	closed sync.Once
}

// Start starts a node; it runs until ctx ends or Close is called.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "vigil-data"
	}
	if cfg.EmbeddedBrokerAddr == "" {
		cfg.EmbeddedBrokerAddr = "127.0.0.1:9092"
	}
	if cfg.Topics.CloudTrail == "" {
		cfg.Topics = kafka.DefaultTopics()
	}
	if len(cfg.Regions) == 0 {
		cfg.Regions = sources.CommercialRegions
	}
	n := &Node{cfg: cfg, log: cfg.Logger, stats: new(actors.Stats), reg: prometheus.NewRegistry(), errs: make(chan error, 4)}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data dir: %w", err)
	}
	id, err := nodeID(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.Gossip.Name == "" {
		host, _ := os.Hostname()
		cfg.Gossip.Name = host + "-" + id
	}
	var rewound map[string][]int32
	if len(cfg.Kafka.Brokers) == 0 {
		n.broker, err = kafka.StartBroker(cfg.EmbeddedBrokerAddr, filepath.Join(cfg.DataDir, "kafka"))
		if err != nil {
			return nil, err
		}
		n.cfg.Kafka.Brokers = n.broker.Addrs()
		n.log.Info("embedded Kafka broker started", "addr", n.broker.Addrs()[0])
	}
	client, err := n.cfg.Kafka.Options()
	if err != nil {
		return nil, err
	}
	n.admCl, err = kgo.NewClient(client...)
	if err != nil {
		return nil, fmt.Errorf("node: kafka client: %w", err)
	}
	if err := kafka.Ensure(ctx, n.admCl, cfg.Topics); err != nil {
		return nil, err
	}
	if n.broker != nil {
		// This process runs the broker, so no consumer of vigil's groups
		// is active yet: undo what a crash of the broker did to emptied
		// partitions before anyone consumes.
		if rewound, err = n.resetRewound(ctx); err != nil {
			return nil, err
		}
	}
	storeOpts := cfg.Storage
	storeOpts.Logger = n.log
	n.db, err = storage.Open(filepath.Join(cfg.DataDir, "pebble"), storeOpts)
	if err != nil {
		return nil, err
	}
	set := intel.Default()
	if cfg.IntelDir != "" {
		if set, err = intel.LoadOverBuiltin(cfg.IntelDir); err != nil {
			return nil, err
		}
	}
	dc := detect.DefaultConfig()
	dc.Intel = set
	n.geo = openGeoIP(cfg.GeoIPDir, n.log)
	dc.Geo = n.geo
	if err = credentialInputs(&dc, cfg, n.log); err != nil {
		return nil, err
	}
	if dc.Inventory, err = loadInventory(cfg.Inventory, n.log); err != nil {
		return nil, err
	}
	if dc.Rules, err = detect.LoadRules(cfg.RulesDir, !cfg.NoStarterRules); err != nil {
		return nil, err
	}
	n.log.Info("custom detection rules loaded", "rules", dc.Rules.Len(), "dir", cfg.RulesDir, "starter", !cfg.NoStarterRules)
	dc.GlobalFindings, dc.Regions = cfg.GlobalFindings, cfg.Regions
	dc.LearningPeriod = cfg.LearningPeriod
	dc.NetworkLearningPeriod = cfg.NetworkLearningPeriod
	engine := detect.New(dc)
	n.intel = intel.NewReloader(cfg.IntelDir, set, engine.SetIntel, n.log.With("component", "intel"))
	n.types = engine.Catalogue()

	// Every metric names the node, so that a cluster's metrics can be
	// collected side by side.
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"node": cfg.Gossip.Name}, n.reg)
	if err := n.stats.Register(reg); err != nil {
		return nil, err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(intelCollectors(n.intel)...)

	n.system = actor.NewActorSystemWithConfig(actor.Configure(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return n.log.With("component", "actor")
	})))

	gossip := cfg.Gossip
	gossip.Logger = n.log
	if cfg.GossipKey != "" && len(gossip.Keys) == 0 && len(gossip.SecretKey) == 0 {
		if gossip.Keys, err = cluster.ParseKeys(cfg.GossipKey); err != nil {
			return nil, fmt.Errorf("node: gossip key: %w", err)
		}
	}
	if gossip.AdvertiseAddr == "" {
		gossip.AdvertiseAddr = cfg.AdvertiseAddr
	}
	gossip.OnLeave = func(m cluster.Member) {
		n.log.Info("node gone; its shards move to the others after the Kafka session timeout", "node", m.Name, "state", m.State, "shards", m.Shards)
	}
	if n.peers, err = newPeers(cfg.Admin); err != nil {
		return nil, err
	}
	n.admin, err = admin.Listen(cfg.Admin, n, n.reg, n.log)
	if err != nil {
		return nil, err
	}
	adminAddr := n.admin.Addr()
	if cfg.AdvertiseAddr != "" {
		_, port, _ := net.SplitHostPort(adminAddr)
		adminAddr = net.JoinHostPort(cfg.AdvertiseAddr, port)
	}
	n.members, err = cluster.Join(gossip, cluster.Meta{Admin: adminAddr})
	if err != nil {
		return nil, err
	}

	n.host, err = actors.NewHost(n.system, actors.HostConfig{
		Client: client, Shards: cfg.Topics.Shards, DB: n.db, Engine: engine,
		FlushInterval: cfg.FlushInterval, WriteBehind: cfg.WriteBehind, IdleTimeout: cfg.IdleTimeout, MaxInFlight: cfg.MaxInFlight,
		MaxLiveEntities: cfg.MaxLiveEntities, FlushRetryTimeout: cfg.FlushRetryTimeout, SessionTimeout: cfg.Kafka.SessionTimeout, Rewound: rewound[kafka.EntitiesTopic],
		OnAssigned: n.members.SetShards, OnFatal: n.fatal, Stats: n.stats, Logger: n.log,
	})
	if err != nil {
		return nil, err
	}
	// Batches no larger than the broker takes, and events that fit one:
	// then Kafka never rejects a batch for its size, which would fail
	// every record in it.
	maxBatch, err := kafka.MaxMessageBytes(ctx, kadm.NewClient(n.admCl), kafka.EntitiesTopic)
	if err != nil {
		return nil, err
	}
	maxEvent := cfg.MaxEventBytes
	if maxEvent <= 0 {
		maxEvent = 64 << 10
	}
	maxEvent = min(maxEvent, int(maxBatch)-recordOverhead)
	reg.MustRegister(n.host.Collector())
	n.ingest, err = actors.NewIngest(n.system, actors.IngestConfig{
		Client: append(slices.Clip(client), kgo.ProducerBatchMaxBytes(maxBatch)), TransactionalID: "vigil-ingest-" + id, Topics: cfg.Topics, Regions: cfg.Regions,
		DefaultRegion: cfg.DefaultRegion, FlowFormat: cfg.FlowFormat,
		Limits:        sources.Limits{MaxDecompressed: cfg.MaxDecompressed},
		MaxEventBytes: maxEvent, DeadLetterExcerpt: cfg.DeadLetterExcerpt, MaxPollRecords: cfg.MaxPollRecords,
		SessionTimeout: cfg.Kafka.SessionTimeout, Stats: n.stats, Logger: n.log,
	})
	if err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.goRun("shards", func() error { return n.host.Run(runCtx) })
	n.goRun("ingest", func() error { return n.ingest.Run(runCtx) })
	n.goRun("admin", n.admin.Serve)
	n.found = newFindingsReader(n.db.FindingsTable(), client, kadm.NewClient(n.admCl), n.log)
	n.goRun("findings", func() error { return n.found.run(runCtx) })
	n.goRun("trim", func() error { n.trim(runCtx); return nil })
	n.goRun("memory", func() error { n.releaseMemory(runCtx); return nil })
	n.goRun("intel", func() error { n.intel.Run(runCtx, intelInterval(cfg.IntelReloadInterval)); return nil })
	n.log.Info("vigil node started", "admin", adminAddr, "gossip", n.members.Addr(), "brokers", n.cfg.Kafka.Brokers, "data", cfg.DataDir)
	return n, nil
}

func (n *Node) goRun(name string, fn func() error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, context.Canceled) {
			n.log.Error("component stopped", "component", name, "err", err)
			n.fatal(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

// fatal reports an error that should stop the node, without blocking.
func (n *Node) fatal(err error) {
	select {
	case n.errs <- err:
	default: // one error is enough to stop
	}
}

// resetRewound resets the committed offsets of vigil's groups on
// partitions that went back, and returns the partitions by topic.
func (n *Node) resetRewound(ctx context.Context) (map[string][]int32, error) {
	adm := kadm.NewClient(n.admCl)
	out := make(map[string][]int32)
	for group, topics := range map[string][]string{kafka.IngestGroup: n.cfg.Topics.Raw(), kafka.ShardsGroup: {kafka.EntitiesTopic}} {
		rewound, err := kafka.ResetRewound(ctx, adm, group, topics...)
		if err != nil {
			return nil, err
		}
		for topic, parts := range rewound {
			n.log.Error("partitions went back while the node was down (records deleted, then the broker crashed); consuming their new records from the start",
				"topic", topic, "partitions", parts)
			out[topic] = append(out[topic], parts...)
			if topic != kafka.EntitiesTopic {
				n.stats.Rewinds.Add(int64(len(parts)))
			}
		}
	}
	return out, nil
}

// recordOverhead bounds what a record batch adds to one record's key and
// value (batch header, record framing, headers).
const recordOverhead = 512

// trim deletes, every TrimInterval, the records of the entities topic
// (and of the raw topics when vigil owns them) below the offsets their
// consumer groups committed: raw logs are not kept once their fields are
// extracted, and extracted events not once they are applied.
func (n *Node) trim(ctx context.Context) {
	adm := kadm.NewClient(n.admCl)
	every := n.cfg.TrimInterval
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n.cfg.Topics.ManageRaw {
			if _, err := kafka.TrimCommitted(ctx, adm, kafka.IngestGroup, n.cfg.Topics.Raw()...); err != nil && ctx.Err() == nil {
				n.log.Warn("deleting consumed raw records", "err", err)
			}
		}
		if _, err := kafka.TrimCommitted(ctx, adm, kafka.ShardsGroup, kafka.EntitiesTopic); err != nil && ctx.Err() == nil {
			n.log.Warn("deleting applied internal records", "err", err)
		}
	}
}

// nodeID returns the node's identity, kept in the data directory: stable
// across restarts (so that a restarted node fences what its previous run
// left open) and distinct for every data directory.
func nodeID(dir string) (string, error) {
	path := filepath.Join(dir, "node-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("node: reading %s: %w", path, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node: writing %s: %w", path, err)
	}
	return id, nil
}

// Err returns a channel that receives the error of a component that
// stopped on its own.
func (n *Node) Err() <-chan error { return n.errs }

// Membership returns the node's gossip membership.
func (n *Node) Membership() *cluster.Membership { return n.members }

// BrokerAddrs returns the Kafka brokers the node uses.
func (n *Node) BrokerAddrs() []string { return n.cfg.Kafka.Brokers }

// PauseIngest stops (true) or resumes (false) reading raw records; the
// node keeps its partitions and applies what it already read.
func (n *Node) PauseIngest(paused bool) {
	if n.ingest != nil {
		n.ingest.Pause(paused)
	}
}

// AdminAddr returns the admin endpoint's address.
func (n *Node) AdminAddr() string { return n.admin.Addr() }

// FindingTypes returns the finding types the node raises, its custom
// rules' included (GET /api/v1/finding-types).
func (n *Node) FindingTypes() []detect.TypeInfo { return n.types }

// Close shuts the node down gracefully: it stops polling, flushes every
// shard and commits, then closes storage and the broker.
func (n *Node) Close() {
	n.closed.Do(func() {
		if n.cancel != nil {
			n.cancel()
		}
		if n.admin != nil {
			n.admin.Close()
		}
		n.wg.Wait()
		if n.ingest != nil {
			n.ingest.Close()
		}
		if n.host != nil {
			n.host.Close()
		}
		if n.system != nil {
			n.system.Shutdown()
		}
		if n.members != nil {
			_ = n.members.Leave(time.Second)
		}
		if n.admCl != nil {
			n.admCl.Close()
		}
		if n.db != nil {
			if err := n.db.Close(); err != nil {
				n.log.Error("closing storage", "err", err)
			}
		}
		if n.broker != nil {
			n.broker.Close()
		}
		if err := n.geo.Close(); err != nil {
			n.log.Error("closing the GeoIP databases", "err", err)
		}
	})
}
