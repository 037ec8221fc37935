package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures gossip membership.
type Config struct {
	// Name is the node's unique name. Default: the host name plus a
	// unique suffix.
	Name string
	// BindAddr is the gossip listen address, host:port; the host is an IP
	// address or localhost, an empty host means every interface. Default
	// 127.0.0.1:7946; port 0 picks a free port.
	BindAddr string
	// AdvertiseAddr is the host, an IP address or a name (resolved by
	// Join), other nodes reach this one at when that is not the bind host
	// (NAT, containers, a bind on every interface). It is advertised with
	// the port actually bound, the one picked for port 0. Default: the
	// bind IP, or for an unspecified one a private IP of this host.
	AdvertiseAddr string
	// Seeds are gossip addresses of nodes to join. Default none (a new
	// cluster).
	Seeds []string
	// Keys is the gossip keyring: AES-GCM keys of 16, 24 or 32 bytes that
	// encrypt and authenticate gossip. The first, the primary, encrypts;
	// every key decrypts, so that keys can be rotated without downtime
	// (Membership.SetKeys). Default none (plain text), which Join accepts
	// only on a loopback BindAddr unless Insecure is set: without a key
	// any process that reaches the gossip port can join and claim shards.
	Keys [][]byte
	// SecretKey is a keyring of one key, kept for compatibility: Join
	// uses it when Keys is empty. With Keys, it must be empty or Keys[0].
	SecretKey []byte
	// Insecure lets Join gossip in plain text on a BindAddr beyond
	// loopback, for networks where only trusted hosts reach the gossip
	// port. Default false.
	Insecure bool
	// HeartbeatInterval is how often this node republishes its metadata
	// with a new heartbeat count, from which the others learn that it is
	// alive (Member.LastHeartbeat); a member silent for three intervals is
	// reported suspect. Default 1s.
	HeartbeatInterval time.Duration
	// OnLeave, if set, is called with a member the cluster declared dead
	// or that left, with the shards it last published. It runs on a
	// goroutine of its own, one call at a time in order, never under
	// memberlist's locks, so it may call the Membership (but not Leave,
	// which waits for it). Default none.
	OnLeave func(Member)
	// Logger receives membership events. Default slog.Default().
	Logger *slog.Logger
}

const (
	defaultBindAddr          = "127.0.0.1:7946"
	defaultHeartbeatInterval = time.Second
)

// Failure detection, tuned for failover within seconds on a LAN
// (memberlist.DefaultLANConfig's values in parentheses). A node probes one
// member every probeInterval and waits probeTimeout for its ack, then
// asks others to probe it; a member that fails is suspect, and declared
// dead after suspicionMult × probeInterval × max(1, log10(nodes)), 2 s
// below 10 nodes (4 s), up to suspicionMaxTimeoutMult times that when
// fewer peers confirm the suspicion. A killed node is declared dead about
// 3 s later on loopback (about 5 s with the defaults). Loaded hosts
// stretch the timeouts themselves (memberlist's awareness), and a node
// wrongly suspected refutes it.
const (
	probeInterval           = 500 * time.Millisecond // (1 s)
	probeTimeout            = 250 * time.Millisecond // (500 ms): far above a LAN round trip
	suspicionMult           = 4                      // (4)
	suspicionMaxTimeoutMult = 3                      // (6)
	// deadNodeReclaimTime lets a node that restarted at another address
	// under the same name (a new pod IP) take its name back this long
	// after it was declared dead, instead of after memberlist forgets it.
	deadNodeReclaimTime = time.Second // (never)
)

// String formats the configuration without the keys, so that printing or
// logging a Config cannot leak them.
func (c Config) String() string {
	keys := "none"
	if n := len(c.keys()); n > 0 {
		keys = fmt.Sprintf("%d [redacted]", n)
	}
	return fmt.Sprintf("{Name:%s BindAddr:%s AdvertiseAddr:%s Seeds:%v Keys:%s Insecure:%v HeartbeatInterval:%v}",
		c.Name, c.BindAddr, c.AdvertiseAddr, c.Seeds, keys, c.Insecure, c.HeartbeatInterval)
}

// LogValue implements slog.LogValuer, without the keys.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// keys returns the keyring: Keys, else SecretKey alone.
func (c Config) keys() [][]byte {
	if len(c.Keys) > 0 {
		return c.Keys
	}
	if len(c.SecretKey) > 0 {
		return [][]byte{c.SecretKey}
	}
	return nil
}

