package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestShardOfIsStableAndSpread(t *testing.T) {
	// Pinned values: ingest and the admin endpoint of every node (and
	// every version) must agree on where a key lives.
	for key, want := range map[string]int32{
		"123456789012/us-east-1/principal/arn:aws:iam::123456789012:root": 6,
		"123456789012/eu-west-3/network/eni-0123456789abcdef0":            2,
		"stats/cloudtrail/3":               0,
		"0123456789abcdef0123456789abcdef": 5,
	} {
		if got := ShardOf(key, 16); got != want {
			t.Errorf("ShardOf(%q) = %d, want %d", key, got, want)
		}
	}
	counts := make([]int, 16)
	for i := range 16000 {
		counts[ShardOf("acct/us-east-1/network/i-"+string(rune('a'+i%26))+strconv.Itoa(i), 16)]++
	}
	for s, c := range counts {
		if c < 700 || c > 1300 {
			t.Errorf("shard %d got %d of 16000 keys", s, c)
		}
	}
}

// A global-service event goes to every region's entity of its principal:
// they must share a shard for it to be one internal record.
func TestShardOfIgnoresRegion(t *testing.T) {
	seen := make(map[int32]bool)
	for i := range 200 {
		entity := "/principal/arn:aws:iam::123456789012:user/u" + strconv.Itoa(i)
		want := ShardOf("123456789012/us-east-1"+entity, 16)
		seen[want] = true
		for _, region := range []string{"eu-west-1", "ap-southeast-2", "aws-global", ""} {
			if got := ShardOf("123456789012/"+region+entity, 16); got != want {
				t.Fatalf("%s in %q: shard %d, in us-east-1 %d", entity, region, got, want)
			}
		}
		if other := ShardOf("210987654321/us-east-1"+entity, 16); other == want && i < 8 {
			t.Logf("%s: same shard in another account (can happen)", entity)
		}
	}
	if len(seen) < 12 {
		t.Errorf("200 principals on %d of 16 shards", len(seen))
	}
}

