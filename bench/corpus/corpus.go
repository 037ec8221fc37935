// Package corpus generates realistic CloudTrail, VPC flow-log and Route 53
// Resolver query-log records for load tests: real CloudTrail records used
// as templates, with ids, times, caller addresses and principals varied;
// flow and query logs drawn from pools of interfaces, hosts and names the
// way an account's traffic looks. The same seed gives the same records.
package corpus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// Config sizes the pools records are drawn from.
type Config struct {
	// Seed makes generation repeatable. Default 1.
	Seed uint64
	// Start is the time of the first record. Default 2025-03-08T00:00:00Z.
	Start time.Time
	// Principals, Interfaces and RemoteHosts size the entity pools.
	// Defaults 2,000, 300 and 20,000 (the yardstick corpus of
	// spec/limits.md).
	Principals, Interfaces, RemoteHosts int
	// Templates are CloudTrail events to vary. Default: none, in which
	// case CloudTrail generation fails; use LoadTemplates.
	Templates []map[string]any
}

func (c *Config) defaults() {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2025, 3, 8, 0, 0, 0, 0, time.UTC)
	}
	if c.Principals <= 0 {
		c.Principals = 2000
	}
	if c.Interfaces <= 0 {
		c.Interfaces = 300
	}
	if c.RemoteHosts <= 0 {
		c.RemoteHosts = 20000
	}
}

// Generator makes records.
type Generator struct {
	cfg Config
	rng *rand.Rand
}

// New returns a generator.
func New(cfg Config) *Generator {
	cfg.defaults()
	return &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
}

// Records returns n records of a source, one log record each.
func (g *Generator) Records(src event.Source, n int) ([][]byte, error) {
	out := make([][]byte, 0, n)
	for i := range n {
		var (
			b   []byte
			err error
		)
		switch src {
		case event.SourceCloudTrail:
			b, err = g.cloudTrail(i)
		case event.SourceVPCFlow:
			b = g.flow(i)
		case event.SourceDNS:
			b, err = g.dns(i)
		default:
			return nil, fmt.Errorf("corpus: unknown source %v", src)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// LoadTemplates reads CloudTrail events (single events, arrays, S3
// delivery files, JSON lines) from files and directories.
func LoadTemplates(paths ...string) ([]map[string]any, error) {
	var out []map[string]any
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".jsonl") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			for dec.More() {
				var v any
				if err := dec.Decode(&v); err != nil {
					return nil // not CloudTrail JSON: skip the rest of the file
				}
				out = append(out, flatten(v)...)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("corpus: reading templates: %w", err)
		}
	}
	return out, nil
}

func flatten(v any) []map[string]any {
	switch t := v.(type) {
	case []any:
		var out []map[string]any
		for _, e := range t {
			out = append(out, flatten(e)...)
		}
		return out
	case map[string]any:
		if recs, ok := t["Records"]; ok {
			return flatten(recs)
		}
		if _, ok := t["eventName"]; ok {
			return []map[string]any{t}
		}
	}
	return nil
}

func (g *Generator) cloudTrail(i int) ([]byte, error) {
	if len(g.cfg.Templates) == 0 {
		return nil, fmt.Errorf("corpus: no CloudTrail templates")
	}
	ev := clone(g.cfg.Templates[i%len(g.cfg.Templates)])
	ev["eventID"] = fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.rng.Uint32(), i&0xffff, i%4096, g.rng.IntN(4096), g.rng.Uint64()&0xffffffffffff)
	ev["requestID"] = fmt.Sprintf("%016x", g.rng.Uint64())
	ev["eventTime"] = g.cfg.Start.Add(time.Duration(i) * 37 * time.Millisecond).Format(time.RFC3339)
	ev["sourceIPAddress"] = g.publicIP(g.rng.IntN(5000))
	if id, ok := ev["userIdentity"].(map[string]any); ok {
		p := g.rng.IntN(g.cfg.Principals)
		if t, _ := id["type"].(string); t != "Root" && t != "AWSService" {
			if arn, ok := id["arn"].(string); ok {
				id["arn"] = fmt.Sprintf("%s-%d", arn, p)
			}
			if name, ok := id["userName"].(string); ok {
				id["userName"] = fmt.Sprintf("%s-%d", name, p)
			}
			if sc, ok := id["sessionContext"].(map[string]any); ok {
				if si, ok := sc["sessionIssuer"].(map[string]any); ok {
					if arn, ok := si["arn"].(string); ok {
						si["arn"] = fmt.Sprintf("%s-%d", arn, p)
					}
				}
			}
		}
	}
	return json.Marshal(ev)
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = clone(sub)
		}
		out[k] = v
	}
	return out
}

