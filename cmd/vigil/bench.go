package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/vigil-sec/vigil/bench/harness"
)

// runBench is `vigil bench`: the load-test harness of bench/harness, which
// starts a node in this process (or `vigil run` processes of this
// executable with --nodes, or measures running nodes with --brokers),
// drives it with generated records and injected attacks, runs the
// reference loop over the same records and reports.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vigil bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: vigil bench [flags]

Load-tests vigil: for each scenario (--sources) a max phase (records as fast as
vigil takes them) and a rate phase (--rate, default half the max phase's
throughput), each --duration long, with attacks injected (--attack-every) whose
findings are known; then the reference loop over the same records. Prints the
summary; --out DIR also writes report.md, results.json and SVG charts.
With --gen DIR it writes a corpus for "vigil replay" instead.`)
		fs.PrintDefaults()
	}
	flags := harness.NewFlags(fs)
	// The node and the reference loop share this process, and so these.
	var memory memoryOptions
	memoryFlags(fs, &memory, 0)
	cpuProfile := fs.String("cpu-profile", "", "write a CPU profile (go tool pprof) of the whole run to this file: the node, the embedded broker, the load generator and the reference loop when they run in this process")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg, err := flags.Config()
	if err != nil {
		return err
	}
	memory.apply()
	if flags.Gen != "" {
		return harness.WriteCorpus(flags.Gen, flags.GenRecords, cfg.Entities, cfg.Seed, cfg.Regions, stderr)
	}
	if cfg.Nodes > 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("--nodes: finding the vigil executable: %w", err)
		}
		cfg.VigilCommand, cfg.VigilEnv = []string{exe}, os.Environ()
	}
	if cfg.Out != "" && cfg.Nodes == 0 && len(cfg.Brokers) == 0 {
		if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
			return err
		}
		logf, err := os.Create(filepath.Join(cfg.Out, "node.log"))
		if err != nil {
			return err
		}
		defer logf.Close()
		cfg.Logger = slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg.Stdout, cfg.Stderr = stdout, stderr
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	_, err = harness.Run(ctx, cfg)
	return err
}
