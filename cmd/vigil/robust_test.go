package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/bench/corpus"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/node"
)

// client returns a Kafka client of broker with room for large records.
func client(t *testing.T, broker string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base, err := kafka.Config{Brokers: []string{broker}}.Options()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(append(base, kgo.ProducerBatchMaxBytes(4<<20), kgo.MaxBufferedBytes(64<<20)), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t *testing.T, cl *kgo.Client, topic string, values ...string) {
	t.Helper()
	for _, v := range values {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("producing to %s: %v", topic, err)
		}
	}
}

// readTopic returns the committed records of a topic, up to its end.
func readTopic(t *testing.T, broker, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(client(t, broker))
	// The last stable offsets: a transaction in flight is not read.
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, _ := starts.Lookup(o.Topic, o.Partition); o.Offset > s.Offset {
			want[o.Partition] = o.Offset
		}
	})
	cl := client(t, broker, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	var out []*kgo.Record
	for len(want) > 0 {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
		// Records deleted meanwhile (vigil trims what it consumed) are
		// not coming: a partition whose start passed its end is read.
		if starts, err := adm.ListStartOffsets(ctx, topic); err == nil {
			starts.Each(func(o kadm.ListedOffset) {
				if end, ok := want[o.Partition]; ok && o.Offset >= end {
					delete(want, o.Partition)
				}
			})
		}
	}
	return out
}

// deadLetters returns the dead letters, by "topic/partition/offset".
func deadLetters(t *testing.T, broker string) map[string]map[string]any {
	t.Helper()
	out := make(map[string]map[string]any)
	for _, r := range readTopic(t, broker, kafka.DeadLetterTopic) {
		var m map[string]any
		if err := json.Unmarshal(r.Value, &m); err != nil {
			t.Fatalf("dead letter is not JSON: %v", err)
		}
		out[string(r.Key)] = m
	}
	return out
}

func flowLine(iface string, start int64) string {
	return fmt.Sprintf("2 111122223333 %s 10.0.1.25 198.51.100.7 49152 443 6 10 8400 %d %d ACCEPT OK", iface, start, start+20)
}

