package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/vigil-sec/vigil/admin"
	"github.com/vigil-sec/vigil/cluster"
)

// A query about something another node holds (an entity of a shard it
// owns, its shards' counters) is forwarded to that node's admin endpoint,
// in one hop: the receiving node sees admin.ForwardedHeader and answers
// from what it holds itself. The admin endpoint was chosen over
// protoactor's remote for this: it already authenticates (the bearer
// token) and encrypts (TLS), every node serves it, and a read-only query
// that a client may retry needs no delivery guarantee; protoactor's remote
// would need a memberlist cluster provider, protobuf messages and a second
// TLS setup for the same one hop.

// peerTimeout bounds one forwarded query.
const peerTimeout = 3 * time.Second

// peers forwards queries to other nodes' admin endpoints.
type peers struct {
	client *http.Client
	scheme string
	token  string
}

func newPeers(cfg admin.Config) (*peers, error) {
	p := &peers{client: &http.Client{Timeout: peerTimeout}, scheme: "http", token: cfg.Token}
	if cfg.TLSCert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.TLSCA != "" {
			pem, err := os.ReadFile(cfg.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("node: admin TLS CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("node: no certificates in %s", cfg.TLSCA)
			}
			tc.RootCAs = pool
		}
		p.scheme = "https"
		p.client.Transport = &http.Transport{TLSClientConfig: tc}
	}
	return p, nil
}

// errPeer says a forwarded query failed because of the peer or the way
// to it, not because of what was asked.
var errPeer = errors.New("node unreachable")

// get forwards GET path to member and decodes its answer into v. A 404 is
// admin.ErrNotFound; a 503 or a peer that cannot be reached errPeer.
func (p *peers) get(ctx context.Context, m cluster.Member, path string, v any) error {
	if m.Admin == "" {
		return fmt.Errorf("%w: %s advertises no admin address", errPeer, m.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.scheme+"://"+m.Admin+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set(admin.ForwardedHeader, "1")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errPeer, m.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errPeer, m.Name, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return json.Unmarshal(body, v)
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s", admin.ErrNotFound, errorText(body))
	case http.StatusServiceUnavailable:
		return fmt.Errorf("%w: %s: %s", errPeer, m.Name, errorText(body))
	}
	return fmt.Errorf("%s answered %s: %s", m.Name, resp.Status, errorText(body))
}

func errorText(body []byte) string {
	var e struct{ Error string }
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return string(body)
}

// owner returns the member that owns shard p, per gossip. A suspect
// member counts: it may only be slow to gossip, and a query to a node
// that is down fails fast.
func (n *Node) owner(p int32) (cluster.Member, bool) {
	for _, m := range n.members.Members() {
		if m.Self || !reachable(m) {
			continue
		}
		if slices.Contains(m.Shards, p) {
			return m, true
		}
	}
	return cluster.Member{}, false
}

// unavailable is the error of a query about shard p that no reachable
// node holds.
func unavailable(p int32, why error) error {
	if why == nil {
		return fmt.Errorf("%w: shard %d has no owner right now (it is moving, or its node is down); retry shortly", admin.ErrUnavailable, p)
	}
	return fmt.Errorf("%w: shard %d: %v", admin.ErrUnavailable, p, why)
}

// reachable reports whether a member may answer: alive or suspect.
func reachable(m cluster.Member) bool {
	return m.State == cluster.StateAlive || m.State == cluster.StateSuspect
}
