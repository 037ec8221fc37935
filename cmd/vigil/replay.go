package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/actors"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/sources"
)

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vigil replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: vigil replay [flags] PATH...\n\nReads log files and directories (.gz too) and produces them to the raw topics.\nWith --wait and no PATH it waits until the node has applied everything the raw topics hold.")
		fs.PrintDefaults()
	}
	var (
		kc      kafka.Config
		brokers string
		topics  kafka.Topics
		source  string
		wait    bool
		timeout time.Duration
	)
	saslPassword := kafkaFlags(fs, &kc, &brokers)
	topicFlags(fs, &topics)
	fs.StringVar(&source, "source", "", "cloudtrail, vpcflow or dns (default: detected from each file's content)")
	fs.BoolVar(&wait, "wait", false, "return only after the node has applied every record produced")
	fs.DurationVar(&timeout, "timeout", 5*time.Minute, "with --wait, how long to wait before failing")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	var err error
	if kc.SASLPassword, err = saslPassword.get(log, commandLineFlags(fs, args)); err != nil {
		return err
	}
	if brokers == "" {
		brokers = "127.0.0.1:9092"
	}
	kc.Brokers = splitList(brokers)
	src := event.SourceUnknown
	if source != "" {
		var ok bool
		if src, ok = event.ParseSource(source); !ok {
			return fmt.Errorf("--source: want cloudtrail, vpcflow or dns, got %q", source)
		}
	}
	if fs.NArg() == 0 && !wait {
		fs.Usage()
		return errors.New("no files given")
	}
	opts, err := kc.Options()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(200_000))...)
	if err != nil {
		return err
	}
	defer cl.Close()

	r := &replayer{cl: cl, topics: map[event.Source]string{
		event.SourceCloudTrail: topics.CloudTrail, event.SourceVPCFlow: topics.VPCFlow, event.SourceDNS: topics.DNS,
	}, ends: make(map[string]map[int32]int64)}
	start := time.Now()
	var readErr error
	if fs.NArg() > 0 {
		readErr = sources.ReadFiles(fs.Args(), src, r.produce)
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing: %w", err)
	}
	produced := time.Since(start)
	if r.err != nil {
		return fmt.Errorf("producing: %w", r.err)
	}
	for _, s := range []event.Source{event.SourceCloudTrail, event.SourceVPCFlow, event.SourceDNS} {
		if n := r.counts[s]; n > 0 {
			fmt.Fprintf(stdout, "%-10s %9d records → %s\n", s, n, r.topics[s])
		}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stdout, "produced %d records in %s\n", r.total(), produced.Round(time.Millisecond))
	}
	if readErr != nil {
		return readErr
	}
	if !wait {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if fs.NArg() == 0 {
		// Nothing to produce: wait for what the raw topics already hold.
		if r.ends, err = kafka.EndOffsets(wctx, cl, topics.Raw()...); err != nil {
			return err
		}
	}
	if err := kafka.WaitApplied(wctx, cl, r.ends); err != nil {
		return err
	}
	all := time.Since(start)
	if fs.NArg() > 0 {
		fmt.Fprintf(stdout, "applied %d records in %s (%.0f records/s)\n", r.total(), all.Round(time.Millisecond), float64(r.total())/all.Seconds())
	} else {
		fmt.Fprintf(stdout, "applied every record in %s in %s\n", strings.Join(topics.Raw(), ", "), all.Round(time.Millisecond))
	}
	return nil
}

// replayer produces file records and remembers the end offset it reached
// in every raw partition, which --wait waits for.
type replayer struct {
	cl     *kgo.Client
	topics map[event.Source]string
	counts [4]int64

	mu   sync.Mutex
	ends map[string]map[int32]int64
	err  error
}

func (r *replayer) produce(fr sources.FileRecord) error {
	rec := &kgo.Record{Topic: r.topics[fr.Source], Value: fr.Value}
	if fr.Header != "" {
		rec.Headers = []kgo.RecordHeader{{Key: actors.FlowFormatHeader, Value: []byte(fr.Header)}}
	}
	r.counts[fr.Source]++
	r.cl.Produce(context.Background(), rec, func(rec *kgo.Record, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			if r.err == nil {
				r.err = err
			}
			return
		}
		m := r.ends[rec.Topic]
		if m == nil {
			m = make(map[int32]int64)
			r.ends[rec.Topic] = m
		}
		if rec.Offset+1 > m[rec.Partition] {
			m[rec.Partition] = rec.Offset + 1
		}
	})
	return nil
}

func (r *replayer) total() int64 { return r.counts[1] + r.counts[2] + r.counts[3] }

// ensureTopics creates vigil's topics on a broker.
func ensureTopics(ctx context.Context, kc kafka.Config, t kafka.Topics) error {
	opts, err := kc.Options()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return kafka.Ensure(ctx, cl, t)
}
