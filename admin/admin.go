// Package admin is vigil's admin endpoint: a JSON API over HTTP(S) to
// check health, read the pipeline's status, query findings and inspect any
// entity actor's profile, plus Prometheus metrics.
//
//	GET /healthz                     the process is up
//	GET /readyz                      the node has joined and owns its shards
//	GET /api/v1/status               records per source, dead letters, lag
//	GET /api/v1/findings             ?type=&minSeverity=&since= → {"findings":[...]}
//	GET /api/v1/actors?kind=KIND     entities of a kind (principal, network), a page
//	                                 at a time: &limit=N (default 1000, at most
//	                                 10000) &cursor=C (nextCursor of the previous
//	                                 page) → {"actors":[...],"nextCursor":"..."}
//	GET /api/v1/actors/{kind}/{id}   one entity's profile, with node and shard
//	GET /api/v1/finding-types        the detector catalogue, custom rules' types
//	                                 included → {"findingTypes":[...]}
//	POST /api/v1/intel/reload        reload this node's threat lists → the lists in
//	                                 force with their entry counts; 422 with the
//	                                 error when a list is malformed (the old
//	                                 lists stay)
//	GET /metrics                     Prometheus text format
//	GET /debug/pprof/                Go runtime profiles
//
// With a token configured every route but /healthz and /readyz needs
// "Authorization: Bearer <token>"; the comparison is constant-time. Without
// a token the endpoint listens on loopback only, unless Config.Insecure.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-sec/vigil/detect"
	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/intel"
)

// Config configures the endpoint.
type Config struct {
	// Addr is the listen address. Default 127.0.0.1:8080; port 0 picks a
	// free port.
	Addr string
	// Token, when set, is required as a bearer token. It is never logged.
	// Default none, which Listen accepts only on a loopback Addr unless
	// Insecure is set.
	Token string
	// TLSCert and TLSKey are PEM files; with both set the endpoint serves
	// HTTPS. Default: plain HTTP.
	TLSCert, TLSKey string
	// Insecure lets Listen serve without a token on an address beyond
	// loopback, for networks where only trusted hosts reach it: anyone
	// who does can read findings and profiles. Default false.
	Insecure bool
	// TLSCA is a PEM file of the CAs that sign the other nodes' admin
	// certificates, which a node verifies when it forwards a query to
	// them. Default: the system pool.
	TLSCA string
}

const defaultAddr = "127.0.0.1:8080"

// redacted stands for a secret in String and LogValue.
const redacted = "[redacted]"

// String formats the configuration without the token, so that printing
// or logging a Config cannot leak it.
func (c Config) String() string {
	type plain Config // without methods, so that %+v does not recurse
	p := plain(c)
	if p.Token != "" {
		p.Token = redacted
	}
	return fmt.Sprintf("%+v", p)
}

// LogValue implements slog.LogValuer, without the token.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// Validate checks the configuration without binding: the address, that
// TLS has both files, and that an address beyond loopback has a token or
// Insecure (else the error wraps ErrUnprotected). Listen calls it, before
// binding, so that an unprotected endpoint is never reachable, not even
// briefly; a caller may call it early to fail before starting anything
// else.
func (c Config) Validate() error {
	if c.Addr == "" {
		c.Addr = defaultAddr
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("admin: TLS needs both a certificate and a key")
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("admin: listen address %q: %w", c.Addr, err)
	}
	if c.Token == "" && !c.Insecure && !isLoopbackHost(host) {
		return unprotected(c.Addr)
	}
	return nil
}

// ErrUnprotected is returned by Listen for an address beyond loopback with
// neither a token nor Insecure.
var ErrUnprotected = errors.New("an admin endpoint beyond loopback without a token would let anyone who reaches it read findings and profiles")

func unprotected(addr string) error {
	return fmt.Errorf("admin: listening on %s: %w; set a token with --admin-token-file or VIGIL_ADMIN_TOKEN or, if only trusted hosts reach that address, use --insecure-admin", addr, ErrUnprotected)
}

