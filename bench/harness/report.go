package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart file names in the output directory.
const (
	chartThroughput = "throughput.svg"
	chartLag        = "lag.svg"
	chartLatency    = "latency.svg"
)

// WriteResults writes r as JSON (results.json's form) to path.
func WriteResults(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeReport writes results.json, report.md and the charts to dir.
func writeReport(dir string, r *Results) error {
	if err := WriteResults(filepath.Join(dir, "results.json"), r); err != nil {
		return err
	}
	for name, draw := range map[string]func(string, *Results) error{
		chartThroughput: throughputChart, chartLag: lagChart, chartLatency: latencyChart,
	} {
		if err := draw(filepath.Join(dir, name), r); err != nil {
			return fmt.Errorf("chart %s: %w", name, err)
		}
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return err
	}
	writeMarkdown(f, r)
	return f.Close()
}

// printSummary prints the summary table.
func printSummary(w io.Writer, r *Results) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tvigil rec/s\tevents/s\treference rec/s\tratio\tlive rec/s\trate rec/s\tp50 ms\tp95 ms\tp99 ms\tp99 ms at max\trecall\tfalse\tRSS MiB\theap MiB\tB/entity\tcompacted\tCPU s/M rec\t")
	for _, s := range r.Scenarios {
		var maxRPS, maxEPS, p99max = math.NaN(), math.NaN(), math.NaN()
		live := math.NaN()
		if s.Max != nil {
			maxRPS, maxEPS, p99max, live = s.Max.RPS, s.Max.EPS, s.Max.LatencyP99MS, s.Max.RPS
		}
		if b := s.Backlog; b != nil && b.Drained {
			maxRPS, maxEPS = b.RPS, b.EPS
		}
		var rate, p50, p95, p99 = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		if s.Rate != nil {
			rate, p50, p95, p99 = s.Rate.TargetRPS, s.Rate.LatencyP50MS, s.Rate.LatencyP95MS, s.Rate.LatencyP99MS
		}
		ref := math.NaN()
		if s.Ref != nil {
			ref = s.Ref.RPS
		}
		var rss, heap int64 = -1, -1
		for _, n := range s.Nodes {
			rss, heap = max(rss, n.RSSPeak), max(heap, n.HeapPeak)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", s.Name,
			num(maxRPS, 0), num(maxEPS, 0), num(ref, 0), num(s.Ratio, 2), num(live, 0), num(rate, 0), num(p50, 0), num(p95, 0), num(p99, 0), num(p99max, 0),
			s.Found, s.Expected, s.FalseFindings, mib(rss), mib(heap), num(s.BytesPerEntity, 0), num(s.CompactedBytesPerEntity, 0), num(s.CPUPerMRecords, 1))
	}
	tw.Flush()
	fmt.Fprintf(w, "headline (%s): %s records/s = %s × the reference loop (%s records/s); latency at %s records/s p50 %s ms, p99 %s ms; recall %d/%d, %d false findings\n",
		r.Headline, num(r.ThroughputRPS, 0), num(r.Ratio, 2), num(r.BaselineRPS, 0), num(r.RateRPS, 0), num(r.LatencyP50MS, 0), num(r.LatencyP99MS, 0),
		r.Found, r.Expected, r.FalseFindings)
	fmt.Fprintf(w, "%s; %d entities (%d regions), %s phases; GOMAXPROCS=%d %s %s\n", r.Run.Target, r.Run.Entities, r.Run.Regions, r.Run.Duration,
		r.Run.GOMAXPROCS, r.Run.OS, r.Run.GoVersion)
}

