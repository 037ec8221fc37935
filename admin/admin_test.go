package admin

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-sec/vigil/detect"
)

// backend answers with fixed data, to test the HTTP layer alone; the
// node's real backend is tested end to end in cmd/vigil.
type backend struct {
	forwarded bool
	lastQuery FindingsQuery
	lastPage  Page
	actors    []ActorRef // sorted by ID
	notReady  error
	status    Status
}

func (b *backend) Ready() error { return b.notReady }
func (b *backend) Status(context.Context) (*Status, error) {
	st := b.status
	st.Node, st.Sources = "n1", map[string]SourceStatus{"dns": {Records: 3}}
	return &st, nil
}
func (b *backend) Findings(_ context.Context, q FindingsQuery) ([]json.RawMessage, error) {
	b.lastQuery = q
	return []json.RawMessage{json.RawMessage(`{"id":"a"}`)}, nil
}

// Actors pages through b.actors the way a Backend should: the cursor is
// the last ID of the previous page.
func (b *backend) Actors(_ context.Context, kind string, p Page) ([]ActorRef, string, error) {
	b.lastPage = p
	if kind != "principal" && kind != "network" {
		return nil, "", fmt.Errorf("%w: kind must be principal or network, got %q", ErrBadRequest, kind)
	}
	after := ""
	if p.Cursor != "" {
		var err error
		if after, err = DecodeCursor(p.Cursor); err != nil {
			return nil, "", err
		}
	}
	i := sort.Search(len(b.actors), func(i int) bool { return b.actors[i].ID > after })
	end := min(i+p.Size(), len(b.actors))
	page := b.actors[i:end]
	if end == len(b.actors) {
		return page, "", nil
	}
	return page, EncodeCursor(page[len(page)-1].ID), nil
}
func (b *backend) Actor(ctx context.Context, kind, id string) (*Actor, error) {
	switch {
	case id == "1/us-east-1/moving":
		return nil, fmt.Errorf("%w: shard 3 is moving", ErrUnavailable)
	case id != "1/us-east-1/arn:aws:iam::1:user/a":
		return nil, ErrNotFound
	}
	b.forwarded = Forwarded(ctx)
	return &Actor{ActorRef: ActorRef{Kind: kind, ID: id}, Profile: json.RawMessage(`{}`)}, nil
}

func (b *backend) Cluster(context.Context) (*Cluster, error) {
	return &Cluster{Node: "n1", Members: []ClusterMember{{Name: "n1", Self: true, Shards: []int32{0, 1}}},
		Shards: []ClusterShard{{Shard: 0, Owner: "n1"}, {Shard: 1, Owner: "n1", Lag: 4}}}, nil
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

// TestListenFailsClosed: without a token the endpoint listens on loopback
// only, unless the operator says the network is trusted.
func TestListenFailsClosed(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		addr, token string
		insecure    bool
		refused     bool
	}{
		{"127.0.0.1:0", "", false, false},
		{"localhost:0", "", false, false},
		{"0.0.0.0:0", "", false, true},
		{":0", "", false, true},
		{"[::]:0", "", false, true},
		{"192.0.2.1:0", "", false, true},
		{"admin.example.com:0", "", false, true},
		{"0.0.0.0:0", "t0ken", false, false},
		{"0.0.0.0:0", "", true, false},
	} {
		cfg := Config{Addr: tc.addr, Token: tc.token, Insecure: tc.insecure}
		if err := cfg.Validate(); (err != nil) != tc.refused {
			t.Errorf("Validate(%+v): %v", cfg, err)
		}
		s, err := Listen(cfg, &backend{}, prometheus.NewRegistry(), log)
		if s != nil {
			s.ln.Close()
		}
		switch {
		case tc.refused && !errors.Is(err, ErrUnprotected):
			t.Errorf("Listen(%s, token %q, insecure %v): %v, want ErrUnprotected", tc.addr, tc.token, tc.insecure, err)
		case tc.refused:
			for _, hint := range []string{"--admin-token-file", "VIGIL_ADMIN_TOKEN", "--insecure-admin"} {
				if !strings.Contains(err.Error(), hint) {
					t.Errorf("error %q does not mention %s", err, hint)
				}
			}
		case err != nil:
			t.Errorf("Listen(%s, token %q, insecure %v): %v", tc.addr, tc.token, tc.insecure, err)
		}
	}
}

