package main

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/node"
	"github.com/vigil-sec/vigil/sources"
)

// kafkaFlags registers the flags that reach Kafka, shared by run and
// replay.
func kafkaFlags(fs *flag.FlagSet, c *kafka.Config, brokers *string) {
	fs.StringVar(brokers, "brokers", "", "Kafka brokers, host:port,... (run: empty starts the embedded broker)")
	fs.BoolVar(&c.TLS, "kafka-tls", false, "use TLS to the brokers")
	fs.StringVar(&c.TLSCA, "kafka-tls-ca", "", "PEM CA file to verify the brokers")
	fs.StringVar(&c.TLSCert, "kafka-tls-cert", "", "PEM client certificate (mutual TLS)")
	fs.StringVar(&c.TLSKey, "kafka-tls-key", "", "PEM client key (mutual TLS)")
	fs.StringVar(&c.TLSServerName, "kafka-tls-server-name", "", "server name to verify in the broker certificate")
	fs.StringVar(&c.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&c.SASLUser, "kafka-sasl-user", "", "SASL user")
	fs.StringVar(&c.SASLPassword, "kafka-sasl-password", "", "SASL password (prefer VIGIL_KAFKA_SASL_PASSWORD)")
	fs.DurationVar(&c.SessionTimeout, "kafka-session-timeout", 45*time.Second, "consumer-group session timeout: how long a node that died keeps its shards")
}

// topicFlags registers the topic names.
func topicFlags(fs *flag.FlagSet, t *kafka.Topics) {
	*t = kafka.DefaultTopics()
	fs.StringVar(&t.CloudTrail, "topic-cloudtrail", t.CloudTrail, "raw CloudTrail topic")
	fs.StringVar(&t.VPCFlow, "topic-vpcflow", t.VPCFlow, "raw VPC flow-log topic")
	fs.StringVar(&t.DNS, "topic-dns", t.DNS, "raw Route 53 Resolver query-log topic")
}

func runNode(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("vigil run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg        node.Config
		brokers    string
		regions    string
		seeds      string
		logLevel   string
		shards     int
		rawParts   int
		replicas   int
		cacheMB    int
		memtableMB int
	)
	kafkaFlags(fs, &cfg.Kafka, &brokers)
	topicFlags(fs, &cfg.Topics)
	fs.StringVar(&cfg.DataDir, "data-dir", "vigil-data", "directory for Pebble and the embedded broker")
	fs.StringVar(&cfg.EmbeddedBrokerAddr, "embedded-broker-addr", "127.0.0.1:9092", "listen address of the embedded broker")
	fs.IntVar(&shards, "shards", 16, "shard count (partitions of vigil.entities); fixed once the topics exist")
	fs.IntVar(&rawParts, "raw-partitions", 4, "partitions of raw topics vigil creates")
	fs.IntVar(&replicas, "replication", 1, "replication factor of topics vigil creates")
	fs.StringVar(&regions, "regions", "", "enabled regions global-service events are broadcast to (comma-separated; default all commercial regions)")
	fs.StringVar(&cfg.DefaultRegion, "default-region", "us-east-1", "region of records that carry none (VPC flow logs without the region field)")
	fs.StringVar(&cfg.FlowFormat, "vpcflow-format", "", "VPC flow-log format of records without a header line (default: version 2 default format)")
	fs.StringVar(&cfg.IntelDir, "intel-dir", "", "directory of threat-intelligence lists (default: built-in lists)")
	fs.StringVar(&cfg.Admin.Addr, "admin-addr", "127.0.0.1:8080", "admin endpoint listen address")
	fs.StringVar(&cfg.Admin.Token, "admin-token", "", "bearer token required by the admin API (prefer VIGIL_ADMIN_TOKEN)")
	fs.StringVar(&cfg.Admin.TLSCert, "admin-tls-cert", "", "PEM certificate: serve the admin endpoint over HTTPS")
	fs.StringVar(&cfg.Admin.TLSKey, "admin-tls-key", "", "PEM key for --admin-tls-cert")
	fs.StringVar(&cfg.Gossip.BindAddr, "gossip-addr", "127.0.0.1:7946", "gossip (memberlist) listen address")
	fs.StringVar(&seeds, "join", "", "gossip addresses of nodes to join, comma-separated")
	fs.StringVar(&cfg.Gossip.Name, "node-name", "", "unique node name (default: host name)")
	fs.StringVar(&cfg.GossipKey, "gossip-key", "", "base64 gossip encryption key, 16/24/32 bytes (prefer VIGIL_GOSSIP_KEY)")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", 500*time.Millisecond, "how often a shard writes changed profiles")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 2*time.Minute, "idle time after which an entity actor is passivated")
	fs.IntVar(&cfg.MaxInFlight, "max-inflight-batches", 64, "polled batches handed to shards and not yet applied, before the consumer waits")
	fs.IntVar(&cacheMB, "pebble-cache-mb", 128, "Pebble block cache in MiB (memtables are reserved from it)")
	fs.IntVar(&memtableMB, "pebble-memtable-mb", 32, "Pebble memtable size in MiB")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.Storage.CacheSize, cfg.Storage.MemTableSize = int64(cacheMB)<<20, uint64(memtableMB)<<20
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	cfg.Logger = log
	cfg.Kafka.Brokers = splitList(brokers)
	cfg.Gossip.Seeds = splitList(seeds)
	cfg.Topics.Shards, cfg.Topics.RawPartitions, cfg.Topics.Replication = int32(shards), int32(rawParts), int16(replicas)
	if cfg.Regions, err = sources.ParseRegions(regions); err != nil {
		return err
	}
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case err := <-n.Err():
		return err
	}
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
	fs.StringVar(&logLevel, "log-level", "info", "log level")
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
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
