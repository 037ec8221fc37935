// Command vigil is a self-hosted threat-detection node: it reads AWS
// CloudTrail, VPC Flow Logs and Route 53 Resolver query logs from Kafka,
// keeps a behavioural profile per principal and network entity, and emits
// GuardDuty-compatible findings.
//
//	vigil run      start a node (with an embedded Kafka broker when no brokers are given)
//	vigil replay   feed log files to the raw topics
//	vigil broker   run the embedded Kafka broker alone
//	vigil bench    load-test a node and report throughput, latency and recall
//	vigil eval     score detection on labelled data sets
//
// Every flag can also be set as a VIGIL_* environment variable (the flag
// name upper-cased, dashes as underscores) or in a YAML file (--config).
// Secrets (--admin-token, --gossip-key, --kafka-sasl-password) are best
// given as files (--admin-token-file, ...) or in the environment: other
// users of the host can read command lines. vigil run re-reads
// --gossip-key-file on SIGHUP, so that gossip keys rotate without a
// restart.
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
  vigil bench  [flags]          load-test vigil: throughput against a reference loop, latency, recall
  vigil eval   [flags] PATH...  score detection on labelled data sets (attacks detected, false findings)

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
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "eval":
		err = runEval(ctx, args[1:], stdout, stderr)
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

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "VIGIL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// commandLineFlags returns the names of the flags set on the command line
// itself rather than through the environment or the config file. ff sets
// all three alike, so the arguments are parsed again into recorders.
func commandLineFlags(fs *flag.FlagSet, args []string) map[string]bool {
	set := make(map[string]bool)
	shadow := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	shadow.SetOutput(io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		r := recorder{name: f.Name, set: set}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			shadow.Var(boolRecorder{r}, f.Name, "")
		} else {
			shadow.Var(r, f.Name, "")
		}
	})
	_ = shadow.Parse(args) // fs parsed the same arguments already
	return set
}

// recorder is a flag.Value that notes that its flag was set.
type recorder struct {
	name string
	set  map[string]bool
}

func (r recorder) String() string   { return "" }
func (r recorder) Set(string) error { r.set[r.name] = true; return nil }

type boolRecorder struct{ recorder }

func (boolRecorder) IsBoolFlag() bool { return true }

// maxSecretFile bounds what a secret file may hold: a secret is short, and
// a wrong path (a log, /dev/zero) should fail rather than be read whole.
const maxSecretFile = 64 << 10

// secretFlag is a secret setting, given as --NAME (or VIGIL_NAME, or the
// config key NAME) or as a file holding it, --NAME-file. Its value is
// never logged nor put in an error.
type secretFlag struct {
	name, what  string
	value, file string
}

// addSecretFlag registers --NAME and --NAME-file.
func addSecretFlag(fs *flag.FlagSet, name, what string) *secretFlag {
	s := &secretFlag{name: name, what: what}
	fs.StringVar(&s.value, name, "", what+" (default none; other users can read command lines: prefer --"+name+"-file or "+envName(name)+")")
	fs.StringVar(&s.file, name+"-file", "", "file holding the "+what+", surrounding whitespace trimmed; a file that cannot be read stops start-up (default none)")
	return s
}

// get returns the secret: the content of the file if one is named (which
// must be readable and not empty), else the value. It warns, without the
// value, when the value was given on the command line.
func (s *secretFlag) get(log *slog.Logger, cmdline map[string]bool) (string, error) {
	if cmdline[s.name] {
		log.Warn("a secret was given as a command-line flag, which other users of this host can read (ps, /proc); use a file or the environment instead",
			"flag", "--"+s.name, "instead", "--"+s.name+"-file or "+envName(s.name))
	}
	if s.file == "" {
		return s.value, nil
	}
	if s.value != "" {
		return "", fmt.Errorf("both --%s and --%s-file are set (as flags, VIGIL_* variables or config keys): set one", s.name, s.name)
	}
	return readSecretFile(log, s.name, s.what, s.file)
}

// readSecretFile reads the secret file of --NAME-file, which must be
// readable and not empty, and returns its content trimmed. It warns when
// every user of the host may read the file. Errors name the flag and the
// file, never the content.
func readSecretFile(log *slog.Logger, name, what, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--%s-file: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("--%s-file: reading %s: %w", name, path, err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("--%s-file: %s is larger than %d bytes: not a %s", name, path, maxSecretFile, what)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("--%s-file: %s is empty", name, path)
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o004 != 0 {
		log.Warn("secret file is readable by every user of this host", "flag", "--"+name+"-file", "file", path)
	}
	return v, nil
}
