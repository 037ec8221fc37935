package admin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// backend answers with fixed data, to test the HTTP layer alone; the
// node's real backend is tested end to end in cmd/vigil.
type backend struct{ lastQuery FindingsQuery }

func (b *backend) Ready() error { return nil }
func (b *backend) Status(context.Context) (*Status, error) {
	return &Status{Node: "n1", Sources: map[string]SourceStatus{"dns": {Records: 3}}}, nil
}
func (b *backend) Findings(_ context.Context, q FindingsQuery) ([]json.RawMessage, error) {
	b.lastQuery = q
	return []json.RawMessage{json.RawMessage(`{"id":"a"}`)}, nil
}
func (b *backend) Actors(context.Context, string) ([]ActorRef, error) { return nil, nil }
func (b *backend) Actor(_ context.Context, kind, id string) (*Actor, error) {
	if id != "1/us-east-1/arn:aws:iam::1:user/a" {
		return nil, ErrNotFound
	}
	return &Actor{ActorRef: ActorRef{Kind: kind, ID: id}, Profile: json.RawMessage(`{}`)}, nil
}

func start(t *testing.T, cfg Config) (*Server, *backend) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	b := &backend{}
	s, err := Listen(cfg, b, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(s.Close)
	return s, b
}

func get(t *testing.T, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestToken(t *testing.T) {
	s, _ := start(t, Config{Token: "s3cret-token"})
	base := "http://" + s.Addr()
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/api/v1/status", "", 401},
		{"/api/v1/status", "wrong", 401},
		{"/api/v1/status", "s3cret-token-and-more", 401},
		{"/api/v1/status", "s3cret-token", 200},
		{"/api/v1/findings", "", 401},
		{"/metrics", "", 401},
		{"/metrics", "s3cret-token", 200},
	} {
		if code, body := get(t, http.DefaultClient, base+tc.path, tc.token); code != tc.want {
			t.Errorf("GET %s with token %q: %d, want %d (%s)", tc.path, tc.token, code, tc.want, body)
		}
	}
}

func TestRoutes(t *testing.T) {
	s, b := start(t, Config{})
	base := "http://" + s.Addr()
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/api/v1/findings?type=Recon:EC2/Portscan&type=Trojan:EC2/DNSDataExfiltration&minSeverity=High&since=2024-01-02T03:04:05Z&limit=5", 200},
		{"/api/v1/findings?minSeverity=11", 400},
		{"/api/v1/findings?since=yesterday", 400},
		{"/api/v1/actors/principal/1/us-east-1/arn:aws:iam::1:user/a", 200},
		{"/api/v1/actors/principal/1/us-east-1/arn:aws:iam::1:user/nobody", 404},
		{"/nothing", 404},
	} {
		if code, body := get(t, http.DefaultClient, base+tc.path, ""); code != tc.want {
			t.Errorf("GET %s: %d, want %d (%s)", tc.path, code, tc.want, body)
		}
	}
	q := b.lastQuery
	if len(q.Types) != 2 || q.MinSeverity != 7 || q.Limit != 5 || !q.Since.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("parsed query %+v", q)
	}
}

func TestParseSeverity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"Low", 1, true}, {"medium", 4, true}, {"HIGH", 7, true}, {"Critical", 9, true},
		{"5", 5, true}, {"2.5", 2.5, true}, {"0", 0, true},
		{"11", 0, false}, {"-1", 0, false}, {"NaN", 0, false}, {"severe", 0, false},
	} {
		got, err := ParseSeverity(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseSeverity(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	s, _ := start(t, Config{TLSCert: certFile, TLSKey: keyFile, Token: "t"})
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if code, body := get(t, c, "https://"+s.Addr()+"/api/v1/status", "t"); code != 200 {
		t.Errorf("over TLS: %d %s", code, body)
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		// A plain-HTTP request to a TLS listener gets a 400 response, not a
		// served page: either way it must not reach the handler.
		code, _ := get(t, http.DefaultClient, "http://"+s.Addr()+"/healthz", "")
		if code == 200 {
			t.Error("plain HTTP served by a TLS endpoint")
		}
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vigil-admin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
