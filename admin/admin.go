// Package admin is vigil's admin endpoint: a JSON API over HTTP(S) to
// check health, read the pipeline's status, query findings and inspect any
// entity actor's profile, plus Prometheus metrics.
//
//	GET /healthz                     the process is up
//	GET /readyz                      the node has joined and owns its shards
//	GET /api/v1/status               records per source, dead letters, lag
//	GET /api/v1/findings             ?type=&minSeverity=&since= → {"findings":[...]}
//	GET /api/v1/actors?kind=KIND     entities of a kind (principal, network)
//	GET /api/v1/actors/{kind}/{id}   one entity's profile, with node and shard
//	GET /metrics                     Prometheus text format
//	GET /debug/pprof/                Go runtime profiles
//
// With a token configured every route but /healthz and /readyz needs
// "Authorization: Bearer <token>"; the comparison is constant-time.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
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
)

// Config configures the endpoint.
type Config struct {
	// Addr is the listen address. Default 127.0.0.1:8080; port 0 picks a
	// free port.
	Addr string
	// Token, when set, is required as a bearer token. Default none, which
	// is only sensible on loopback. It is never logged.
	Token string
	// TLSCert and TLSKey are PEM files; with both set the endpoint serves
	// HTTPS. Default: plain HTTP.
	TLSCert, TLSKey string
}

// Backend answers the endpoint's queries; the node implements it.
type Backend interface {
	// Ready returns nil once the node can serve.
	Ready() error
	Status(ctx context.Context) (*Status, error)
	Findings(ctx context.Context, q FindingsQuery) ([]json.RawMessage, error)
	Actors(ctx context.Context, kind string) ([]ActorRef, error)
	// Actor returns ErrNotFound for an unknown entity.
	Actor(ctx context.Context, kind, id string) (*Actor, error)
}

// ErrNotFound is returned by a Backend for what does not exist; it maps to
// 404. ErrBadRequest maps to 400.
var (
	ErrNotFound   = errors.New("not found")
	ErrBadRequest = errors.New("bad request")
)

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
	Members    any                     `json:"members"`
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
		cfg.Addr = "127.0.0.1:8080"
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("admin: TLS needs both a certificate and a key")
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listening on %s: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, ln: ln, b: b, log: log.With("component", "admin")}
	if cfg.Token == "" && !isLoopback(ln.Addr()) {
		s.log.Warn("admin endpoint listens beyond loopback without a token", "addr", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /api/v1/status", s.auth(s.status))
	mux.Handle("GET /api/v1/findings", s.auth(s.findings))
	mux.Handle("GET /api/v1/actors", s.auth(s.actors))
	mux.Handle("GET /api/v1/actors/{kind}/{id...}", s.auth(s.actor))
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
		return next
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
		next(w, r)
	})
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
	kind := r.URL.Query().Get("kind")
	refs, err := s.b.Actors(r.Context(), kind)
	if err != nil {
		s.fail(w, err)
		return
	}
	if refs == nil {
		refs = []ActorRef{}
	}
	writeJSON(w, 200, map[string]any{"actors": refs})
}

func (s *Server) actor(w http.ResponseWriter, r *http.Request) {
	a, err := s.b.Actor(r.Context(), r.PathValue("kind"), r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, 200, a)
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrBadRequest):
		writeError(w, http.StatusBadRequest, err.Error())
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

func isLoopback(a net.Addr) bool {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.IsLoopback()
	}
	return false
}
