package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/actors"
	"github.com/vigil-sec/vigil/bench/corpus"
	"github.com/vigil-sec/vigil/cluster"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/node"
)

// The cluster tests run a broker and several `vigil run` processes on
// loopback, feed them mixed records with known attacks in them, do
// something to the cluster while the records are applied (kill a node,
// add one, restart them in turn, cut one off), and then compare every
// profile and finding with a single node's run over the same records.
//
// They use VIGIL_CLUSTER_RECORDS generated records (default 20,000, so
// that CI stays fast; `make test-cluster` runs them with 200,000).

// clusterShards is the shard count of the cluster tests: more shards than
// nodes, so that a rebalance moves some and keeps others.
const clusterShards = 8

var clusterRegions = "us-east-1,us-west-2,eu-west-1"

func clusterRecords(t *testing.T) int {
	if s := os.Getenv("VIGIL_CLUSTER_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("VIGIL_CLUSTER_RECORDS=%q", s)
		}
		return n
	}
	return 20_000
}

// clusterInput writes the generated records (a third per source) and the
// tour's attacks as files, in two halves: the tests send the first, do
// something to the cluster while it is applied, then send the second.
func clusterInput(t *testing.T) (first, second []string) {
	t.Helper()
	tpl, err := corpus.LoadTemplates("../../testdata/tour/cloudtrail", "../../sources/testdata/cloudtrail")
	if err != nil {
		t.Fatal(err)
	}
	g := corpus.New(corpus.Config{Seed: 11, Templates: tpl})
	dir := t.TempDir()
	n := clusterRecords(t)
	for _, src := range []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS} {
		recs, err := g.Records(src, n/3)
		if err != nil {
			t.Fatal(err)
		}
		for i, half := range [][][]byte{recs[:len(recs)/2], recs[len(recs)/2:]} {
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.log", src, i))
			if err := os.WriteFile(path, append(bytes.Join(half, []byte("\n")), '\n'), 0o600); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = append(first, path)
			} else {
				second = append(second, path)
			}
		}
	}
	return first, append(second, tour...)
}

// reference is a single node's state over the input: profiles, findings
// and dead-letter references.
type reference struct {
	state   map[string]string
	letters []string
}

var (
	refOnce sync.Once
	refRun  reference
)

// clusterReference runs one in-process node over the input, once per test
// binary.
func clusterReference(t *testing.T, first, second []string) reference {
	t.Helper()
	refOnce.Do(func() {
		broker := freeAddr(t)
		n := startNode(t, t.TempDir(), broker, func(c *node.Config) {
			c.Topics.Shards, c.Topics.RawPartitions = clusterShards, 4
			c.Regions = strings.Split(clusterRegions, ",")
			c.LearningPeriod = noAnomalies
		})
		defer n.Close()
		start := time.Now()
		n.replay(t, append(append([]string(nil), first...), second...)...)
		t.Logf("reference: one node applied the input in %s", time.Since(start).Round(time.Millisecond))
		refRun = reference{state: withoutSequences(n.state(t)), letters: letterContents(t, broker)}
	})
	if refRun.state == nil {
		t.Fatal("the reference run failed")
	}
	return refRun
}

// testCluster is a broker and vigil nodes, each a process.
type testCluster struct {
	t      *testing.T
	broker string
	nodes  map[string]*clusterNode
}

