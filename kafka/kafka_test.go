package kafka

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// withTopics starts an embedded broker and creates vigil's topics with
// the given shard count.
func withTopics(t *testing.T, shards int32) (*kgo.Client, Topics) {
	t.Helper()
	b, err := StartBroker("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl := client(t, Config{Brokers: b.Addrs()})
	topics := DefaultTopics()
	topics.Shards = shards
	if err := Ensure(context.Background(), cl, topics); err != nil {
		t.Fatal(err)
	}
	return cl, topics
}

func TestEnsureCreatesTopicsAndChecksShards(t *testing.T) {
	cl, topics := withTopics(t, 6)
	ctx := context.Background()
	if err := Ensure(ctx, cl, topics); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	topics.Shards = 8
	if err := Ensure(ctx, cl, topics); err == nil || !strings.Contains(err.Error(), "cannot change") {
		t.Errorf("Ensure with another shard count: %v, want an error", err)
	}
}

func TestStartBrokerLoopbackOnly(t *testing.T) {
	if _, err := StartBroker("0.0.0.0:0", t.TempDir()); err == nil {
		t.Error("embedded broker accepted a non-loopback address")
	}
}

func TestWaitApplied(t *testing.T) {
	cl, topics := withTopics(t, 2)
	ctx := context.Background()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topics.DNS, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ends, err := EndOffsets(ctx, cl, topics.Raw()...)
	if err != nil || len(ends[topics.DNS]) != 1 {
		t.Fatalf("end offsets %v %v", ends, err)
	}
	// Nobody consumed: waiting must time out, not succeed.
	wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := WaitApplied(wctx, cl, ends); err == nil {
		t.Fatal("WaitApplied succeeded with nothing consumed")
	}
}

func TestOptionsRejectBadSettings(t *testing.T) {
	for _, c := range []Config{
		{},
		{Brokers: []string{"b:9092"}, SASLMechanism: "GSSAPI"},
		{Brokers: []string{"b:9092"}, TLS: true, TLSCA: "/nonexistent/ca.pem"},
		{Brokers: []string{"b:9092"}, TLS: true, TLSCert: "/nonexistent/c.pem", TLSKey: "/nonexistent/k.pem"},
		{Brokers: []string{"b:9092"}, SessionTimeout: 6 * time.Second, HeartbeatInterval: 6 * time.Second},
		{Brokers: []string{"b:9092"}, HeartbeatInterval: 15 * time.Second}, // above the default session timeout
	} {
		if _, err := c.Options(); err == nil {
			t.Errorf("Options(%+v) accepted", c)
		}
	}
}

// TestGroupTimeouts: the consumer-group timeouts reach the client, with
// defaults for fast failover.
func TestGroupTimeouts(t *testing.T) {
	for _, tc := range []struct {
		session, heartbeat         time.Duration
		wantSession, wantHeartbeat time.Duration
	}{
		{0, 0, DefaultSessionTimeout, time.Second},
		{6 * time.Second, 0, 6 * time.Second, time.Second},
		{45 * time.Second, 3 * time.Second, 45 * time.Second, 3 * time.Second},
		{0, 2 * time.Second, DefaultSessionTimeout, 2 * time.Second},
	} {
		opts, err := Config{Brokers: []string{"127.0.0.1:1"}, SessionTimeout: tc.session, HeartbeatInterval: tc.heartbeat}.Options()
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append(opts, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"))...)
		if err != nil {
			t.Fatalf("session %v, heartbeat %v: %v", tc.session, tc.heartbeat, err)
		}
		session, heartbeat := cl.OptValue(kgo.SessionTimeout), cl.OptValue(kgo.HeartbeatInterval)
		cl.Close()
		if session != tc.wantSession || heartbeat != tc.wantHeartbeat {
			t.Errorf("session %v, heartbeat %v: client got %v and %v, want %v and %v", tc.session, tc.heartbeat, session, heartbeat, tc.wantSession, tc.wantHeartbeat)
		}
	}
}

// TestTLSAndSASL connects through the TLS and SCRAM options to a broker
// that requires both.
func TestTLSAndSASL(t *testing.T) {
	caFile, serverCfg := testPKI(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(serverCfg), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "vigil", "pa55word"), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	good := Config{Brokers: c.ListenAddrs(), TLS: true, TLSCA: caFile, TLSServerName: "127.0.0.1",
		SASLMechanism: "SCRAM-SHA-256", SASLUser: "vigil", SASLPassword: "pa55word"}
	if err := client(t, good).ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("TLS + SCRAM: %v", err)
	}
	bad := good
	bad.SASLPassword = "wrong"
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	if err := client(t, bad).ProduceSync(sctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr(); err == nil {
		t.Error("wrong SASL password accepted")
	}
}

func client(t *testing.T, c Config) *kgo.Client {
	t.Helper()
	opts, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// testPKI makes a CA and a server certificate for 127.0.0.1.
func testPKI(t *testing.T) (caFile string, server *tls.Config) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

// topicConfigs returns the configs of topics, by topic and key.
func topicConfigs(t *testing.T, adm *kadm.Client, topics ...string) map[string]map[string]string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(context.Background(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]map[string]string)
	for _, rc := range rcs {
		if rc.Err != nil {
			t.Fatalf("describing %s: %v", rc.Name, rc.Err)
		}
		out[rc.Name] = make(map[string]string)
		for _, c := range rc.Configs {
			if c.Value != nil {
				out[rc.Name][c.Key] = *c.Value
			}
		}
	}
	return out
}

func TestEnsureSetsTopicConfigs(t *testing.T) {
	cl, topics := withTopics(t, 2)
	got := topicConfigs(t, kadm.NewClient(cl), append(topics.Raw(), EntitiesTopic, ProfilesTopic, FindingsTopic, DeadLetterTopic)...)
	want := map[string]map[string]string{
		topics.CloudTrail: {"retention.ms": "3600000"},
		topics.VPCFlow:    {"retention.ms": "3600000"},
		topics.DNS:        {"retention.ms": "3600000"},
		EntitiesTopic:     {"retention.ms": "86400000"},
		ProfilesTopic:     {"cleanup.policy": "compact"},
		FindingsTopic:     {"cleanup.policy": "compact"},
		DeadLetterTopic:   {"cleanup.policy": "compact,delete", "retention.ms": "604800000"},
	}
	for topic, kv := range want {
		for k, v := range kv {
			if !sameConfig(k, got[topic][k], v) {
				t.Errorf("%s: %s=%q, want %q", topic, k, got[topic][k], v)
			}
		}
	}
}

// TestEnsureExistingTopics: on topics that exist already, Ensure restores
// vigil's configs on its own topics always and on the raw topics only when
// it manages them, and leaves other configs alone.
func TestEnsureExistingTopics(t *testing.T) {
	for _, tc := range []struct {
		name          string
		manageRaw     bool
		rawRetention  time.Duration
		wantRetention string // of the raw topic; "" = left alone
	}{
		{"managed", true, time.Hour, "3600000"},
		{"managed, other retention", true, 90 * time.Minute, "5400000"},
		{"not managed", false, time.Hour, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := StartBroker("127.0.0.1:0", t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			cl := client(t, Config{Brokers: b.Addrs()})
			adm := kadm.NewClient(cl)
			ctx := context.Background()
			topics := DefaultTopics()
			topics.Shards, topics.ManageRaw, topics.RawRetention = 2, tc.manageRaw, tc.rawRetention
			// As someone else made them: the broker's default retention and
			// a config of their own.
			mine := map[string]*string{"max.message.bytes": kadm.StringPtr("2000000")}
			for _, name := range []string{topics.DNS, DeadLetterTopic} {
				if _, err := adm.CreateTopic(ctx, 1, 1, mine, name); err != nil {
					t.Fatal(err)
				}
			}
			if err := Ensure(ctx, cl, topics); err != nil {
				t.Fatal(err)
			}
			got := topicConfigs(t, adm, topics.DNS, DeadLetterTopic)
			switch r := got[topics.DNS]["retention.ms"]; {
			case tc.wantRetention != "" && r != tc.wantRetention:
				t.Errorf("raw topic retention.ms=%q, want %q", r, tc.wantRetention)
			case tc.wantRetention == "" && r == millis(tc.rawRetention):
				t.Errorf("raw topic retention.ms=%q set, though vigil does not manage raw topics", r)
			}
			if !sameConfig("cleanup.policy", got[DeadLetterTopic]["cleanup.policy"], "delete,compact") || got[DeadLetterTopic]["retention.ms"] != "604800000" {
				t.Errorf("dead-letter topic configs %v", got[DeadLetterTopic])
			}
			for _, name := range []string{topics.DNS, DeadLetterTopic} {
				if got[name]["max.message.bytes"] != "2000000" {
					t.Errorf("%s lost its own config: %v", name, got[name])
				}
			}
			// Once right, a second Ensure changes nothing.
			if err := Ensure(ctx, cl, topics); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTrimCommitted(t *testing.T) {
	b, err := StartBroker("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	opts, err := Config{Brokers: b.Addrs()}.Options()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	const topic, group = "raw", "g"
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for p, n := range []int{10, 5, 4} {
		for i := range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	commit := func(offsets map[int32]int64) {
		t.Helper()
		offs := make(kadm.Offsets)
		for p, at := range offsets {
			offs.AddOffset(topic, p, at, -1)
		}
		if err := adm.CommitAllOffsets(ctx, group, offs); err != nil {
			t.Fatal(err)
		}
	}
	starts := func() []int64 {
		t.Helper()
		l, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int64, 3)
		l.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
		return out
	}

	if n, err := TrimCommitted(ctx, adm, group, topic); err != nil || n != 0 {
		t.Fatalf("no commits: trimmed %d, %v", n, err)
	}
	// Partition 0 half consumed, partition 1 not at all, partition 2's
	// commit beyond its end (a topic recreated since): only partition 0
	// is trimmed.
	commit(map[int32]int64{0: 6, 2: 40})
	for _, step := range []struct {
		commit     map[int32]int64
		want       int64
		wantStarts []int64
	}{
		{nil, 6, []int64{6, 0, 0}},
		{nil, 0, []int64{6, 0, 0}}, // nothing new
		{map[int32]int64{0: 10, 1: 3}, 7, []int64{10, 3, 0}},
	} {
		if step.commit != nil {
			commit(step.commit)
		}
		n, err := TrimCommitted(ctx, adm, group, topic)
		if err != nil || n != step.want {
			t.Fatalf("trimmed %d, %v; want %d", n, err, step.want)
		}
		if got := starts(); !slices.Equal(got, step.wantStarts) {
			t.Fatalf("start offsets %v, want %v", got, step.wantStarts)
		}
	}
	// The records above the commit are still there.
	fetch, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer fetch.Close()
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var left int
	for left < 2+4 && fctx.Err() == nil {
		left += fetch.PollFetches(fctx).NumRecords()
	}
	if left != 6 {
		t.Errorf("%d records left, want 6", left)
	}
}

// TestConfigRedactsSecret: however a Config is printed or logged, the
// secret stays out.
func TestConfigRedactsSecret(t *testing.T) {
	cfg := Config{Brokers: []string{"k1:9093"}, SASLMechanism: "PLAIN", SASLUser: "vigil", SASLPassword: "s3cret-password-value"}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", cfg, "ptr", &cfg)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "cfg", cfg)
	for _, out := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg), fmt.Sprintf("%+v", []Config{cfg}),
		text.String(), js.String(),
	} {
		if strings.Contains(out, "s3cret-password-value") || !strings.Contains(out, "k1:9093") {
			t.Errorf("secret shown or address hidden: %s", out)
		}
	}
}

func TestResetRewound(t *testing.T) {
	cl, topics := withTopics(t, 2)
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	// A group that never committed: nothing to reset, no error.
	if got, err := ResetRewound(ctx, adm, "new-group", topics.Raw()...); err != nil || len(got) != 0 {
		t.Fatalf("new group: %v, %v", got, err)
	}
	for range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topics.DNS, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, topics.DNS)
	if err != nil {
		t.Fatal(err)
	}
	// A commit beyond a partition's end (it went back) is reset to the
	// start; one within stays.
	offs := make(kadm.Offsets)
	var beyond int32 = -1
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			offs.AddOffset(o.Topic, o.Partition, o.Offset, -1)
		} else if beyond < 0 {
			beyond = o.Partition
			offs.AddOffset(o.Topic, o.Partition, 50, -1)
		}
	})
	if err := adm.CommitAllOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	got, err := ResetRewound(ctx, adm, "g", topics.Raw()...)
	if err != nil || len(got[topics.DNS]) != 1 || got[topics.DNS][0] != beyond {
		t.Fatalf("reset %v, %v; want %s partition %d", got, err, topics.DNS, beyond)
	}
	committed, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := committed.Lookup(topics.DNS, beyond); o.At != 0 {
		t.Errorf("rewound partition committed at %d, want 0", o.At)
	}
}