// publicIP returns the i-th address of a pool of public addresses.
func (g *Generator) publicIP(i int) string {
	return fmt.Sprintf("%d.%d.%d.%d", 23+i%180, (i/180)%250+1, (i/45000)%250+1, i%251+2)
}

func (g *Generator) localIP(eni int) string {
	return fmt.Sprintf("10.%d.%d.%d", eni/65000%250, eni/250%250, eni%250+4)
}

var commonPorts = []int{443, 443, 443, 443, 80, 80, 53, 22, 3306, 5432, 6379, 8080, 123}

func (g *Generator) flow(i int) []byte {
	eni := g.rng.IntN(g.cfg.Interfaces)
	local := g.localIP(eni)
	remote := g.publicIP(g.rng.IntN(g.cfg.RemoteHosts))
	if g.rng.IntN(2) == 0 {
		remote = g.localIP(g.rng.IntN(g.cfg.Interfaces * 10))
	}
	port := commonPorts[g.rng.IntN(len(commonPorts))]
	eph := 32768 + g.rng.IntN(28000)
	proto := 6
	if port == 53 || port == 123 {
		proto = 17
	}
	pk := 1 + g.rng.IntN(40)
	start := g.cfg.Start.Unix() + int64(i/200)
	action := "ACCEPT"
	if g.rng.IntN(20) == 0 {
		action = "REJECT"
	}
	src, dst, sp, dp := local, remote, eph, port
	if g.rng.IntN(2) == 0 { // inbound
		src, dst, sp, dp = remote, local, eph, port
	}
	return fmt.Appendf(nil, "2 123456789012 eni-%017x %s %s %d %d %d %d %d %d %d %s OK",
		0xa000000+eni, src, dst, sp, dp, proto, pk, pk*(60+g.rng.IntN(1400)), start, start+g.rng.Int64N(60), action)
}

var domains = []string{
	"amazonaws.com", "s3.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com", "github.com", "api.github.com",
	"registry.npmjs.org", "pypi.org", "files.pythonhosted.org", "deb.debian.org", "security.debian.org",
	"google.com", "www.google.com", "fonts.googleapis.com", "login.microsoftonline.com", "graph.microsoft.com",
	"slack.com", "api.stripe.com", "sentry.io", "datadoghq.com", "cloudflare.com", "ocsp.digicert.com",
	"time.aws.com", "ntp.ubuntu.com", "proxy.golang.org", "sum.golang.org", "docker.io", "registry-1.docker.io",
}

func (g *Generator) dns(i int) ([]byte, error) {
	inst := g.rng.IntN(g.cfg.Interfaces)
	name := domains[g.rng.IntN(len(domains))]
	if g.rng.IntN(100) == 0 { // an encoded query, as a tunnel makes
		const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
		label := make([]byte, 52)
		for j := range label {
			label[j] = alphabet[g.rng.IntN(len(alphabet))]
		}
		name = string(label) + ".t.tunnel-example.net"
	}
	rec := map[string]any{
		"version": "1.100000", "account_id": "123456789012", "region": "us-east-1", "vpc_id": "vpc-0a1b2c3d4e5f60718",
		"query_timestamp": g.cfg.Start.Add(time.Duration(i) * 10 * time.Millisecond).Format(time.RFC3339),
		"query_name":      name + ".", "query_type": "A", "query_class": "IN", "rcode": "NOERROR",
		"answers": []map[string]string{{"Rdata": g.publicIP(g.rng.IntN(g.cfg.RemoteHosts)), "Type": "A", "Class": "IN"}},
		"srcaddr": g.localIP(inst), "srcport": fmt.Sprint(32768 + g.rng.IntN(28000)), "transport": "UDP",
		"srcids": map[string]string{"instance": fmt.Sprintf("i-%017x", 0xb000000+inst)},
	}
	return json.Marshal(rec)
}
