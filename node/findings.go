package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/actors"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/storage"
)

// findingsReader keeps the node's findings table (storage.FindingsTable)
// up to date with the findings topic, which every shard publishes its
// findings to, keyed by id: every node holds every finding of the cluster.
type findingsReader struct {
	table *storage.FindingsTable
	opts  []kgo.Opt
	adm   *kadm.Client
	log   *slog.Logger

	mu      sync.Mutex
	next    map[int32]int64 // offsets read to, per partition
	changed chan struct{}   // closed and replaced when next moves
}

func newFindingsReader(table *storage.FindingsTable, opts []kgo.Opt, adm *kadm.Client, log *slog.Logger) *findingsReader {
	return &findingsReader{table: table, opts: opts, adm: adm, log: log.With("component", "findings"), changed: make(chan struct{})}
}

// run reads the topic until ctx ends, from the offsets the table stored.
func (r *findingsReader) run(ctx context.Context) error {
	stored, err := r.table.Offsets()
	if err != nil {
		return err
	}
	ends, err := r.adm.ListEndOffsets(ctx, kafka.FindingsTopic)
	if err != nil {
		return fmt.Errorf("findings: end offsets: %w", err)
	}
	start := make(map[int32]kgo.Offset)
	next := make(map[int32]int64)
	rewound := false
	ends.Each(func(o kadm.ListedOffset) {
		off, ok := stored[o.Partition]
		if ok && off > o.Offset {
			rewound = true // the topic went back: the table is no longer its copy
		}
		next[o.Partition] = off
		start[o.Partition] = kgo.NewOffset().At(off)
	})
	if rewound {
		r.log.Warn("the findings topic went back; reading it again from the start")
		if err := r.table.Drop(); err != nil {
			return err
		}
		for p := range start {
			start[p], next[p] = kgo.NewOffset().AtStart(), 0
		}
	}
	r.mu.Lock()
	r.next = next
	r.mu.Unlock()
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), r.opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{kafka.FindingsTopic: start}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // to move past the markers to the end
	)...)
	if err != nil {
		return fmt.Errorf("findings: kafka client: %w", err)
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.log.Warn("fetching findings", "partition", p, "err", err)
			}
		})
		var batch []storage.TableFinding
		moved := make(map[int32]int64)
		fetches.EachRecord(func(rec *kgo.Record) {
			if !rec.Attrs.IsControl() && rec.Value != nil {
				batch = append(batch, storage.TableFinding{ID: string(rec.Key), Owner: actors.OwnerOf(rec), JSON: rec.Value})
			}
			moved[rec.Partition] = rec.Offset + 1
		})
		if len(moved) == 0 {
			continue
		}
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 30*time.Second) {
			err := r.table.Apply(batch, moved)
			if err == nil {
				break
			}
			// The disk: retry the batch rather than skip it.
			r.log.Error("writing the findings table; retrying", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
		}
		r.mu.Lock()
		for p, off := range moved {
			r.next[p] = off
		}
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
}

// catchUp waits until the table holds every finding committed to the
// topic when it was called, so that an answer never misses a finding
// already published; it gives up at ctx's deadline or after timeout.
func (r *findingsReader) catchUp(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stable, err := r.adm.ListCommittedOffsets(ctx, kafka.FindingsTopic)
	if err != nil {
		return fmt.Errorf("findings: stable offsets: %w", err)
	}
	for {
		r.mu.Lock()
		behind := false
		stable.Each(func(o kadm.ListedOffset) {
			if o.Err == nil && r.next[o.Partition] < o.Offset {
				behind = true
			}
		})
		changed := r.changed
		r.mu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("findings: the table is behind the topic: %w", ctx.Err())
		}
	}
}
