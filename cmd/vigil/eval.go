package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/eval"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/node"
	"github.com/vigil-sec/vigil/sources"
	"github.com/vigil-sec/vigil/storage"
)

// runEval is `vigil eval`: it replays labelled data sets through a node in
// this process (embedded broker, ingest, shards, Pebble in a scratch
// directory), reads the findings and profiles it stored, and reports per
// finding type the attacks detected and the false findings on benign
// input (package eval).
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vigil eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: vigil eval [flags] PATH...

Replays the labelled data sets found under PATH (e.g. ../shared/data: Stratus
Red Team detonations, panther-analysis rule tests, slips and CIC-IDS2017 flows,
SSH honeypot sessions, DNS tunnel captures, benign domain lists) through a node
started in this process, and prints per finding type the units expected to
raise it, detected, missed, false findings on benign input, the DGA model's
precision, recall and F1 on its held-back split (the dga/ and benign_domains/
lists under PATH), and the size of the stored principal and network profiles.`)
		fs.PrintDefaults()
	}
	var (
		asJSON  bool
		timeout time.Duration
		dir     string
	)
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.DurationVar(&timeout, "timeout", 15*time.Minute, "how long the replay may take")
	fs.StringVar(&dir, "data-dir", "", "the node's data directory, kept afterwards (default: a temporary directory, removed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no data sets given")
	}
	for _, p := range fs.Args() {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("data set: %w", err)
		}
	}
	start := time.Now()
	corpus, err := eval.Load(fs.Args())
	if err != nil {
		return err
	}
	if len(corpus.Units) == 0 {
		return fmt.Errorf("no labelled data set found under %v", fs.Args())
	}
	for _, s := range corpus.Skipped {
		fmt.Fprintln(stderr, "skipped", s)
	}
	dgaReport, dgaAbsent, err := eval.DGA(corpus.DGADir)
	if err != nil {
		return err
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "vigil-eval-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := evalReplay(ctx, corpus, dir)
	if err != nil {
		return err
	}
	rep := eval.Score(corpus, res.findings, catalogue())
	rep.Profiles = eval.Sizes(res.principalBytes)
	rep.NetworkProfiles = eval.Sizes(res.networkBytes)
	rep.DGA, rep.DGAAbsent = dgaReport, dgaAbsent
	rep.Elapsed, rep.Total = res.elapsed, time.Since(start)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(stdout)
}

// catalogue lists the finding types the engine raises.
func catalogue() []string {
	var out []string
	for _, t := range detect.Catalogue() {
		out = append(out, t.Type)
	}
	return out
}

type evalResult struct {
	findings       []findings.Finding
	principalBytes []int
	networkBytes   []int
	elapsed        time.Duration
}

// evalReplay starts a node with its embedded broker in dir, produces the
// corpus's records as `vigil replay --wait` does, waits until they are
// applied, stops the node and reads back what it stored.
func evalReplay(ctx context.Context, c *eval.Corpus, dir string) (*evalResult, error) {
	// One raw partition: the node reads every entity's records in the
	// order the data sets hold them, so that a run's counts are the same
	// as the last one's even where a profile's caps or lateness horizon
	// make findings depend on order.
	topics := kafka.DefaultTopics()
	topics.RawPartitions = 1
	nc := node.Config{
		DataDir: dir, EmbeddedBrokerAddr: "127.0.0.1:0", Topics: topics,
		IdleTimeout: 2 * time.Minute, MaxInFlight: 64, FlushRetryTimeout: 2 * time.Minute,
		TrimInterval: 10 * time.Second, DeadLetterExcerpt: 64, MaxEventBytes: 64 << 10,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	nc.Admin.Addr, nc.Gossip.BindAddr = "127.0.0.1:0", "127.0.0.1:0"
	nc.Gossip.Name = "eval"
	n, err := node.Start(ctx, nc)
	if err != nil {
		return nil, fmt.Errorf("starting the node: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			n.Close()
		}
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.BrokerAddrs()...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(200_000))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	r := &replayer{cl: cl, topics: map[event.Source]string{
		event.SourceCloudTrail: topics.CloudTrail, event.SourceVPCFlow: topics.VPCFlow, event.SourceDNS: topics.DNS,
	}, ends: make(map[string]map[int32]int64)}
	start := time.Now()
	for _, u := range c.Units {
		for _, rec := range u.Records {
			if err := r.produce(sources.FileRecord{Source: rec.Source, Value: rec.Value, Header: rec.Header}); err != nil {
				return nil, err
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, fmt.Errorf("producing: %w", err)
	}
	if r.err != nil {
		return nil, fmt.Errorf("producing: %w", r.err)
	}
	if err := kafka.WaitApplied(ctx, cl, r.ends); err != nil {
		return nil, err
	}
	res := &evalResult{elapsed: time.Since(start)}
	n.Close()
	closed = true

	db, err := storage.Open(filepath.Join(dir, "pebble"), storage.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	merged := map[string]*findings.Finding{}
	for p := range topics.Shards {
		sh := db.Shard(p)
		var ferr error
		err := sh.Findings(func(id string, b []byte) bool {
			f, err := findings.UnmarshalStored(b)
			if err != nil {
				ferr = fmt.Errorf("stored finding %s: %w", id, err)
				return false
			}
			findings.MergeInto(merged, &f)
			return true
		})
		if err = errors.Join(err, ferr); err != nil {
			return nil, err
		}
		err = sh.Each(storage.ProfileKey(""), func(key string, v []byte) bool {
			// The entity key is "account/region/kind/entity".
			parts := strings.SplitN(strings.TrimPrefix(key, storage.ProfileKey("")), "/", 4)
			if len(parts) != 4 {
				return true
			}
			switch kind, _ := event.ParseEntityKind(parts[2]); kind {
			case event.KindPrincipal:
				res.principalBytes = append(res.principalBytes, len(key)+len(v))
			case event.KindNetwork:
				res.networkBytes = append(res.networkBytes, len(key)+len(v))
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	for _, f := range merged {
		res.findings = append(res.findings, *f)
	}
	return res, nil
}
