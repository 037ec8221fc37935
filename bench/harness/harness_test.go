package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/bench/loadgen"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
)

// The reference loop reads what was produced, finds every attack and
// nothing else, and stores profiles.
func TestReference(t *testing.T) {
	b, err := kafka.StartBroker("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	topics := kafka.DefaultTopics()
	topics.Shards, topics.RawPartitions = 2, 2
	if err := kafka.Ensure(ctx, cl, topics); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	from, err := rawEnds(ctx, adm, topics)
	if err != nil {
		t.Fatal(err)
	}
	regions := []string{"us-east-1", "eu-west-1"}
	gc := loadgen.ForEntities(100)
	gc.Regions = regions
	g := loadgen.New(gc)
	srcs := []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS}
	topicOf := map[event.Source]string{event.SourceCloudTrail: topics.CloudTrail, event.SourceVPCFlow: topics.VPCFlow, event.SourceDNS: topics.DNS}
	var recs []*kgo.Record
	want := make(map[string]bool)
	for i := range 6000 {
		if i%1000 == 500 {
			a, err := g.Attack(loadgen.KindsFor(srcs)[i/1000])
			if err != nil {
				t.Fatal(err)
			}
			want[a.Finding.ID] = true
			for _, v := range a.Records {
				recs = append(recs, &kgo.Record{Topic: topicOf[a.Source], Value: v})
			}
		}
		r := g.NextOf(srcs)
		recs = append(recs, &kgo.Record{Topic: topicOf[r.Source], Value: r.Value})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	to, err := rawEnds(ctx, adm, topics)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runReference(ctx, b.Addrs(), topics, from, to, regions, 100*time.Millisecond, filepath.Join(t.TempDir(), "ref"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != int64(len(recs)) || res.Events < res.Records || res.DecodeErrors != 0 || res.Missing != 0 {
		t.Errorf("reference read %d records (%d events, %d errors, %d missing), want %d", res.Records, res.Events, res.DecodeErrors, res.Missing, len(recs))
	}
	for id := range want {
		if _, ok := res.entityOf[id]; !ok {
			t.Errorf("attack finding %s not raised", id)
		}
	}
	if res.Findings != len(want) {
		t.Errorf("%d findings, want the %d attacks'", res.Findings, len(want))
	}
	if res.Entities == 0 || res.PebbleBytes == 0 || res.RPS <= 0 || res.BytesPerEntity <= 0 {
		t.Errorf("reference figures: %+v", res)
	}
}

// The report files are written and results.json has the figures.
func TestReport(t *testing.T) {
	sc := &ScenarioResult{Name: "mixed", Sources: []string{"cloudtrail", "vpcflow", "dns"},
		Max:   &PhaseResult{Name: "max", Records: 1000, Events: 1200, Seconds: 1, RPS: 1000, EPS: 1200, Drained: true, LatencyP50MS: 900, LatencyP99MS: 1500},
		Rate:  &PhaseResult{Name: "rate", TargetRPS: 500, Records: 500, Seconds: 1, RPS: 500, Drained: true, LatencyP50MS: 200, LatencyP95MS: 300, LatencyP99MS: 400},
		Ref:   &RefResult{Records: 1500, RPS: 4000, EPS: 4500, Footprint: Footprint{Entities: 10, BytesPerEntity: 300}},
		Ratio: 0.25, Expected: 2, Found: 2, Recall: 1, Footprint: Footprint{Entities: 10, PebbleBytes: 5000, BytesPerEntity: 500},
		Nodes:   []NodeResult{{Name: "n1", RSSPeak: 100 << 20, HeapPeak: 50 << 20}},
		Attacks: []Attack{{Phase: "max", Kind: "portscan", Found: true, LatencyMS: 900}, {Phase: "rate", Kind: "dns-tunnel", Found: true, LatencyMS: 200}},
		Samples: []Sample{{T: 1, Phase: "max", RecordsPerS: 900, IngestLag: 10}, {T: 2, Phase: "rate", RecordsPerS: 500, ShardsLag: 5}}}
	r := &Results{Scenarios: []*ScenarioResult{sc}}
	r.finish()
	r.clean()
	dir := t.TempDir()
	if err := writeReport(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "results.json", chartThroughput, chartLag, chartLatency} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var got map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{"throughput_rps": 1000, "baseline_rps": 4000, "ratio": 0.25, "latency_p50_ms": 200, "latency_p99_ms": 400,
		"recall": 1, "false_findings": 0, "rss_bytes": 100 << 20, "bytes_per_entity": 500} {
		if got[k] != want {
			t.Errorf("results.json %s = %v, want %v", k, got[k], want)
		}
	}
	var out bytes.Buffer
	printSummary(&out, r)
	if !strings.Contains(out.String(), "mixed") || !strings.Contains(out.String(), "0.25") {
		t.Errorf("summary:\n%s", out.String())
	}
}

func TestFlags(t *testing.T) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	f := NewFlags(fs)
	if err := fs.Parse([]string{"--sources", "dns, mixed", "--regions", "us-east-1,eu-west-1", "--brokers", "k1:9092,k2:9092", "--records", "10", "--gen", "d"}); err != nil {
		t.Fatal(err)
	}
	c, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Sources, ",") != "dns,mixed" || len(c.Regions) != 2 || len(c.Brokers) != 2 || f.GenRecords != 10 || f.Gen != "d" || !c.Max {
		t.Errorf("config %+v", c)
	}
	c.defaults()
	if err := c.validate(); err != nil {
		t.Error(err)
	}
	c.Sources = []string{"syslog"}
	if err := c.validate(); err == nil {
		t.Error("unknown scenario accepted")
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for p, want := range map[float64]float64{50: 3, 99: 5, 0: 1, 100: 5} {
		if got := percentile(xs, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
}

// BenchmarkReferenceApply is the reference loop's work for one record
// without Kafka or Pebble: decode, broadcast, profile update and
// detectors, per source, over loadgen's records (4 regions).
func BenchmarkReferenceApply(b *testing.B) {
	for _, src := range []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS} {
		b.Run(src.String(), func(b *testing.B) {
			g := loadgen.New(loadgen.ForEntities(2000))
			recs := make([]*kgo.Record, 20000)
			for i := range recs {
				recs[i] = &kgo.Record{Value: g.Next(src).Value}
			}
			ref := &reference{regions: []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"}, defaultRegion: "us-east-1"}
			if err := ref.init(); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				ref.apply(src, recs[i%len(recs)])
				i++
			}
			b.ReportMetric(float64(ref.events)/float64(i), "events/record")
		})
	}
}
