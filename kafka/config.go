package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"golang.org/x/net/proxy"
)

// Config says how to reach a Kafka cluster.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// TLS enables TLS to the brokers. Default false (plain text, for local use).
	TLS bool
	// TLSCA is a PEM file of CAs to verify the brokers with. Default: the
	// system pool.
	TLSCA string
	// TLSCert and TLSKey are a PEM client certificate and key for mutual
	// TLS. Default: none.
	TLSCert, TLSKey string
	// TLSServerName overrides the name verified in the broker certificate.
	TLSServerName string
	// SASLMechanism is "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	// Default "" (no SASL).
	SASLMechanism string
	// SASLUser and SASLPassword are the SASL credentials. The password is
	// never logged.
	SASLUser, SASLPassword string
	// SessionTimeout is the consumer-group session timeout: how long a
	// node that died without leaving (killed with -9, cut off) keeps its
	// partitions, so its shards serve again on the other nodes about
	// SessionTimeout plus a rebalance after it died. It must lie within
	// the brokers' group.min.session.timeout.ms and
	// group.max.session.timeout.ms (6s and 30m by default). Default 8s
	// (Kafka's is 45s): a killed node's shards serve again within about
	// 12s, with room for a loaded node's heartbeats to be late.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often a group member tells the group
	// coordinator it is alive; below SessionTimeout, and Kafka advises at
	// most a third of it. It also bounds how soon a member learns of a
	// rebalance. Default 1s (Kafka's is 3s).
	HeartbeatInterval time.Duration
	// SOCKS5Proxy is a SOCKS5 proxy, host:port, that every connection to
	// the brokers goes through (TLS, if enabled, runs end to end through
	// it). Default none: direct connections.
	SOCKS5Proxy string
}

// Defaults of Config.
const (
	DefaultSessionTimeout    = 8 * time.Second
	DefaultHeartbeatInterval = time.Second
)

// String formats the configuration without the SASL password, so that
// printing or logging a Config cannot leak it.
func (c Config) String() string {
	type plain Config // without methods, so that %+v does not recurse
	p := plain(c)
	if p.SASLPassword != "" {
		p.SASLPassword = "[redacted]"
	}
	return fmt.Sprintf("%+v", p)
}

// LogValue implements slog.LogValuer, without the SASL password.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// Options returns the kgo options that connect to the cluster.
func (c Config) Options() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, fmt.Errorf("kafka: no brokers configured")
	}
	session, heartbeat := c.SessionTimeout, c.HeartbeatInterval
	if session <= 0 {
		session = DefaultSessionTimeout
	}
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeatInterval
	}
	if heartbeat >= session {
		return nil, fmt.Errorf("kafka: heartbeat interval %v is not below the session timeout %v", heartbeat, session)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.SessionTimeout(session), kgo.HeartbeatInterval(heartbeat)}
	var tc *tls.Config
	if c.TLS {
		var err error
		if tc, err = c.tlsConfig(); err != nil {
			return nil, err
		}
	}
	switch {
	case c.SOCKS5Proxy != "":
		d, err := proxy.SOCKS5("tcp", c.SOCKS5Proxy, nil, &net.Dialer{Timeout: 10 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("kafka: SOCKS5 proxy %s: %w", c.SOCKS5Proxy, err)
		}
		opts = append(opts, kgo.Dialer(socksDialer(d.(proxy.ContextDialer), tc)))
	case tc != nil:
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("kafka: unknown SASL mechanism %q", c.SASLMechanism)
	}
	return opts, nil
}

// socksDialer dials through a SOCKS5 proxy, then runs TLS over the
// connection when tc is set (verifying the broker's name, not the
// proxy's).
func socksDialer(d proxy.ContextDialer, tc *tls.Config) func(ctx context.Context, network, host string) (net.Conn, error) {
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, host)
		if err != nil || tc == nil {
			return conn, err
		}
		cfg := tc.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(host)
		}
		tconn := tls.Client(conn, cfg)
		if err := tconn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tconn, nil
	}
}

func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("kafka: reading TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: no certificates in %s", c.TLSCA)
		}
		tc.RootCAs = pool
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("kafka: loading TLS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
