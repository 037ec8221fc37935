// Command bench is vigil's load generator and measurement harness.
//
//	go run ./bench                         measure each source and a mix, on an in-process node
//	go run ./bench -records 100000 -json report.json
//	go run ./bench -gen DIR                write a corpus for `vigil replay --wait DIR`
//
// For every scenario it starts a fresh node with its embedded broker,
// produces the records to the raw topics, waits until the node has applied
// them all (the same wait as `vigil replay --wait`), and reports records per
// second, events applied, findings, peak heap and the size of Pebble on
// disk. The broker runs in the same process, so its CPU and memory are in
// the figures; compare runs made on the same machine.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/admin"
	"github.com/vigil-sec/vigil/bench/corpus"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/node"
)

func main() {
	var (
		records   = flag.Int("records", 20000, "records per source in each scenario")
		scenarios = flag.String("scenarios", "cloudtrail,vpcflow,dns,mixed", "scenarios to run")
		shards    = flag.Int("shards", 16, "shard count")
		templates = flag.String("templates", "testdata/tour/cloudtrail,sources/testdata/cloudtrail,../shared/data/stratus_detonation_logs/docs/detonation-logs", "CloudTrail template files or directories (missing ones are skipped)")
		gen       = flag.String("gen", "", "write the corpus to this directory instead of measuring")
		jsonOut   = flag.String("json", "", "also write the report as JSON to this file")
		cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the measured scenarios to this file")
	)
	flag.Parse()
	if err := run(*records, strings.Split(*scenarios, ","), int32(*shards), *templates, *gen, *jsonOut, *cpuProf); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Result is one scenario's figures.
type Result struct {
	Scenario      string  `json:"scenario"`
	Records       int     `json:"records"`
	Events        int64   `json:"eventsApplied"`
	ProduceSec    float64 `json:"produceSeconds"`
	TotalSec      float64 `json:"appliedSeconds"`
	RecordsPerSec float64 `json:"recordsPerSecond"`
	EventsPerSec  float64 `json:"eventsPerSecond"`
	Findings      int     `json:"findings"`
	PeakHeapMiB   float64 `json:"peakHeapMiB"`
	PebbleMiB     float64 `json:"pebbleMiB"`
}

func run(n int, scenarios []string, shards int32, templates, gen, jsonOut, cpuProf string) error {
	var paths []string
	for _, p := range strings.Split(templates, ",") {
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		}
	}
	tpl, err := corpus.LoadTemplates(paths...)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "CloudTrail templates: %d events from %v\n", len(tpl), paths)
	g := corpus.New(corpus.Config{Templates: tpl})
	data := make(map[event.Source][][]byte)
	for _, src := range []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS} {
		if data[src], err = g.Records(src, n); err != nil {
			return err
		}
	}
	if gen != "" {
		return writeCorpus(gen, data)
	}
	if cpuProf != "" { // the measured scenarios only, not the generation
		f, err := os.Create(cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var results []Result
	for _, sc := range scenarios {
		var srcs []event.Source
		if sc == "mixed" {
			srcs = []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS}
		} else if s, ok := event.ParseSource(sc); ok {
			srcs = []event.Source{s}
		} else {
			return fmt.Errorf("unknown scenario %q", sc)
		}
		r, err := measure(sc, srcs, data, shards)
		if err != nil {
			return fmt.Errorf("%s: %w", sc, err)
		}
		results = append(results, r)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trecords\tevents\tproduce s\tapplied s\trecords/s\tevents/s\tfindings\tpeak heap MiB\tpebble MiB\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.0f\t%.0f\t%d\t%.0f\t%.1f\t\n", r.Scenario, r.Records, r.Events, r.ProduceSec, r.TotalSec,
			r.RecordsPerSec, r.EventsPerSec, r.Findings, r.PeakHeapMiB, r.PebbleMiB)
	}
	tw.Flush()
	fmt.Printf("GOMAXPROCS=%d %s/%s %s\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	if jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		return os.WriteFile(jsonOut, b, 0o644)
	}
	return nil
}

func measure(name string, srcs []event.Source, data map[event.Source][][]byte, shards int32) (Result, error) {
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	broker, err := freeAddr()
	if err != nil {
		return Result{}, err
	}
	topics := kafka.DefaultTopics()
	topics.Shards = shards
	cfg := node.Config{DataDir: dir, EmbeddedBrokerAddr: broker, Topics: topics,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg.Admin.Addr, cfg.Gossip.BindAddr = "127.0.0.1:0", "127.0.0.1:0"
	ctx := context.Background()
	nd, err := node.Start(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer nd.Close()
	for nd.Ready() != nil {
		time.Sleep(10 * time.Millisecond)
	}

	var peak atomic.Uint64
	stop := make(chan struct{})
	go sampleHeap(&peak, stop)
	defer close(stop)

	opts, _ := kafka.Config{Brokers: nd.BrokerAddrs()}.Options()
	cl, err := kgo.NewClient(append(opts, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(500_000), kgo.MaxBufferedBytes(512<<20))...)
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	topicOf := map[event.Source]string{event.SourceCloudTrail: topics.CloudTrail, event.SourceVPCFlow: topics.VPCFlow, event.SourceDNS: topics.DNS}
	res := Result{Scenario: name}
	start := time.Now()
	var failed atomic.Value
	for _, src := range srcs {
		for _, v := range data[src] {
			cl.Produce(ctx, &kgo.Record{Topic: topicOf[src], Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Store(err)
				}
			})
			res.Records++
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return res, err
	}
	if err, _ := failed.Load().(error); err != nil {
		return res, err
	}
	res.ProduceSec = time.Since(start).Seconds()
	ends, err := kafka.EndOffsets(ctx, cl, topics.Raw()...)
	if err != nil {
		return res, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	if err := kafka.WaitApplied(wctx, cl, ends); err != nil {
		return res, err
	}
	res.TotalSec = time.Since(start).Seconds()
	st, err := nd.Status(ctx)
	if err != nil {
		return res, err
	}
	res.Events = st.Applied
	res.RecordsPerSec = float64(res.Records) / res.TotalSec
	res.EventsPerSec = float64(res.Events) / res.TotalSec
	fs, err := nd.Findings(ctx, admin.FindingsQuery{})
	if err != nil {
		return res, err
	}
	res.Findings = len(fs)
	res.PeakHeapMiB = float64(peak.Load()) / (1 << 20)
	res.PebbleMiB = float64(dirSize(filepath.Join(dir, "pebble"))) / (1 << 20)
	fmt.Fprintf(os.Stderr, "%s: %d records applied in %.2fs\n", name, res.Records, res.TotalSec)
	return res, nil
}

func sampleHeap(peak *atomic.Uint64, stop <-chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var ms runtime.MemStats
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// writeCorpus writes one file per source, one record per line.
func writeCorpus(dir string, data map[event.Source][][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := map[event.Source]string{event.SourceCloudTrail: "cloudtrail.jsonl", event.SourceVPCFlow: "vpcflow.log", event.SourceDNS: "dns.route53.jsonl"}
	for src, recs := range data {
		f, err := os.Create(filepath.Join(dir, names[src]))
		if err != nil {
			return err
		}
		for _, r := range recs {
			f.Write(r)
			f.Write([]byte{'\n'})
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %d %s records to %s\n", len(recs), src, f.Name())
	}
	return nil
}
