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
	if n.host.Cut() {
		return errors.New("cut off from the Kafka group coordinator: this node's shards are other nodes' now")
	}
	var errs []error
	for p, st := range n.host.Stopped() {
		errs = append(errs, fmt.Errorf("shard %d stopped at %s: %s", p, st.Since.UTC().Format(time.RFC3339), st.Reason))
	}
	return errors.Join(errs...)
}

// Status implements admin.Backend: the cluster's totals, summed over this
// node's status and every other live node's. The totals are the shards'
// persisted counters, so they survive restarts and count every record
// once; the Prometheus metrics count what this process did. A forwarded
// query answers for this node only.
func (n *Node) Status(ctx context.Context) (*admin.Status, error) {
	st, err := n.nodeStatus()
	if err != nil || admin.Forwarded(ctx) {
		return st, err
	}
	for _, m := range n.members.Members() {
		if m.Self || !reachable(m) {
			continue
		}
		var other admin.Status
		if err := n.peers.get(ctx, m, "/api/v1/status", &other); err != nil {
			st.Unreachable = append(st.Unreachable, m.Name)
			continue
		}
		for src, o := range other.Sources {
			s := st.Sources[src]
			s.Records += o.Records
			s.Events += o.Events
			s.Dropped += o.Dropped
			s.DeadLetters += o.DeadLetters
			st.Sources[src] = s
		}
		st.Applied += other.Applied
		st.Duplicates += other.Duplicates
		st.Findings += other.Findings
		st.Rewinds += other.Rewinds
		st.StoppedShards = append(st.StoppedShards, other.StoppedShards...)
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

// nodeStatus is the status of this node's shards.
func (n *Node) nodeStatus() (*admin.Status, error) {
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
		Intel:   n.intelStatus(),
	}
	st.GeoIP = n.geoStatus()
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
		st.StoppedShards = append(st.StoppedShards, admin.StoppedShard{Shard: p, Node: st.Node, Reason: s.Reason, Since: s.Since})
	}
	return st, nil
}

// Cluster implements admin.Backend.
func (n *Node) Cluster(ctx context.Context) (*admin.Cluster, error) {
	c := &admin.Cluster{Node: n.members.Name()}
	owners := make(map[int32]string)
	for _, m := range n.members.Members() {
		c.Members = append(c.Members, admin.ClusterMember{Name: m.Name, Gossip: m.Addr, Admin: m.Admin, State: m.State,
			LastHeartbeat: m.LastHeartbeat, Shards: m.Shards, Self: m.Self})
		if reachable(m) {
			for _, p := range m.Shards {
				owners[p] = m.Name
			}
		}
	}
	slices.SortFunc(c.Members, func(a, b admin.ClusterMember) int { return strings.Compare(a.Name, b.Name) })
	lags, err := kadm.NewClient(n.admCl).Lag(ctx, kafka.ShardsGroup)
	if err != nil {
		return nil, fmt.Errorf("consumer lag: %w", err)
	}
	perShard := make(map[int32]int64)
	if l, ok := lags[kafka.ShardsGroup]; ok && l.Error() == nil {
		for p, o := range l.Lag[kafka.EntitiesTopic] {
			perShard[p] = o.Lag
		}
	}
	for p := range n.cfg.Topics.Shards {
		c.Shards = append(c.Shards, admin.ClusterShard{Shard: p, Owner: owners[p], Lag: perShard[p]})
	}
	return c, nil
}

// findingHead is what the query filters on.
type findingHead struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	Severity  float64 `json:"severity"`
	UpdatedAt string  `json:"updatedAt"`
}

