// Command vigil is a self-hosted threat-detection node: it reads AWS
// CloudTrail, VPC Flow Logs and Route 53 Resolver query logs from Kafka,
// keeps a behavioural profile per principal and network entity, and emits
// GuardDuty-compatible findings.
//
//	vigil run      start a node (with an embedded Kafka broker when no brokers are given)
//	vigil replay   feed log files to the raw topics
//	vigil broker   run the embedded Kafka broker alone
//
// Every flag can also be set as a VIGIL_* environment variable (the flag
// name upper-cased, dashes as underscores) or in a YAML file (--config).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffyaml"
)

const usage = `vigil — threat detection for AWS CloudTrail, VPC Flow Logs and Route 53 Resolver query logs

Usage:
  vigil run    [flags]          start a node
  vigil replay [flags] PATH...  produce log files to the raw topics
  vigil broker [flags]          run the embedded Kafka broker alone

Run "vigil COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runNode(ctx, args[1:], stderr)
	case "replay":
		err = runReplay(ctx, args[1:], stdout, stderr)
	case "broker":
		err = runBroker(ctx, args[1:], stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "vigil: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "vigil %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// parse reads flags, then VIGIL_* variables, then the --config YAML file
// (flags win over the environment, which wins over the file).
func parse(fs *flag.FlagSet, args []string) error {
	fs.String("config", "", "YAML config file (keys are flag names)")
	return ff.Parse(fs, args,
		ff.WithEnvVarPrefix("VIGIL"),
		ff.WithConfigFileFlag("config"),
		ff.WithConfigFileParser(ffyaml.Parser),
	)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// splitList splits a comma-separated flag value (brokers, gossip seeds).
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
