package actors

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// producer is what produces: a kgo.Client or a transactional session.
type producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// acks produces records and waits for their acknowledgements.
type acks struct {
	wg sync.WaitGroup
}

// produce produces r through p; failed, if not nil, is called with the
// error of a failed produce.
func (a *acks) produce(p producer, r *kgo.Record, failed func(error)) {
	a.wg.Add(1)
	p.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
		if err != nil && failed != nil {
			failed(err)
		}
		a.wg.Done()
	})
}

// wait blocks until every record produced is acknowledged.
func (a *acks) wait() { a.wg.Wait() }
