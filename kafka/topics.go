package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

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
	// DeadLetterTopic carries references to raw records that failed to
	// decode, keyed by the raw record's "topic/partition/offset".
	DeadLetterTopic = "vigil.deadletter"
)

// Retention of vigil's internal topics, set when Ensure creates them and
// restored by Ensure on topics that exist.
const (
	// EntitiesRetention is retention.ms of EntitiesTopic. The node deletes
	// entity records below the shards group's committed offsets
	// (TrimCommitted), so retention is only the backstop; but a record no
	// shard applied within it is lost, so it also bounds how long every
	// node of the cluster may be down at once.
	EntitiesRetention = 24 * time.Hour
	// DeadLetterRetention is retention.ms of DeadLetterTopic, which is
	// also compacted: a dead letter re-sent after a crash has the same key
	// as the first and replaces it.
	DeadLetterRetention = 7 * 24 * time.Hour
)

// entitiesSegment is segment.ms of EntitiesTopic: trimming applied
// records deletes whole segments, so they roll often.
const entitiesSegment = 10 * time.Minute

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
	// RawRetention is retention.ms of the raw topics vigil creates and,
	// with ManageRaw, of raw topics that exist: raw logs are discarded
	// soon after their fields are extracted. Kafka measures it from the
	// records' timestamps. A raw record not consumed within it is lost, so
	// it also bounds how long ingest may be down or behind. Zero leaves the
	// broker's default (7 days). Default 1h.
	RawRetention time.Duration
	// ManageRaw says vigil owns the raw topics: Ensure also sets
	// RawRetention on raw topics that exist already, and the node deletes
	// raw records below the ingest group's committed offsets
	// (TrimCommitted). Set it to false when other consumers read the raw
	// topics. Default true.
	ManageRaw bool
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
		RawRetention:  time.Hour,
		ManageRaw:     true,
	}
}

// Raw returns the raw input topics.
func (t Topics) Raw() []string { return []string{t.CloudTrail, t.VPCFlow, t.DNS} }

// topicSpec is a topic Ensure creates.
type topicSpec struct {
	name    string
	parts   int32
	configs map[string]string
	// owned: Ensure restores configs on the topic when it exists already.
	owned bool
	raw   bool
}

func (t Topics) specs() []topicSpec {
	raw := map[string]string{}
	if t.RawRetention > 0 {
		raw["retention.ms"] = millis(t.RawRetention)
		// Records are deleted a segment at a time: a segment rolled a
		// quarter of the retention lets old records go on time.
		raw["segment.ms"] = millis(max(t.RawRetention/4, time.Minute))
	}
	compact := map[string]string{"cleanup.policy": "compact"}
	return []topicSpec{
		{t.CloudTrail, t.RawPartitions, raw, t.ManageRaw, true},
		{t.VPCFlow, t.RawPartitions, raw, t.ManageRaw, true},
		{t.DNS, t.RawPartitions, raw, t.ManageRaw, true},
		{EntitiesTopic, t.Shards, map[string]string{"retention.ms": millis(EntitiesRetention), "segment.ms": millis(entitiesSegment)}, true, false},
		{ProfilesTopic, t.Shards, compact, true, false},
		{FindingsTopic, t.RawPartitions, compact, true, false},
		{DeadLetterTopic, 1, map[string]string{"cleanup.policy": "compact,delete", "retention.ms": millis(DeadLetterRetention)}, true, false},
	}
}

func millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// Ensure creates every topic vigil needs that does not exist yet, restores
// the configs vigil sets on topics that exist (its own topics always, the
// raw ones with ManageRaw), and checks that the shard topics have the
// configured partition count.
func Ensure(ctx context.Context, cl *kgo.Client, t Topics) error {
	adm := kadm.NewClient(cl)
	var existing []topicSpec
	for _, s := range t.specs() {
		configs := make(map[string]*string, len(s.configs))
		for k, v := range s.configs {
			configs[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctx, s.parts, t.Replication, configs, s.name)
		if err == nil {
			err = resp.Err
		}
		switch {
		case errors.Is(err, kerr.TopicAlreadyExists):
			if s.owned && len(s.configs) > 0 {
				existing = append(existing, s)
			}
		case err != nil:
			return fmt.Errorf("kafka: creating topic %s: %w", s.name, err)
		}
	}
	if err := alterConfigs(ctx, adm, existing); err != nil {
		return err
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

// alterConfigs sets the configs of topics that differ from their spec,
// with IncrementalAlterConfigs, so that other configs stay as they are
// and a topic already right needs no AlterConfigs permission.
func alterConfigs(ctx context.Context, adm *kadm.Client, specs []topicSpec) error {
	if len(specs) == 0 {
		return nil
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	described, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return fmt.Errorf("kafka: describing configs of %s: %w", strings.Join(names, ", "), err)
	}
	for _, s := range specs {
		rc, err := described.On(s.name, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return fmt.Errorf("kafka: describing configs of %s: %w", s.name, err)
		}
		var alter []kadm.AlterConfig
		for _, k := range sortedKeys(s.configs) {
			if want := s.configs[k]; !sameConfig(k, configValue(rc, k), want) {
				alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(want)})
			}
		}
		if len(alter) == 0 {
			continue
		}
		resps, err := adm.AlterTopicConfigs(ctx, alter, s.name)
		if err == nil {
			for _, r := range resps {
				if r.Err != nil {
					err = fmt.Errorf("%w: %s", r.Err, r.ErrMessage)
				}
			}
		}
		if err != nil && s.raw {
			return fmt.Errorf("kafka: setting %s on raw topic %s (vigil manages the raw topics unless told not to, with --manage-raw-topics=false): %w", describe(alter), s.name, err)
		}
		if err != nil {
			return fmt.Errorf("kafka: setting %s on topic %s: %w", describe(alter), s.name, err)
		}
	}
	return nil
}

func configValue(rc kadm.ResourceConfig, key string) string {
	for _, c := range rc.Configs {
		if c.Key == key && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

// sameConfig compares config values; list values (cleanup.policy) as sets.
func sameConfig(key, got, want string) bool {
	if key != "cleanup.policy" {
		return got == want
	}
	split := func(s string) []string {
		var out []string
		for _, v := range strings.Split(s, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(split(got), split(want))
}

func describe(alter []kadm.AlterConfig) string {
	parts := make([]string, len(alter))
	for i, a := range alter {
		parts[i] = a.Name + "=" + *a.Value
	}
	return strings.Join(parts, " ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TrimCommitted deletes the records of topics below group's committed
// offsets: records the group has consumed and no longer needs. Partitions
// without a commit, and those whose commit is beyond the log end (a topic
// recreated since), are left alone. It returns how many records were
// deleted, counted from the log start offsets before and after.
//
// Only call it for a group that is the topics' sole consumer: other
// consumers lose what they have not read yet.
func TrimCommitted(ctx context.Context, adm *kadm.Client, group string, topics ...string) (int64, error) {
	if len(topics) == 0 {
		return 0, nil
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, group, topics...)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0, nil // nothing consumed yet
	}
	if err != nil {
		return 0, fmt.Errorf("kafka: trimming %s: fetching offsets of group %s: %w", strings.Join(topics, ", "), group, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("kafka: trimming %s: listing start offsets: %w", strings.Join(topics, ", "), err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("kafka: trimming %s: listing end offsets: %w", strings.Join(topics, ", "), err)
	}
	del := make(kadm.Offsets)
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || o.At < 0 {
			return
		}
		start, ok := starts.Lookup(o.Topic, o.Partition)
		if !ok || start.Err != nil || o.At <= start.Offset {
			return
		}
		end, ok := ends.Lookup(o.Topic, o.Partition)
		if !ok || end.Err != nil || o.At > end.Offset {
			return
		}
		del.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.At, LeaderEpoch: -1})
	})
	if len(del) == 0 {
		return 0, nil
	}
	resps, err := adm.DeleteRecords(ctx, del)
	var errs []error
	if err != nil {
		errs = append(errs, err) // some brokers failed; count what the others deleted
	}
	var deleted int64
	for _, ps := range resps {
		for _, r := range ps {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("%s/%d: %w", r.Topic, r.Partition, r.Err))
				continue
			}
			if start, ok := starts.Lookup(r.Topic, r.Partition); ok && r.LowWatermark > start.Offset {
				deleted += r.LowWatermark - start.Offset
			}
		}
	}
	if len(errs) > 0 {
		return deleted, fmt.Errorf("kafka: deleting records of group %s below its commits: %w", group, errors.Join(errs...))
	}
	return deleted, nil
}
