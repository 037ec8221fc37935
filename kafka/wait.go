package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// WaitApplied waits until the ingest group has committed every raw record
// produced, then until the shards group has committed every internal
// record that existed at that point: a shard commits only after its
// profiles and findings are written, so then everything is applied.
func WaitApplied(ctx context.Context, cl *kgo.Client, rawEnds map[string]map[int32]int64) error {
	adm := kadm.NewClient(cl)
	if err := waitCommitted(ctx, adm, IngestGroup, rawEnds); err != nil {
		return fmt.Errorf("waiting for ingest: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, EntitiesTopic)
	if err != nil {
		return fmt.Errorf("listing %s end offsets: %w", EntitiesTopic, err)
	}
	want := map[string]map[int32]int64{EntitiesTopic: {}}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[EntitiesTopic][o.Partition] = o.Offset
		}
	})
	if err := waitCommitted(ctx, adm, ShardsGroup, want); err != nil {
		return fmt.Errorf("waiting for shards: %w", err)
	}
	return nil
}

func waitCommitted(ctx context.Context, adm *kadm.Client, group string, want map[string]map[int32]int64) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		got, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			behind := int64(0)
			for topic, parts := range want {
				for p, end := range parts {
					o, ok := got.Lookup(topic, p)
					if !ok || o.Err != nil || o.At < end {
						if ok && o.At >= 0 {
							behind += end - o.At
						} else {
							behind += end
						}
					}
				}
			}
			if behind == 0 {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%d records not yet applied: %w", behind, ctx.Err())
			}
		} else if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// EndOffsets returns the end offset of every non-empty partition of the
// topics.
func EndOffsets(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]map[int32]int64, error) {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	out := make(map[string]map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			if out[o.Topic] == nil {
				out[o.Topic] = make(map[int32]int64)
			}
			out[o.Topic][o.Partition] = o.Offset
		}
	})
	return out, nil
}
