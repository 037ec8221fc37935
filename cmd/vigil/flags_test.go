package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/node"
)

// writeFile writes content to a new file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunFlags checks the defaults of vigil run's robustness flags and that
// each reaches node.Config through the flag, environment and config-file
// layers.
func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		yaml  string // config file, passed with --config
		check func(t *testing.T, c node.Config)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c node.Config) {
				if c.FlushRetryTimeout != 2*time.Minute || c.DeadLetterExcerpt != 64 || c.MaxDecompressed != 64<<20 || c.MaxEventBytes != 65536 {
					t.Errorf("flush retry %v, excerpt %d, max decompressed %d, max event %d", c.FlushRetryTimeout, c.DeadLetterExcerpt, c.MaxDecompressed, c.MaxEventBytes)
				}
				if c.Topics.RawRetention != time.Hour || !c.Topics.ManageRaw {
					t.Errorf("raw retention %v, manage raw %v", c.Topics.RawRetention, c.Topics.ManageRaw)
				}
				if c.Gossip.Insecure || c.Admin.Insecure {
					t.Errorf("insecure by default: gossip %v, admin %v", c.Gossip.Insecure, c.Admin.Insecure)
				}
				if c.Admin.Token != "" || c.GossipKey != "" || len(c.Gossip.Keys) != 0 || c.Kafka.SASLPassword != "" {
					t.Error("a secret is set by default")
				}
				if c.Kafka.SessionTimeout != kafka.DefaultSessionTimeout || c.Kafka.HeartbeatInterval != time.Second {
					t.Errorf("kafka session timeout %v, heartbeat interval %v", c.Kafka.SessionTimeout, c.Kafka.HeartbeatInterval)
				}
				if c.AdvertiseAddr != "" || c.Gossip.AdvertiseAddr != "" {
					t.Errorf("advertise address %q, gossip %q", c.AdvertiseAddr, c.Gossip.AdvertiseAddr)
				}
			},
		},
		{
			name: "failover and advertise flags",
			args: []string{"--kafka-session-timeout", "6s", "--kafka-heartbeat-interval", "2s", "--advertise-addr", "vigil-1.example.internal"},
			check: func(t *testing.T, c node.Config) {
				if c.Kafka.SessionTimeout != 6*time.Second || c.Kafka.HeartbeatInterval != 2*time.Second {
					t.Errorf("kafka session timeout %v, heartbeat interval %v", c.Kafka.SessionTimeout, c.Kafka.HeartbeatInterval)
				}
				if c.AdvertiseAddr != "vigil-1.example.internal" || c.Gossip.AdvertiseAddr != "vigil-1.example.internal" {
					t.Errorf("advertise address %q, gossip %q", c.AdvertiseAddr, c.Gossip.AdvertiseAddr)
				}
			},
		},
		{
			name: "failover and advertise in the environment",
			env:  map[string]string{"VIGIL_KAFKA_SESSION_TIMEOUT": "20s", "VIGIL_KAFKA_HEARTBEAT_INTERVAL": "500ms", "VIGIL_ADVERTISE_ADDR": "10.0.0.7"},
			check: func(t *testing.T, c node.Config) {
				if c.Kafka.SessionTimeout != 20*time.Second || c.Kafka.HeartbeatInterval != 500*time.Millisecond || c.Gossip.AdvertiseAddr != "10.0.0.7" || c.AdvertiseAddr != "10.0.0.7" {
					t.Errorf("kafka session timeout %v, heartbeat interval %v, advertise %q %q", c.Kafka.SessionTimeout, c.Kafka.HeartbeatInterval, c.AdvertiseAddr, c.Gossip.AdvertiseAddr)
				}
			},
		},
		{
			name: "failover and advertise in the config file",
			yaml: "kafka-session-timeout: 7s\nkafka-heartbeat-interval: 1500ms\nadvertise-addr: 192.0.2.10\n",
			check: func(t *testing.T, c node.Config) {
				if c.Kafka.SessionTimeout != 7*time.Second || c.Kafka.HeartbeatInterval != 1500*time.Millisecond || c.Gossip.AdvertiseAddr != "192.0.2.10" || c.AdvertiseAddr != "192.0.2.10" {
					t.Errorf("kafka session timeout %v, heartbeat interval %v, advertise %q %q", c.Kafka.SessionTimeout, c.Kafka.HeartbeatInterval, c.AdvertiseAddr, c.Gossip.AdvertiseAddr)
				}
			},
		},
		{
			name: "flags",
			args: []string{"--flush-retry-timeout", "30s", "--dead-letter-excerpt", "0", "--max-decompressed-mb", "8",
				"--max-event-bytes", "1024", "--raw-retention", "2h", "--manage-raw-topics=false", "--insecure-gossip", "--insecure-admin"},
			check: func(t *testing.T, c node.Config) {
				if c.FlushRetryTimeout != 30*time.Second || c.DeadLetterExcerpt != 0 || c.MaxDecompressed != 8<<20 || c.MaxEventBytes != 1024 {
					t.Errorf("flush retry %v, excerpt %d, max decompressed %d, max event %d", c.FlushRetryTimeout, c.DeadLetterExcerpt, c.MaxDecompressed, c.MaxEventBytes)
				}
				if c.Topics.RawRetention != 2*time.Hour || c.Topics.ManageRaw || !c.Gossip.Insecure || !c.Admin.Insecure {
					t.Errorf("raw retention %v, manage raw %v, insecure gossip %v, insecure admin %v", c.Topics.RawRetention, c.Topics.ManageRaw, c.Gossip.Insecure, c.Admin.Insecure)
				}
			},
		},
		{
			name: "environment",
			env: map[string]string{"VIGIL_FLUSH_RETRY_TIMEOUT": "45s", "VIGIL_DEAD_LETTER_EXCERPT": "16", "VIGIL_MAX_DECOMPRESSED_MB": "2",
				"VIGIL_MAX_EVENT_BYTES": "4096", "VIGIL_RAW_RETENTION": "30m", "VIGIL_MANAGE_RAW_TOPICS": "false",
				"VIGIL_INSECURE_GOSSIP": "true", "VIGIL_INSECURE_ADMIN": "true"},
			check: func(t *testing.T, c node.Config) {
				if c.FlushRetryTimeout != 45*time.Second || c.DeadLetterExcerpt != 16 || c.MaxDecompressed != 2<<20 || c.MaxEventBytes != 4096 {
					t.Errorf("flush retry %v, excerpt %d, max decompressed %d, max event %d", c.FlushRetryTimeout, c.DeadLetterExcerpt, c.MaxDecompressed, c.MaxEventBytes)
				}
				if c.Topics.RawRetention != 30*time.Minute || c.Topics.ManageRaw || !c.Gossip.Insecure || !c.Admin.Insecure {
					t.Errorf("raw retention %v, manage raw %v, insecure gossip %v, insecure admin %v", c.Topics.RawRetention, c.Topics.ManageRaw, c.Gossip.Insecure, c.Admin.Insecure)
				}
			},
		},
		{
			name: "config file",
			yaml: "flush-retry-timeout: 1m\ndead-letter-excerpt: 32\nmax-decompressed-mb: 16\nmax-event-bytes: 2048\nraw-retention: 3h\nmanage-raw-topics: false\ninsecure-gossip: true\ninsecure-admin: true\n",
			check: func(t *testing.T, c node.Config) {
				if c.FlushRetryTimeout != time.Minute || c.DeadLetterExcerpt != 32 || c.MaxDecompressed != 16<<20 || c.MaxEventBytes != 2048 {
					t.Errorf("flush retry %v, excerpt %d, max decompressed %d, max event %d", c.FlushRetryTimeout, c.DeadLetterExcerpt, c.MaxDecompressed, c.MaxEventBytes)
				}
				if c.Topics.RawRetention != 3*time.Hour || c.Topics.ManageRaw || !c.Gossip.Insecure || !c.Admin.Insecure {
					t.Errorf("raw retention %v, manage raw %v, insecure gossip %v, insecure admin %v", c.Topics.RawRetention, c.Topics.ManageRaw, c.Gossip.Insecure, c.Admin.Insecure)
				}
			},
		},
		{
			name: "flag over environment over file",
			args: []string{"--raw-retention", "5h"},
			env:  map[string]string{"VIGIL_RAW_RETENTION": "4h", "VIGIL_MAX_EVENT_BYTES": "100"},
			yaml: "raw-retention: 3h\nmax-event-bytes: 200\ndead-letter-excerpt: 8\n",
			check: func(t *testing.T, c node.Config) {
				if c.Topics.RawRetention != 5*time.Hour || c.MaxEventBytes != 100 || c.DeadLetterExcerpt != 8 {
					t.Errorf("raw retention %v, max event %d, excerpt %d; want flag, environment, file", c.Topics.RawRetention, c.MaxEventBytes, c.DeadLetterExcerpt)
				}
			},
		},
		{
			name: "raw retention 0 leaves the broker default",
			args: []string{"--raw-retention", "0"},
			check: func(t *testing.T, c node.Config) {
				if c.Topics.RawRetention != 0 {
					t.Errorf("raw retention %v", c.Topics.RawRetention)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := tc.args
			if tc.yaml != "" {
				args = append([]string{"--config", writeFile(t, "vigil.yaml", tc.yaml)}, args...)
			}
			var stderr bytes.Buffer
			cfg, err := nodeConfig(args, &stderr)
			if err != nil {
				t.Fatalf("nodeConfig(%q): %v\n%s", args, err, stderr.String())
			}
			tc.check(t, cfg)
		})
	}
}

func TestRunFlagsRejectBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"--raw-retention", "10s"}, "--raw-retention"},
		{[]string{"--raw-retention", "-1h"}, "--raw-retention"},
		{[]string{"--max-decompressed-mb", "0"}, "--max-decompressed-mb"},
		{[]string{"--max-decompressed-mb", "9999999999"}, "--max-decompressed-mb"},
		{[]string{"--dead-letter-excerpt", "-1"}, "--dead-letter-excerpt"},
		{[]string{"--max-event-bytes", "0"}, "--max-event-bytes"},
		{[]string{"--flush-retry-timeout", "0s"}, "--flush-retry-timeout"},
		{[]string{"--kafka-session-timeout", "0s"}, "--kafka-session-timeout"},
		{[]string{"--kafka-heartbeat-interval", "0s"}, "--kafka-heartbeat-interval"},
		{[]string{"--kafka-heartbeat-interval", "10s"}, "--kafka-heartbeat-interval"},
		{[]string{"--kafka-session-timeout", "6s", "--kafka-heartbeat-interval", "7s"}, "below --kafka-session-timeout"},
		{[]string{"--advertise-addr", "10.0.0.7:7946"}, "advertise address"},
		{[]string{"--advertise-addr", "0.0.0.0"}, "advertise address"},
	} {
		var stderr bytes.Buffer
		if _, err := nodeConfig(tc.args, &stderr); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("nodeConfig(%q): %v, want an error about %s", tc.args, err, tc.want)
		}
	}
}