type clusterNode struct {
	name, dir, admin, gossip string
	extra                    []string
	cmd                      *exec.Cmd
	log                      string
	running                  bool
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
	c := &testCluster{t: t, broker: freeAddr(t), nodes: make(map[string]*clusterNode)}
	vigilProcess(t, "broker", "--addr", c.broker, "--data-dir", t.TempDir(), "--shards", strconv.Itoa(clusterShards),
		"--raw-partitions", "4", "--log-level", "warn")
	waitFor(t, "broker listening", func() bool {
		conn, err := net.Dial("tcp", c.broker)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return c
}

// add starts a new node with extra flags.
func (c *testCluster) add(name string, extra ...string) *clusterNode {
	c.t.Helper()
	n := &clusterNode{name: name, dir: c.t.TempDir(), admin: freeAddr(c.t), gossip: freeAddr(c.t), extra: extra}
	c.nodes[name] = n
	c.start(n)
	return n
}

// start starts (or restarts) a node's process, on its data directory.
func (c *testCluster) start(n *clusterNode) {
	c.t.Helper()
	brokers := c.broker
	args := []string{"run", "--brokers", brokers, "--data-dir", n.dir, "--admin-addr", n.admin, "--gossip-addr", n.gossip,
		"--node-name", n.name, "--shards", strconv.Itoa(clusterShards), "--raw-partitions", "4", "--flush-interval", "100ms",
		"--regions", clusterRegions, "--learning-period", noAnomalies.String(), "--log-level", "info"}
	var join []string
	for _, o := range c.nodes {
		if o != n && o.running {
			join = append(join, o.gossip)
		}
	}
	if len(join) > 0 {
		args = append(args, "--join", strings.Join(join, ","))
	}
	args = append(args, n.extra...)
	n.cmd, n.log = vigilProcessLog(c.t, args...)
	n.running = true
	waitFor(c.t, n.name+" ready", func() bool {
		resp, err := http.Get("http://" + n.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// kill kills a node with SIGKILL.
func (c *testCluster) kill(n *clusterNode) {
	c.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	_ = n.cmd.Wait()
	n.running = false
}

// stop stops a node with SIGTERM and waits for it to drain and exit.
func (c *testCluster) stop(n *clusterNode) {
	c.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case <-done:
		n.running = false
	case <-time.After(90 * time.Second):
		c.t.Fatalf("%s did not stop within 90 s of SIGTERM", n.name)
	}
}

func (n *clusterNode) client(broker string) *testNode {
	return &testNode{broker: broker, admin: n.admin}
}

// clusterView is /api/v1/cluster.
type clusterView struct {
	Node    string `json:"node"`
	Members []struct {
		Name   string  `json:"name"`
		State  string  `json:"state"`
		Shards []int32 `json:"shards"`
	} `json:"members"`
	Shards []struct {
		Shard int32  `json:"shard"`
		Owner string `json:"owner"`
		Lag   int64  `json:"lag"`
	} `json:"shards"`
}

func (c *testCluster) view(via *clusterNode) clusterView {
	c.t.Helper()
	var v clusterView
	via.client(c.broker).get(c.t, "/api/v1/cluster", &v)
	return v
}

// owners returns the owner of every shard as the node via sees them, and
// whether every shard has one.
func (c *testCluster) owners(via *clusterNode) (map[int32]string, bool) {
	c.t.Helper()
	v := c.view(via)
	out := make(map[int32]string)
	all := len(v.Shards) == clusterShards
	for _, s := range v.Shards {
		out[s.Shard] = s.Owner
		all = all && s.Owner != ""
	}
	return out, all
}

// produce sends files to the raw topics without waiting.
func (c *testCluster) produce(input []string) {
	c.t.Helper()
	vigil(c.t, append([]string{"replay", "--brokers", c.broker}, input...)...)
}

// wait returns once every record produced is applied.
func (c *testCluster) wait() {
	c.t.Helper()
	vigil(c.t, "replay", "--brokers", c.broker, "--wait", "--timeout", "10m")
}

// applied returns the events the cluster applied, from any live node.
func (c *testCluster) applied(via *clusterNode) int64 {
	c.t.Helper()
	var st struct {
		Applied int64 `json:"appliedEvents"`
	}
	via.client(c.broker).get(c.t, "/api/v1/status", &st)
	return st.Applied
}

// check compares the cluster's state, read through via, with the
// reference: every profile and finding, the findings topic (one value per
// id, the right one) and the dead letters.
func (c *testCluster) check(via *clusterNode, ref reference) {
	c.t.Helper()
	waitFor(c.t, "every shard owned", func() bool { _, all := c.owners(via); return all })
	full := via.client(c.broker).state(c.t)
	got := withoutSequences(full)
	diffs := 0
	for k, w := range ref.state {
		if g := got[k]; g != w {
			if diffs++; diffs <= 3 {
				c.t.Errorf("%s differs from the single-node run:\n got %s\nwant %s", k, g, w)
			}
		}
	}
	for k := range got {
		if _, ok := ref.state[k]; !ok {
			if diffs++; diffs <= 6 {
				c.t.Errorf("%s is not in the single-node run", k)
			}
		}
	}
	if diffs > 0 {
		c.t.Errorf("%d of %d findings and profiles differ from the single-node run", diffs, len(ref.state))
	}
	// The findings topic, compacted, is one record per id: its latest.
	latest := make(map[string][]byte)
	for _, r := range readTopic(c.t, c.broker, kafka.FindingsTopic) {
		latest[string(r.Key)] = r.Value
	}
	for id, v := range latest {
		var a, b any
		_ = json.Unmarshal(v, &a)
		_ = json.Unmarshal([]byte(full["finding "+id]), &b)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			c.t.Errorf("finding %s: the findings topic's latest value is not the finding", id)
		}
	}
	if n := len(byPrefix(full, "finding ")); len(latest) != n {
		c.t.Errorf("%d finding ids on the findings topic, %d findings", len(latest), n)
	}
	// Fencing: per shard, the changelog's committed records come in
	// ownership-epoch order. A write of a node that lost its shard, let
	// through after the new owner's, would show as an older epoch after a
	// newer one.
	epochs := make(map[int32]uint64)
	for _, r := range readTopic(c.t, c.broker, kafka.ProfilesTopic) {
		e := actors.OwnerOf(r)
		if e < epochs[r.Partition] {
			c.t.Errorf("shard %d: a record of owner epoch %d at offset %d, after epoch %d: an old owner's write got through",
				r.Partition, e, r.Offset, epochs[r.Partition])
		}
		epochs[r.Partition] = max(epochs[r.Partition], e)
	}
	if letters := letterContents(c.t, c.broker); !slices.Equal(letters, ref.letters) {
		c.t.Errorf("%d dead letters, the single-node run has %d, or they differ", len(letters), len(ref.letters))
	}
	c.t.Logf("%d findings and profiles equal to the single-node run", len(ref.state)-diffs)
}

// letterContents returns the dead letters without their offsets (records
// land in other raw partitions and at other offsets in every run): the
// topic, reason and size of each, sorted.
func letterContents(t *testing.T, broker string) []string {
	t.Helper()
	var out []string
	for _, l := range deadLetters(t, broker) {
		out = append(out, fmt.Sprint(l["topic"], "|", l["reason"], "|", l["size"]))
	}
	sort.Strings(out)
	return out
}

func byPrefix(m map[string]string, prefix string) []string {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// entityOn returns an entity (kind and admin id) of the reference whose
// shard is p.
func entityOn(t *testing.T, ref reference, p int32) (kind, id string) {
	t.Helper()
	for _, k := range byPrefix(ref.state, "principal ") {
		id := strings.TrimPrefix(k, "principal ")
		parts := strings.SplitN(id, "/", 3)
		if cluster.ShardOf(parts[0]+"/"+parts[1]+"/principal/"+parts[2], clusterShards) == p {
			return "principal", id
		}
	}
	t.Fatalf("no principal on shard %d", p)
	return "", ""
}

// lookup asks via for an entity and returns the HTTP status and body.
func lookup(via *clusterNode, kind, id string) (int, string) {
	resp, err := http.Get("http://" + via.admin + "/api/v1/actors/" + kind + "/" + id)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// whenApplied waits until the cluster applied at least frac of the
// events the reference applied.
func (c *testCluster) whenApplied(via *clusterNode, ref reference, frac float64) {
	c.t.Helper()
	want := int64(frac * float64(referenceApplied(ref)))
	waitFor(c.t, fmt.Sprintf("%d events applied", want), func() bool { return c.applied(via) >= want })
}

// referenceApplied is the events the reference applied: the sum of its
// profiles' event counts.
func referenceApplied(ref reference) int64 {
	var n int64
	for k, v := range ref.state {
		if strings.HasPrefix(k, "finding ") {
			continue
		}
		var p struct{ Events int64 }
		_ = json.Unmarshal([]byte(v), &p)
		n += p.Events
	}
	return n
}

// TestClusterKill: three nodes; one is killed with SIGKILL while records
// are applied; its shards serve again on the others, and the result
// equals a single node's.
func TestClusterKill(t *testing.T) {
	first, second := clusterInput(t)
	ref := clusterReference(t, first, second)
	c := newTestCluster(t)
	a, b, victim := c.add("a"), c.add("b"), c.add("c")
	waitFor(t, "every shard owned", func() bool { _, all := c.owners(a); return all })
	c.produce(first)
	c.whenApplied(a, ref, 0.25)

	owners, _ := c.owners(a)
	var moved []int32
	for p, o := range owners {
		if o == victim.name {
			moved = append(moved, p)
		}
	}
	if len(moved) == 0 {
		t.Fatalf("%s owns no shard: %v", victim.name, owners)
	}
	kind, id := entityOn(t, ref, moved[0])
	killed := time.Now()
	c.kill(victim)
	c.produce(second)
	var unavailable bool
	waitFor(t, "the killed node's shards served again", func() bool {
		code, _ := lookup(b, kind, id)
		unavailable = unavailable || code == http.StatusServiceUnavailable
		o, all := c.owners(b)
		return all && code == 200 && !slices.Contains(values(o), victim.name)
	})
	t.Logf("takeover: the shards of the node killed with -9 served again after %s", time.Since(killed).Round(100*time.Millisecond))
	c.wait()
	c.check(a, ref)
}

func values[K comparable, V any](m map[K]V) []V {
	var out []V
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestClusterScaleOut: a fourth node joins three while records are
// applied; some shards move to it, the others keep running, and the
// result equals a single node's.
func TestClusterScaleOut(t *testing.T) {
	first, second := clusterInput(t)
	ref := clusterReference(t, first, second)
	c := newTestCluster(t)
	a := c.add("a")
	c.add("b")
	c.add("c")
	waitFor(t, "every shard owned", func() bool { _, all := c.owners(a); return all })
	before, _ := c.owners(a)
	c.produce(first)
	c.whenApplied(a, ref, 0.25)
	d := c.add("d")
	c.produce(second)
	var after map[int32]string
	waitFor(t, "shards on the new node", func() bool {
		o, all := c.owners(a)
		after = o
		return all && slices.Contains(values(o), d.name)
	})
	moved := 0
	for p, o := range after {
		if before[p] != o {
			moved++
		}
	}
	t.Logf("scale-out: %d of %d shards moved to the new node", moved, clusterShards)
	if moved == clusterShards {
		t.Error("every shard moved: the rebalance is not incremental")
	}
	c.wait()
	c.check(d, ref)
}

// TestClusterRollingRestart: every node in turn is stopped with SIGTERM
// and started again, while records are applied.
func TestClusterRollingRestart(t *testing.T) {
	first, second := clusterInput(t)
	ref := clusterReference(t, first, second)
	c := newTestCluster(t)
	nodes := []*clusterNode{c.add("a"), c.add("b"), c.add("c")}
	waitFor(t, "every shard owned", func() bool { _, all := c.owners(nodes[0]); return all })
	c.produce(first)
	for i, n := range nodes {
		via := nodes[(i+1)%len(nodes)]
		c.whenApplied(via, ref, 0.15*float64(i+1))
		c.stop(n)
		if i == 1 {
			c.produce(second)
		}
		c.start(n)
	}
	c.wait()
	c.check(nodes[0], ref)
}

// TestClusterPartition: one node is cut off from the broker (a proxy
// between them that the test stops) while it keeps running, long enough
// for its shards to move; then it is reconnected. Its writes as a zombie
// are refused (fenced), and the result equals a single node's.
func TestClusterPartition(t *testing.T) {
	first, second := clusterInput(t)
	ref := clusterReference(t, first, second)
	c := newTestCluster(t)
	proxy := startSocksProxy(t)
	a, b := c.add("a"), c.add("b")
	// The zombie flushes seldom, so that it holds applied records it has
	// not written when it is cut off, and tries to write them later.
	zombie := c.add("z", "--kafka-socks5-proxy", proxy.Addr(), "--flush-interval", "3s")
	waitFor(t, "every shard owned", func() bool { _, all := c.owners(a); return all })
	c.produce(first)
	c.whenApplied(a, ref, 0.25)
	proxy.Cut()
	c.produce(second)
	waitFor(t, "the zombie's shards moved", func() bool {
		o, all := c.owners(b)
		return all && !slices.Contains(values(o), zombie.name)
	})
	time.Sleep(2 * time.Second) // the zombie flushes into the void meanwhile
	proxy.Mend()
	c.wait()
	waitFor(t, "the zombie back in the group", func() bool {
		resp, err := http.Get("http://" + zombie.admin + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	c.check(a, ref)
	fenced := zombie.client(c.broker).metric(t, "vigil_fenced_flushes_total")
	log, _ := os.ReadFile(zombie.log)
	refused := bytes.Count(log, []byte("not starting a new transactional producer"))
	t.Logf("the zombie: %d flushes failed while cut off, %d of them refused to start a producer for a shard no longer its own, "+
		"%v refused by Kafka as fenced; it dropped its shards (%d log lines about shards lost to other nodes)",
		bytes.Count(log, []byte("flush failed")), refused, fenced, bytes.Count(log, []byte("lost to another node")))
	if !bytes.Contains(log, []byte("lost to another node")) {
		t.Error("the zombie never learned that its shards moved")
	}
	if testing.Verbose() {
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") && !strings.Contains(line, "dead letter") {
				t.Log("zombie: " + line)
			}
		}
	}
}

// TestClusterAdmin: any node answers for the whole cluster; with the owner
// of an entity killed, a lookup answers 503 naming the shard until the
// shard serves again, then the right profile.
func TestClusterAdmin(t *testing.T) {
	first, second := clusterInput(t)
	ref := clusterReference(t, first, second)
	c := newTestCluster(t)
	nodes := []*clusterNode{c.add("a"), c.add("b"), c.add("c")}
	waitFor(t, "every shard owned", func() bool { _, all := c.owners(nodes[0]); return all })
	c.produce(first)
	c.produce(second)
	c.wait()
	owners, _ := c.owners(nodes[0])
	var victim *clusterNode
	var p int32
	for s, o := range owners {
		if o == "c" {
			victim, p = nodes[2], s
			break
		}
	}
	if victim == nil {
		t.Fatalf("c owns no shard: %v", owners)
	}
	kind, id := entityOn(t, ref, p)
	want := ref.state[kind+" "+id]
	findingsOf := func(n *clusterNode) string {
		var f struct {
			Findings []json.RawMessage `json:"findings"`
		}
		n.client(c.broker).get(t, "/api/v1/findings", &f)
		b, _ := json.Marshal(f.Findings)
		return string(b)
	}
	for _, n := range nodes {
		code, body := lookup(n, kind, id)
		var a struct {
			Profile json.RawMessage `json:"profile"`
		}
		_ = json.Unmarshal([]byte(body), &a)
		if code != 200 || string(a.Profile) != want {
			t.Errorf("lookup through %s: %d %s", n.name, code, body)
		}
		if findingsOf(n) != findingsOf(nodes[0]) {
			t.Errorf("findings through %s differ from those through a", n.name)
		}
	}
	c.kill(victim)
	var saw503 string
	waitFor(t, "the shard served again", func() bool {
		code, body := lookup(nodes[0], kind, id)
		if code == http.StatusServiceUnavailable {
			saw503 = body
		}
		return code == 200
	})
	if saw503 == "" {
		t.Log("no 503 seen: the shard moved before the first lookup")
	} else if !strings.Contains(saw503, "shard "+strconv.Itoa(int(p))) {
		t.Errorf("503 during the takeover does not name shard %d: %s", p, saw503)
	}
	code, body := lookup(nodes[0], kind, id)
	var a struct {
		Profile json.RawMessage `json:"profile"`
	}
	_ = json.Unmarshal([]byte(body), &a)
	if code != 200 || string(a.Profile) != want {
		t.Errorf("after the takeover: %d %s", code, body)
	}
}
