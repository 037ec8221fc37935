package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBench runs `vigil bench` briefly against an in-process node and
// checks that results.json holds sane figures: every injected attack
// found, latency measured, a ratio to the reference loop. It asserts
// nothing about speed.
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--sources", "mixed", "--duration", "3s", "--records", "3000", "--rate", "1000",
		"--entities", "100", "--regions", "us-east-1,us-west-2", "--attack-every", "400ms", "--shards", "4",
		"--raw-partitions", "2", "--out", out}
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("vigil bench exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "reference rec/s") || !strings.Contains(stdout.String(), "mixed") {
		t.Errorf("no summary on stdout:\n%s", stdout.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Throughput     float64 `json:"throughput_rps"`
		Baseline       float64 `json:"baseline_rps"`
		Ratio          float64 `json:"ratio"`
		P50            float64 `json:"latency_p50_ms"`
		P99            float64 `json:"latency_p99_ms"`
		Recall         float64 `json:"recall"`
		Expected       int     `json:"attacks_expected"`
		FalseFindings  int     `json:"false_findings"`
		RSS            int64   `json:"rss_bytes"`
		BytesPerEntity float64 `json:"bytes_per_entity"`
		Scenarios      []struct {
			Name    string `json:"name"`
			Attacks []struct {
				Kind  string `json:"kind"`
				Found bool   `json:"found"`
				ByRef bool   `json:"found_by_reference"`
			} `json:"attacks"`
			Ref struct {
				Records int64 `json:"records"`
			} `json:"reference"`
			Max, Rate, Backlog struct {
				Records int64 `json:"records"`
				Drained bool  `json:"drained"`
			}
		} `json:"scenarios"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", b[:min(len(b), 1500)])
	if r.Throughput <= 0 || r.Baseline <= 0 || r.Ratio <= 0 {
		t.Errorf("throughput %v, baseline %v, ratio %v: want positive", r.Throughput, r.Baseline, r.Ratio)
	}
	if r.Expected == 0 || r.Recall != 1 {
		t.Errorf("recall %v of %d attacks, want every attack found", r.Recall, r.Expected)
	}
	if r.P50 <= 0 || r.P99 < r.P50 {
		t.Errorf("latency p50 %v ms, p99 %v ms: not measured", r.P50, r.P99)
	}
	if r.FalseFindings != 0 {
		t.Errorf("%d false findings on the background", r.FalseFindings)
	}
	if r.RSS <= 0 || r.BytesPerEntity <= 0 {
		t.Errorf("rss %d, bytes per entity %v: not measured", r.RSS, r.BytesPerEntity)
	}
	if len(r.Scenarios) != 1 {
		t.Fatalf("%d scenarios, want mixed alone", len(r.Scenarios))
	}
	sc := r.Scenarios[0]
	kinds := make(map[string]bool)
	for _, a := range sc.Attacks {
		kinds[a.Kind] = true
		if !a.ByRef {
			t.Errorf("the reference loop missed a %s attack", a.Kind)
		}
	}
	if len(kinds) != 6 {
		t.Errorf("attack kinds %v, want all six", kinds)
	}
	if !sc.Max.Drained || !sc.Rate.Drained || !sc.Backlog.Drained || sc.Backlog.Records == 0 ||
		sc.Ref.Records != sc.Max.Records+sc.Rate.Records+sc.Backlog.Records {
		t.Errorf("max %+v, rate %+v, backlog %+v, reference read %d records", sc.Max, sc.Rate, sc.Backlog, sc.Ref.Records)
	}
	for _, f := range []string{"report.md", "throughput.svg", "lag.svg", "latency.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}
