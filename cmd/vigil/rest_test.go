package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/node"
	"github.com/vigil-sec/vigil/storage"
)

// syncBuffer is a log sink the node writes from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// TestNoRawLogAtRest replays records carrying unique markers in fields
// vigil does not extract, good and bad records alike, lets the consumed
// raw records be deleted, stops the node, and searches everything vigil
// wrote for the markers: every record every topic still serves, every key
// and value in Pebble, every file under the data directory (records are
// produced uncompressed, so a raw record left in a segment file would
// show), and the node's log.
func TestNoRawLogAtRest(t *testing.T) {
	dir, broker := t.TempDir(), freeAddr(t)
	var logs syncBuffer
	n := startNode(t, dir, broker, func(c *node.Config) {
		c.DeadLetterExcerpt = 0
		c.TrimInterval = 100 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	stopped := false
	defer func() {
		if !stopped {
			n.Close()
		}
	}()

	var markers []string
	mark := func(field string) string {
		m := fmt.Sprintf("QXMARK%02dZ%s", len(markers), strings.NewReplacer("-", "", ".", "", "_", "").Replace(field))
		markers = append(markers, m)
		return m
	}
	trail := `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice",` +
		`"accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","sessionContext":{"webIdFederationData":{"federatedProvider":"` + mark("webid") + `"}}},` +
		`"eventTime":"2024-05-01T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-west-2",` +
		`"sourceIPAddress":"198.51.100.20","userAgent":"aws-cli/2.15.0","requestParameters":{"name":"main","tags":{"owner":"` + mark("nested-param") + `"}},` +
		`"responseElements":{"detail":"` + mark("response") + `"},"additionalEventData":{"note":"` + mark("additional") + `"},` +
		`"requestID":"` + mark("requestid") + `","eventID":"e-1","readOnly":false,"resources":[{"ARN":"` + mark("resource") + `"}],` +
		`"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management",` +
		`"tlsDetails":{"clientProvidedHostHeader":"` + mark("tls") + `"}}`
	badTrail := `{"eventTime":"` + mark("bad-time") + `","eventName":"X","eventSource":"s","userIdentity":{}}`
	truncated := `{"eventVersion":"1.08","requestID":"` + mark("truncated") + `","eventTime":"2024-05`
	flows := "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status az-id\n" +
		"5 111122223333 eni-0a1 10.0.1.25 198.51.100.7 49152 443 6 10 8400 1741469700 1741469720 ACCEPT OK use1-" + mark("azid") + "\n" +
		"5 111122223333 eni-0a1 10.0.1.25 198.51.100.7 49152 " + mark("badport") + " 6 10 8400 1741469700 1741469720 ACCEPT OK use1-az1\n"
	query := `{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-1","query_timestamp":"2024-05-01T10:00:00Z",` +
		`"query_name":"example.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[],"srcaddr":"10.0.1.25","srcport":"5353",` +
		`"transport":"UDP","firewall_domain_list_id":"` + mark("fwlist") + `","srcids":{"instance":"i-0a1","resolver_network_interface":"` + mark("rni") + `"}}`

	cl := client(t, broker, kgo.ProducerBatchCompression(kgo.NoCompression()))
	produce(t, cl, "vigil.raw.cloudtrail", trail, badTrail, truncated)
	produce(t, cl, "vigil.raw.vpcflow", flows)
	produce(t, cl, "vigil.raw.dns", query)
	n.replay(t)
	if got := byType(n.findings(t, ""))["Stealth:IAMUser/CloudTrailLoggingDisabled"]; len(got) != 1 {
		t.Fatalf("the marked records were not applied: %d CloudTrailLoggingDisabled findings", len(got))
	}
	if got := len(deadLetters(t, broker)); got != 3 {
		t.Fatalf("%d dead letters, want the 3 bad records'", got)
	}
	// Consumed raw records are deleted below the committed offsets.
	adm := kadm.NewClient(cl)
	waitFor(t, "raw records deleted", func() bool {
		ctx := context.Background()
		topics := []string{"vigil.raw.cloudtrail", "vigil.raw.vpcflow", "vigil.raw.dns"}
		starts, err1 := adm.ListStartOffsets(ctx, topics...)
		ends, err2 := adm.ListEndOffsets(ctx, topics...)
		if err1 != nil || err2 != nil {
			return false
		}
		done := true
		ends.Each(func(e kadm.ListedOffset) {
			if s, _ := starts.Lookup(e.Topic, e.Partition); s.Offset != e.Offset {
				done = false
			}
		})
		return done
	})

	var found []string
	search := func(where string, b []byte) {
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				found = append(found, m+" in "+where)
			}
		}
	}
	topics, err := adm.ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range topics.Names() {
		for _, r := range readTopic(t, broker, name) {
			search("topic "+name, r.Key)
			search("topic "+name, r.Value)
		}
	}
	n.Close()
	stopped = true
	search("the log", logs.Bytes())

	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		search(path, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(filepath.Join(dir, "pebble"), storage.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries := 0
	for p := range int32(kafka.DefaultTopics().Shards) {
		err := db.Shard(p).Each("", func(k string, v []byte) bool {
			entries++
			search("pebble", []byte(k))
			search("pebble", v)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if entries == 0 {
		t.Fatal("Pebble holds nothing: the search proves nothing")
	}
	for _, f := range found {
		t.Errorf("raw content at rest: %s", f)
	}
	t.Logf("searched %d markers in %d topics, %d Pebble entries, the data directory and %d bytes of log", len(markers), len(topics), entries, len(logs.Bytes()))
}