// TestRunHelpDocumentsFlags: every new flag is listed by -h, with its
// default.
func TestRunHelpDocumentsFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"run", "-h"}, &out, &errb); code != 0 {
		t.Fatalf("run -h: exit %d", code)
	}
	help := errb.String()
	for _, want := range []string{
		"-flush-retry-timeout", "(default 2m0s)", "-dead-letter-excerpt", "(default 64)",
		"-max-decompressed-mb", "-max-event-bytes", "(default 65536)", "-raw-retention", "(default 1h0m0s)",
		"-manage-raw-topics", "(default true)", "-insecure-gossip", "-insecure-admin",
		"-admin-token-file", "-gossip-key-file", "-kafka-sasl-password-file", "VIGIL_ADMIN_TOKEN",
		"-advertise-addr", "-kafka-session-timeout", "(default 8s)", "-kafka-heartbeat-interval", "(default 1s)",
		"one per line", "SIGHUP", "VIGIL_GOSSIP_KEY",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("vigil run -h lacks %q", want)
		}
	}
}

// TestSecretsFromFiles: a secret file's content, trimmed, is the secret,
// whether the file is named by a flag, a variable or the config file.
func TestSecretsFromFiles(t *testing.T) {
	const token, key, password = "admin-t0ken", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "sasl-pa55"
	tokenFile := writeFile(t, "admin.token", "\n  "+token+"\n\n")
	keyFile := writeFile(t, "gossip.key", key+"\n")
	passwordFile := writeFile(t, "sasl.password", password+"\r\n")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		yaml string
	}{
		{name: "flags", args: []string{"--admin-token-file", tokenFile, "--gossip-key-file", keyFile, "--kafka-sasl-password-file", passwordFile}},
		{name: "environment", env: map[string]string{"VIGIL_ADMIN_TOKEN_FILE": tokenFile, "VIGIL_GOSSIP_KEY_FILE": keyFile, "VIGIL_KAFKA_SASL_PASSWORD_FILE": passwordFile}},
		{name: "config file", yaml: "admin-token-file: " + tokenFile + "\ngossip-key-file: " + keyFile + "\nkafka-sasl-password-file: " + passwordFile + "\n"},
		{name: "secrets in the environment", env: map[string]string{"VIGIL_ADMIN_TOKEN": token, "VIGIL_GOSSIP_KEY": key, "VIGIL_KAFKA_SASL_PASSWORD": password}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := tc.args
			if tc.yaml != "" {
				args = append([]string{"--config", writeFile(t, "vigil.yaml", tc.yaml)}, args...)
			}
			var stderr bytes.Buffer
			cfg, err := nodeConfig(args, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Admin.Token != token || cfg.Kafka.SASLPassword != password {
				t.Errorf("secrets %q %q", cfg.Admin.Token, cfg.Kafka.SASLPassword)
			}
			// The keyring goes to the gossip configuration; node.Config's
			// GossipKey, which node.Start would decode as one key, stays
			// empty.
			if len(cfg.Gossip.Keys) != 1 || string(cfg.Gossip.Keys[0]) != "0123456789abcdef0123456789abcdef" || cfg.GossipKey != "" || cfg.Gossip.SecretKey != nil {
				t.Errorf("gossip keys %q, GossipKey %q, SecretKey %q", cfg.Gossip.Keys, cfg.GossipKey, cfg.Gossip.SecretKey)
			}
			if strings.Contains(stderr.String(), "command-line flag") {
				t.Errorf("warned about a secret not on the command line:\n%s", stderr.String())
			}
		})
	}
}

