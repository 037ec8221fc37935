package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Names of the topics vigil owns. The raw input topics are configurable and
// live in Topics.
const (
	// EntitiesTopic carries decoded events keyed by entity; partition = shard.
	EntitiesTopic = "vigil.entities"
	// ProfilesTopic is the compacted changelog of shard state; partition = shard.
	ProfilesTopic = "vigil.profiles"
	// FindingsTopic carries GuardDuty finding JSON keyed by finding id.
	FindingsTopic = "vigil.findings"
	// DeadLetterTopic carries references to raw records that failed to decode.
	DeadLetterTopic = "vigil.deadletter"
)

// Consumer groups.
const (
	IngestGroup = "vigil-ingest"
	ShardsGroup = "vigil-shards"
)

// Topics names the raw input topics and sizes the internal ones.
type Topics struct {
	// CloudTrail, VPCFlow and DNS are the raw input topics. Defaults
	// vigil.raw.cloudtrail, vigil.raw.vpcflow, vigil.raw.dns.
	CloudTrail, VPCFlow, DNS string
	// RawPartitions is the partition count used when vigil creates a raw
	// topic. Default 4.
	RawPartitions int32
	// Shards is the partition count of the entities and profiles topics:
	// the number of shards. It cannot change once the topics exist.
	// Default 16.
	Shards int32
	// Replication is the replication factor of created topics. Default 1;
	// use 3 on a real cluster.
	Replication int16
}

// DefaultTopics returns the default topic layout.
func DefaultTopics() Topics {
	return Topics{
		CloudTrail:    "vigil.raw.cloudtrail",
		VPCFlow:       "vigil.raw.vpcflow",
		DNS:           "vigil.raw.dns",
		RawPartitions: 4,
		Shards:        16,
		Replication:   1,
	}
}

// Raw returns the raw input topics.
func (t Topics) Raw() []string { return []string{t.CloudTrail, t.VPCFlow, t.DNS} }

// Ensure creates every topic vigil needs that does not exist yet, and
// checks that the shard topics have the configured partition count.
func Ensure(ctx context.Context, cl *kgo.Client, t Topics) error {
	adm := kadm.NewClient(cl)
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	specs := []struct {
		name    string
		parts   int32
		configs map[string]*string
	}{
		{t.CloudTrail, t.RawPartitions, nil},
		{t.VPCFlow, t.RawPartitions, nil},
		{t.DNS, t.RawPartitions, nil},
		{EntitiesTopic, t.Shards, nil},
		{ProfilesTopic, t.Shards, compact},
		{FindingsTopic, t.RawPartitions, compact},
		{DeadLetterTopic, 1, nil},
	}
	for _, s := range specs {
		resp, err := adm.CreateTopic(ctx, s.parts, t.Replication, s.configs, s.name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: creating topic %s: %w", s.name, err)
		}
		if resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: creating topic %s: %w", s.name, resp.Err)
		}
	}
	details, err := adm.ListTopics(ctx, EntitiesTopic, ProfilesTopic)
	if err != nil {
		return fmt.Errorf("kafka: listing topics: %w", err)
	}
	for _, name := range []string{EntitiesTopic, ProfilesTopic} {
		d, ok := details[name]
		if !ok || d.Err != nil {
			return fmt.Errorf("kafka: topic %s missing after create", name)
		}
		if n := int32(len(d.Partitions)); n != t.Shards {
			return fmt.Errorf("kafka: topic %s has %d partitions, configured shards %d (the shard count cannot change)", name, n, t.Shards)
		}
	}
	return nil
}