// Findings implements admin.Backend: it reads the node's copy of the
// cluster's findings, newest first, once the copy holds every finding
// published when the query came.
func (n *Node) Findings(ctx context.Context, q admin.FindingsQuery) ([]json.RawMessage, error) {
	if err := n.found.catchUp(ctx, 5*time.Second); err != nil {
		return nil, err
	}
	type item struct {
		head findingHead
		raw  json.RawMessage
	}
	var items []item
	err := n.db.FindingsTable().Each(func(_ string, b []byte) bool {
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

// Actors implements admin.Backend: a page of the cluster's entities of a
// kind, in (shard, key) order, each shard listed by its owner. The cursor
// is the shard and key the next page starts at. A forwarded query lists
// the cursor's shard only, from this node.
func (n *Node) Actors(ctx context.Context, kind string, page admin.Page) ([]admin.ActorRef, string, error) {
	k, ok := event.ParseEntityKind(kind)
	if !ok {
		return nil, "", fmt.Errorf("%w: kind must be principal or network, got %q", admin.ErrBadRequest, kind)
	}
	from, err := decodeCursor(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := page.Size()
	if admin.Forwarded(ctx) {
		keys, next, err := n.host.ListShard(ctx, k, from.shard, from.key, limit)
		if errors.Is(err, actors.ErrNotHosted) {
			return nil, "", unavailable(from.shard, fmt.Errorf("not hosted on %s", n.members.Name()))
		}
		if err != nil {
			return nil, "", err
		}
		if next == "" {
			return n.refs(k, keys), "", nil
		}
		return n.refs(k, keys), encodeCursor(from.shard, next), nil
	}
	var refs []admin.ActorRef
	for p := from.shard; p < n.cfg.Topics.Shards; p++ {
		start := ""
		if p == from.shard {
			start = from.key
		}
		got, next, err := n.listShard(ctx, k, p, start, limit-len(refs))
		if err != nil {
			return nil, "", err
		}
		refs = append(refs, got...)
		switch {
		case next != "":
			return refs, encodeCursor(p, next), nil
		case len(refs) == limit && p+1 < n.cfg.Topics.Shards:
			return refs, encodeCursor(p+1, ""), nil
		}
	}
	return refs, "", nil
}

// listShard lists a shard's entities here, or at the shard's owner.
func (n *Node) listShard(ctx context.Context, k event.EntityKind, p int32, from string, limit int) ([]admin.ActorRef, string, error) {
	keys, next, err := n.host.ListShard(ctx, k, p, from, limit)
	if err == nil {
		return n.refs(k, keys), next, nil
	}
	if !errors.Is(err, actors.ErrNotHosted) {
		return nil, "", err
	}
	m, ok := n.owner(p)
	if !ok {
		return nil, "", unavailable(p, nil)
	}
	var list admin.ActorList
	path := fmt.Sprintf("/api/v1/actors?kind=%s&limit=%d&cursor=%s", k, limit, encodeCursor(p, from))
	if err := n.peers.get(ctx, m, path, &list); err != nil {
		return nil, "", unavailable(p, err)
	}
	c, err := decodeCursor(list.NextCursor)
	if err != nil || (list.NextCursor != "" && c.shard != p) {
		return nil, "", fmt.Errorf("%s answered a bad cursor for shard %d", m.Name, p)
	}
	return list.Actors, c.key, nil
}

// cursor is where a page of the actors list starts.
type cursor struct {
	shard int32
	key   string
}

// encodeCursor makes the opaque cursor of (shard, key).
func encodeCursor(shard int32, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(int(shard)) + "/" + key))
}

func decodeCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	shardStr, key, ok := strings.Cut(string(b), "/")
	p, perr := strconv.Atoi(shardStr)
	if err != nil || !ok || perr != nil || p < 0 {
		return cursor{}, fmt.Errorf("%w: bad cursor", admin.ErrBadRequest)
	}
	return cursor{shard: int32(p), key: key}, nil
}

// refs turns entity keys into the admin endpoint's references.
func (n *Node) refs(k event.EntityKind, keys []string) []admin.ActorRef {
	out := make([]admin.ActorRef, 0, len(keys))
	for _, key := range keys {
		out = append(out, n.ref(k, key))
	}
	return out
}

// Actor implements admin.Backend. The id is "account/region/entity". An
// entity of a shard another node owns is looked up there, in one hop.
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
		shard := cluster.ShardOf(key, n.cfg.Topics.Shards)
		if admin.Forwarded(ctx) {
			return nil, unavailable(shard, fmt.Errorf("not hosted on %s", n.members.Name()))
		}
		m, ok := n.owner(shard)
		if !ok {
			return nil, unavailable(shard, nil)
		}
		var a admin.Actor
		if err := n.peers.get(ctx, m, "/api/v1/actors/"+kind+"/"+id, &a); err != nil {
			if errors.Is(err, admin.ErrNotFound) {
				return nil, err
			}
			return nil, unavailable(shard, err)
		}
		return &a, nil
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