func num(v float64, prec int) string {
	if math.IsNaN(v) || v < 0 {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func mib(b int64) string {
	if b < 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", float64(b)/(1<<20))
}

func writeMarkdown(w io.Writer, r *Results) {
	fmt.Fprintf(w, "# vigil bench report\n\n")
	fmt.Fprintf(w, "Run %s, %.0f s: %s; %d entities (principals and instances), %d enabled regions, phases of %s, seed %d.\n",
		r.Run.Started.Format("2006-01-02 15:04 MST"), r.Run.Seconds, r.Run.Target, r.Run.Entities, r.Run.Regions, r.Run.Duration, r.Run.Seed)
	fmt.Fprintf(w, "Machine: %d CPUs (%s), GOMAXPROCS %d, %s, %s, kernel %s.\n\n", r.Run.NumCPU, r.Run.CPUModel, r.Run.GOMAXPROCS, r.Run.OS, r.Run.GoVersion, r.Run.Kernel)

	fmt.Fprintf(w, "## Summary\n\n```\n")
	printSummary(w, r)
	fmt.Fprintf(w, "```\n\n")

	fmt.Fprintf(w, "| scenario | phase | records | events | s | records/s | events/s | produced/s | max lag ingest / shards | attacks found | latency p50 / p95 / p99 / max ms |\n")
	fmt.Fprintf(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Scenarios {
		for _, p := range s.phases() {
			name := p.Name
			if p.TargetRPS > 0 {
				name += fmt.Sprintf(" (%.0f/s)", p.TargetRPS)
			}
			if !p.Drained {
				name += " (not drained)"
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d | %.1f | %s | %s | %s | %d / %d | %d/%d | %s / %s / %s / %s |\n", s.Name, name, p.Records, p.Events, p.Seconds,
				num(p.RPS, 0), num(p.EPS, 0), num(p.ProducedRPS, 0), p.MaxIngestLag, p.MaxShardsLag, p.Found, p.Attacks,
				num(p.LatencyP50MS, 0), num(p.LatencyP95MS, 0), num(p.LatencyP99MS, 0), num(p.LatencyMaxMS, 0))
		}
		if s.Ref != nil {
			fmt.Fprintf(w, "| %s | reference | %d | %d | %.1f | %s | %s | | | %d/%d | |\n", s.Name, s.Ref.Records, s.Ref.Events, s.Ref.Seconds,
				num(s.Ref.RPS, 0), num(s.Ref.EPS, 0), s.RefFound, s.Expected)
		}
	}
	fmt.Fprintf(w, "\n| scenario | entities | Pebble bytes on disk / compacted | B/entity on disk / compacted | reference entities | reference B/entity on disk / compacted | CPU s | CPU s/M records | reference CPU s/M records | findings | false (by type) |\n")
	fmt.Fprintf(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, s := range r.Scenarios {
		var refEnt int64
		refBPE, refCBPE, refCPU := math.NaN(), math.NaN(), math.NaN()
		if s.Ref != nil {
			refEnt, refBPE, refCBPE, refCPU = s.Ref.Entities, s.Ref.BytesPerEntity, s.Ref.CompactedBytesPerEntity, s.Ref.CPUPerMRecords
		}
		var byType []string
		for t, n := range s.FalseByType {
			byType = append(byType, fmt.Sprintf("%s %d", t, n))
		}
		slices.Sort(byType)
		fmt.Fprintf(w, "| %s | %d | %d / %d | %s / %s | %d | %s / %s | %.1f | %s | %s | %d | %d %s |\n", s.Name, s.Entities, s.PebbleBytes, s.PebbleCompactedBytes,
			num(s.BytesPerEntity, 0), num(s.CompactedBytesPerEntity, 0), refEnt, num(refBPE, 0), num(refCBPE, 0), s.CPUSeconds, num(s.CPUPerMRecords, 1), num(refCPU, 1),
			s.Findings, s.FalseFindings, strings.Join(byType, ", "))
	}
	fmt.Fprintf(w, "\n| scenario | node | RSS peak / end MiB | Go heap peak / end MiB | CPU s |\n|---|---|--:|--:|--:|\n")
	for _, s := range r.Scenarios {
		for _, n := range s.Nodes {
			name := n.Name
			if n.InProcess {
				name += " (in process: with the broker, generator and reader)"
			}
			fmt.Fprintf(w, "| %s | %s | %s / %s | %s / %s | %s |\n", s.Name, name, mib(n.RSSPeak), mib(n.RSSEnd), mib(n.HeapPeak), mib(n.HeapEnd), num(n.CPUSeconds, 1))
		}
	}
	fmt.Fprintf(w, "\n![records per second](%s)\n\n![consumer lag](%s)\n\n![latency](%s)\n\n", chartThroughput, chartLag, chartLatency)
	for _, s := range r.Scenarios {
		for _, e := range s.Errors {
			fmt.Fprintf(w, "- %s: %s\n", s.Name, e)
		}
	}
	fmt.Fprint(w, method)
}

const method = `
## What was measured, and how

- **Records.** bench/loadgen simulates an organisation: principals and
  instances in the numbers of --entities (remote hosts ten times as many),
  Zipf-like popularity, event times that advance along a day curve, and
  the field distributions of real CloudTrail (service mix, ~80 % reads, ~3 %
  errors, a twelfth global-service events, SDK/CLI/Terraform/console user
  agents), VPC flow logs (version 2 format, web/app/worker/database
  instances, replies, ~5 % rejected) and Route 53 Resolver query logs
  (popular, AWS and internal names, ~3 % NXDOMAIN). The background reaches
  no detector's threshold. Attacks are injected every --attack-every, in
  turn among the scenario's kinds (StopLogging, root credential use, a port
  scan between private addresses, SSH brute force, a DNS tunnel, a mining
  pool lookup); each has fresh entities and a known finding id
  (findings.ID of its type and aggregation key).
- **Max phase**: records are produced as fast as vigil takes them, with no
  more than --window raw records not yet ingested plus internal records not
  yet applied (so the backlog, and the drain, stay bounded), for --duration;
  then the harness waits until vigil has applied every record (the ingest
  group committed every raw record, then the shards group every internal
  record: kafka.WaitApplied). **records/s = records / (first produced → last
  applied)**; events/s from /api/v1/status appliedEvents (a global-service
  event counts once per enabled region).
- **Rate phase**: records at --rate per second (default half the max phase's
  records/s), for --duration, then drained the same way.
- **Backlog phase** (a node in the harness's process only): with vigil's
  ingest paused (node.PauseIngest; the group keeps its partitions), the
  harness produces as many records as the max phase applied in --duration,
  without attacks; then it resumes ingest and times it until every record is
  applied. **vigil rec/s** in the summary is this catch-up speed when it
  ran, the max phase's otherwise; **live rec/s** is the max phase's, whose
  records this process produced while vigil ran.
- **Latency**: for every injected attack, from the production of the record
  that completes it (the first record after which its detector can fire) to
  the timestamp of the first record with its finding id on vigil.findings,
  read committed (the shard's transactional producer stamps it). Flushes
  (--flush-interval) and transactions are part of it. The max phase's
  latencies include waiting behind up to --window records in flight.
- **Recall**: attacks whose finding id appeared / attacks injected. **False
  findings**: findings on vigil.findings about entities no attack involved.
- **Lag**: kadm Lag of the vigil-ingest and vigil-shards groups, each second.
  **Memory**: RSS from /proc/<pid>/status (the in-process node: this
  process's, broker and generator included), Go heap in use from /metrics
  (go_memstats_heap_inuse_bytes). **CPU**: utime+stime of the node
  processes (getrusage for the in-process node, which includes the broker,
  the generator and the findings reader) over both phases, per million
  records. **Storage**: the size of the nodes' pebble/ directories after
  the phases (nodes stopped) over the entities /api/v1/actors lists, and
  again once the harness has flushed and compacted that Pebble whole
  ("compacted": no write-ahead log, no overwritten versions, so what the
  profiles and findings themselves take; a short run leaves most data in
  the log, whose size follows the run's length and flush count). The
  reference's Pebble is measured the same two ways.
- **Reference loop** (the yardstick): after vigil has stopped, in the same
  process and over the same raw records from the same broker, one goroutine
  consumes the raw partitions (no group), decodes with vigil's decoders,
  broadcasts global-service events to every enabled region as ingest does,
  applies each event to a profile in a map with vigil's detector engine
  (detect.New(detect.DefaultConfig()).Apply), and once per --flush-interval
  writes the changed profiles and findings to Pebble in one synced batch
  (storage package, vigil's options). Its records/s runs from the first
  record fetched to the last batch written. **ratio = vigil's backlog-phase
  records/s / the reference's records/s**: both read a backlog from the same
  broker in the same process (the max phase's when no backlog phase ran;
  live_ratio in results.json is always the max phase's).
`

// newChart starts a chart with its title and axis labels, legend on top.
func newChart(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	p.Legend.Top = true
	return p
}

// saveChart writes p to path, its format from the extension (SVG here).
func saveChart(p *plot.Plot, path string) error {
	return p.Save(9*vg.Inch, 4*vg.Inch, path)
}

// measured reports whether smp was taken during a measured phase (not
// while the scenario started or waited for findings).
func measured(smp Sample) bool {
	return smp.Phase == "max" || smp.Phase == "rate" || smp.Phase == "backlog"
}

func throughputChart(path string, r *Results) error {
	p := newChart("Throughput: raw records ingested per second", "seconds since the scenario started", "records/s")
	for i, s := range r.Scenarios {
		var xy plotter.XYs
		for _, smp := range s.Samples {
			if measured(smp) && (smp.RecordsPerS > 0 || len(xy) > 0) {
				xy = append(xy, plotter.XY{X: smp.T, Y: smp.RecordsPerS})
			}
		}
		if err := addLine(p, xy, i, 0, s.Name); err != nil {
			return err
		}
	}
	return saveChart(p, path)
}

func lagChart(path string, r *Results) error {
	p := newChart("Consumer lag (kadm Lag, each second)", "seconds since the scenario started", "records behind")
	for i, s := range r.Scenarios {
		var ing, sh plotter.XYs
		for _, smp := range s.Samples {
			if measured(smp) {
				ing = append(ing, plotter.XY{X: smp.T, Y: float64(smp.IngestLag)})
				sh = append(sh, plotter.XY{X: smp.T, Y: float64(smp.ShardsLag)})
			}
		}
		if err := addLine(p, ing, i, 0, s.Name+" vigil-ingest"); err != nil {
			return err
		}
		if err := addLine(p, sh, i, 1, s.Name+" vigil-shards"); err != nil {
			return err
		}
	}
	return saveChart(p, path)
}

func latencyChart(path string, r *Results) error {
	p := newChart("Event → finding latency of the injected attacks (cumulative)", "milliseconds", "fraction of attacks found within")
	p.Legend.Left = true
	positive := true
	for _, s := range r.Scenarios {
		for _, a := range s.Attacks {
			if a.Found && a.LatencyMS <= 0 {
				positive = false
			}
		}
	}
	if positive {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	line := 0
	for i, s := range r.Scenarios {
		for j, phase := range []string{"rate", "max"} {
			var lat []float64
			for _, a := range s.Attacks {
				if a.Phase == phase && a.Found {
					lat = append(lat, a.LatencyMS)
				}
			}
			if len(lat) == 0 {
				continue
			}
			slices.Sort(lat)
			var xy plotter.XYs
			for k, v := range lat {
				xy = append(xy, plotter.XY{X: v, Y: float64(k+1) / float64(len(lat))})
			}
			if err := addLine(p, xy, i, j, s.Name+" "+phase); err != nil {
				return err
			}
			line++
		}
	}
	if line == 0 {
		p.X.Scale, p.X.Tick.Marker = plot.LinearScale{}, plot.DefaultTicks{}
	}
	return saveChart(p, path)
}

func addLine(p *plot.Plot, xy plotter.XYs, color, dash int, name string) error {
	if len(xy) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return err
	}
	l.Color = plotutil.Color(color)
	l.Dashes = plotutil.Dashes(dash)
	l.Width = vg.Points(1.5)
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}