// TestSecretFileErrors: a secret file that is named but cannot be used
// stops start-up; the error names the flag, never the secret.
func TestSecretFileErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexistent")
	empty := writeFile(t, "empty", " \n")
	huge := writeFile(t, "huge", strings.Repeat("x", maxSecretFile+1))
	good := writeFile(t, "good", "fr0m-file")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "missing admin token file", args: []string{"--admin-token-file", missing}, want: "--admin-token-file"},
		{name: "missing gossip key file", args: []string{"--gossip-key-file", missing}, want: "--gossip-key-file"},
		{name: "missing SASL password file", args: []string{"--kafka-sasl-password-file", missing}, want: "--kafka-sasl-password-file"},
		{name: "missing file named in the environment", env: map[string]string{"VIGIL_ADMIN_TOKEN_FILE": missing}, want: "--admin-token-file"},
		{name: "empty file", args: []string{"--admin-token-file", empty}, want: "empty"},
		{name: "huge file", args: []string{"--admin-token-file", huge}, want: "larger than"},
		{name: "directory", args: []string{"--admin-token-file", t.TempDir()}, want: "--admin-token-file"},
		{name: "file and value", args: []string{"--admin-token-file", good}, env: map[string]string{"VIGIL_ADMIN_TOKEN": "s3cret-value"}, want: "both"},
		{name: "gossip key not base64", args: []string{"--gossip-key-file", good}, want: "gossip key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			_, err := nodeConfig(tc.args, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("nodeConfig(%q, env %v): %v, want an error about %s", tc.args, tc.env, err, tc.want)
			}
			if out := err.Error() + stderr.String(); strings.Contains(out, "fr0m-file") || strings.Contains(out, "s3cret-value") {
				t.Errorf("output quotes a secret: %s", out)
			}
		})
	}

	// replay fails closed too, before it connects anywhere.
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"replay", "--kafka-sasl-password-file", missing, "x.log"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "--kafka-sasl-password-file") {
		t.Errorf("replay with a missing password file: exit %d, %s", code, errb.String())
	}
}

