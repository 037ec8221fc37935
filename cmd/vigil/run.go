package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/node"
	"github.com/vigil-sec/vigil/sources"
)

// kafkaFlags registers the flags that reach Kafka, shared by run and
// replay. The SASL password is returned as a secret to resolve after
// parsing.
func kafkaFlags(fs *flag.FlagSet, c *kafka.Config, brokers *string) *secretFlag {
	fs.StringVar(brokers, "brokers", "", "Kafka brokers, host:port,... (run: empty starts the embedded broker)")
	fs.BoolVar(&c.TLS, "kafka-tls", false, "use TLS to the brokers")
	fs.StringVar(&c.TLSCA, "kafka-tls-ca", "", "PEM CA file to verify the brokers")
	fs.StringVar(&c.TLSCert, "kafka-tls-cert", "", "PEM client certificate (mutual TLS)")
	fs.StringVar(&c.TLSKey, "kafka-tls-key", "", "PEM client key (mutual TLS)")
	fs.StringVar(&c.TLSServerName, "kafka-tls-server-name", "", "server name to verify in the broker certificate")
	fs.StringVar(&c.SOCKS5Proxy, "kafka-socks5-proxy", "", "SOCKS5 proxy (host:port) to reach the brokers through (default: direct)")
	fs.StringVar(&c.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&c.SASLUser, "kafka-sasl-user", "", "SASL user")
	password := addSecretFlag(fs, "kafka-sasl-password", "SASL password")
	fs.DurationVar(&c.SessionTimeout, "kafka-session-timeout", kafka.DefaultSessionTimeout, "consumer-group session timeout: a node killed without leaving keeps its shards this long before the others take them over; the brokers bound it (6s at least by default)")
	fs.DurationVar(&c.HeartbeatInterval, "kafka-heartbeat-interval", kafka.DefaultHeartbeatInterval, "consumer-group heartbeat interval, below --kafka-session-timeout (at most a third of it is advised)")
	return password
}

// topicFlags registers the topic names.
func topicFlags(fs *flag.FlagSet, t *kafka.Topics) {
	*t = kafka.DefaultTopics()
	fs.StringVar(&t.CloudTrail, "topic-cloudtrail", t.CloudTrail, "raw CloudTrail topic")
	fs.StringVar(&t.VPCFlow, "topic-vpcflow", t.VPCFlow, "raw VPC flow-log topic")
	fs.StringVar(&t.DNS, "topic-dns", t.DNS, "raw Route 53 Resolver query-log topic")
}

// rawRetentionFlag registers --raw-retention, shared by run and broker so
// that both create the raw topics alike. Call after topicFlags.
func rawRetentionFlag(fs *flag.FlagSet, t *kafka.Topics) {
	fs.DurationVar(&t.RawRetention, "raw-retention", t.RawRetention, "retention of the raw topics vigil creates (and, with --manage-raw-topics, of existing ones): raw records not consumed within it are lost; 0 leaves the broker's default, else at least 1m")
}

// checkRawRetention rejects a retention that would delete raw records
// before ingest could read them.
func checkRawRetention(d time.Duration) error {
	if d != 0 && d < time.Minute {
		return fmt.Errorf("--raw-retention %s: want 0 (the broker's default) or at least 1m", d)
	}
	return nil
}

func runNode(ctx context.Context, args []string, stderr io.Writer) error {
	// SIGHUP ends a process that does not handle it: take it before
	// anything starts, and act on it once the node runs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	o, err := runConfig(args, stderr)
	if err != nil {
		return err
	}
	cfg := o.node
	o.memory.apply()
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	for {
		select {
		case <-ctx.Done():
			cfg.Logger.Info("shutting down")
			return nil
		case err := <-n.Err():
			return err
		case <-hup:
			o.reloadOnHangup(n.Membership())
		}
	}
}

// runOptions is what vigil run is told: the node's configuration, and
// what the command needs once the node runs.
type runOptions struct {
	node node.Config
	// gossipKeyFile is the file the gossip keys were read from, re-read
	// on SIGHUP; "" when they came from VIGIL_GOSSIP_KEY or --gossip-key,
	// or when there are none.
	gossipKeyFile string
	memory        memoryOptions
}

