package kafka

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is the embedded single-node Kafka broker (franz-go's kfake) that
// `vigil run` starts when no brokers are configured. It speaks the real
// Kafka protocol, so kcat and any Kafka client can use it; it persists to a
// directory and reloads on restart. It is a development and single-node
// broker: one process, no replication.
type Broker struct {
	c *kfake.Cluster
}

// StartBroker starts the embedded broker listening on addr (host:port; the
// host must be a loopback address, which is all kfake binds) and persisting
// under dir.
func StartBroker(addr, dir string) (*Broker, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("kafka: broker address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("kafka: broker port %q: %w", portStr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("kafka: the embedded broker listens on loopback only, not %q", host)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kafka: broker data dir: %w", err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DataDir(dir),
		kfake.ClusterID("vigil-embedded"),
		kfake.DefaultNumPartitions(4),
		kfake.AllowAutoTopicCreation(),
		// Apply retention and compaction every minute (the broker's
		// default is hourly): raw logs must not outlive their retention.
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "60000"}),
	}
	if port != 0 { // port 0: kfake picks a free port (tests)
		opts = append(opts, kfake.Ports(port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: starting embedded broker on %s: %w", addr, err)
	}
	return &Broker{c: c}, nil
}

// Addrs returns the addresses the broker listens on.
func (b *Broker) Addrs() []string { return b.c.ListenAddrs() }

// Close stops the broker and syncs its data to disk.
func (b *Broker) Close() { b.c.Close() }
