package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	} {
		if _, err := c.Options(); err == nil {
			t.Errorf("Options(%+v) accepted", c)
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
