package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
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
	// node that died without leaving keeps its partitions. Default 45s.
	SessionTimeout time.Duration
}

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
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(c.SessionTimeout))
	}
	if c.TLS {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
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