// TestPoisonRecords: no record can stop the node. A flow line with a
// 700 KB interface-id (which made an internal record too large for Kafka
// and stopped ingest for good), an event larger than --max-event-bytes,
// and an internal record Kafka itself rejects are each dead-lettered, and
// the records after them are applied.
func TestPoisonRecords(t *testing.T) {
	dir, broker := t.TempDir(), freeAddr(t)
	n := startNode(t, dir, broker, func(c *node.Config) { c.MaxEventBytes = 2048; c.DeadLetterExcerpt = 16 })
	defer func() { n.Close() }()
	cl := client(t, broker)
	good := func(i int) string { return flowLine(fmt.Sprintf("eni-0good%012d", i), 1741469700+int64(i)) }

	hugeIface := "2 111122223333 eni-" + strings.Repeat("a", 700_000) + " 10.0.0.1 10.0.0.2 1 443 6 1 1 1741469700 1741469720 ACCEPT OK"
	produce(t, cl, "vigil.raw.vpcflow", hugeIface, good(1))
	// 40 request parameters of 200 bytes: about 8 KB encoded.
	var params []string
	for i := range 40 {
		params = append(params, fmt.Sprintf(`"p%d":"%s"`, i, strings.Repeat("v", 200)))
	}
	bigEvent := `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"},` +
		`"eventTime":"2024-05-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-west-2",` +
		`"sourceIPAddress":"198.51.100.20","eventID":"big-1","requestParameters":{` + strings.Join(params, ",") + `}}`
	produce(t, cl, "vigil.raw.cloudtrail", bigEvent)
	produce(t, cl, "vigil.raw.vpcflow", good(2))
	n.replay(t)

	// Kafka rejects the next internal record: the entities topic takes no
	// record above 300 bytes (the node sized its batches for 1 MB).
	adm := kadm.NewClient(cl)
	alter := func(v string) {
		t.Helper()
		resp, err := adm.AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "max.message.bytes", Value: &v}}, kafka.EntitiesTopic)
		if err == nil {
			_, err = resp.On(kafka.EntitiesTopic, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	alter("300")
	// A user agent of random letters: the record stays above 300 bytes
	// compressed, and below --max-event-bytes.
	rng := rand.New(rand.NewPCG(1, 2))
	ua := make([]byte, 900)
	for i := range ua {
		ua[i] = byte('a' + rng.IntN(26))
	}
	rejected := strings.Replace(bigEvent, `"eventID":"big-1","requestParameters":{`+strings.Join(params, ",")+`}`,
		`"eventID":"small-1","userAgent":"`+string(ua)+`"`, 1)
	produce(t, cl, "vigil.raw.cloudtrail", rejected)
	waitFor(t, "the rejected record dead-lettered", func() bool { return len(deadLetters(t, broker)) == 3 })
	alter("1048588")
	produce(t, cl, "vigil.raw.vpcflow", good(3))
	n.replay(t)

	letters := deadLetters(t, broker)
	for key, want := range map[string]string{
		"vigil.raw.vpcflow/0/0":    "interface-id",
		"vigil.raw.cloudtrail/0/0": "--max-event-bytes",
		"vigil.raw.cloudtrail/0/1": "Kafka rejected",
	} {
		l, ok := letters[key]
		if reason, _ := l["reason"].(string); !ok || !strings.Contains(reason, want) {
			t.Errorf("dead letter %s: %v; want a reason naming %q", key, l, want)
		}
		if ex, _ := l["excerpt"].(string); len(ex) > 16 {
			t.Errorf("dead letter %s quotes %d bytes, more than --dead-letter-excerpt", key, len(ex))
		}
	}
	if len(letters) != 3 {
		t.Errorf("%d dead letters, want 3: %v", len(letters), keys(letters))
	}
	select {
	case err := <-n.Err():
		t.Fatalf("the node stopped: %v", err)
	default:
	}
	var list struct {
		Actors []struct{ ID string } `json:"actors"`
	}
	n.get(t, "/api/v1/actors?kind=network", &list)
	goodOnes := 0
	for _, a := range list.Actors {
		if strings.Contains(a.ID, "eni-0good") {
			goodOnes++
		}
	}
	if goodOnes != 3 {
		t.Errorf("%d of the 3 good records after the bad ones applied", goodOnes)
	}
	// A restart does not meet the bad records again.
	n.Close()
	n = startNode(t, dir, broker)
	produce(t, cl, "vigil.raw.vpcflow", good(4))
	n.replay(t)
	if got := len(deadLetters(t, broker)); got != 3 {
		t.Errorf("%d dead letters after a restart, want the same 3", got)
	}
}

// TestFlushFailureStopsShard: when a shard cannot append its flushes (the
// changelog topic refuses them), it retries for --flush-retry-timeout,
// then stops with a reason that readiness and the status report; the node
// and its other shards keep running, and nothing unwritten is committed.
func TestFlushFailureStopsShard(t *testing.T) {
	broker := freeAddr(t)
	n := startNode(t, t.TempDir(), broker, func(c *node.Config) { c.FlushRetryTimeout = time.Second })
	defer n.Close()
	cl := client(t, broker)
	v := "10"
	resp, err := kadm.NewClient(cl).AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "max.message.bytes", Value: &v}}, kafka.ProfilesTopic)
	if err == nil {
		_, err = resp.On(kafka.ProfilesTopic, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	produce(t, cl, "vigil.raw.vpcflow", flowLine("eni-0a1", 1741469700))
	waitFor(t, "a shard stopped", func() bool { return n.Ready() != nil })
	resp2, err := http.Get("http://" + n.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body.String(), "shard") {
		t.Errorf("/readyz: %s %s", resp2.Status, body.String())
	}
	var st struct {
		Stopped []struct {
			Shard  int32
			Reason string
		} `json:"stoppedShards"`
		Lag map[string]int64 `json:"consumerLag"`
	}
	n.get(t, "/api/v1/status", &st)
	if len(st.Stopped) == 0 {
		t.Error("no stopped shard in the status")
	}
	for _, s := range st.Stopped {
		if !strings.Contains(s.Reason, "changelog") {
			t.Errorf("shard %d stopped for %q; want the failed changelog append named", s.Shard, s.Reason)
		}
	}
	if st.Lag[kafka.ShardsGroup] == 0 {
		t.Error("the stopped shard committed records it could not write")
	}
	select {
	case err := <-n.Err():
		t.Fatalf("the node stopped: %v", err)
	default:
	}
}

// TestRewind: the partitions' records are deleted once consumed, the node
// (and its embedded broker) is killed, and the broker reloads the emptied
// partitions at offset 0. The records produced after that were once
// skipped as duplicates of the old offsets; now they are applied.
func TestRewind(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	broker, adminAddr, dataDir := freeAddr(t), freeAddr(t), t.TempDir()
	args := []string{"run", "--data-dir", dataDir, "--embedded-broker-addr", broker, "--admin-addr", adminAddr,
		"--gossip-addr", "127.0.0.1:0", "--shards", "4", "--raw-partitions", "1", "--flush-interval", "50ms",
		"--trim-interval", "100ms", "--regions", "us-east-1,us-west-2,eu-west-1", "--log-level", "info"}
	n := &testNode{broker: broker, admin: adminAddr}
	start := func() (*os.Process, string) {
		cmd, logPath := vigilProcessLog(t, args...)
		waitFor(t, "node ready", func() bool {
			resp, err := http.Get("http://" + adminAddr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		return cmd.Process, logPath
	}
	proc, _ := start()
	n.replay(t, "../../testdata/tour/vpcflow")
	flows := func() float64 {
		var a struct {
			Profile struct{ Flows float64 } `json:"profile"`
		}
		n.get(t, "/api/v1/actors/network/111122223333/us-east-1/eni-0a1b2c3d4e5f60001", &a)
		return a.Profile.Flows
	}
	before := flows()
	if before == 0 {
		t.Fatal("the interface has no flows")
	}
	adm := kadm.NewClient(client(t, broker))
	waitFor(t, "consumed records deleted", func() bool {
		ctx := context.Background()
		starts, err1 := adm.ListStartOffsets(ctx, "vigil.raw.vpcflow", kafka.EntitiesTopic)
		ends, err2 := adm.ListEndOffsets(ctx, "vigil.raw.vpcflow", kafka.EntitiesTopic)
		if err1 != nil || err2 != nil {
			return false
		}
		empty := true
		ends.Each(func(e kadm.ListedOffset) {
			if s, ok := starts.Lookup(e.Topic, e.Partition); !ok || s.Offset != e.Offset {
				empty = false
			}
		})
		return empty
	})
	if err := proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = proc.Wait()

	// The same interfaces' traffic of the next two hours, through the same
	// partitions, now at offsets the old records had.
	_, logPath := start()
	n.replay(t, bigFlowFile(t, 2))
	if got := flows(); got != 3*before {
		t.Errorf("interface flows %v after the restart, want %v: the new records were not all applied", got, 3*before)
	}
	var st struct {
		Sources map[string]struct{ Records int64 } `json:"sources"`
	}
	n.get(t, "/api/v1/status", &st)
	if st.Sources["vpcflow"].Records != 3*252 {
		t.Errorf("status: %d flow records, want every record of both runs (%d)", st.Sources["vpcflow"].Records, 3*252)
	}
	log, _ := os.ReadFile(logPath)
	if !strings.Contains(string(log), "went back") {
		t.Error("no rewind was logged: the test did not make the partitions go back")
	}
}

// vigilProcessLog is vigilProcess, returning the path of its log.
func vigilProcessLog(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := vigilProcess(t, args...)
	return cmd, cmd.Stdout.(*os.File).Name()
}

// TestSameResultInAnyOrder: the same input replayed with 1, 4 and 16 raw
// partitions, each with the files in another order, gives identical
// findings (every field, ids, counts, first and last seen) and profiles.
func TestSameResultInAnyOrder(t *testing.T) {
	files := orderCorpus(t)
	var want map[string]string
	for i, parts := range []int32{1, 4, 16} {
		order := append([]string(nil), files...)
		rand.New(rand.NewPCG(uint64(i), 7)).Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		n := startNode(t, t.TempDir(), freeAddr(t), func(c *node.Config) {
			c.Topics.RawPartitions = parts
			c.LearningPeriod = noAnomalies
		})
		n.replay(t, order...)
		got := withoutSequences(n.state(t))
		n.Close()
		if want == nil {
			want = got
			if len(want) < 100 {
				t.Fatalf("only %d findings and profiles: not a meaningful comparison", len(want))
			}
			continue
		}
		diffs := 0
		for k, w := range want {
			if g := got[k]; g != w {
				if diffs++; diffs <= 3 {
					t.Errorf("%d raw partitions: %s differs:\n got %s\nwant %s", parts, k, g, w)
				}
			}
		}
		if len(got) != len(want) || diffs > 0 {
			t.Errorf("%d raw partitions: %d findings and profiles (want %d), %d differ", parts, len(got), len(want), diffs)
		}
	}
}

// orderCorpus writes the tour's files and generated records (few entities,
// many records each, so that each entity's records interleave across
// partitions) as many small files.
func orderCorpus(t *testing.T) []string {
	t.Helper()
	tpl, err := corpus.LoadTemplates("../../testdata/tour/cloudtrail", "../../sources/testdata/cloudtrail")
	if err != nil {
		t.Fatal(err)
	}
	g := corpus.New(corpus.Config{Seed: 3, Principals: 20, Interfaces: 12, RemoteHosts: 60, Templates: tpl})
	dir := t.TempDir()
	var files []string
	for _, src := range []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS} {
		recs, err := g.Records(src, 3000)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(recs); i += 250 {
			path := filepath.Join(dir, fmt.Sprintf("%s-%02d.log", src, i/250))
			if err := os.WriteFile(path, append(bytes.Join(recs[i:min(i+250, len(recs))], []byte("\n")), '\n'), 0o600); err != nil {
				t.Fatal(err)
			}
			files = append(files, path)
		}
	}
	for _, d := range tour {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			files = append(files, filepath.Join(d, e.Name()))
		}
	}
	return files
}

// TestStatusAndPaging: the status totals come from the shards' persisted
// counters, so a restart keeps them; the actors list pages through every
// entity exactly once.
func TestStatusAndPaging(t *testing.T) {
	dir, broker := t.TempDir(), freeAddr(t)
	n := startNode(t, dir, broker)
	n.replay(t, tour...)
	type status struct {
		Sources    map[string]struct{ Records, Events, Dropped, DeadLetters int64 } `json:"sources"`
		Applied    int64                                                            `json:"appliedEvents"`
		Duplicates int64                                                            `json:"duplicatesSkipped"`
		Findings   int64                                                            `json:"findingOccurrences"`
	}
	var before status
	n.get(t, "/api/v1/status", &before)
	if before.Applied == 0 || before.Sources["vpcflow"].Records != 252 {
		t.Fatalf("status before the restart: %+v", before)
	}

	type page struct {
		Actors []struct{ ID string } `json:"actors"`
		Next   string                `json:"nextCursor"`
	}
	var all page
	n.get(t, "/api/v1/actors?kind=network&limit=10000", &all)
	if len(all.Actors) < 5 || all.Next != "" {
		t.Fatalf("%d network entities, next %q", len(all.Actors), all.Next)
	}
	var paged []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > len(all.Actors) {
			t.Fatal("paging does not end")
		}
		var p page
		n.get(t, "/api/v1/actors?kind=network&limit=3&cursor="+cursor, &p)
		if len(p.Actors) > 3 {
			t.Fatalf("a page of %d with limit 3", len(p.Actors))
		}
		for _, a := range p.Actors {
			paged = append(paged, a.ID)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	var want []string
	for _, a := range all.Actors {
		want = append(want, a.ID)
	}
	if strings.Join(paged, "\n") != strings.Join(want, "\n") {
		t.Errorf("pages of 3 gave %d entities, the whole list %d", len(paged), len(want))
	}

	n.Close()
	n = startNode(t, dir, broker)
	defer n.Close()
	var after status
	n.get(t, "/api/v1/status", &after)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("status after a restart %+v, before %+v", after, before)
	}
}

// TestLiveEntityCap: with a cap of 8 live entities (2 per shard), the
// node passivates its least recently used entities at every flush tick,
// and loses nothing: profiles and findings equal a run without the cap.
func TestLiveEntityCap(t *testing.T) {
	input := append([]string{bigFlowFile(t, 3)}, tour...)
	want := func() map[string]string {
		n := startNode(t, t.TempDir(), freeAddr(t))
		defer n.Close()
		n.replay(t, input...)
		return n.state(t)
	}()
	n := startNode(t, t.TempDir(), freeAddr(t), func(c *node.Config) { c.MaxLiveEntities = 8 })
	defer n.Close()
	n.replay(t, input...)
	waitFor(t, "live entities under the cap", func() bool { return n.metric(t, "vigil_live_entities") <= 8 })
	if p := n.metric(t, "vigil_entities_passivated_total"); p == 0 {
		t.Fatal("nothing passivated")
	}
	got := n.state(t)
	if len(got) != len(want) {
		t.Errorf("%d findings and profiles with the cap, %d without", len(got), len(want))
	}
	for k, w := range want {
		if g := got[k]; g != w {
			t.Errorf("%s differs with the cap:\n got %s\nwant %s", k, g, w)
		}
	}
}
