package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/vigil-sec/vigil/actors"
	"github.com/vigil-sec/vigil/admin"
	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
)

// The node is the admin endpoint's backend.
var _ admin.Backend = (*Node)(nil)

// Ready implements admin.Backend.
func (n *Node) Ready() error {
	if n.host == nil || !n.host.Ready() {
		return errors.New("waiting for shard assignment")
	}
	return nil
}

// Status implements admin.Backend.
func (n *Node) Status(ctx context.Context) (*admin.Status, error) {
	st := &admin.Status{
		Node:       n.members.Name(),
		Shards:     n.host.Owned(),
		Sources:    make(map[string]admin.SourceStatus),
		Applied:    n.stats.Applied.Load(),
		Duplicates: n.stats.Duplicates.Load(),
		Findings:   n.stats.Findings.Load(),
		Lag:        make(map[string]int64),
		Members:    n.members.Members(),
	}
	for _, src := range []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS} {
		st.Sources[src.String()] = admin.SourceStatus{
			Records:     n.stats.Records[src].Load(),
			Events:      n.stats.Events[src].Load(),
			Dropped:     n.stats.Dropped[src].Load(),
			DeadLetters: n.stats.DeadLetters[src].Load(),
		}
	}
	lags, err := kadm.NewClient(n.admCl).Lag(ctx, kafka.IngestGroup, kafka.ShardsGroup)
	if err != nil {
		return nil, fmt.Errorf("consumer lag: %w", err)
	}
	for g, l := range lags {
		if l.Error() == nil {
			st.Lag[g] = l.Lag.Total()
		}
	}
	return st, nil
}

// findingHead is what the query filters on.
type findingHead struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	Severity  float64 `json:"severity"`
	UpdatedAt string  `json:"updatedAt"`
}

// Findings implements admin.Backend: it reads the stored findings of the
// node's shards, newest first.
func (n *Node) Findings(_ context.Context, q admin.FindingsQuery) ([]json.RawMessage, error) {
	type item struct {
		head findingHead
		raw  json.RawMessage
	}
	var items []item
	for _, p := range n.host.Owned() {
		err := n.db.Shard(p).Findings(func(_ string, b []byte) bool {
			var h findingHead
			if json.Unmarshal(b, &h) != nil {
				return true
			}
			if len(q.Types) > 0 && !slices.Contains(q.Types, h.Type) {
				return true
			}
			if h.Severity < q.MinSeverity {
				return true
			}
			if !q.Since.IsZero() {
				t, err := time.Parse(time.RFC3339Nano, h.UpdatedAt)
				if err != nil || t.Before(q.Since) {
					return true
				}
			}
			items = append(items, item{h, json.RawMessage(slices.Clone(b))})
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].head.UpdatedAt != items[j].head.UpdatedAt {
			return items[i].head.UpdatedAt > items[j].head.UpdatedAt
		}
		return items[i].head.ID < items[j].head.ID
	})
	if q.Limit > 0 && len(items) > q.Limit {
		items = items[:q.Limit]
	}
	out := make([]json.RawMessage, len(items))
	for i := range items {
		out[i] = items[i].raw
	}
	return out, nil
}

// Actors implements admin.Backend.
func (n *Node) Actors(ctx context.Context, kind string) ([]admin.ActorRef, error) {
	k, ok := event.ParseEntityKind(kind)
	if !ok {
		return nil, fmt.Errorf("%w: kind must be principal or network, got %q", admin.ErrBadRequest, kind)
	}
	keys, err := n.host.List(ctx, k)
	if err != nil {
		return nil, err
	}
	refs := make([]admin.ActorRef, 0, len(keys))
	for _, key := range keys {
		refs = append(refs, n.ref(k, key))
	}
	return refs, nil
}

// Actor implements admin.Backend. The id is "account/region/entity".
func (n *Node) Actor(ctx context.Context, kind, id string) (*admin.Actor, error) {
	k, ok := event.ParseEntityKind(kind)
	if !ok {
		return nil, fmt.Errorf("%w: kind must be principal or network, got %q", admin.ErrBadRequest, kind)
	}
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: id must be account/region/entity, got %q", admin.ErrBadRequest, id)
	}
	key := parts[0] + "/" + parts[1] + "/" + k.String() + "/" + parts[2]
	p, err := n.host.Inspect(ctx, key)
	if errors.Is(err, actors.ErrNotHosted) {
		return nil, fmt.Errorf("%w: shard %d is not hosted on this node", admin.ErrNotFound, cluster.ShardOf(key, n.cfg.Topics.Shards))
	}
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("%w: no %s %s", admin.ErrNotFound, kind, id)
	}
	return &admin.Actor{ActorRef: n.ref(k, key), Active: p.Active, AppliedOffset: p.Offset, Profile: p.Profile}, nil
}

// ref turns an entity key into the admin endpoint's reference.
func (n *Node) ref(k event.EntityKind, key string) admin.ActorRef {
	id := key
	if parts := strings.SplitN(key, "/", 4); len(parts) == 4 {
		id = parts[0] + "/" + parts[1] + "/" + parts[3]
	}
	return admin.ActorRef{Kind: k.String(), ID: id, Shard: cluster.ShardOf(key, n.cfg.Topics.Shards), Node: n.members.Name()}
}
