package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ResetRewound finds the partitions of topics whose offset committed by
// group lies beyond the partition's end, commits the partition's start
// offset for them instead, and returns them by topic.
//
// A committed offset beyond the end means the partition went back: the
// embedded broker reloads a partition whose records were all deleted at
// offset 0 after a crash. Left alone, a consumer would start at the old
// offset and skip the new records below it, or fail over to wherever its
// reset policy points; starting at the log start applies all of them. The
// group must have no active member (run this before the node's consumers
// join).
func ResetRewound(ctx context.Context, adm *kadm.Client, group string, topics ...string) (map[string][]int32, error) {
	committed, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil, nil // nothing committed yet (the embedded broker says so for a new group)
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: offsets of group %s: %w", group, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("kafka: end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("kafka: start offsets: %w", err)
	}
	reset := make(kadm.Offsets)
	out := make(map[string][]int32)
	ends.Each(func(end kadm.ListedOffset) {
		c, ok := committed.Lookup(end.Topic, end.Partition)
		if end.Err != nil || !ok || c.Err != nil || c.At <= end.Offset {
			return
		}
		start, ok := starts.Lookup(end.Topic, end.Partition)
		if !ok || start.Err != nil {
			return
		}
		reset.Add(kadm.Offset{Topic: end.Topic, Partition: end.Partition, At: start.Offset, LeaderEpoch: -1})
		out[end.Topic] = append(out[end.Topic], end.Partition)
	})
	if len(out) == 0 {
		return nil, nil
	}
	resp, err := adm.CommitOffsets(ctx, group, reset)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: resetting the offsets of group %s: %w", group, err)
	}
	return out, nil
}

// MaxMessageBytes returns the largest record batch the broker accepts on
// topic (max.message.bytes).
func MaxMessageBytes(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("kafka: describing %s: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return 0, fmt.Errorf("kafka: describing %s: %w", topic, err)
	}
	if rc.Err != nil {
		return 0, fmt.Errorf("kafka: describing %s: %w", topic, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == "max.message.bytes" && c.Value != nil {
			n, err := strconv.ParseInt(*c.Value, 10, 32)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("kafka: %s: max.message.bytes %q", topic, *c.Value)
			}
			return int32(n), nil
		}
	}
	return 0, fmt.Errorf("kafka: %s: no max.message.bytes", topic)
}
