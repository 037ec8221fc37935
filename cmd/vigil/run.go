package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

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
	fs.StringVar(&c.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&c.SASLUser, "kafka-sasl-user", "", "SASL user")
	password := addSecretFlag(fs, "kafka-sasl-password", "SASL password")
	fs.DurationVar(&c.SessionTimeout, "kafka-session-timeout", 45*time.Second, "consumer-group session timeout: how long a node that died keeps its shards")
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
	cfg, err := nodeConfig(args, stderr)
	if err != nil {
		return err
	}
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	select {
	case <-ctx.Done():
		cfg.Logger.Info("shutting down")
		return nil
	case err := <-n.Err():
		return err
	}
}

// nodeConfig reads the node's configuration from the command line, VIGIL_*
// variables and the --config file, and reads the secret files; the logger
// it makes writes to stderr.
func nodeConfig(args []string, stderr io.Writer) (node.Config, error) {
	fs := flag.NewFlagSet("vigil run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg            node.Config
		brokers        string
		regions        string
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
	fs.StringVar(&cfg.DefaultRegion, "default-region", "us-east-1", "region of records that carry none (VPC flow logs without the region field)")
	fs.StringVar(&cfg.FlowFormat, "vpcflow-format", "", "VPC flow-log format of records without a header line (default: version 2 default format)")
	fs.StringVar(&cfg.IntelDir, "intel-dir", "", "directory of threat-intelligence lists (default: built-in lists)")
	fs.StringVar(&cfg.Admin.Addr, "admin-addr", "127.0.0.1:8080", "admin endpoint listen address; beyond loopback it needs a token or --insecure-admin")
	adminToken := addSecretFlag(fs, "admin-token", "bearer token required by the admin API")
	fs.StringVar(&cfg.Admin.TLSCert, "admin-tls-cert", "", "PEM certificate: serve the admin endpoint over HTTPS")
	fs.StringVar(&cfg.Admin.TLSKey, "admin-tls-key", "", "PEM key for --admin-tls-cert")
	fs.BoolVar(&insecureAdmin, "insecure-admin", false, "serve the admin endpoint beyond loopback without a token: anyone who reaches it reads findings and profiles (default false)")
	fs.StringVar(&cfg.Gossip.BindAddr, "gossip-addr", "127.0.0.1:7946", "gossip (memberlist) listen address, an IP or localhost; beyond loopback it needs a key or --insecure-gossip")
	fs.StringVar(&seeds, "join", "", "gossip addresses of nodes to join, comma-separated")
	fs.StringVar(&cfg.Gossip.Name, "node-name", "", "unique node name (default: the host name and the data directory's node id)")
	gossipKey := addSecretFlag(fs, "gossip-key", "base64 gossip encryption key of 16, 24 or 32 bytes")
	fs.BoolVar(&insecureGossip, "insecure-gossip", false, "gossip in plain text beyond loopback: anyone who reaches the port can join and claim shards (default false)")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", 500*time.Millisecond, "how often a shard writes changed profiles")
	fs.DurationVar(&cfg.FlushRetryTimeout, "flush-retry-timeout", 2*time.Minute, "how long a shard retries a failed flush before it stops (the node runs on and reports it)")
	fs.DurationVar(&cfg.TrimInterval, "trim-interval", 10*time.Second, "how often consumed raw records (with --manage-raw-topics) and applied internal records are deleted from Kafka")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 2*time.Minute, "idle time after which an entity actor is passivated")
	fs.IntVar(&cfg.MaxInFlight, "max-inflight-batches", 64, "polled batches handed to shards and not yet applied, before the consumer waits")
	fs.IntVar(&cfg.DeadLetterExcerpt, "dead-letter-excerpt", 64, "bytes of a bad raw record its dead letter quotes; 0 quotes none")
	fs.Int64Var(&maxDecompMB, "max-decompressed-mb", 64, "MiB one gzip-compressed raw record may expand to; a larger one is dead-lettered")
	fs.IntVar(&cfg.MaxEventBytes, "max-event-bytes", 64<<10, "bytes of one decoded event; a larger one is dead-lettered")
	fs.IntVar(&cacheMB, "pebble-cache-mb", 128, "Pebble block cache in MiB (memtables are reserved from it)")
	fs.IntVar(&memtableMB, "pebble-memtable-mb", 32, "Pebble memtable size in MiB")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return cfg, err
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return cfg, err
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
	cfg.GossipKey = secret(gossipKey)
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	if cfg.Gossip.SecretKey, err = decodeGossipKey(cfg.GossipKey); err != nil {
		return cfg, err
	}

	switch {
	case cfg.FlushRetryTimeout <= 0:
		return cfg, fmt.Errorf("--flush-retry-timeout %s: want a positive duration", cfg.FlushRetryTimeout)
	case cfg.DeadLetterExcerpt < 0:
		return cfg, fmt.Errorf("--dead-letter-excerpt %d: want 0 or more bytes", cfg.DeadLetterExcerpt)
	case maxDecompMB <= 0 || maxDecompMB > 1<<20:
		return cfg, fmt.Errorf("--max-decompressed-mb %d: want 1 to 1048576", maxDecompMB)
	case cfg.MaxEventBytes <= 0:
		return cfg, fmt.Errorf("--max-event-bytes %d: want a positive number", cfg.MaxEventBytes)
	}
	if err := checkRawRetention(cfg.Topics.RawRetention); err != nil {
		return cfg, err
	}
	cfg.MaxDecompressed = maxDecompMB << 20
	cfg.Storage.CacheSize, cfg.Storage.MemTableSize = int64(cacheMB)<<20, uint64(memtableMB)<<20
	cfg.Kafka.Brokers = splitList(brokers)
	cfg.Gossip.Seeds = splitList(seeds)
	cfg.Gossip.Insecure, cfg.Admin.Insecure = insecureGossip, insecureAdmin
	cfg.Topics.Shards, cfg.Topics.RawPartitions, cfg.Topics.Replication = int32(shards), int32(rawParts), int16(replicas)
	if cfg.Regions, err = sources.ParseRegions(regions); err != nil {
		return cfg, err
	}
	// Refuse an open admin endpoint or open gossip before anything starts
	// (the embedded broker, Pebble), not only when the node reaches them.
	if err := cfg.Admin.Validate(); err != nil {
		return cfg, err
	}
	if err := cfg.Gossip.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// decodeGossipKey decodes and checks the gossip key here, where the error
// can say how to make one; it never quotes the key.
func decodeGossipKey(key string) ([]byte, error) {
	if key == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, errors.New("gossip key: not valid base64 (make one with: openssl rand -base64 32)")
	}
	if n := len(b); n != 16 && n != 24 && n != 32 {
		return nil, fmt.Errorf("gossip key: %d bytes, want 16, 24 or 32 (make one with: openssl rand -base64 32)", n)
	}
	return b, nil
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