// memoryOptions are the Go runtime's memory settings of a vigil process.
type memoryOptions struct {
	gcPercent     int
	memoryLimitMB int64
}

// defaultGCPercent trades memory for CPU: vigil's live heap is mostly
// entity profiles, which a collection rescans in full, so collecting at
// 4× the live heap rather than Go's 2× measured 23% more records per
// second on the mixed stream (vigil replay --wait on 300k records, 2
// vCPU). --max-live-entities bounds the live heap, --memory-limit-mb the
// total.
const defaultGCPercent = 300

// defaultMemoryLimitMB is vigil run's soft limit on the Go runtime's
// memory. --max-live-entities bounds the live heap (about 3 KB per live
// entity: its actor and profile), and at --gc-percent 300 the heap may
// grow to four times that between collections: at a million entities a
// node's RSS peaked at 3.1 GB without a limit, 2.3 GB with this one, at
// the same throughput (vigil bench --nodes 1 --sources vpcflow --entities
// 1000000 --uniform). Pebble's cache and memtables are outside it.
const defaultMemoryLimitMB = 2048

// memoryFlags registers --gc-percent and --memory-limit-mb, the latter
// with default limitMB (0: none).
func memoryFlags(fs *flag.FlagSet, m *memoryOptions, limitMB int64) {
	fs.IntVar(&m.gcPercent, "gc-percent", defaultGCPercent, "Go garbage-collection target: the heap grows to (1 + N/100) × the live heap before a collection; higher spends memory to save CPU. GOGC in the environment wins when set")
	fs.Int64Var(&m.memoryLimitMB, "memory-limit-mb", limitMB, "soft limit of the process's Go memory in MiB: past it Go collects more often, whatever --gc-percent says (0: none; GOMEMLIMIT in the environment wins when set). Pebble's cache and memtables come on top")
}

