package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures gossip membership.
type Config struct {
	// Name is the node's unique name. Default: the host name plus the
	// gossip port.
	Name string
	// BindAddr is the gossip listen address, host:port. Default
	// 127.0.0.1:7946; port 0 picks a free port.
	BindAddr string
	// Seeds are gossip addresses of nodes to join. Default none (a new
	// cluster).
	Seeds []string
	// SecretKey encrypts gossip with AES-GCM; 16, 24 or 32 bytes. Default
	// none (plain text, for local use only).
	SecretKey []byte
	// Logger receives membership events. Default slog.Default().
	Logger *slog.Logger
}

// Meta is what a node tells the others about itself. It must stay under
// memberlist's 512-byte limit, so shards are a compact list.
type Meta struct {
	Admin  string  `json:"admin"`
	Shards []int32 `json:"shards"`
}

// Member is a node as seen through gossip.
type Member struct {
	Name   string  `json:"name"`
	Addr   string  `json:"addr"`
	Admin  string  `json:"admin"`
	Shards []int32 `json:"shards"`
	Self   bool    `json:"self"`
}

// Membership is this node's view of the cluster.
type Membership struct {
	ml  *memberlist.Memberlist
	log *slog.Logger

	mu   sync.Mutex
	meta Meta
}

// Join starts gossip and joins the seeds.
func Join(cfg Config, meta Meta) (*Membership, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = "127.0.0.1:7946"
	}
	host, portStr, err := net.SplitHostPort(cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip address %q: %w", cfg.BindAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip port %q: %w", portStr, err)
	}
	m := &Membership{log: cfg.Logger.With("component", "gossip"), meta: meta}
	mc := memberlist.DefaultLANConfig()
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = "", 0
	if cfg.Name != "" {
		mc.Name = cfg.Name
	} else {
		mc.Name = mc.Name + ":" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if len(cfg.SecretKey) > 0 {
		mc.SecretKey = cfg.SecretKey
	}
	mc.Delegate = m
	mc.Events = m
	mc.Logger = log.New(io.Discard, "", 0) // membership events are logged through the EventDelegate
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("cluster: starting gossip on %s: %w", cfg.BindAddr, err)
	}
	m.ml = ml
	if len(cfg.Seeds) > 0 {
		if _, err := ml.Join(cfg.Seeds); err != nil {
			ml.Shutdown()
			return nil, fmt.Errorf("cluster: joining %v: %w", cfg.Seeds, err)
		}
	}
	return m, nil
}

// SetShards publishes the shards this node now owns.
func (m *Membership) SetShards(shards []int32) {
	m.mu.Lock()
	m.meta.Shards = append([]int32(nil), shards...)
	m.mu.Unlock()
	if err := m.ml.UpdateNode(time.Second); err != nil {
		m.log.Warn("publishing node metadata", "err", err)
	}
}

// Members returns the live members.
func (m *Membership) Members() []Member {
	self := m.ml.LocalNode().Name
	var out []Member
	for _, n := range m.ml.Members() {
		var meta Meta
		_ = json.Unmarshal(n.Meta, &meta)
		out = append(out, Member{Name: n.Name, Addr: n.Address(), Admin: meta.Admin, Shards: meta.Shards, Self: n.Name == self})
	}
	return out
}

// Name is this node's name.
func (m *Membership) Name() string { return m.ml.LocalNode().Name }

// Addr is this node's gossip address.
func (m *Membership) Addr() string { return m.ml.LocalNode().Address() }

// Leave announces departure and stops gossip.
func (m *Membership) Leave(timeout time.Duration) error {
	err := m.ml.Leave(timeout)
	if serr := m.ml.Shutdown(); err == nil {
		err = serr
	}
	return err
}

// NodeMeta implements memberlist.Delegate.
func (m *Membership) NodeMeta(limit int) []byte {
	m.mu.Lock()
	b, _ := json.Marshal(m.meta)
	m.mu.Unlock()
	if len(b) > limit {
		b, _ = json.Marshal(Meta{Admin: m.meta.Admin}) // too many shards to list: keep the address
	}
	return b
}

func (m *Membership) NotifyMsg([]byte)                           {}
func (m *Membership) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (m *Membership) LocalState(join bool) []byte                { return nil }
func (m *Membership) MergeRemoteState(buf []byte, join bool)     {}

// NotifyJoin, NotifyLeave and NotifyUpdate implement
// memberlist.EventDelegate. They run under memberlist's locks: no calls
// back into memberlist here.
func (m *Membership) NotifyJoin(n *memberlist.Node) {
	m.log.Info("node joined", "node", n.Name, "addr", n.Address())
}
func (m *Membership) NotifyLeave(n *memberlist.Node) {
	m.log.Info("node left", "node", n.Name, "addr", n.Address())
}
func (m *Membership) NotifyUpdate(n *memberlist.Node) {}