func TestMembershipEncrypted(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := Join(Config{Name: "a", BindAddr: "127.0.0.1:0", SecretKey: key, Logger: log}, Meta{Admin: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Leave(time.Second)
	b, err := Join(Config{Name: "b", BindAddr: "127.0.0.1:0", Seeds: []string{a.Addr()}, SecretKey: key, Logger: log}, Meta{Admin: "127.0.0.1:2"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Leave(time.Second)
	b.SetShards([]int32{1, 3})
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []int32
		for _, m := range a.Members() {
			if m.Name == "b" {
				got = m.Shards
			}
		}
		if len(got) == 2 && got[0] == 1 && got[1] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node a never saw b's shards: %+v", a.Members())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A node with another key cannot join.
	other := make([]byte, 32)
	rand.Read(other)
	if c, err := Join(Config{Name: "c", BindAddr: "127.0.0.1:0", Seeds: []string{a.Addr()}, SecretKey: other, Logger: log}, Meta{}); err == nil {
		c.Leave(time.Second)
		t.Error("a node with the wrong gossip key joined")
	}
}

// TestJoinRefusesOpenGossip: without a key, gossip may listen on loopback
// only, unless the operator says the network is trusted.
func TestJoinRefusesOpenGossip(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name     string
		addr     string
		key      []byte
		insecure bool
		refused  bool
	}{
		{"loopback without key", "127.0.0.1:0", nil, false, false},
		{"localhost without key", "localhost:0", nil, false, false},
		{"any address without key", "0.0.0.0:0", nil, false, true},
		{"empty host without key", ":0", nil, false, true},
		{"IPv6 any without key", "[::]:0", nil, false, true},
		{"non-loopback IP without key", "192.0.2.1:0", nil, false, true},
		{"host name without key", "gossip.example.com:0", nil, false, true},
		{"host name with key", "gossip.example.com:0", key, false, true},
		{"any address with key", "0.0.0.0:0", key, false, false},
		{"any address insecure", "0.0.0.0:0", nil, true, false},
	} {
		if err := (Config{BindAddr: tc.addr, SecretKey: tc.key, Insecure: tc.insecure}).Validate(); (err != nil) != tc.refused {
			t.Errorf("Validate(%s, key %v, insecure %v): %v", tc.addr, tc.key != nil, tc.insecure, err)
		}
		t.Run(tc.name, func(t *testing.T) {
			m, err := Join(Config{Name: "n", BindAddr: tc.addr, SecretKey: tc.key, Insecure: tc.insecure, Logger: log}, Meta{})
			if m != nil {
				defer m.Leave(time.Second)
			}
			if tc.refused && tc.key != nil {
				// memberlist would listen on every interface for a name.
				if err == nil || !strings.Contains(err.Error(), "must be an IP address") {
					t.Fatalf("Join(%s): %v, want a refused host name", tc.addr, err)
				}
				return
			}
			if tc.refused {
				if !errors.Is(err, ErrUnprotected) {
					t.Fatalf("Join(%s) without key: %v, want ErrUnprotected", tc.addr, err)
				}
				for _, hint := range []string{"--gossip-key-file", "VIGIL_GOSSIP_KEY", "--insecure-gossip"} {
					if !strings.Contains(err.Error(), hint) {
						t.Errorf("error %q does not mention %s", err, hint)
					}
				}
				return
			}
			if errors.Is(err, ErrUnprotected) {
				t.Fatalf("Join(%s): %v", tc.addr, err)
			}
			if err != nil && strings.Contains(err.Error(), "private IP") {
				// memberlist advertises a private address when bound to
				// 0.0.0.0; this host has none.
				t.Skipf("host has no private IP to advertise: %v", err)
			}
			if err != nil {
				t.Fatalf("Join(%s): %v", tc.addr, err)
			}
		})
	}
}

func TestValidateKeySize(t *testing.T) {
	for n, ok := range map[int]bool{0: true, 15: false, 16: true, 24: true, 32: true, 33: false} {
		err := Config{SecretKey: make([]byte, n)}.Validate()
		if (err == nil) != ok {
			t.Errorf("key of %d bytes: %v", n, err)
		}
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true}, {"127.1.2.3", true}, {"::1", true}, {"localhost", true}, {"LocalHost", true},
		{"", false}, {"0.0.0.0", false}, {"::", false}, {"10.0.0.1", false}, {"fe80::1", false},
		{"vigil-1", false}, {"localhost.example.com", false},
	} {
		if got := isLoopbackHost(tc.host); got != tc.want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

// TestConfigRedactsSecret: however a Config is printed or logged, the
// secret stays out.
func TestConfigRedactsSecret(t *testing.T) {
	cfg := Config{Name: "n1", BindAddr: "0.0.0.0:7946", SecretKey: []byte("s3cret-key-value"), Keys: [][]byte{[]byte("s3cret-key-value"), []byte("second-key-value")}}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", cfg, "ptr", &cfg)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "cfg", cfg)
	for _, out := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg), fmt.Sprintf("%+v", []Config{cfg}),
		text.String(), js.String(),
	} {
		if strings.Contains(out, "s3cret-key-value") || strings.Contains(out, "second-key-value") || !strings.Contains(out, "0.0.0.0:7946") || !strings.Contains(out, "2 [redacted]") {
			t.Errorf("secret shown or address hidden: %s", out)
		}
	}
}

// crash stops m's gossip without a word, as a killed process would.
func crash(m *Membership) {
	m.closeOnce.Do(func() {
		close(m.stop)
		m.wg.Wait()
		_ = m.ml.Shutdown()
	})
}

// TestFailureDetection: a killed node is declared dead within a few
// seconds, a node that leaves is reported left, both stay listed with
// their state and shards, and OnLeave hears of both, outside memberlist's
// locks (it calls back into the Membership).
func TestFailureDetection(t *testing.T) {
	gone := make(chan Member, 4)
	var a *Membership
	ready := make(chan struct{})
	onLeave := func(m Member) {
		<-ready
		a.Members() // would deadlock under memberlist's locks
		a.NumMembers()
		gone <- m
	}
	a = join(t, Config{Name: "a", BindAddr: "127.0.0.1:0", OnLeave: onLeave, Logger: discard()}, Meta{Admin: "127.0.0.1:1"})
	close(ready)
	b := join(t, Config{Name: "b", BindAddr: "127.0.0.1:0", Seeds: []string{a.Addr()}, Logger: discard()}, Meta{Admin: "127.0.0.1:2"})
	c := join(t, Config{Name: "c", BindAddr: "127.0.0.1:0", Seeds: []string{a.Addr()}, Logger: discard()}, Meta{Admin: "127.0.0.1:3"})
	b.SetShards([]int32{0, 1})
	c.SetShards([]int32{2, 3})
	state := func(name string) (Member, bool) {
		for _, m := range a.Members() {
			if m.Name == name {
				return m, true
			}
		}
		return Member{}, false
	}
	waitUntil(t, 10*time.Second, func() bool {
		mb, okb := state("b")
		mc, okc := state("c")
		return okb && okc && len(mb.Shards) == 2 && len(mc.Shards) == 2
	}, "a sees b's and c's shards")

	// Heartbeats arrive every interval.
	waitUntil(t, 10*time.Second, func() bool {
		for _, m := range a.Members() {
			if m.State != StateAlive || time.Since(m.LastHeartbeat) > 1500*time.Millisecond {
				return false
			}
		}
		return len(a.Members()) == 3
	}, "a hears every member's heartbeat: %+v", a.Members())
	self, _ := state("a")
	if !self.Self || self.Admin != "127.0.0.1:1" || self.Addr != a.Addr() {
		t.Errorf("a's own entry: %+v", self)
	}

	killed := time.Now()
	crash(c)
	var left Member
	select {
	case left = <-gone:
	case <-time.After(15 * time.Second):
		t.Fatalf("a killed node was not declared dead within 15s: %+v", a.Members())
	}
	took := time.Since(killed)
	t.Logf("killed node declared dead after %v", took.Round(100*time.Millisecond))
	if took > 8*time.Second {
		t.Errorf("a killed node took %v to be declared dead, want a few seconds", took)
	}
	if left.Name != "c" || left.State != StateDead || !slices.Equal(left.Shards, []int32{2, 3}) || left.Admin != "127.0.0.1:3" {
		t.Errorf("OnLeave got %+v, want c dead with shards [2 3]", left)
	}
	if m, ok := state("c"); !ok || m.State != StateDead {
		t.Errorf("Members lists c as %+v, want dead", m)
	}
	if n := a.NumMembers(); n != 2 {
		t.Errorf("NumMembers %d after c died, want 2", n)
	}

	if err := b.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case left = <-gone:
	case <-time.After(10 * time.Second):
		t.Fatalf("a node that left was not reported: %+v", a.Members())
	}
	if left.Name != "b" || left.State != StateLeft || !slices.Equal(left.Shards, []int32{0, 1}) {
		t.Errorf("OnLeave got %+v, want b left with shards [0 1]", left)
	}
	if m, ok := state("b"); !ok || m.State != StateLeft {
		t.Errorf("Members lists b as %+v, want left", m)
	}
}

// TestMemberStates: the state a member is reported in, from what was
// heard of it and when.
func TestMemberStates(t *testing.T) {
	m := &Membership{name: "self", suspectAfter: 3 * time.Second, forgetAfter: 30 * time.Second, peers: make(map[string]*peer)}
	now := time.Now()
	for _, tc := range []struct {
		name  string
		p     peer
		want  string // "" = no longer listed
		label string
	}{
		{name: "n1", p: peer{m: Member{State: StateAlive, LastHeartbeat: now.Add(-time.Second)}}, want: StateAlive, label: "fresh heartbeat"},
		{name: "n2", p: peer{m: Member{State: StateAlive, LastHeartbeat: now.Add(-4 * time.Second)}}, want: StateSuspect, label: "heartbeats stopped"},
		{name: "n3", p: peer{m: Member{State: StateDead, LastHeartbeat: now.Add(-9 * time.Second)}, wentAt: now.Add(-5 * time.Second)}, want: StateDead, label: "dead"},
		{name: "n4", p: peer{m: Member{State: StateLeft}, wentAt: now.Add(-29 * time.Second)}, want: StateLeft, label: "left"},
		{name: "n5", p: peer{m: Member{State: StateDead}, wentAt: now.Add(-31 * time.Second)}, want: "", label: "dead and forgotten"},
		{name: "self", p: peer{m: Member{State: StateAlive, Self: true, LastHeartbeat: now.Add(-time.Minute)}}, want: StateAlive, label: "this node"},
	} {
		p := tc.p
		p.m.Name = tc.name
		m.peers[tc.name] = &p
		t.Run(tc.label, func(t *testing.T) {
			got := ""
			for _, mem := range m.Members() {
				if mem.Name == tc.name {
					got = mem.State
				}
			}
			if got != tc.want {
				t.Errorf("state %q, want %q", got, tc.want)
			}
		})
	}
	names := []string{}
	for _, mem := range m.Members() {
		names = append(names, mem.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("members not sorted: %v", names)
	}
}

// TestMetaFitsLimit: the metadata stays within memberlist's limit however
// many shards a node owns, keeping the admin address and the heartbeat.
func TestMetaFitsLimit(t *testing.T) {
	for _, n := range []int{0, 16, 64, 1000} {
		shards := make([]int32, n)
		for i := range shards {
			shards[i] = int32(i)
		}
		m := &Membership{meta: Meta{Admin: "vigil-node-with-a-long-name.example.internal:8443", Shards: shards}, beat: 1 << 40}
		b := m.NodeMeta(memberlist.MetaMaxSize)
		var w wireMeta
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		if len(b) > memberlist.MetaMaxSize || w.Admin != m.meta.Admin || w.Beat != 1<<40 {
			t.Errorf("%d shards: %d bytes, admin %q, heartbeat %d", n, len(b), w.Admin, w.Beat)
		}
		if n <= 64 && len(w.Shards) != n {
			t.Errorf("%d shards: %d published", n, len(w.Shards))
		}
	}
}

// TestAdvertiseAddr: the advertised gossip address is the advertise host
// (resolved if a name) with the port actually bound, which the others
// reach this node at.
func TestAdvertiseAddr(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	for _, tc := range []struct {
		name, bind, advertise string
		wantHost              string // "" = refused
	}{
		{name: "none", bind: "127.0.0.1:0", wantHost: "127.0.0.1"},
		{name: "IP", bind: "127.0.0.1:0", advertise: "127.0.0.1", wantHost: "127.0.0.1"},
		{name: "name", bind: "127.0.0.1:0", advertise: "localhost", wantHost: "127.0.0.1"},
		{name: "bound to every interface", bind: "0.0.0.0:0", advertise: "127.0.0.1", wantHost: "127.0.0.1"},
		{name: "with a port", bind: "127.0.0.1:0", advertise: "127.0.0.1:7946"},
		{name: "name with a port", bind: "127.0.0.1:0", advertise: "vigil-1:7946"},
		{name: "unspecified", bind: "127.0.0.1:0", advertise: "0.0.0.0"},
		{name: "unresolvable", bind: "127.0.0.1:0", advertise: "no-such-host.invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Join(Config{Name: "a", BindAddr: tc.bind, AdvertiseAddr: tc.advertise, Keys: [][]byte{key}, Logger: discard()}, Meta{})
			if tc.wantHost == "" {
				if err == nil {
					m.Leave(time.Second)
					t.Fatalf("advertise address %q accepted", tc.advertise)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Leave(time.Second)
			host, port, err := net.SplitHostPort(m.Addr())
			if err != nil || host != tc.wantHost || port == "0" {
				t.Fatalf("Addr() = %q, want %s with the bound port", m.Addr(), tc.wantHost)
			}
			// The address works: another node joins through it and
			// sees this node there.
			b := join(t, Config{Name: "b", BindAddr: "127.0.0.1:0", Seeds: []string{m.Addr()}, Keys: [][]byte{key}, Logger: discard()}, Meta{})
			waitUntil(t, 10*time.Second, func() bool {
				for _, mem := range b.Members() {
					if mem.Name == "a" {
						return mem.Addr == m.Addr()
					}
				}
				return false
			}, "b sees a at %s: %+v", m.Addr(), b.Members())
		})
	}
}