// Backend answers the endpoint's queries; the node implements it.
type Backend interface {
	// Ready returns nil once the node can serve.
	Ready() error
	Status(ctx context.Context) (*Status, error)
	Findings(ctx context.Context, q FindingsQuery) ([]json.RawMessage, error)
	// Actors returns one page of the entities of a kind, in a stable
	// order, and the cursor of the next page ("" after the last page). The
	// endpoint passes a Limit between 1 and MaxPageLimit. A cursor the
	// Backend did not make is an ErrBadRequest.
	Actors(ctx context.Context, kind string, page Page) (refs []ActorRef, next string, err error)
	// Actor returns ErrNotFound for an unknown entity.
	Actor(ctx context.Context, kind, id string) (*Actor, error)
	// Cluster describes the cluster as this node sees it.
	Cluster(ctx context.Context) (*Cluster, error)
}

// ErrNotFound is returned by a Backend for what does not exist; it maps to
// 404. ErrBadRequest maps to 400; ErrUnavailable to 503 (the node that
// owns what was asked for cannot be reached, or it is moving).
var (
	ErrNotFound    = errors.New("not found")
	ErrBadRequest  = errors.New("bad request")
	ErrUnavailable = errors.New("unavailable")
)

// ForwardedHeader marks a query one node forwards to another on behalf of
// a client: the receiving node answers from what it holds itself and
// forwards nothing further, so that a query takes one hop at most.
const ForwardedHeader = "X-Vigil-Forwarded"

type forwardedKey struct{}

// Forwarded reports whether the query of ctx was forwarded by another
// node (see ForwardedHeader).
func Forwarded(ctx context.Context) bool {
	f, _ := ctx.Value(forwardedKey{}).(bool)
	return f
}

// Cluster is the answer of /api/v1/cluster.
type Cluster struct {
	// Node is the node that answered.
	Node    string          `json:"node"`
	Members []ClusterMember `json:"members"`
	// Shards are every shard with its owner and lag; a shard without an
	// owner is moving or its node is down.
	Shards []ClusterShard `json:"shards"`
}

// ClusterMember is a node of the cluster.
type ClusterMember struct {
	Name          string    `json:"name"`
	Gossip        string    `json:"gossipAddr"`
	Admin         string    `json:"adminAddr"`
	State         string    `json:"state"`
	LastHeartbeat time.Time `json:"lastHeartbeat"`
	Shards        []int32   `json:"shards"`
	Self          bool      `json:"self"`
}

// ClusterShard is one shard.
type ClusterShard struct {
	Shard int32  `json:"shard"`
	Owner string `json:"owner,omitempty"`
	// Lag is the records of the shard's partition not yet applied and
	// committed.
	Lag int64 `json:"lag"`
}

// Page selects one page of a listing.
type Page struct {
	// Cursor is where the page starts. It is opaque to clients: the
	// nextCursor of the previous page, empty for the first page. A Backend
	// may make it with EncodeCursor.
	Cursor string
	// Limit is the most entries on the page. Default (0) DefaultPageLimit;
	// values above MaxPageLimit are clamped to it.
	Limit int
}

// Page sizes: a page is built in memory and sent at once, so its size
// bounds the memory and time of one request.
const (
	DefaultPageLimit = 1000
	MaxPageLimit     = 10000
)

// Size returns the page's effective limit: Limit with the default and the
// maximum applied.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// EncodeCursor makes an opaque cursor of a position a Backend resumes
// after, such as the last key of a page. DecodeCursor reverses it.
func EncodeCursor(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(after))
}

// DecodeCursor returns the position of a cursor made by EncodeCursor; a
// malformed one is an ErrBadRequest.
func DecodeCursor(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", fmt.Errorf("%w: malformed cursor", ErrBadRequest)
	}
	return string(b), nil
}

