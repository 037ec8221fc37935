package node

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/vigil-sec/vigil/actors"
	"github.com/vigil-sec/vigil/admin"
	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/storage"
)

// The node is the admin endpoint's backend.
var _ admin.Backend = (*Node)(nil)

// Ready implements admin.Backend: the node is ready once it owns its
// shards, and not while one of them is stopped.
func (n *Node) Ready() error {
	if n.host == nil || !n.host.Ready() {
		return errors.New("waiting for shard assignment")
	}
	var errs []error
	for p, st := range n.host.Stopped() {
		errs = append(errs, fmt.Errorf("shard %d stopped at %s: %s", p, st.Since.UTC().Format(time.RFC3339), st.Reason))
	}
	return errors.Join(errs...)
}

// Status implements admin.Backend. The totals are the shards' persisted
// counters, so they survive restarts and count every record once; the
// Prometheus metrics count what this process did.
func (n *Node) Status(ctx context.Context) (*admin.Status, error) {
	metas, err := n.host.Meta()
	if err != nil {
		return nil, err
	}
	var total storage.Counters
	for _, m := range metas {
		total.Add(&m.Counters)
	}
	st := &admin.Status{
		Node:    n.members.Name(),
		Shards:  n.host.Owned(),
		Sources: make(map[string]admin.SourceStatus),
		Lag:     make(map[string]int64),
		Members: n.members.Members(),
		Rewinds: n.stats.Rewinds.Load(),
	}
	for _, src := range []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS} {
		st.Sources[src.String()] = admin.SourceStatus{
			Records:     total.Records[src],
			Events:      total.Events[src],
			Dropped:     total.Dropped[src],
			DeadLetters: total.DeadLetters[src],
		}
		st.Applied += total.Applied[src]
	}
	st.Duplicates, st.Findings = total.Duplicates, total.Findings
	for p, s := range n.host.Stopped() {
		st.StoppedShards = append(st.StoppedShards, admin.StoppedShard{Shard: p, Reason: s.Reason, Since: s.Since})
	}
	slices.SortFunc(st.StoppedShards, func(a, b admin.StoppedShard) int { return int(a.Shard - b.Shard) })
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
		err := n.db.Shard(p).Findings(func(_ string, stored []byte) bool {
			b, err := findings.StoredJSON(stored)
			if err != nil {
				return true
			}
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

// Actors implements admin.Backend. The cursor is the shard and entity key
// the next page starts at.
func (n *Node) Actors(ctx context.Context, kind string, page admin.Page) ([]admin.ActorRef, string, error) {
	k, ok := event.ParseEntityKind(kind)
	if !ok {
		return nil, "", fmt.Errorf("%w: kind must be principal or network, got %q", admin.ErrBadRequest, kind)
	}
	var from actors.ListCursor
	if page.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(page.Cursor)
		shardStr, key, ok := strings.Cut(string(b), "/")
		p, perr := strconv.Atoi(shardStr)
		if err != nil || !ok || perr != nil {
			return nil, "", fmt.Errorf("%w: bad cursor", admin.ErrBadRequest)
		}
		from = actors.ListCursor{Shard: int32(p), Key: key}
	}
	keys, next, err := n.host.List(ctx, k, from, page.Limit)
	if err != nil {
		return nil, "", err
	}
	refs := make([]admin.ActorRef, 0, len(keys))
	for _, key := range keys {
		refs = append(refs, n.ref(k, key))
	}
	var cursor string
	if next != nil {
		cursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(int(next.Shard)) + "/" + next.Key))
	}
	return refs, cursor, nil
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
	return &admin.Actor{ActorRef: n.ref(k, key), Active: p.Active, AppliedOffset: p.Mark.Offset, Profile: p.Profile}, nil
}

// ref turns an entity key into the admin endpoint's reference.
func (n *Node) ref(k event.EntityKind, key string) admin.ActorRef {
	id := key
	if parts := strings.SplitN(key, "/", 4); len(parts) == 4 {
		id = parts[0] + "/" + parts[1] + "/" + parts[3]
	}
	return admin.ActorRef{Kind: k.String(), ID: id, Shard: cluster.ShardOf(key, n.cfg.Topics.Shards), Node: n.members.Name()}
}