// Validate checks the configuration without starting anything: the
// addresses, the keys' sizes, and that gossip beyond loopback has a key
// or Insecure (else the error wraps ErrUnprotected). Join calls it; a
// caller may call it early to fail before starting anything else.
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
	if err := c.checkKeys(); err != nil {
		return "", 0, err
	}
	if _, err := advertiseHost(c.AdvertiseAddr); err != nil {
		return "", 0, err
	}
	if c.HeartbeatInterval < 0 {
		return "", 0, fmt.Errorf("cluster: heartbeat interval %v: want a positive duration", c.HeartbeatInterval)
	}
	if len(c.keys()) == 0 && !c.Insecure && !isLoopbackHost(host) {
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

// checkKeys checks the sizes of Keys and SecretKey and that they agree.
func (c Config) checkKeys() error {
	if len(c.SecretKey) > 0 {
		if err := checkKey(c.SecretKey); err != nil {
			return fmt.Errorf("cluster: gossip %w", err)
		}
	}
	if len(c.Keys) == 0 {
		return nil
	}
	if err := checkKeys(c.Keys); err != nil {
		return err
	}
	if len(c.SecretKey) > 0 && !bytes.Equal(c.SecretKey, c.Keys[0]) {
		return errors.New("cluster: SecretKey and Keys both set, and SecretKey is not the primary Keys[0]: set Keys only")
	}
	return nil
}

// advertiseHost checks an advertise address and returns its host, with
// an IPv6 address's brackets removed; "" stays "".
func advertiseHost(addr string) (string, error) {
	if addr == "" {
		return "", nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsUnspecified() {
			return "", fmt.Errorf("cluster: advertise address %q: others cannot reach an unspecified address", addr)
		}
		return host, nil
	}
	if host == "" || strings.ContainsAny(host, ":/[] \t") {
		return "", fmt.Errorf("cluster: advertise address %q: want a host (an IP address or a name) without a port", addr)
	}
	return host, nil
}

// resolveAdvertise returns the IP to advertise for a host: the host if it
// is an IP, else its first IPv4 address, else its first address.
func resolveAdvertise(host string) (string, error) {
	if host == "" || net.ParseIP(host) != nil {
		return host, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return "", fmt.Errorf("cluster: resolving advertise address: %w", err)
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("cluster: advertise address %q has no IP address", host)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip.String(), nil
		}
	}
	return ips[0].String(), nil
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

// wireMeta is Meta as gossiped, with this node's heartbeat count, which
// changes the metadata every HeartbeatInterval so that the others hear
// from it, and whether it is leaving, so that they tell a node that left
// from one that died.
type wireMeta struct {
	Meta
	Beat    uint64 `json:"hb,omitempty"`
	Leaving bool   `json:"leaving,omitempty"`
}

// Member states.
const (
	StateAlive   = "alive"   // heard from within three heartbeat intervals
	StateSuspect = "suspect" // silent for longer, not yet declared dead
	StateDead    = "dead"    // declared dead by the cluster's failure detection
	StateLeft    = "left"    // announced that it was leaving, and left
)

// Member is a node as seen through gossip.
type Member struct {
	Name   string  `json:"name"`
	Addr   string  `json:"addr"`
	Admin  string  `json:"admin"`
	Shards []int32 `json:"shards"`
	Self   bool    `json:"self"`
	// State is StateAlive, StateSuspect, StateDead or StateLeft. Dead
	// and left members are listed until memberlist forgets them, 30 s
	// after they went.
	State string `json:"state"`
	// LastHeartbeat is when this node last heard from the member, by this
	// node's clock.
	LastHeartbeat time.Time `json:"lastHeartbeat"`
}

// Membership is this node's view of the cluster.
//
// memberlist exposes no other node's state: its Node.State is never set,
// and the Nodes Members returns change under its lock. So the Membership
// keeps its own view, updated by memberlist's events (which run under
// that lock and must not call back into memberlist): a node is alive when
// its heartbeat arrives, suspect when heartbeats stop, dead or left when
// memberlist says so.
type Membership struct {
	ml           *memberlist.Memberlist
	keyring      *memberlist.Keyring // nil without encryption
	log          *slog.Logger
	name         string
	beatEvery    time.Duration
	suspectAfter time.Duration
	forgetAfter  time.Duration
	onLeave      func(Member)

	keysMu sync.Mutex // serialises SetKeys

	mu      sync.Mutex
	meta    Meta
	beat    uint64
	leaving bool
	addr    string // advertised, recorded when memberlist announces this node
	peers   map[string]*peer
	gone    []Member      // waiting for onLeave
	wake    chan struct{} // a member was queued in gone

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// peer is what the Membership knows of a member.
type peer struct {
	m       Member
	leaving bool      // it announced that it was leaving
	wentAt  time.Time // when it died or left
}

// Join starts gossip and joins the seeds.
func Join(cfg Config, meta Meta) (*Membership, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = defaultBindAddr
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = defaultHeartbeatInterval
	}
	host, port, err := cfg.bindHostPort()
	if err != nil {
		return nil, err
	}
	advHost, _ := advertiseHost(cfg.AdvertiseAddr) // checked by bindHostPort
	advIP, err := resolveAdvertise(advHost)
	if err != nil {
		return nil, err
	}
	mc := memberlist.DefaultLANConfig()
	mc.BindAddr, mc.BindPort = host, port
	// With port 0 memberlist replaces AdvertisePort by the port it bound.
	mc.AdvertiseAddr, mc.AdvertisePort = advIP, port
	if cfg.Name != "" {
		mc.Name = cfg.Name
	} else {
		mc.Name = mc.Name + ":" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	mc.ProbeInterval, mc.ProbeTimeout = probeInterval, probeTimeout
	mc.SuspicionMult, mc.SuspicionMaxTimeoutMult = suspicionMult, suspicionMaxTimeoutMult
	mc.DeadNodeReclaimTime = deadNodeReclaimTime
	m := &Membership{
		log:          cfg.Logger.With("component", "gossip"),
		name:         mc.Name,
		beatEvery:    cfg.HeartbeatInterval,
		suspectAfter: 3 * cfg.HeartbeatInterval,
		forgetAfter:  mc.GossipToTheDeadTime,
		onLeave:      cfg.OnLeave,
		meta:         Meta{Admin: meta.Admin, Shards: slices.Clone(meta.Shards)},
		peers:        make(map[string]*peer),
		wake:         make(chan struct{}, 1),
		stop:         make(chan struct{}),
	}
	if keys := cfg.keys(); len(keys) > 0 {
		ring := make([][]byte, len(keys))
		for i, k := range keys {
			ring[i] = bytes.Clone(k) // the caller's slices stay the caller's
		}
		if m.keyring, err = memberlist.NewKeyring(ring, ring[0]); err != nil {
			return nil, fmt.Errorf("cluster: gossip keyring: %w", err)
		}
		mc.Keyring = m.keyring
	} else if !isLoopbackHost(host) {
		m.log.Warn("gossip listens beyond loopback without encryption (insecure): anyone who reaches the port can join", "addr", cfg.BindAddr)
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
			_ = ml.Shutdown()
			return nil, fmt.Errorf("cluster: joining %v: %w", cfg.Seeds, err)
		}
	}
	m.wg.Add(2)
	go m.heartbeat()
	go m.dispatchLeft()
	return m, nil
}

// heartbeat republishes the node's metadata with a new count every
// beatEvery, until stop.
func (m *Membership) heartbeat() {
	defer m.wg.Done()
	t := time.NewTicker(m.beatEvery)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		m.mu.Lock()
		m.beat++
		m.mu.Unlock()
		// UpdateNode waits until the update went out, at most an
		// interval; a timeout only means that no peer answered.
		if err := m.ml.UpdateNode(m.beatEvery); err != nil {
			m.log.Debug("publishing heartbeat", "err", err)
		}
	}
}

