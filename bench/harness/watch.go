package harness

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/kafka"
)

// seenFinding is what the watcher saw of one finding id on vigil.findings.
type seenFinding struct {
	// At is the timestamp of the first record with the id: when the shard
	// produced it.
	At    time.Time
	Type  string
	Count int    // records with the id (the first and its updates)
	JSON  []byte // the latest record's
}

// watcher reads vigil.findings, committed records only, from the offsets
// it was started at, and remembers every finding id it sees.
type watcher struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu   sync.Mutex
	seen map[string]*seenFinding
}

func startWatcher(ctx context.Context, brokers []string) (*watcher, error) {
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, kafka.FindingsTopic)
	adm.Close()
	if err != nil {
		return nil, err
	}
	from := map[string]map[int32]kgo.Offset{kafka.FindingsTopic: {}}
	ends.Each(func(o kadm.ListedOffset) {
		from[kafka.FindingsTopic][o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(from),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w := &watcher{cl: cl, cancel: cancel, done: make(chan struct{}), seen: make(map[string]*seenFinding)}
	go w.run(wctx)
	return w, nil
}

func (w *watcher) run(ctx context.Context) {
	defer close(w.done)
	for ctx.Err() == nil {
		fs := w.cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			id := string(r.Key)
			w.mu.Lock()
			defer w.mu.Unlock()
			s, ok := w.seen[id]
			if !ok {
				var f struct {
					Type string `json:"type"`
				}
				_ = json.Unmarshal(r.Value, &f)
				s = &seenFinding{At: r.Timestamp, Type: f.Type}
				w.seen[id] = s
			}
			s.Count++
			s.JSON = append(s.JSON[:0], r.Value...)
		})
	}
}

func (w *watcher) get(id string) (seenFinding, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.seen[id]
	if !ok {
		return seenFinding{}, false
	}
	return *s, true
}

func (w *watcher) snapshot() map[string]seenFinding {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]seenFinding, len(w.seen))
	for id, s := range w.seen {
		out[id] = *s
	}
	return out
}

// waitFor waits until every id has been seen or the timeout passes.
func (w *watcher) waitFor(ids []string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		missing := 0
		for _, id := range ids {
			if _, ok := w.get(id); !ok {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop stops reading; what was seen stays.
func (w *watcher) stop() {
	w.once.Do(func() {
		w.cancel()
		<-w.done
		w.cl.Close()
	})
}
