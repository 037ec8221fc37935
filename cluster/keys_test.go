package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func newKey(t *testing.T, n int) []byte {
	t.Helper()
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func TestParseKeys(t *testing.T) {
	a, b, c := newKey(t, 32), newKey(t, 16), newKey(t, 24)
	for _, tc := range []struct {
		name    string
		text    string
		want    [][]byte
		wantErr string // in the error; "" = accepted
	}{
		{name: "one key", text: b64(a), want: [][]byte{a}},
		{name: "one key and newline", text: b64(a) + "\n", want: [][]byte{a}},
		{name: "several keys, comments and blank lines", text: "# new key, primary since 2026-05-01\n" + b64(b) + "\n\n  # old key\n  " + b64(a) + "  \n" + b64(c) + "\n",
			want: [][]byte{b, a, c}},
		{name: "CRLF", text: b64(a) + "\r\n" + b64(b) + "\r\n", want: [][]byte{a, b}},
		{name: "duplicate counts once", text: b64(a) + "\n" + b64(b) + "\n" + b64(a), want: [][]byte{a, b}},
		{name: "empty", text: "", wantErr: "no key"},
		{name: "comments only", text: "# nothing yet\n\n", wantErr: "no key"},
		{name: "not base64", text: b64(a) + "\nnot-a-key!\n", wantErr: "line 2: not valid base64"},
		{name: "two keys on a line", text: b64(a) + " " + b64(b), wantErr: "line 1: not valid base64"},
		{name: "wrong size", text: "# c\n" + b64(a) + "\n" + b64(newKey(t, 20)), wantErr: "line 3: key of 20 bytes, want 16, 24 or 32"},
		{name: "comment after the key", text: b64(a) + " # primary", wantErr: "line 1: not valid base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKeys(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseKeys: %v, want an error with %q", err, tc.wantErr)
				}
				for _, line := range strings.Split(tc.text, "\n") {
					if line = strings.TrimSpace(line); len(line) > 8 && !strings.HasPrefix(line, "#") && strings.Contains(err.Error(), line) {
						t.Errorf("error %q quotes the line %q", err, line)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tc.want, bytes.Equal) {
				t.Errorf("ParseKeys: %d keys, not the %d wanted in order", len(got), len(tc.want))
			}
		})
	}
}

func TestValidateKeys(t *testing.T) {
	a, b := newKey(t, 32), newKey(t, 16)
	for _, tc := range []struct {
		name   string
		cfg    Config
		errMsg string // "" = valid
	}{
		{name: "keyring", cfg: Config{Keys: [][]byte{a, b}}},
		{name: "secret key alone", cfg: Config{SecretKey: a}},
		{name: "secret key is the primary", cfg: Config{Keys: [][]byte{a, b}, SecretKey: a}},
		{name: "secret key is not the primary", cfg: Config{Keys: [][]byte{a, b}, SecretKey: b}, errMsg: "primary"},
		{name: "bad key in the ring", cfg: Config{Keys: [][]byte{a, make([]byte, 20)}}, errMsg: "gossip key 2 of 2: key of 20 bytes"},
		{name: "empty key in the ring", cfg: Config{Keys: [][]byte{nil}}, errMsg: "gossip key 1 of 1"},
		{name: "keys beyond loopback", cfg: Config{BindAddr: "0.0.0.0:0", Keys: [][]byte{a}}},
		{name: "negative heartbeat", cfg: Config{HeartbeatInterval: -time.Second}, errMsg: "heartbeat"},
	} {
		err := tc.cfg.Validate()
		if tc.errMsg == "" && err != nil || tc.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tc.errMsg)) {
			t.Errorf("%s: Validate: %v, want error %q", tc.name, err, tc.errMsg)
		}
	}
}

// TestRemoveKeys: whatever the ring's order, the keys not kept go and
// the primary stays first.
func TestRemoveKeys(t *testing.T) {
	k := [][]byte{newKey(t, 16), newKey(t, 16), newKey(t, 16), newKey(t, 16)}
	for _, tc := range []struct {
		ring, keep []int // indexes into k; ring[0] and keep[0] are the primary
	}{
		{ring: []int{0, 1}, keep: []int{0}},
		{ring: []int{0, 1, 2, 3}, keep: []int{0, 2}},
		{ring: []int{0, 1, 2, 3}, keep: []int{0, 3, 1}},
		{ring: []int{0, 1, 2, 3}, keep: []int{0, 1, 2, 3}},
		{ring: []int{2, 0, 3, 1}, keep: []int{2, 1}},
	} {
		pick := func(ix []int) [][]byte {
			var out [][]byte
			for _, i := range ix {
				out = append(out, k[i])
			}
			return out
		}
		ring, err := memberlist.NewKeyring(pick(tc.ring), k[tc.ring[0]])
		if err != nil {
			t.Fatal(err)
		}
		if err := removeKeys(ring, pick(tc.keep)); err != nil {
			t.Fatalf("ring %v keep %v: %v", tc.ring, tc.keep, err)
		}
		got := ring.GetKeys()
		if len(got) != len(tc.keep) || !bytes.Equal(got[0], k[tc.keep[0]]) {
			t.Errorf("ring %v keep %v: %d keys left, primary kept %v", tc.ring, tc.keep, len(got), bytes.Equal(got[0], k[tc.keep[0]]))
		}
		for _, key := range pick(tc.keep) {
			if !containsKey(got, key) {
				t.Errorf("ring %v keep %v: a kept key is gone", tc.ring, tc.keep)
			}
		}
	}
}

