package actors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kerr"
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
	// owner is the shard's ownership epoch on this node, carried on every
	// record the shard appends (OwnerHeader).
	owner []byte

	mu     sync.Mutex // guards txn against close during a publish
	txn    *kgo.Client
	fenced bool // a newer owner fenced the transactional id
}

// OwnerHeader is the record header that carries the ownership epoch of
// the shard that wrote a changelog, findings or dead-letter record.
// Readers that rebuild state from these topics keep, per key, the record
// of the greatest epoch (then the greatest offset), so a write of a node
// that lost the shard never replaces one of the node that took it over,
// whatever order they reached Kafka in.
const OwnerHeader = "vigil-owner"

// errFenced says the shard's transactional id was taken over by a newer
// owner: this node no longer owns the shard and must stop writing for it.
var errFenced = errors.New("fenced: another node took the shard over")

// OwnerOf returns the ownership epoch a record carries (0 without one).
func OwnerOf(r *kgo.Record) uint64 {
	for _, h := range r.Headers {
		if h.Key == OwnerHeader {
			v, err := strconv.ParseUint(string(h.Value), 10, 64)
			if err == nil {
				return v
			}
		}
	}
	return 0
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
	if e.fenced {
		return errFenced
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if e.txn == nil {
		// A new producer fences whoever holds the shard's transactional
		// id: only while the group has the shard assigned to this node.
		if !e.h.stillOwns(ctx, e.p) {
			return errors.New("the shard is not assigned to this node: not starting a new transactional producer")
		}
		if err := e.connect(); err != nil {
			return err
		}
	}
	if err := e.txn.BeginTransaction(); err != nil {
		return e.fail(fmt.Errorf("beginning a transaction: %w", err))
	}
	hdr := []kgo.RecordHeader{{Key: OwnerHeader, Value: e.owner}}
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
	// The meta goes last, so that the shard's next owner finds the last
	// flush's meta at the end of the changelog.
	var meta *storage.Entry
	for i, en := range f.Entries {
		if en.Key == storage.MetaKey() {
			meta = &f.Entries[i]
			continue
		}
		produced.produce(e.txn, &kgo.Record{Topic: kafka.ProfilesTopic, Partition: e.p, Key: []byte(en.Key), Value: en.Value, Headers: hdr}, failed)
	}
	if meta != nil {
		produced.produce(e.txn, &kgo.Record{Topic: kafka.ProfilesTopic, Partition: e.p, Key: []byte(meta.Key), Value: meta.Value, Headers: hdr}, failed)
	}
	for _, fd := range f.Findings {
		produced.produce(e.txn, &kgo.Record{Topic: kafka.FindingsTopic, Key: []byte(fd.ID), Value: fd.JSON, Headers: hdr}, failed)
	}
	for _, dl := range f.DeadLetters {
		produced.produce(e.txn, &kgo.Record{Topic: kafka.DeadLetterTopic, Key: dl.Key, Value: dl.Value, Headers: hdr}, failed)
	}
	produced.wait()
	if err := e.txn.EndTransaction(ctx, kgo.TransactionEndTry(first == nil)); err != nil {
		return e.fail(errors.Join(first, fmt.Errorf("ending the transaction: %w", err)))
	}
	if first != nil && isFenced(first) {
		return e.fail(first)
	}
	return first
}

// fail handles a failed transaction. Fenced, the shard is another node's:
// the client is dropped for good, for a new one would fence the new owner
// in turn. Otherwise (a timeout, the broker away) the next flush starts a
// new client.
func (e *shardEffects) fail(err error) error {
	e.reset()
	if isFenced(err) {
		e.fenced = true
		e.h.cfg.Stats.Fenced.Add(1)
		return fmt.Errorf("%w: %w", errFenced, err)
	}
	return err
}

func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
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