// ActorList is the answer of /api/v1/actors: one page of entities.
type ActorList struct {
	Actors []ActorRef `json:"actors"`
	// NextCursor is the cursor parameter of the next page; empty (and
	// omitted) on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// FindingsQuery filters findings.
type FindingsQuery struct {
	Types       []string  // exact finding types; empty = all
	MinSeverity float64   // 0 = all
	Since       time.Time // findings updated at or after; zero = all
	Limit       int       // 0 = no limit
}

// Status is the answer of /api/v1/status.
type Status struct {
	Node       string                  `json:"node"`
	Shards     []int32                 `json:"shards"`
	Sources    map[string]SourceStatus `json:"sources"`
	Applied    int64                   `json:"appliedEvents"`
	Duplicates int64                   `json:"duplicatesSkipped"`
	Findings   int64                   `json:"findingOccurrences"`
	Lag        map[string]int64        `json:"consumerLag"`
	// Rewinds counts offset rewinds detected on consumed partitions: a
	// partition whose offsets went backwards (a topic recreated or
	// truncated), so records may have been skipped or read twice.
	Rewinds int64 `json:"offsetRewinds"`
	// StoppedShards are the shards of this node that stopped (a flush
	// that kept failing) while the node runs on.
	StoppedShards []StoppedShard `json:"stoppedShards,omitempty"`
	// GeoIP says which GeoIP databases the answering node has
	// (--geoip-dir); without them remoteIpDetails carry the address alone,
	// the baselines learn no ASN or country, and ConsoleLoginSuccess.B
	// is off. Nil when the node does not say.
	GeoIP *geoip.Status `json:"geoip,omitempty"`
	// Unreachable are the live nodes whose status could not be added to
	// the totals.
	Unreachable []string `json:"unreachable,omitempty"`
	Members     any      `json:"members"`
	// Intel is this node's threat lists and their last reload.
	Intel *intel.ReloadStatus `json:"intel,omitempty"`
}

// IntelReloader is a Backend whose threat lists can be reloaded on
// request (POST /api/v1/intel/reload).
type IntelReloader interface {
	// ReloadIntel puts the lists' current files in force, or returns why
	// it refused them and keeps the old lists; the status describes the
	// lists in force either way.
	ReloadIntel(ctx context.Context) (intel.ReloadStatus, error)
}

// StoppedShard is a shard that stopped, and why.
type StoppedShard struct {
	Shard  int32     `json:"shard"`
	Node   string    `json:"node,omitempty"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// SourceStatus counts one raw source.
type SourceStatus struct {
	Records     int64 `json:"records"`
	Events      int64 `json:"events"`
	Dropped     int64 `json:"dropped"`
	DeadLetters int64 `json:"deadLetters"`
}

// ActorRef names an entity and where it lives.
type ActorRef struct {
	Kind  string `json:"kind"`
	ID    string `json:"id"`
	Shard int32  `json:"shard"`
	Node  string `json:"node"`
}

// Actor is one entity's profile.
type Actor struct {
	ActorRef
	Active        bool            `json:"active"`
	AppliedOffset int64           `json:"appliedOffset"`
	Profile       json.RawMessage `json:"profile"`
}

// Server is the running endpoint.
type Server struct {
	cfg Config
	ln  net.Listener
	srv *http.Server
	b   Backend
	log *slog.Logger
}

// Listen binds the endpoint; Serve serves it.
func Listen(cfg Config, b Backend, reg *prometheus.Registry, log *slog.Logger) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = defaultAddr
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listening on %s: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, ln: ln, b: b, log: log.With("component", "admin")}
	if !isLoopback(ln.Addr()) {
		switch {
		case cfg.Token == "" && !cfg.Insecure: // localhost that resolved elsewhere
			ln.Close()
			return nil, unprotected(ln.Addr().String())
		case cfg.Token == "":
			s.log.Warn("admin endpoint listens beyond loopback without a token: anyone who reaches it can read findings and profiles", "addr", ln.Addr().String())
		case cfg.TLSCert == "":
			s.log.Warn("admin endpoint listens beyond loopback over plain HTTP: the bearer token crosses the network in clear text", "addr", ln.Addr().String())
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /api/v1/status", s.auth(s.status))
	mux.Handle("GET /api/v1/findings", s.auth(s.findings))
	mux.Handle("GET /api/v1/actors", s.auth(s.actors))
	mux.Handle("GET /api/v1/actors/{kind}/{id...}", s.auth(s.actor))
	mux.Handle("GET /api/v1/cluster", s.auth(s.cluster))
	mux.Handle("GET /api/v1/finding-types", s.auth(func(w http.ResponseWriter, _ *http.Request) {
		types := detect.Catalogue()
		if b, ok := s.b.(interface{ FindingTypes() []detect.TypeInfo }); ok { // custom rules' types too
			types = b.FindingTypes()
		}
		writeJSON(w, http.StatusOK, map[string][]detect.TypeInfo{"findingTypes": types})
	}))
	mux.Handle("POST /api/v1/intel/reload", s.auth(s.reloadIntel))
	mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP))
	// Go profiles, for operators chasing CPU or memory; token-protected
	// like the API.
	mux.Handle("GET /debug/pprof/", s.auth(pprof.Index))
	mux.Handle("GET /debug/pprof/profile", s.auth(pprof.Profile))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("admin: loading TLS certificate: %w", err)
		}
		s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Close.
func (s *Server) Serve() error {
	var err error
	if s.srv.TLSConfig != nil {
		err = s.srv.ServeTLS(s.ln, "", "")
	} else {
		err = s.srv.Serve(s.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops serving.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// auth checks the bearer token in constant time (over SHA-256 digests, so
// the token's length does not leak either).
func (s *Server) auth(next http.HandlerFunc) http.Handler {
	if s.cfg.Token == "" {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next(w, forwarded(r)) })
	}
	want := sha256.Sum256([]byte(s.cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next(w, forwarded(r))
	})
}

// forwarded marks the request's context when another node forwarded it.
// Only requests that passed the token check carry the mark: a node
// without a token serves loopback only.
func forwarded(r *http.Request) *http.Request {
	if r.Header.Get(ForwardedHeader) == "" {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), forwardedKey{}, true))
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if err := s.b.Ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.Status(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, 200, st)
}

func (s *Server) findings(w http.ResponseWriter, r *http.Request) {
	q, err := parseFindingsQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	fs, err := s.b.Findings(r.Context(), q)
	if err != nil {
		s.fail(w, err)
		return
	}
	if fs == nil {
		fs = []json.RawMessage{}
	}
	writeJSON(w, 200, map[string]any{"findings": fs})
}

func parseFindingsQuery(r *http.Request) (FindingsQuery, error) {
	v := r.URL.Query()
	q := FindingsQuery{Types: v["type"]}
	if s := v.Get("minSeverity"); s != "" {
		sev, err := ParseSeverity(s)
		if err != nil {
			return q, err
		}
		q.MinSeverity = sev
	}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("since: want RFC 3339 time, got %q", s)
		}
		q.Since = t
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, fmt.Errorf("limit: want a non-negative number, got %q", s)
		}
		q.Limit = n
	}
	return q, nil
}

// ParseSeverity accepts a number (1–10) or a GuardDuty label (Low, Medium,
// High, Critical), which stands for the lowest severity of that label.
func ParseSeverity(s string) (float64, error) {
	switch strings.ToLower(s) {
	case "low":
		return 1, nil
	case "medium":
		return 4, nil
	case "high":
		return 7, nil
	case "critical":
		return 9, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 10 {
		return 0, fmt.Errorf("minSeverity: want 0–10 or Low/Medium/High/Critical, got %q", s)
	}
	return f, nil
}

func (s *Server) actors(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	page := Page{Cursor: v.Get("cursor"), Limit: DefaultPageLimit}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: want a positive number (at most %d is used), got %q", MaxPageLimit, l))
			return
		}
		page.Limit = n
	}
	page.Limit = page.Size()
	refs, next, err := s.b.Actors(r.Context(), v.Get("kind"), page)
	if err != nil {
		s.fail(w, err)
		return
	}
	if refs == nil {
		refs = []ActorRef{}
	}
	writeJSON(w, 200, ActorList{Actors: refs, NextCursor: next})
}

func (s *Server) actor(w http.ResponseWriter, r *http.Request) {
	a, err := s.b.Actor(r.Context(), r.PathValue("kind"), r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, 200, a)
}

func (s *Server) cluster(w http.ResponseWriter, r *http.Request) {
	c, err := s.b.Cluster(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, 200, c)
}

func (s *Server) reloadIntel(w http.ResponseWriter, r *http.Request) {
	rl, ok := s.b.(IntelReloader)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this node cannot reload threat lists")
		return
	}
	st, err := rl.ReloadIntel(r.Context())
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, struct {
			Error string `json:"error"`
			intel.ReloadStatus
		}{err.Error(), st})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrBadRequest):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		s.log.Error("admin request failed", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// isLoopbackHost reports whether a listen host stays on this machine: a
// loopback IP or "localhost". An empty host, an unspecified address
// (0.0.0.0, ::) and any other host name are not.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isLoopback(a net.Addr) bool {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.IsLoopback()
	}
	return false
}