func TestActorsPaging(t *testing.T) {
	s, b := start(t, Config{})
	for i := range 25 {
		b.actors = append(b.actors, ActorRef{Kind: "principal", ID: fmt.Sprintf("1/us-east-1/user-%02d", i)})
	}
	base := "http://" + s.Addr() + "/api/v1/actors?kind=principal"

	// Walk the pages: every entity once, in order, and no cursor on the
	// last page.
	var got []string
	cursor, pages := "", 0
	for {
		url := base + "&limit=10"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		code, body := get(t, http.DefaultClient, url, "")
		if code != 200 {
			t.Fatalf("GET %s: %d %s", url, code, body)
		}
		var page ActorList
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		pages++
		for _, a := range page.Actors {
			got = append(got, a.ID)
		}
		if page.NextCursor == "" {
			if strings.Contains(body, "nextCursor") {
				t.Errorf("last page carries nextCursor: %s", body)
			}
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		cursor = page.NextCursor
	}
	if pages != 3 || len(got) != 25 || !sort.StringsAreSorted(got) || got[0] != b.actors[0].ID || got[24] != b.actors[24].ID {
		t.Errorf("%d pages of %v", pages, got)
	}

	for _, tc := range []struct {
		query     string
		want      int
		wantLimit int // the limit the backend was given
	}{
		{"", 200, DefaultPageLimit},
		{"&limit=1", 200, 1},
		{"&limit=10000", 200, MaxPageLimit},
		{"&limit=20000", 200, MaxPageLimit},
		{"&limit=0", 400, 0},
		{"&limit=-5", 400, 0},
		{"&limit=ten", 400, 0},
		{"&cursor=%21%21not-a-cursor", 400, 0},
	} {
		b.lastPage = Page{}
		code, body := get(t, http.DefaultClient, base+tc.query, "")
		if code != tc.want {
			t.Errorf("GET actors%s: %d, want %d (%s)", tc.query, code, tc.want, body)
		}
		if tc.wantLimit != 0 && b.lastPage.Limit != tc.wantLimit {
			t.Errorf("GET actors%s: backend got limit %d, want %d", tc.query, b.lastPage.Limit, tc.wantLimit)
		}
	}
	if code, body := get(t, http.DefaultClient, "http://"+s.Addr()+"/api/v1/actors?kind=robot", ""); code != 400 {
		t.Errorf("unknown kind: %d %s", code, body)
	}
}

func TestPageSize(t *testing.T) {
	for _, tc := range []struct{ limit, want int }{
		{0, DefaultPageLimit}, {-1, DefaultPageLimit}, {1, 1}, {500, 500},
		{MaxPageLimit, MaxPageLimit}, {MaxPageLimit + 1, MaxPageLimit},
	} {
		if got := (Page{Limit: tc.limit}).Size(); got != tc.want {
			t.Errorf("Page{Limit: %d}.Size() = %d, want %d", tc.limit, got, tc.want)
		}
	}
	for _, pos := range []string{"", "1/us-east-1/arn:aws:iam::1:user/a b", "ü/\x00"} {
		if got, err := DecodeCursor(EncodeCursor(pos)); err != nil || got != pos {
			t.Errorf("cursor round trip of %q: %q, %v", pos, got, err)
		}
	}
	if _, err := DecodeCursor("!!"); !errors.Is(err, ErrBadRequest) {
		t.Errorf("DecodeCursor of garbage: %v, want ErrBadRequest", err)
	}
}

func TestReadyzAndStatus(t *testing.T) {
	s, b := start(t, Config{})
	base := "http://" + s.Addr()
	b.notReady = errors.New("waiting for shard assignment")
	if code, body := get(t, http.DefaultClient, base+"/readyz", ""); code != 503 || !strings.Contains(body, "waiting for shard assignment") {
		t.Errorf("/readyz not ready: %d %s", code, body)
	}
	b.notReady = nil
	if code, body := get(t, http.DefaultClient, base+"/readyz", ""); code != 200 {
		t.Errorf("/readyz ready: %d %s", code, body)
	}

	// No stopped shards: the field is left out; rewinds are always there.
	code, body := get(t, http.DefaultClient, base+"/api/v1/status", "")
	if code != 200 || strings.Contains(body, "stoppedShards") || !strings.Contains(body, `"offsetRewinds": 0`) {
		t.Errorf("status: %d %s", code, body)
	}
	since := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	b.status = Status{Rewinds: 2, StoppedShards: []StoppedShard{{Shard: 3, Reason: "flush: pebble: disk full", Since: since}}}
	_, body = get(t, http.DefaultClient, base+"/api/v1/status", "")
	var st struct {
		Rewinds int64 `json:"offsetRewinds"`
		Stopped []struct {
			Shard  int32     `json:"shard"`
			Reason string    `json:"reason"`
			Since  time.Time `json:"since"`
		} `json:"stoppedShards"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Rewinds != 2 || len(st.Stopped) != 1 || st.Stopped[0].Shard != 3 || st.Stopped[0].Reason != "flush: pebble: disk full" || !st.Stopped[0].Since.Equal(since) {
		t.Errorf("status %s", body)
	}
}

// TestConfigRedactsSecret: however a Config is printed or logged, the
// secret stays out.
func TestConfigRedactsSecret(t *testing.T) {
	cfg := Config{Addr: "0.0.0.0:8443", Token: "s3cret-token-value", TLSCert: "c.pem", TLSKey: "k.pem"}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", cfg, "ptr", &cfg)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "cfg", cfg)
	for _, out := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg), fmt.Sprintf("%+v", []Config{cfg}),
		text.String(), js.String(),
	} {
		if strings.Contains(out, "s3cret-token-value") || !strings.Contains(out, "0.0.0.0:8443") {
			t.Errorf("secret shown or address hidden: %s", out)
		}
	}
}

// TestClusterRoutes: /api/v1/cluster answers, an unavailable owner is a
// 503 that names the shard, and a forwarded query is marked as such only
// when it passed the token check.
func TestClusterRoutes(t *testing.T) {
	s, b := start(t, Config{Token: "tok"})
	base := "http://" + s.Addr()
	code, body := get(t, http.DefaultClient, base+"/api/v1/cluster", "tok")
	var c Cluster
	if err := json.Unmarshal([]byte(body), &c); code != 200 || err != nil || len(c.Shards) != 2 || c.Shards[1].Lag != 4 {
		t.Errorf("/api/v1/cluster: %d %s", code, body)
	}
	if code, body := get(t, http.DefaultClient, base+"/api/v1/actors/principal/1/us-east-1/moving", "tok"); code != 503 || !strings.Contains(body, "shard 3") {
		t.Errorf("unavailable owner: %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/actors/principal/1/us-east-1/arn:aws:iam::1:user/a", nil)
	req.Header.Set(ForwardedHeader, "1")
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !b.forwarded {
		t.Errorf("forwarded query: %d, marked %v", resp.StatusCode, b.forwarded)
	}
	req.Header.Set("Authorization", "Bearer wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("forwarded query with a wrong token: %v %v", resp.StatusCode, err)
	}
}

// TestFindingTypes: the route serves the detector catalogue, behind the
// token like the rest of the API.
func TestFindingTypes(t *testing.T) {
	s, _ := start(t, Config{Token: "tok"})
	url := "http://" + s.Addr() + "/api/v1/finding-types"
	if code, _ := get(t, http.DefaultClient, url, ""); code != 401 {
		t.Errorf("without the token: %d, want 401", code)
	}
	code, body := get(t, http.DefaultClient, url, "tok")
	var got struct {
		FindingTypes []detect.TypeInfo `json:"findingTypes"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("%d %s: %v", code, body, err)
	}
	if want := detect.Catalogue(); !reflect.DeepEqual(got.FindingTypes, want) {
		t.Errorf("served %+v, want the catalogue %+v", got.FindingTypes, want)
	}
}
