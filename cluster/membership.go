package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures gossip membership.
type Config struct {
	// Name is the node's unique name. Default: the host name plus the
	// gossip port.
	Name string
	// BindAddr is the gossip listen address, host:port; the host is an IP
	// address or localhost, an empty host means every interface. Default
	// 127.0.0.1:7946; port 0 picks a free port.
	BindAddr string
	// Seeds are gossip addresses of nodes to join. Default none (a new
	// cluster).
	Seeds []string
	// SecretKey encrypts and authenticates gossip with AES-GCM; 16, 24 or
	// 32 bytes. Default none (plain text), which Join accepts only on a
	// loopback BindAddr unless Insecure is set: without a key any process
	// that reaches the gossip port can join and claim shards.
	SecretKey []byte
	// Insecure lets Join gossip in plain text on a BindAddr beyond
	// loopback, for networks where only trusted hosts reach the gossip
	// port. Default false.
	Insecure bool
	// Logger receives membership events. Default slog.Default().
	Logger *slog.Logger
}

const defaultBindAddr = "127.0.0.1:7946"

// String formats the configuration without the key, so that printing or
// logging a Config cannot leak it.
func (c Config) String() string {
	key := "none"
	if len(c.SecretKey) > 0 {
		key = "[redacted]"
	}
	return fmt.Sprintf("{Name:%s BindAddr:%s Seeds:%v SecretKey:%s Insecure:%v}", c.Name, c.BindAddr, c.Seeds, key, c.Insecure)
}

// LogValue implements slog.LogValuer, without the key.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// Validate checks the configuration without starting anything: the
// address, the key's size, and that gossip beyond loopback has a key or
// Insecure (else the error wraps ErrUnprotected). Join calls it; a caller
// may call it early to fail before starting anything else.
func (c Config) Validate() error {
	_, _, err := c.bindHostPort()
	return err
}

// bindHostPort validates the configuration and returns the host and port
// to give memberlist.
func (c Config) bindHostPort() (string, int, error) {
	addr := c.BindAddr
	if addr == "" {
		addr = defaultBindAddr
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("cluster: gossip address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("cluster: gossip port %q: %w", portStr, err)
	}
	if n := len(c.SecretKey); n != 0 && n != 16 && n != 24 && n != 32 {
		return "", 0, fmt.Errorf("cluster: gossip key of %d bytes, want 16, 24 or 32", n)
	}
	if len(c.SecretKey) == 0 && !c.Insecure && !isLoopbackHost(host) {
		return "", 0, fmt.Errorf("cluster: gossip on %s: %w; set a key with --gossip-key-file or VIGIL_GOSSIP_KEY or, if only trusted hosts reach that address, use --insecure-gossip", addr, ErrUnprotected)
	}
	// memberlist binds every interface when given anything but an IP, so
	// names are resolved here or refused.
	switch {
	case host == "":
		host = "0.0.0.0"
	case strings.EqualFold(host, "localhost"):
		host = "127.0.0.1"
	case net.ParseIP(host) == nil:
		return "", 0, fmt.Errorf("cluster: gossip address %q: the host must be an IP address or localhost", addr)
	}
	return host, port, nil
}

// ErrUnprotected is returned by Join for a gossip address beyond loopback
// with neither a secret key nor Insecure.
var ErrUnprotected = errors.New("plain-text gossip beyond loopback: any process that reaches the port could join the cluster and claim shards")

// isLoopbackHost reports whether a listen host stays on this machine: a
// loopback IP or "localhost". An empty host, an unspecified address
// (0.0.0.0, ::) and any other host name are not.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
		cfg.BindAddr = defaultBindAddr
	}
	host, port, err := cfg.bindHostPort()
	if err != nil {
		return nil, err
	}
	m := &Membership{log: cfg.Logger.With("component", "gossip"), meta: meta}
	if len(cfg.SecretKey) == 0 && !isLoopbackHost(host) {
		m.log.Warn("gossip listens beyond loopback without encryption (insecure): anyone who reaches the port can join", "addr", cfg.BindAddr)
	}
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