// TestSecretOnCommandLine: a secret given as a flag works but is warned
// about, and no log line or error ever holds its value.
func TestSecretOnCommandLine(t *testing.T) {
	const token, key, password = "t0ken-on-the-command-line", "c2VjcmV0LWtleS0xNi1ieQ==", "pa55word-on-the-command-line"
	secrets := []string{token, key, password}
	leaks := func(t *testing.T, what, s string) {
		t.Helper()
		for _, v := range secrets {
			if strings.Contains(s, v) {
				t.Errorf("%s holds the secret %q:\n%s", what, v, s)
			}
		}
	}

	var stderr bytes.Buffer
	cfg, err := nodeConfig([]string{"--admin-token", token, "--gossip-key=" + key, "-kafka-sasl-password", password}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Token != token || len(cfg.Gossip.Keys) != 1 || string(cfg.Gossip.Keys[0]) != "secret-key-16-by" || cfg.Kafka.SASLPassword != password {
		t.Errorf("secrets %q %q %q", cfg.Admin.Token, cfg.Gossip.Keys, cfg.Kafka.SASLPassword)
	}
	for _, want := range []string{"--admin-token", "--gossip-key", "--kafka-sasl-password", "--admin-token-file", "VIGIL_GOSSIP_KEY"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("warnings lack %q:\n%s", want, stderr.String())
		}
	}
	if n := strings.Count(stderr.String(), "command-line flag"); n != 3 {
		t.Errorf("%d warnings, want 3:\n%s", n, stderr.String())
	}
	leaks(t, "the log", stderr.String())

	// Start-up errors after a secret on the command line: the warning,
	// the error, and no secret.
	for _, args := range [][]string{
		{"run", "--admin-token", token, "--admin-token-file", filepath.Join(t.TempDir(), "nonexistent")},
		{"run", "--admin-token", token, "--admin-token-file", writeFile(t, "tok", "other")},
		{"run", "--gossip-key", token},    // not base64
		{"run", "--gossip-key", password}, // not base64 either
		{"run", "--kafka-sasl-password", password, "--raw-retention", "1s"},
		{"replay", "--kafka-sasl-password", password, "--source", "syslog", "x.log"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 1 {
			t.Errorf("vigil %q: exit %d, want 1\n%s", args, code, errb.String())
		}
		if !strings.Contains(errb.String(), "command-line flag") {
			t.Errorf("vigil %q: no warning:\n%s", args, errb.String())
		}
		leaks(t, "the output of vigil "+args[0], out.String()+errb.String())
	}
}

// TestRunFailsClosed: an admin endpoint or gossip beyond loopback without
// its secret stops vigil run before anything starts, unless declared
// insecure.
func TestRunFailsClosed(t *testing.T) {
	token := writeFile(t, "admin.token", "t0ken")
	key := writeFile(t, "gossip.key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	for _, tc := range []struct {
		args []string
		want string // in the error; "" = accepted
	}{
		{[]string{"--admin-addr", "0.0.0.0:8443"}, "--admin-token-file"},
		{[]string{"--admin-addr", ":8443"}, "--insecure-admin"},
		{[]string{"--admin-addr", "0.0.0.0:8443", "--admin-token-file", token}, ""},
		{[]string{"--admin-addr", "0.0.0.0:8443", "--insecure-admin"}, ""},
		{[]string{"--admin-addr", "localhost:8443"}, ""},
		{[]string{"--gossip-addr", "0.0.0.0:7946"}, "--gossip-key-file"},
		{[]string{"--gossip-addr", "10.1.2.3:7946"}, "--insecure-gossip"},
		{[]string{"--gossip-addr", "0.0.0.0:7946", "--gossip-key-file", key}, ""},
		{[]string{"--gossip-addr", "0.0.0.0:7946", "--insecure-gossip"}, ""},
		{[]string{"--gossip-addr", "[::1]:7946"}, ""},
	} {
		var stderr bytes.Buffer
		_, err := nodeConfig(tc.args, &stderr)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("nodeConfig(%q): %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("nodeConfig(%q): %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}

// TestDeployConfigFailsClosed: the example configuration is valid for
// vigil run and, without its secret files, stops it.
func TestDeployConfigFailsClosed(t *testing.T) {
	if _, err := os.Stat("/etc/vigil"); err == nil {
		t.Skip("/etc/vigil exists on this host")
	}
	var stderr bytes.Buffer
	_, err := nodeConfig([]string{"--config", "../../deploy/vigil.yaml"}, &stderr)
	if err == nil {
		t.Fatal("deploy/vigil.yaml started without its secret files")
	}
	for _, flag := range []string{"--kafka-sasl-password-file", "--admin-token-file", "--gossip-key-file"} {
		if !strings.Contains(err.Error(), flag) {
			t.Errorf("error %q does not name %s", err, flag)
		}
	}
}

func TestCommandLineFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--admin-token", "x"}, []string{"admin-token"}},
		{[]string{"-admin-token=x", "--insecure-admin"}, []string{"admin-token", "insecure-admin"}},
		{[]string{"--insecure-admin", "--admin-token-file", "f"}, []string{"insecure-admin", "admin-token-file"}},
		{[]string{"--node-name", "--admin-token"}, []string{"node-name"}}, // a value, not a flag
		{[]string{"--node-name", "n", "--", "--admin-token", "x"}, []string{"node-name"}},
		{nil, nil},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.String("admin-token", "", "")
		fs.String("admin-token-file", "", "")
		fs.String("node-name", "", "")
		fs.Bool("insecure-admin", false, "")
		got := commandLineFlags(fs, tc.args)
		if len(got) != len(tc.want) {
			t.Errorf("commandLineFlags(%q) = %v, want %v", tc.args, got, tc.want)
			continue
		}
		for _, name := range tc.want {
			if !got[name] {
				t.Errorf("commandLineFlags(%q) = %v, want %v", tc.args, got, tc.want)
			}
		}
	}
}

// TestBrokerRawRetention: vigil broker creates the raw topics with
// --raw-retention, as vigil run does.
func TestBrokerRawRetention(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"broker", "--addr", addr, "--data-dir", t.TempDir(), "--shards", "2", "--raw-retention", "90m"}, &out, &errb)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("vigil broker: exit %d\n%s", code, errb.String())
		}
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		rcs, err := adm.DescribeTopicConfigs(ctx, "vigil.raw.dns", "vigil.raw.vpcflow", "vigil.raw.cloudtrail")
		ok := err == nil && len(rcs) == 3
		for _, rc := range rcs {
			v := ""
			for _, c := range rc.Configs {
				if c.Key == "retention.ms" && c.Value != nil {
					v = *c.Value
				}
			}
			ok = ok && rc.Err == nil && v == "5400000"
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("raw topics never got retention.ms=5400000: %v %+v\n%s", err, rcs, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