// apply sets the runtime's memory settings that the environment does not.
func (m memoryOptions) apply() {
	if _, ok := os.LookupEnv("GOGC"); !ok && m.gcPercent > 0 {
		debug.SetGCPercent(m.gcPercent)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok && m.memoryLimitMB > 0 {
		debug.SetMemoryLimit(m.memoryLimitMB << 20)
	}
}

// keySetter installs a gossip keyring on a running node; a
// *cluster.Membership is one.
type keySetter interface {
	SetKeys(keys [][]byte) error
}

// reloadOnHangup handles SIGHUP: it installs the keys of the gossip key
// file on m, or logs why there is nothing to do. A bad file is logged and
// the keys in use stay.
func (o runOptions) reloadOnHangup(m keySetter) {
	log := o.node.Logger
	switch {
	case o.gossipKeyFile != "":
		if err := reloadGossipKeys(log, o.gossipKeyFile, m); err != nil {
			log.Error("SIGHUP: gossip keys not reloaded; the keys in use stay", "err", err)
			return
		}
		log.Info("SIGHUP: gossip keys reloaded", "file", o.gossipKeyFile)
	case len(o.node.Gossip.Keys) > 0:
		log.Warn("SIGHUP: the gossip keys came from " + envName("gossip-key") + " or --gossip-key, not from a file: nothing to reload; to rotate keys without a restart, use --gossip-key-file")
	default:
		log.Info("SIGHUP: gossip is not encrypted: no keys to reload")
	}
}

// reloadGossipKeys reads the gossip key file at path and installs its
// keys on m. On an error m keeps its keys; the error never quotes a key.
func reloadGossipKeys(log *slog.Logger, path string, m keySetter) error {
	text, err := readSecretFile(log, "gossip-key", "gossip keyring", path)
	if err != nil {
		return err
	}
	keys, err := parseGossipKeys(text, "--gossip-key-file "+path)
	if err != nil {
		return err
	}
	if err := m.SetKeys(keys); err != nil {
		return fmt.Errorf("--gossip-key-file %s: %w", path, err)
	}
	return nil
}

// parseGossipKeys parses the gossip keys, one base64 key per line, the
// first the primary, where the error can say how to make one; it never
// quotes a key. from says where the keys came from.
func parseGossipKeys(text, from string) ([][]byte, error) {
	keys, err := cluster.ParseKeys(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (make a key with: openssl rand -base64 32)", from, err)
	}
	return keys, nil
}

// nodeConfig reads the node's configuration from the command line, VIGIL_*
// variables and the --config file, and reads the secret files; the logger
// it makes writes to stderr.
func nodeConfig(args []string, stderr io.Writer) (node.Config, error) {
	o, err := runConfig(args, stderr)
	return o.node, err
}

// runConfig is nodeConfig, with what vigil run needs besides.
func runConfig(args []string, stderr io.Writer) (runOptions, error) {
	fs := flag.NewFlagSet("vigil run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o              runOptions
		cfg            = &o.node
		brokers        string
		regions        string
		affiliated     string
		seeds          string
		logLevel       string
		shards         int
		rawParts       int
		replicas       int
		cacheMB        int
		memtableMB     int
		maxDecompMB    int64
		insecureGossip bool
		insecureAdmin  bool
	)
	saslPassword := kafkaFlags(fs, &cfg.Kafka, &brokers)
	topicFlags(fs, &cfg.Topics)
	rawRetentionFlag(fs, &cfg.Topics)
	fs.BoolVar(&cfg.Topics.ManageRaw, "manage-raw-topics", cfg.Topics.ManageRaw, "vigil owns the raw topics: it sets --raw-retention on existing ones too and deletes raw records once ingest committed them; false when other consumers read the raw topics")
	fs.StringVar(&cfg.DataDir, "data-dir", "vigil-data", "directory for Pebble and the embedded broker")
	fs.StringVar(&cfg.EmbeddedBrokerAddr, "embedded-broker-addr", "127.0.0.1:9092", "listen address of the embedded broker")
	fs.IntVar(&shards, "shards", 16, "shard count (partitions of vigil.entities); fixed once the topics exist")
	fs.IntVar(&rawParts, "raw-partitions", 4, "partitions of raw topics vigil creates")
	fs.IntVar(&replicas, "replication", 1, "replication factor of topics vigil creates")
	fs.StringVar(&regions, "regions", "", "enabled regions global-service events are broadcast to (comma-separated; default all commercial regions)")
	fs.StringVar(&cfg.GlobalFindings, "global-findings", detect.GlobalFindingsOnce, "where a global-service event's findings are raised: once (in the region it is logged in, listing the regions that learned from it) or per-region (in every enabled region, as GuardDuty does)")
	fs.DurationVar(&cfg.LearningPeriod, "learning-period", detect.DefaultLearningPeriod, "how long after a principal's first event (event time) its baseline only learns and raises no AnomalousBehavior finding")
	fs.DurationVar(&cfg.NetworkLearningPeriod, "network-learning-period", detect.DefaultNetworkLearningPeriod, "how long after a network entity's first record (event time) its baseline only learns and raises no NetworkPortUnusual, TrafficVolumeUnusual, Spambot or UnusualDNSResolver/DoH/DoT finding (at least 24h)")
	fs.StringVar(&cfg.DefaultRegion, "default-region", "us-east-1", "region of records that carry none (VPC flow logs without the region field)")
	fs.StringVar(&cfg.FlowFormat, "vpcflow-format", "", "VPC flow-log format of records without a header line (default: version 2 default format)")
	fs.StringVar(&cfg.IntelDir, "intel-dir", "", "directory of threat-intelligence lists: its crypto, tor/ and malicious/ lists replace the built-in ones of their kind; custom/ holds threat and trusted lists in GuardDuty's formats, named by custom/lists.json (default: built-in lists)")
	fs.StringVar(&cfg.GeoIPDir, "geoip-dir", "", "directory of the GeoIP databases that make data fetches: caller ASN, country, city and location for remoteIpDetails, the baselines and ConsoleLoginSuccess.B; missing ones degrade those (default: data/geoip when it exists)")
	fs.StringVar(&cfg.AWSIPRanges, "aws-ip-ranges", "", "a copy of AWS's ip-ranges.json (make aws-ip-ranges), to tell callers inside AWS from those outside (InstanceCredentialExfiltration); default: data/ip-ranges.json when it exists, else a small bundled subset")
	fs.StringVar(&affiliated, "affiliated-accounts", "", "the organisation's AWS account ids (comma-separated): instance credentials used from one of them are Medium, not High")
	fs.StringVar(&cfg.Inventory, "inventory", "", "EC2 inventory: a file, or a directory of *.json files, of 'aws ec2 describe-instances' and/or 'describe-network-interfaces' output, loaded at start: which addresses belong to which instance, to orient flow records (CloudTrail's RunInstances and the like teach the same while running)")
	fs.StringVar(&cfg.LeakedKeys, "leaked-keys", "", "file of access key ids known to be leaked, one a line with an optional '# note' (CompromisedCredentials)")
	fs.DurationVar(&cfg.IntelReloadInterval, "intel-reload-interval", 30*time.Second, "how often --intel-dir is checked for changed files, which are reloaded without a restart (a malformed list is refused and the old lists stay); negative: never, POST /api/v1/intel/reload only")
	fs.StringVar(&cfg.RulesDir, "rules-dir", "", "directory of custom detection rule files, *.yaml or *.json (default: the starter rules only)")
	fs.BoolVar(&cfg.NoStarterRules, "no-starter-rules", false, "leave the built-in starter detection rules out")
	fs.StringVar(&cfg.Admin.Addr, "admin-addr", "127.0.0.1:8080", "admin endpoint listen address; beyond loopback it needs a token or --insecure-admin")
	adminToken := addSecretFlag(fs, "admin-token", "bearer token required by the admin API")
	fs.StringVar(&cfg.Admin.TLSCert, "admin-tls-cert", "", "PEM certificate: serve the admin endpoint over HTTPS")
	fs.StringVar(&cfg.Admin.TLSKey, "admin-tls-key", "", "PEM key for --admin-tls-cert")
	fs.StringVar(&cfg.Admin.TLSCA, "admin-tls-ca", "", "PEM CAs that sign the other nodes' admin certificates, to verify them when a query is forwarded (default: the system pool)")
	fs.BoolVar(&insecureAdmin, "insecure-admin", false, "serve the admin endpoint beyond loopback without a token: anyone who reaches it reads findings and profiles (default false)")
	fs.StringVar(&cfg.Gossip.BindAddr, "gossip-addr", "127.0.0.1:7946", "gossip (memberlist) listen address, an IP or localhost; beyond loopback it needs a key or --insecure-gossip")
	fs.StringVar(&seeds, "join", "", "gossip addresses of nodes to join, comma-separated")
	fs.StringVar(&cfg.Gossip.Name, "node-name", "", "unique node name (default: the host name and the data directory's node id)")
	gossipKey := addSecretFlag(fs, "gossip-key", "gossip keyring")
	fs.Lookup("gossip-key").Usage = "gossip encryption keys: base64 keys of 16, 24 or 32 bytes, one per line; the first encrypts, every one decrypts (default none; other users can read command lines: prefer --gossip-key-file or " + envName("gossip-key") + ")"
	fs.Lookup("gossip-key-file").Usage = "file holding the gossip encryption keys: base64 keys of 16, 24 or 32 bytes, one per line (blank lines and # comments ignored); the first encrypts, every one decrypts. " +
		"A file that cannot be read stops start-up. Re-read on SIGHUP, keeping the keys in use if it is bad: to rotate, add the new key as the second line, then move it first, then remove the old one, with a SIGHUP to every node after each step (default none)"
	fs.StringVar(&cfg.AdvertiseAddr, "advertise-addr", "", "host (an IP or a name) other nodes reach this one at, when not the listen addresses (NAT, containers); advertised with the gossip and admin ports actually bound (default: the listen addresses)")
	fs.BoolVar(&insecureGossip, "insecure-gossip", false, "gossip in plain text beyond loopback: anyone who reaches the port can join and claim shards (default false)")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", 500*time.Millisecond, "how often a shard flushes: writes changed profiles, publishes their findings and commits")
	fs.DurationVar(&cfg.WriteBehind, "write-behind", 2*time.Second, "how long a profile's changes may wait for a later flush unless they raised a finding (0: every flush writes every change)")
	fs.DurationVar(&cfg.FlushRetryTimeout, "flush-retry-timeout", 2*time.Minute, "how long a shard retries a failed flush before it stops (the node runs on and reports it)")
	fs.DurationVar(&cfg.TrimInterval, "trim-interval", 10*time.Second, "how often consumed raw records (with --manage-raw-topics) and applied internal records are deleted from Kafka")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 2*time.Minute, "idle time after which an entity actor is passivated")
	fs.IntVar(&cfg.MaxLiveEntities, "max-live-entities", 100_000, "entity actors kept running; past it the least recently used are passivated (they come back from Pebble): bounds memory whatever the number of entities")
	fs.IntVar(&cfg.MaxPollRecords, "max-poll-records", 20_000, "raw records one ingest transaction takes at most: more spreads a transaction's fixed costs, fewer ends transactions sooner")
	fs.IntVar(&cfg.MaxInFlight, "max-inflight-batches", 64, "polled batches handed to shards and not yet applied, before the consumer waits")
	fs.IntVar(&cfg.DeadLetterExcerpt, "dead-letter-excerpt", 64, "bytes of a bad raw record its dead letter quotes; 0 quotes none")
	fs.Int64Var(&maxDecompMB, "max-decompressed-mb", 64, "MiB one gzip-compressed raw record may expand to; a larger one is dead-lettered")
	fs.IntVar(&cfg.MaxEventBytes, "max-event-bytes", 64<<10, "bytes of one decoded event; a larger one is dead-lettered")
	fs.IntVar(&cacheMB, "pebble-cache-mb", 128, "Pebble block cache in MiB (memtables are reserved from it)")
	fs.IntVar(&memtableMB, "pebble-memtable-mb", 32, "Pebble memtable size in MiB")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	memoryFlags(fs, &o.memory, defaultMemoryLimitMB)
	if err := parse(fs, args); err != nil {
		return o, err
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return o, err
	}
	cfg.Logger = log

	// Every secret is resolved, and so every warning about one given on
	// the command line logged, before any error returns.
	cmdline := commandLineFlags(fs, args)
	var errs []error
	secret := func(s *secretFlag) string {
		v, err := s.get(log, cmdline)
		errs = append(errs, err)
		return v
	}
	cfg.Kafka.SASLPassword = secret(saslPassword)
	cfg.Admin.Token = secret(adminToken)
	gossipKeys := secret(gossipKey)
	if err := errors.Join(errs...); err != nil {
		return o, err
	}
	// The keyring goes to cfg.Gossip.Keys; cfg.GossipKey, which node.Start
	// would decode as one key, stays empty.
	if gossipKeys != "" {
		from := "gossip key (--gossip-key or " + envName("gossip-key") + ")"
		if gossipKey.file != "" {
			from, o.gossipKeyFile = "--gossip-key-file "+gossipKey.file, gossipKey.file
		}
		if cfg.Gossip.Keys, err = parseGossipKeys(gossipKeys, from); err != nil {
			return o, err
		}
	}

	switch {
	case cfg.FlushRetryTimeout <= 0:
		return o, fmt.Errorf("--flush-retry-timeout %s: want a positive duration", cfg.FlushRetryTimeout)
	case cfg.DeadLetterExcerpt < 0:
		return o, fmt.Errorf("--dead-letter-excerpt %d: want 0 or more bytes", cfg.DeadLetterExcerpt)
	case maxDecompMB <= 0 || maxDecompMB > 1<<20:
		return o, fmt.Errorf("--max-decompressed-mb %d: want 1 to 1048576", maxDecompMB)
	case o.memory.gcPercent <= 0 || o.memory.memoryLimitMB < 0:
		return o, fmt.Errorf("--gc-percent %d, --memory-limit-mb %d: want a positive percentage and a limit of 0 (none) or more", o.memory.gcPercent, o.memory.memoryLimitMB)
	case cfg.WriteBehind < 0:
		return o, fmt.Errorf("--write-behind %s: want 0 or a positive duration", cfg.WriteBehind)
	case cfg.MaxPollRecords <= 0:
		return o, fmt.Errorf("--max-poll-records %d: want a positive number", cfg.MaxPollRecords)
	case cfg.MaxEventBytes <= 0:
		return o, fmt.Errorf("--max-event-bytes %d: want a positive number", cfg.MaxEventBytes)
	case cfg.Kafka.SessionTimeout <= 0:
		return o, fmt.Errorf("--kafka-session-timeout %s: want a positive duration", cfg.Kafka.SessionTimeout)
	case cfg.Kafka.HeartbeatInterval <= 0 || cfg.Kafka.HeartbeatInterval >= cfg.Kafka.SessionTimeout:
		return o, fmt.Errorf("--kafka-heartbeat-interval %s: want a positive duration below --kafka-session-timeout (%s)", cfg.Kafka.HeartbeatInterval, cfg.Kafka.SessionTimeout)
	}
	if err := checkRawRetention(cfg.Topics.RawRetention); err != nil {
		return o, err
	}
	if cfg.WriteBehind == 0 {
		cfg.WriteBehind = -1 // none; node's zero is its default
	}
	cfg.MaxDecompressed = maxDecompMB << 20
	cfg.Storage.CacheSize, cfg.Storage.MemTableSize = int64(cacheMB)<<20, uint64(memtableMB)<<20
	cfg.Kafka.Brokers = splitList(brokers)
	cfg.Gossip.Seeds = splitList(seeds)
	cfg.AffiliatedAccounts = splitList(affiliated)
	cfg.Gossip.Insecure, cfg.Admin.Insecure = insecureGossip, insecureAdmin
	cfg.Gossip.AdvertiseAddr = cfg.AdvertiseAddr
	cfg.Topics.Shards, cfg.Topics.RawPartitions, cfg.Topics.Replication = int32(shards), int32(rawParts), int16(replicas)
	if cfg.GlobalFindings, err = detect.ParseGlobalFindings(cfg.GlobalFindings); err != nil {
		return o, err
	}
	if cfg.Regions, err = sources.ParseRegions(regions); err != nil {
		return o, err
	}
	// Refuse an open admin endpoint or open gossip before anything starts
	// (the embedded broker, Pebble), not only when the node reaches them.
	if err := cfg.Admin.Validate(); err != nil {
		return o, err
	}
	if err := cfg.Gossip.Validate(); err != nil {
		return o, err
	}
	return o, nil
}

func runBroker(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("vigil broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var addr, dir, logLevel string
	var topics kafka.Topics
	var shards, rawParts int
	fs.StringVar(&addr, "addr", "127.0.0.1:9092", "listen address")
	fs.StringVar(&dir, "data-dir", "vigil-broker", "directory the broker persists to")
	fs.IntVar(&shards, "shards", 16, "shard count of the topics created")
	fs.IntVar(&rawParts, "raw-partitions", 4, "partitions of raw topics created")
	topicFlags(fs, &topics)
	rawRetentionFlag(fs, &topics)
	fs.StringVar(&logLevel, "log-level", "info", "log level")
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	if err := checkRawRetention(topics.RawRetention); err != nil {
		return err
	}
	b, err := kafka.StartBroker(addr, dir)
	if err != nil {
		return err
	}
	defer b.Close()
	topics.Shards, topics.RawPartitions = int32(shards), int32(rawParts)
	if err := ensureTopics(ctx, kafka.Config{Brokers: b.Addrs()}, topics); err != nil {
		return err
	}
	log.Info("embedded Kafka broker listening", "addr", b.Addrs()[0], "data", dir)
	<-ctx.Done()
	return nil
}
