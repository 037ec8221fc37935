package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/node"
)

func gossipKey(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k, base64.StdEncoding.EncodeToString(k)
}

// noKeyIn fails if s holds any of the base64 keys.
func noKeyIn(t *testing.T, what, s string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if strings.Contains(s, k) {
			t.Errorf("%s quotes a key:\n%s", what, s)
		}
	}
}

// TestGossipKeyFile: the gossip key file, variable or config key holds
// one or more keys, one per line, the first the primary; a bad line stops
// vigil run with an error naming the line, never the key.
func TestGossipKeyFile(t *testing.T) {
	a, a64 := gossipKey(t, 32)
	b, b64 := gossipKey(t, 16)
	_, bad64 := gossipKey(t, 20)
	for _, tc := range []struct {
		name    string
		file    string // content of --gossip-key-file, if any
		env     string // VIGIL_GOSSIP_KEY, if any
		want    [][]byte
		wantErr []string // in the error
	}{
		{name: "one key", file: a64 + "\n", want: [][]byte{a}},
		{name: "rotation, step 1", file: "# current\n" + a64 + "\n# next\n" + b64 + "\n", want: [][]byte{a, b}},
		{name: "rotation, step 2", file: b64 + "\n\n" + a64 + "\n", want: [][]byte{b, a}},
		{name: "CRLF", file: b64 + "\r\n" + a64 + "\r\n", want: [][]byte{b, a}},
		{name: "several keys in the environment", env: a64 + "\n" + b64, want: [][]byte{a, b}},
		{name: "bad base64", file: a64 + "\n" + strings.ToLower(b64) + "!\n", wantErr: []string{"--gossip-key-file", "line 2", "not valid base64", "openssl rand"}},
		{name: "bad size", file: a64 + "\n\n" + bad64 + "\n", wantErr: []string{"--gossip-key-file", "line 3", "20 bytes"}},
		{name: "comments only", file: "# no key yet\n", wantErr: []string{"--gossip-key-file", "no key"}},
		{name: "bad line in the environment", env: a64 + "\n" + a64 + "x", wantErr: []string{"VIGIL_GOSSIP_KEY", "line 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.file != "" {
				args = []string{"--gossip-key-file", writeFile(t, "gossip.keys", tc.file)}
			}
			if tc.env != "" {
				t.Setenv("VIGIL_GOSSIP_KEY", tc.env)
			}
			var stderr bytes.Buffer
			o, err := runConfig(args, &stderr)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatal("accepted")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				noKeyIn(t, "the error and log", err.Error()+stderr.String(), a64, b64, bad64, strings.ToLower(b64))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(o.node.Gossip.Keys, tc.want, bytes.Equal) {
				t.Errorf("got %d keys, not the %d wanted in order", len(o.node.Gossip.Keys), len(tc.want))
			}
			if wantFile := tc.file != ""; (o.gossipKeyFile != "") != wantFile {
				t.Errorf("key file to reload %q", o.gossipKeyFile)
			}
			noKeyIn(t, "the log", stderr.String(), a64, b64)
		})
	}
}

// fakeKeys records the keyrings installed.
type fakeKeys struct {
	got [][][]byte
	err error
}

func (f *fakeKeys) SetKeys(keys [][]byte) error {
	if f.err != nil {
		return f.err
	}
	f.got = append(f.got, keys)
	return nil
}

