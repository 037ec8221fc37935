package actors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/shard"
	"github.com/vigil-sec/vigil/storage"
)

// shardEffects carries out one shard's flushes (shard.Effects): a Kafka
// transaction for the changelog, findings and dead letters, a synced
// Pebble batch, and the offset commit.
//
// The transactional id is the shard's, not the node's: whichever node
// runs the shard initialises the id, which fences the producer of any
// previous owner, so a node that lost the shard but still runs can no
// longer append to its changelog.
type shardEffects struct {
	h     *Host
	p     int32
	store *storage.Shard
	self  *actor.PID

	mu  sync.Mutex // guards txn against close during a publish
	txn *kgo.Client
}

// publishTimeout bounds one flush's transaction.
const publishTimeout = 30 * time.Second

func newShardEffects(h *Host, p int32) (*shardEffects, error) {
	e := &shardEffects{h: h, p: p, store: h.cfg.DB.Shard(p)}
	if err := e.connect(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *shardEffects) connect() error {
	txn, err := kgo.NewClient(append(append([]kgo.Opt(nil), e.h.cfg.Client...),
		kgo.TransactionalID("vigil-shard-"+strconv.Itoa(int(e.p))),
		kgo.TransactionTimeout(publishTimeout),
		// Changelog records go to the shard's partition; findings are
		// spread by id.
		kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
			if topic == kafka.ProfilesTopic {
				return func(r *kgo.Record, _ int) int { return int(r.Partition) }
			}
			return func(r *kgo.Record, n int) int { return int(cluster.ShardOf(string(r.Key), int32(n))) }
		})),
		kgo.ProducerLinger(time.Millisecond),
	)...)
	if err != nil {
		return fmt.Errorf("shard %d: transactional producer: %w", e.p, err)
	}
	e.txn = txn
	return nil
}

// Publish runs the flush's transaction in the background and reports the
// outcome to the shard actor.
func (e *shardEffects) Publish(f *shard.Flush) {
	root := e.h.system.Root
	go func() {
		err := e.publish(f)
		root.Send(e.self, &flushPublished{id: f.ID, err: err})
	}()
}

func (e *shardEffects) publish(f *shard.Flush) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.txn == nil {
		if err := e.connect(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := e.txn.BeginTransaction(); err != nil {
		e.reset()
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	var (
		produced acks
		mu       sync.Mutex
		first    error
	)
	failed := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	for _, en := range f.Entries {
		produced.produce(e.txn, &kgo.Record{Topic: kafka.ProfilesTopic, Partition: e.p, Key: []byte(en.Key), Value: en.Value}, failed)
	}
	for _, fd := range f.Findings {
		produced.produce(e.txn, &kgo.Record{Topic: kafka.FindingsTopic, Key: []byte(fd.ID), Value: fd.JSON}, failed)
	}
	for _, dl := range f.DeadLetters {
		produced.produce(e.txn, &kgo.Record{Topic: kafka.DeadLetterTopic, Key: dl.Key, Value: dl.Value}, failed)
	}
	produced.wait()
	if err := e.txn.EndTransaction(ctx, kgo.TransactionEndTry(first == nil)); err != nil {
		// The client may be in a failed state (fenced by a new owner, or
		// past its timeout): the next flush starts a new one.
		e.reset()
		return errors.Join(first, fmt.Errorf("ending the transaction: %w", err))
	}
	return first
}

// reset drops the transactional client after an error it cannot recover
// from; the next publish connects again (and fences the old one).
func (e *shardEffects) reset() {
	if e.txn != nil {
		e.txn.Close()
		e.txn = nil
	}
}

// Write stores the flush in one synced Pebble batch.
func (e *shardEffects) Write(f *shard.Flush) error {
	if err := e.store.Write(f.Entries); err != nil {
		return err
	}
	e.h.cfg.Stats.Flushes.Add(1)
	return nil
}

// Commit commits the shard's consumer offset.
func (e *shardEffects) Commit(next int64) { e.h.commit(e.p, next) }

func (e *shardEffects) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reset()
}
