package node

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Returning memory after a spike. A burst of records (one delivery file
// can hold 100,000 events) grows the heap; once the burst is applied that
// memory is garbage or free, but the Go runtime collects the garbage only
// when the heap reaches its next target (at --gc-percent 300, four times
// the live heap) and hands free memory back only gradually. When the
// pipeline has been idle for a check interval and more than
// releaseThreshold of heap is garbage or free and not yet released, the
// node collects and releases it at once. An idle node pays one garbage
// collection; a busy one nothing.
const (
	releaseEvery     = 10 * time.Second
	releaseThreshold = 32 << 20
)

func (n *Node) releaseMemory(ctx context.Context) {
	t := time.NewTicker(releaseEvery)
	defer t.Stop()
	sample := []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}, // live and garbage
		{Name: "/gc/heap/live:bytes"},                // live at the last collection
	}
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
		if reclaimable(sample) > releaseThreshold {
			debug.FreeOSMemory()
		}
	}
}

// reclaimable is the heap a collection would free and return: free
// bytes not yet released, and objects beyond the live heap.
func reclaimable(sample []metrics.Sample) uint64 {
	metrics.Read(sample)
	var v [3]uint64
	for i, s := range sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	free, objects, live := v[0], v[1], v[2]
	return free + objects - min(objects, live)
}

// activity is a counter that moves while the pipeline works.
func (n *Node) activity() int64 {
	var sum int64
	for i := range n.stats.Records {
		sum += n.stats.Records[i].Load()
	}
	return sum + n.stats.Applied.Load() + n.stats.Flushes.Load()
}