// TestGossipKeyReload: SIGHUP's reload installs the file's keys in order;
// a file that is missing, empty or bad installs nothing and says why
// without quoting a key.
func TestGossipKeyReload(t *testing.T) {
	a, a64 := gossipKey(t, 32)
	b, b64 := gossipKey(t, 24)
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		content *string // nil: no file
		setErr  error
		want    [][]byte
		wantErr string
	}{
		{name: "new secondary", content: ptr(a64 + "\n" + b64 + "\n"), want: [][]byte{a, b}},
		{name: "new primary", content: ptr("# rotated\n" + b64 + "\n" + a64 + "\n"), want: [][]byte{b, a}},
		{name: "old key removed", content: ptr(b64 + "\n"), want: [][]byte{b}},
		{name: "missing", wantErr: "--gossip-key-file"},
		{name: "empty", content: ptr("\n"), wantErr: "empty"},
		{name: "bad line", content: ptr(b64 + "\n" + a64[:20] + "\n"), wantErr: "line 2"},
		{name: "refused by the node", content: ptr(a64), setErr: cluster.ErrNotEncrypted, wantErr: "without encryption"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if tc.content != nil {
				if err := os.WriteFile(path, []byte(*tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			keys := &fakeKeys{err: tc.setErr}
			err := reloadGossipKeys(slog.New(slog.NewTextHandler(&log, nil)), path, keys)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("reload: %v, want an error with %q", err, tc.wantErr)
				}
				if len(keys.got) != 0 {
					t.Error("keys installed despite the error")
				}
				noKeyIn(t, "the error", err.Error()+log.String(), a64, b64, a64[:20])
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys.got) != 1 || !slices.EqualFunc(keys.got[0], tc.want, bytes.Equal) {
				t.Errorf("installed %d keyrings, want the file's %d keys in order", len(keys.got), len(tc.want))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestGossipReloadOnHangup: what SIGHUP does with keys from a file, from
// the environment, or with none.
func TestGossipReloadOnHangup(t *testing.T) {
	a, a64 := gossipKey(t, 32)
	_, b64 := gossipKey(t, 32)
	good := writeFile(t, "good.keys", b64+"\n"+a64+"\n")
	bad := writeFile(t, "bad.keys", "not a key\n")
	for _, tc := range []struct {
		name     string
		o        runOptions
		installs bool
		wantLog  string
	}{
		{name: "file", o: runOptions{gossipKeyFile: good}, installs: true, wantLog: "gossip keys reloaded"},
		{name: "bad file", o: runOptions{gossipKeyFile: bad}, wantLog: "the keys in use stay"},
		{name: "environment", o: runOptions{node: nodeWithKeys([][]byte{a})}, wantLog: "nothing to reload"},
		{name: "no encryption", wantLog: "not encrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			tc.o.node.Logger = slog.New(slog.NewTextHandler(&log, nil))
			keys := &fakeKeys{}
			tc.o.reloadOnHangup(keys)
			if (len(keys.got) == 1) != tc.installs || !strings.Contains(log.String(), tc.wantLog) {
				t.Errorf("installed %d keyrings, log:\n%s", len(keys.got), log.String())
			}
			noKeyIn(t, "the log", log.String(), a64, b64)
		})
	}
}

// TestGossipSIGHUP: a running vigil run re-reads its gossip key file on
// SIGHUP, and keeps running, with its keys, when the file is bad.
func TestGossipSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	_, a64 := gossipKey(t, 32)
	_, b64 := gossipKey(t, 32)
	keyFile := writeFile(t, "gossip.keys", a64+"\n")
	cmd, logFile := vigilProcessLog(t, "run", "--data-dir", t.TempDir(), "--embedded-broker-addr", freeAddr(t),
		"--admin-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0", "--advertise-addr", "localhost", "--gossip-key-file", keyFile,
		"--shards", "2", "--raw-partitions", "1")
	logHas := func(s string, n int) bool {
		b, _ := os.ReadFile(logFile)
		return strings.Count(string(b), s) >= n
	}
	waitFor(t, "node started", func() bool { return logHas("vigil node started", 1) })
	if !logHas("gossip=127.0.0.1:", 1) {
		t.Error("the node does not advertise its gossip address on 127.0.0.1, the address of localhost")
	}
	hangup := func() {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	for i, keys := range []string{a64 + "\n" + b64 + "\n", b64 + "\n" + a64 + "\n", b64 + "\n"} {
		if err := os.WriteFile(keyFile, []byte(keys), 0o600); err != nil {
			t.Fatal(err)
		}
		hangup()
		waitFor(t, "keys reloaded", func() bool { return logHas("gossip keys reloaded", i+1) })
	}
	if err := os.WriteFile(keyFile, []byte("# oops\n"+b64[:10]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hangup()
	waitFor(t, "bad keys refused", func() bool { return logHas("the keys in use stay", 1) })
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("vigil run stopped after a bad key file: %v", err)
	}
	b, _ := os.ReadFile(logFile)
	noKeyIn(t, "the log", string(b), a64, b64, b64[:10])
	if errors.Is(cmd.Process.Signal(syscall.SIGTERM), os.ErrProcessDone) {
		t.Fatal("vigil run ended")
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("vigil run after SIGTERM: %v", err)
	}
}

func nodeWithKeys(keys [][]byte) node.Config {
	var c node.Config
	c.Gossip.Keys = keys
	return c
}