func TestSetKeysRefusesBadKeyrings(t *testing.T) {
	a := newKey(t, 32)
	plain := join(t, Config{Name: "plain", BindAddr: "127.0.0.1:0", Logger: discard()}, Meta{})
	if err := plain.SetKeys([][]byte{a}); !errors.Is(err, ErrNotEncrypted) {
		t.Errorf("SetKeys on plain-text gossip: %v, want ErrNotEncrypted", err)
	}
	enc := join(t, Config{Name: "enc", BindAddr: "127.0.0.1:0", Keys: [][]byte{a}, Logger: discard()}, Meta{})
	for _, keys := range [][][]byte{nil, {}, {a, make([]byte, 10)}, {nil}} {
		if err := enc.SetKeys(keys); err == nil {
			t.Errorf("SetKeys accepted a keyring of %d keys with a bad one", len(keys))
		}
	}
	if got := enc.keyring.GetKeys(); len(got) != 1 || !bytes.Equal(got[0], a) {
		t.Error("a refused keyring changed the keys in use")
	}
}

// lockedBuffer collects the log of several nodes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestKeyRotation rotates a three-node cluster from key A to key B
// through the three steps SetKeys documents, checking after each step
// that every node still sees the others and that gossip still carries
// metadata; a node with key B alone cannot join the cluster while it is
// on key A, nor one with key A alone once it is on B.
func TestKeyRotation(t *testing.T) {
	keyA, keyB := newKey(t, 32), newKey(t, 32)
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	start := func(name string, keys [][]byte, seeds ...string) (*Membership, error) {
		m, err := Join(Config{Name: name, BindAddr: "127.0.0.1:0", Seeds: seeds, Keys: keys, HeartbeatInterval: 200 * time.Millisecond, Logger: log}, Meta{Admin: name + ":8080"})
		if m != nil {
			t.Cleanup(func() { m.Leave(time.Second) })
		}
		return m, err
	}
	var nodes []*Membership
	for _, name := range []string{"a", "b", "c"} {
		var seeds []string
		if len(nodes) > 0 {
			seeds = []string{nodes[0].Addr()}
		}
		m, err := start(name, [][]byte{keyA}, seeds...)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, m)
	}
	round := int32(0)
	check := func(step string) {
		t.Helper()
		waitUntil(t, 10*time.Second, func() bool {
			for _, m := range nodes {
				if m.NumMembers() != len(nodes) {
					return false
				}
			}
			return true
		}, "%s: every node sees %d members", step, len(nodes))
		// Gossip still works both ways: each node's new shards reach
		// every other node.
		round++
		for i, m := range nodes {
			m.SetShards([]int32{round, int32(i)})
		}
		waitUntil(t, 10*time.Second, func() bool {
			for _, m := range nodes {
				for _, mem := range m.Members() {
					if mem.State != StateAlive || !slices.Equal(mem.Shards, []int32{round, int32(slices.IndexFunc(nodes, func(n *Membership) bool { return n.Name() == mem.Name }))}) {
						return false
					}
				}
			}
			return true
		}, "%s: every node sees the others' new shards", step)
	}
	check("key A")
	if c, err := start("intruder-b", [][]byte{keyB}, nodes[0].Addr()); err == nil {
		c.Leave(time.Second)
		t.Error("a node with key B alone joined a cluster on key A")
	}

	for _, step := range []struct {
		name string
		keys [][]byte
	}{
		{"1: add B as a second key", [][]byte{keyA, keyB}},
		{"2: make B the primary", [][]byte{keyB, keyA}},
		{"3: remove A", [][]byte{keyB}},
	} {
		for _, m := range nodes {
			if err := m.SetKeys(step.keys); err != nil {
				t.Fatalf("step %s: %v", step.name, err)
			}
			// Nodes are seconds apart in a real rotation: let gossip
			// run with a cluster in between.
			time.Sleep(300 * time.Millisecond)
		}
		for _, m := range nodes {
			got := m.keyring.GetKeys()
			if !bytes.Equal(got[0], step.keys[0]) || len(got) != len(step.keys) {
				t.Fatalf("step %s: node %s has %d keys, the primary right: %v", step.name, m.Name(), len(got), bytes.Equal(got[0], step.keys[0]))
			}
		}
		check("step " + step.name)
	}

	if c, err := start("intruder-a", [][]byte{keyA}, nodes[0].Addr()); err == nil {
		c.Leave(time.Second)
		t.Error("a node with the retired key A joined the cluster on key B")
	}
	d, err := start("d", [][]byte{keyB}, nodes[1].Addr())
	if err != nil {
		t.Fatalf("a node with key B could not join the cluster on key B: %v", err)
	}
	nodes = append(nodes, d)
	check("joined with B")

	out := logs.String()
	if !strings.Contains(out, "gossip keyring installed") {
		t.Error("SetKeys logged nothing")
	}
	for _, k := range [][]byte{keyA, keyB} {
		if strings.Contains(out, b64(k)) || strings.Contains(out, string(k)) || strings.Contains(out, fmt.Sprintf("%x", k)) || strings.Contains(out, fmt.Sprint(k)) {
			t.Error("the log holds a key")
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// join starts a Membership that leaves when the test ends.
func join(t *testing.T, cfg Config, meta Meta) *Membership {
	t.Helper()
	m, err := Join(cfg, meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Leave(time.Second) })
	return m
}

func waitUntil(t *testing.T, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until "+format, append([]any{timeout}, args...)...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