// dispatchLeft calls onLeave with the members queued in gone, until stop.
func (m *Membership) dispatchLeft() {
	defer m.wg.Done()
	for {
		select {
		case <-m.stop:
			return
		case <-m.wake:
		}
		m.mu.Lock()
		gone := m.gone
		m.gone = nil
		m.mu.Unlock()
		for _, mem := range gone {
			m.onLeave(mem)
		}
	}
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

// Members returns every member: alive and suspect ones, and dead or left
// ones until memberlist forgets them; this node is among them (Self).
// They are sorted by name.
func (m *Membership) Members() []Member {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.peers))
	for name, p := range m.peers {
		if m.forgotten(p, now) {
			delete(m.peers, name)
			continue
		}
		mem := p.m
		mem.Shards = slices.Clone(mem.Shards)
		if mem.State == StateAlive && !mem.Self && now.Sub(mem.LastHeartbeat) > m.suspectAfter {
			mem.State = StateSuspect
		}
		out = append(out, mem)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// forgotten reports whether memberlist has forgotten a dead or left
// member by now.
func (m *Membership) forgotten(p *peer, now time.Time) bool {
	return (p.m.State == StateDead || p.m.State == StateLeft) && now.Sub(p.wentAt) > m.forgetAfter
}

// NumMembers is the number of members memberlist counts as alive or
// suspect, this node included.
func (m *Membership) NumMembers() int { return m.ml.NumMembers() }

// Name is this node's name.
func (m *Membership) Name() string { return m.name }

// Addr is the gossip address this node advertises, host:port: the
// advertise address or the bind IP, with the port actually bound.
func (m *Membership) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// Leave announces departure and stops gossip. The others see the node as
// left (not dead) if the announcement reaches them within timeout. Later
// calls do nothing.
func (m *Membership) Leave(timeout time.Duration) error {
	var err error
	m.closeOnce.Do(func() {
		close(m.stop)
		m.wg.Wait()
		m.mu.Lock()
		m.leaving = true
		m.mu.Unlock()
		// The leave message would supersede this update in memberlist's
		// queue, so it has to go out first.
		if err := m.ml.UpdateNode(timeout); err != nil {
			m.log.Debug("announcing departure", "err", err)
		}
		err = m.ml.Leave(timeout)
		if serr := m.ml.Shutdown(); err == nil {
			err = serr
		}
	})
	return err
}

// NodeMeta implements memberlist.Delegate.
func (m *Membership) NodeMeta(limit int) []byte {
	m.mu.Lock()
	w := wireMeta{Meta: m.meta, Beat: m.beat, Leaving: m.leaving}
	m.mu.Unlock()
	b, _ := json.Marshal(w)
	if len(b) > limit {
		w.Shards = nil // too many shards to list: keep the address and the heartbeat
		b, _ = json.Marshal(w)
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
	mem := m.heard(n)
	if !mem.Self {
		m.log.Info("node joined", "node", mem.Name, "addr", mem.Addr, "shards", mem.Shards)
	}
}

func (m *Membership) NotifyUpdate(n *memberlist.Node) { m.heard(n) }

func (m *Membership) NotifyLeave(n *memberlist.Node) {
	now := time.Now()
	m.mu.Lock()
	p, ok := m.peers[n.Name]
	if !ok {
		mem, _ := m.member(n)
		mem.LastHeartbeat = time.Time{} // never heard from
		p = &peer{m: mem}
		m.peers[n.Name] = p
	}
	p.m.State, p.wentAt = StateDead, now
	if p.leaving {
		p.m.State = StateLeft
	}
	mem := p.m
	mem.Shards = slices.Clone(mem.Shards)
	if m.onLeave != nil && !mem.Self {
		m.gone = append(m.gone, mem)
		select {
		case m.wake <- struct{}{}:
		default: // already woken
		}
	}
	m.mu.Unlock()
	if mem.Self {
		return
	}
	if mem.State == StateLeft {
		m.log.Info("node left", "node", mem.Name, "addr", mem.Addr, "shards", mem.Shards)
	} else {
		m.log.Warn("node failed", "node", mem.Name, "addr", mem.Addr, "shards", mem.Shards)
	}
}

// heard records that n was heard from: it joined or published metadata,
// a heartbeat at least.
func (m *Membership) heard(n *memberlist.Node) Member {
	mem, leaving := m.member(n)
	m.mu.Lock()
	defer m.mu.Unlock()
	if mem.Self {
		m.addr = mem.Addr
	}
	p, ok := m.peers[n.Name]
	if !ok {
		p = &peer{}
		m.peers[n.Name] = p
	}
	p.m, p.leaving, p.wentAt = mem, leaving, time.Time{}
	return mem
}

// member reads a memberlist Node, which must not be kept: memberlist
// changes it under its lock. It returns whether the node announced that
// it is leaving.
func (m *Membership) member(n *memberlist.Node) (Member, bool) {
	var w wireMeta
	_ = json.Unmarshal(n.Meta, &w) // a node of another version may send less
	return Member{
		Name: n.Name, Addr: n.Address(), Admin: w.Admin, Shards: w.Shards, Self: n.Name == m.name,
		State: StateAlive, LastHeartbeat: time.Now(),
	}, w.Leaving
}
