package actors

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// acks waits for a set of asynchronous produces and keeps the first error.
type acks struct {
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error
}

// promise registers one produce and returns its callback.
func (a *acks) promise() func(*kgo.Record, error) {
	a.wg.Add(1)
	return a.done
}

func (a *acks) done(_ *kgo.Record, err error) {
	if err != nil {
		a.mu.Lock()
		if a.err == nil {
			a.err = err
		}
		a.mu.Unlock()
	}
	a.wg.Done()
}

// wait blocks until every registered produce is acknowledged.
func (a *acks) wait() error {
	a.wg.Wait()
	return a.err
}
