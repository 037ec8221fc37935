package node

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Returning memory after a spike. A burst of records (one delivery file
// can hold 100,000 events) grows the heap; once the burst is applied that
// memory is free, but the Go runtime hands it back to the system only
// gradually. When the pipeline has been idle for a check interval and
// more than releaseThreshold of heap is free and not yet released, the
// node releases it at once. An idle node pays one garbage collection;
// a busy one nothing.
const (
	releaseEvery     = 10 * time.Second
	releaseThreshold = 32 << 20
)

func (n *Node) releaseMemory(ctx context.Context) {
	t := time.NewTicker(releaseEvery)
	defer t.Stop()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	last := n.activity()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := n.activity()
		idle := now == last
		last = now
		if !idle {
			continue
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > releaseThreshold {
			debug.FreeOSMemory()
		}
	}
}

// activity is a counter that moves while the pipeline works.
func (n *Node) activity() int64 {
	var sum int64
	for i := range n.stats.Records {
		sum += n.stats.Records[i].Load()
	}
	return sum + n.stats.Applied.Load() + n.stats.Flushes.Load()
}
