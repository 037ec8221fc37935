package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// rss returns a process's resident set and its peak, in bytes.
func rss(t *testing.T, pid int) (now, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			now = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return now, peak
}

// spikeRecord is one gzipped CloudTrail delivery file of n copies of a
// real event, each with its own eventID and time: like the record that
// exposed the problem, 100,000 events compress to under 1 MB.
func spikeRecord(t *testing.T, n int) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/tour/cloudtrail/stratus-console-login-without-mfa.json")
	if err != nil {
		t.Fatal(err)
	}
	var evs []map[string]any
	if err := json.Unmarshal(b, &evs); err != nil || len(evs) == 0 {
		t.Fatalf("template: %v", err)
	}
	ev := evs[0]
	start := time.Date(2024, 7, 31, 13, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write([]byte(`{"Records":[`))
	for i := range n {
		if i > 0 {
			zw.Write([]byte(","))
		}
		ev["eventID"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		ev["eventTime"] = start.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		e, _ := json.Marshal(ev)
		zw.Write(e)
	}
	zw.Write([]byte(`]}`))
	zw.Close()
	return buf.Bytes()
}

// TestMemorySpike sends the record that once took a node to 1.84 GiB of
// resident memory for good (100,000 events in one gzipped delivery file)
// on four partitions at once, and checks that the node's memory comes
// back: the decoder streams the file event by event and keeps no buffer
// above a small size, and the entities it created are passivated.
func TestMemorySpike(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 400,000 events")
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory makes resident sizes meaningless; `make test` runs this without it")
	}
	events := 100_000
	rec := spikeRecord(t, events)
	// The broker runs in its own process, so that the node's memory is the
	// node's alone.
	broker, adminAddr := freeAddr(t), freeAddr(t)
	vigilProcess(t, "broker", "--addr", broker, "--data-dir", t.TempDir(), "--raw-partitions", "4", "--log-level", "warn")
	waitFor(t, "broker listening", func() bool {
		c, err := net.Dial("tcp", broker)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	cmd := vigilProcess(t, "run", "--data-dir", t.TempDir(), "--brokers", broker, "--admin-addr", adminAddr,
		"--gossip-addr", "127.0.0.1:0", "--raw-partitions", "4", "--idle-timeout", "2s", "--flush-interval", "100ms",
		"--regions", "us-east-1,us-west-2,eu-west-1", "--log-level", "warn")
	n := &testNode{broker: broker, admin: adminAddr}
	waitFor(t, "node ready", func() bool {
		resp, err := http.Get("http://" + adminAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	cl := client(t, broker)
	send := func(rec []byte) {
		t.Helper()
		for p := range int32(4) {
			r := &kgo.Record{Topic: "vigil.raw.cloudtrail", Partition: p, Value: rec}
			if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		n.replay(t)
	}
	// A warm node: every code path has run once (its pages of the
	// executable are resident), and the memory of the warm-up is released.
	settled := func() {
		t.Helper()
		waitFor(t, "free memory released", func() bool {
			return n.metric(t, "go_memstats_heap_idle_bytes")-n.metric(t, "go_memstats_heap_released_bytes") < 32<<20
		})
	}
	send(spikeRecord(t, 2000))
	time.Sleep(15 * time.Second)
	settled()
	before, _ := rss(t, cmd.Process.Pid)

	send(rec)
	_, peak := rss(t, cmd.Process.Pid)
	// Idle entities are passivated within a few flush ticks of the idle
	// timeout; an idle node returns free memory to the system.
	waitFor(t, "entities passivated", func() bool {
		return n.metric(t, "vigil_entities_passivated_total") >= n.metric(t, "vigil_entities_spawned_total")
	})
	time.Sleep(15 * time.Second)
	settled()
	after, _ := rss(t, cmd.Process.Pid)
	for _, m := range []string{"go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes", "vigil_entities_spawned_total", "vigil_entities_passivated_total"} {
		t.Logf("%s %.0f", m, n.metric(t, m))
	}
	t.Logf("gzipped record %d KB with %d events, on 4 partitions: RSS %d MiB before, peak %d MiB, %d MiB after",
		len(rec)>>10, events, before>>20, peak>>20, after>>20)
	if float64(after) > 1.2*float64(before) {
		t.Errorf("RSS %d MiB after the spike, more than 20%% above the %d MiB before", after>>20, before>>20)
	}
}
