package detect

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
)

var dnsStart = time.Date(2026, 3, 8, 21, 41, 7, 0, time.UTC)

// namesCSV returns the query names of a netrack names.csv extract.
func namesCSV(t testing.TB, file string) []string {
	t.Helper()
	var out []string
	for i, l := range readLines(t, file) {
		if i == 0 {
			continue // label,qname
		}
		_, name, ok := strings.Cut(string(l), ",")
		if !ok {
			t.Fatalf("%s: bad line %q", file, l)
		}
		out = append(out, name)
	}
	return out
}

// queries returns one query per name from the instance, `every` apart.
func queries(start time.Time, every time.Duration, names []string) []*event.Event {
	evs := make([]*event.Event, len(names))
	for i, n := range names {
		evs[i] = dnsQuery(start.Add(time.Duration(i)*every), scanner, localIP, n)
	}
	return evs
}

// testerNames returns n names shaped like the AWS GuardDuty tester's
// DNSDataExfiltration queries: two or three ~60-character base64-like
// labels under one domain.
func testerNames(n int, domain string) []string {
	r := rand.New(rand.NewPCG(929, 929))
	buf := make([]byte, 48)
	label := func() string {
		for i := range buf {
			buf[i] = byte(r.UintN(256))
		}
		return strings.NewReplacer("+", "-", "/", "-", "=", "").Replace(base64.StdEncoding.EncodeToString(buf))[:58+r.IntN(4)]
	}
	out := make([]string, n)
	for i := range out {
		parts := []string{label(), label()}
		if i%3 == 0 {
			parts = append(parts, label())
		}
		out[i] = strings.Join(parts, ".") + "." + domain
	}
	return out
}

func TestDNSExfiltrationTunnels(t *testing.T) {
	route53 := func(file string) func(t *testing.T) []*event.Event {
		return func(t *testing.T) []*event.Event {
			var evs []*event.Event
			for _, l := range readLines(t, file) {
				evs = append(evs, dnsEventJSON(t, l))
			}
			return evs
		}
	}
	names := func(file string) func(t *testing.T) []*event.Event {
		return func(t *testing.T) []*event.Event { return queries(dnsStart, 100*time.Millisecond, namesCSV(t, file)) }
	}
	for _, tc := range []struct {
		name   string
		events func(t *testing.T) []*event.Event
		domain string
		// windows is the number of windows (10 minutes, starting every 5)
		// that reach the threshold: a tunnel shorter than 5 minutes lies
		// whole in two.
		windows int
	}{
		// Real captures converted to Route 53 Resolver query logs.
		{"iodine capture", route53("iodine.route53.jsonl"), "pirate.sea", 2},
		{"dns2tcp capture", route53("dns2tcp.route53.jsonl"), "hidemyself.org", 2},
		// Query names of real tunnels, replayed at 10 queries a second.
		{"netrack dns2tcp", names("netrack_dns2tcp_names.csv"), "hidemyself.org", 2},
		{"netrack iodine", names("netrack_iodine_names.csv"), "hidemyself.org", 2},
		{"netrack dnscapy", names("netrack_dnscapy_names.csv"), "example.org", 2},
		// The AWS tester: 929 queries under guarddutyc2activityb.com.
		{"GuardDuty tester", func(*testing.T) []*event.Event {
			return queries(dnsStart, 10*time.Millisecond, testerNames(929, "guarddutyc2activityb.com"))
		}, "guarddutyc2activityb.com", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := ofType(w.applyAll(tc.events(t)), TypeDNSDataExfiltration)
			agg := aggregate(got)
			if len(agg) != 1 || agg[0].Service.Count != tc.windows {
				t.Fatalf("%d findings, %d occurrences counted, want 1 and %d:%s", len(agg), raised(got), tc.windows, summary(agg))
			}
			f := agg[0]
			checkFinding(t, f)
			a := f.Service.Action.DNSRequestAction
			if f.Severity != findings.SeverityHigh || f.Service.ResourceRole != findings.RoleActor ||
				f.Service.Action.ActionType != findings.ActionDNSRequest || a == nil || a.DomainWithSuffix != tc.domain ||
				!strings.HasSuffix(a.Domain, "."+tc.domain) || a.Protocol != "UDP" || a.Blocked ||
				a.VpcOwnerAccountID == "" || f.Resource.InstanceDetails == nil || f.Resource.InstanceDetails.InstanceID == "" {
				b, _ := json.MarshalIndent(f, "", "  ")
				t.Fatalf("finding:\n%s", b)
			}
			if want := "Data exfiltration through DNS queries from EC2 instance " + f.Resource.InstanceDetails.InstanceID + "."; f.Title != want {
				t.Errorf("title = %q, want %q", f.Title, want)
			}
		})
	}
}

func TestDNSExfiltrationNegatives(t *testing.T) {
	long := testerNames(1, "exfil-example.com")[0]
	distinct := func(n int, domain string) []string { return testerNames(n, domain) }
	repeat := func(name string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = name
		}
		return out
	}
	gen := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		names func(t *testing.T) []string
		every time.Duration
		want  int
	}{
		{"benign capture (netrack plain)", func(t *testing.T) []string { return namesCSV(t, "netrack_plain_names.csv") }, 100 * time.Millisecond, 0},
		{"one long random name polled", func(*testing.T) []string { return repeat(long, 1000) }, time.Second, 0},
		{"29 distinct encoded names", func(*testing.T) []string { return distinct(29, "exfil-example.com") }, time.Second, 0},
		{"30 distinct encoded names", func(*testing.T) []string { return distinct(30, "exfil-example.com") }, time.Second, 2}, // two windows hold all 30
		{"30 encoded names over 20 minutes", func(*testing.T) []string { return distinct(30, "exfil-example.com") }, 40 * time.Second, 0},
		{"30 encoded names spread over two domains", func(*testing.T) []string {
			return append(distinct(15, "exfil-example.com"), distinct(15, "exfil-example.net")...)
		}, time.Second, 0},
		// Reputation services that hash by design are allow-listed.
		{"anti-virus lookups", func(*testing.T) []string {
			return gen(200, func(i int) string {
				return fmt.Sprintf("%016x%016x.%d.sophosxl.net", uint64(i+1)*0x9e3779b97f4a7c15, uint64(i+1)*0xc2b2ae3d27d4eb4f, i)
			})
		}, 100 * time.Millisecond, 0},
		// Cloud names with random ids are their own registrable domain
		// (Public Suffix List): nothing is left of it to count.
		{"many load balancers and distributions", func(*testing.T) []string {
			return gen(300, func(i int) string {
				if i%2 == 0 {
					return fmt.Sprintf("internal-svc%d-%d.us-east-1.elb.amazonaws.com", i, 1000000000+i*7919)
				}
				return fmt.Sprintf("d%013x.cloudfront.net", uint64(i)*0x9e3779b97f4a7c15>>12)
			})
		}, 100 * time.Millisecond, 0},
		{"reverse lookups", func(*testing.T) []string {
			return gen(500, func(i int) string { return fmt.Sprintf("%d.%d.0.10.in-addr.arpa", i%250, i/250) })
		}, 100 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := w.applyAll(queries(dnsStart, tc.every, tc.names(t)))
			if raised(ofType(got, TypeDNSDataExfiltration)) != tc.want || raised(got) != tc.want {
				t.Fatalf("%d occurrences counted, want %d:%s", raised(got), tc.want, summary(got))
			}
		})
	}
}

// TestEncodedLabel checks the label classifier on panther-analysis'
// Standard.DNSBase64 cases and on host names of the benign capture.
func TestEncodedLabel(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		// panther-analysis Standard.DNSBase64 (Route 53 form).
		{"c29tZSBsb25nIGJhc2U2NCBzdHJpbmc=.file1.16s.us", true},
		{"test.com", false},
		{"=.test.com", false},
		{"c2VjcmV0LWRhdGEtZXhmaWwtY2h1bms.malicious.com", true},
		// Panther expects no alert because the label decodes to non-ASCII;
		// it still looks encoded, and a single query never raises.
		{"c2VydmljZXPkuK1pZGVudGlmaWVy.serviceregistry.internal", true},
		// The AWS tester's example.
		{"0ycb1EnPJyobGCgvGmgK337dGWkAY4maklIyGzJW3GuhS1Tzz-zR0DHSAbbHwh.42dWmdiYmhf-cc0NMLluJGaXxSq5a.guarddutyc2activityb.com", true},
		// Host names.
		{"optimizationguide-pa.googleapis.com", false},
		{"onedriveclubprodbn20009.blob.core.windows.net", false},
		{"ip-10-0-1-25.ec2.internal", false},
		{"r3---sn-ab5l6nzr.googlevideo.com", false},
		{"prod-lt-playstoregatewayadapter-pa.googleapis.com", false},
		{"webcast-frontier16-normal-alisg.tiktokv.com", false},
		{"www.example.com", false},
		// A hex key id looks encoded; one such name is harmless.
		{"stm-keyid-662d8f1cecdff147a8b6f0ea296af7f24cadf9cf.microsoftaik.azure.net", true},
	} {
		sub, _, ok := registrable(strings.ToLower(tc.name))
		if got := ok && encodedName(sub, DefaultDNSTunnelMinLabel); got != tc.want {
			t.Errorf("encoded(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, c := range pantherCases(t, "Standard.DNSBase64") {
		w := newWorld(DefaultConfig())
		if got := w.apply(dnsEventJSON(t, c.Log)); len(got) != 0 {
			t.Errorf("%s: one query raised:%s", c.TestName, summary(got))
		}
	}
}

func TestRegistrable(t *testing.T) {
	for _, tc := range []struct{ name, sub, domain string }{
		{"a.b.tunnel.example.org", "a.b.tunnel", "example.org"},
		{"example.org", "", "example.org"},
		{"abc..hidemyself.org", "abc.", "hidemyself.org"},
		{"x.pirate.sea", "x", "pirate.sea"},
		{"name-1.us-east-1.elb.amazonaws.com", "", "name-1.us-east-1.elb.amazonaws.com"},
		{"com", "", ""},
		{"", "", ""},
	} {
		sub, domain, _ := registrable(tc.name)
		if sub != tc.sub || domain != tc.domain {
			t.Errorf("registrable(%q) = %q, %q; want %q, %q", tc.name, sub, domain, tc.sub, tc.domain)
		}
	}
}

// TestDNSTunnelRecall measures, on the real tunnel captures, the share of
// distinct query names under the tunnel's domain that count towards the
// finding: encoded labels alone (encodedName), and with the TXT and NULL
// rule (txtNullData).
func TestDNSTunnelRecall(t *testing.T) {
	for _, tc := range []struct {
		file, domain string
		min          float64
	}{
		{"iodine.route53.jsonl", "pirate.sea", 0.95},
		{"dns2tcp.route53.jsonl", "hidemyself.org", 0.95},
	} {
		seen := map[string]bool{}
		encoded, counted := 0, 0
		for _, l := range readLines(t, tc.file) {
			q := dnsEventJSON(t, l).DNS
			name := queryName(q)
			sub, domain, ok := registrable(name)
			if !ok || domain != tc.domain || sub == "" || seen[name] {
				continue
			}
			seen[name] = true
			enc := encodedName(sub, DefaultDNSTunnelMinLabel)
			if enc {
				encoded++
			}
			if enc || txtNullData(sub, q.QueryType) {
				counted++
			}
		}
		n := float64(len(seen))
		t.Logf("%s: %d distinct names; %.3f counted by encoded labels alone, %.3f with the TXT/NULL rule",
			tc.file, len(seen), float64(encoded)/n, float64(counted)/n)
		if float64(counted)/n < tc.min {
			t.Errorf("%s: recall %.3f, want at least %.2f", tc.file, float64(counted)/n, tc.min)
		}
	}
}

// TestDNSExfiltrationBenignLists runs the benign top-domain lists
// (OpenDNS random sample and top 1,000, public domain) as one host at 10
// queries a second, with CDN and cloud names, reverse lookups, anti-virus
// lookups and TXT service records: no finding.
func TestDNSExfiltrationBenignLists(t *testing.T) {
	var names []string
	for _, file := range []string{"opendns_random_domains.txt", "opendns_top1000.txt"} {
		for _, l := range readLines(t, file) {
			if s := strings.TrimSpace(string(l)); s != "" && s[0] != '#' {
				names = append(names, s)
			}
		}
	}
	for i := range 400 {
		h := uint64(i+1) * 0x9e3779b97f4a7c15
		names = append(names,
			fmt.Sprintf("%d.%d.%d.10.in-addr.arpa", i%250, i/250, i%7),
			fmt.Sprintf("%x.%x.%x.%x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", h&15, h>>4&15, h>>8&15, h>>12&15),
			fmt.Sprintf("d%013x.cloudfront.net", h>>12),
			fmt.Sprintf("e%d.dsc%x.akamaiedge.net", i, h>>40),
			fmt.Sprintf("%016x%016x.%d.sophosxl.net", h, h*31, i),
			fmt.Sprintf("s%d-%x._domainkey.example.com", i, h>>20),
		)
	}
	evs := queries(dnsStart, 100*time.Millisecond, names)
	for i, ev := range evs {
		if strings.Contains(ev.DNS.QueryName, "_domainkey") || i%5 == 0 {
			ev.DNS.QueryType = "TXT"
		}
	}
	w := newWorld(DefaultConfig())
	got := ofType(w.applyAll(evs), TypeDNSDataExfiltration)
	t.Logf("%d benign queries: %d DNSDataExfiltration occurrences", len(evs), raised(got))
	if len(got) != 0 {
		t.Errorf("benign lists raised:%s", summary(aggregate(got)))
	}
}

// TestDNSExfiltrationTXTNull: a tunnel of short labels in NULL or TXT
// queries counts; the same names as A queries do not.
func TestDNSExfiltrationTXTNull(t *testing.T) {
	names := make([]string, 40)
	for i := range names {
		names[i] = fmt.Sprintf("%010x.t.exfil-example.net", uint64(i+1)*0x9e3779b97f4a7c15>>24)
	}
	for _, tc := range []struct {
		qtype string
		want  int
	}{{"NULL", 2}, {"TXT", 2}, {"A", 0}} {
		evs := queries(dnsStart, time.Second, names)
		for _, ev := range evs {
			ev.DNS.QueryType = tc.qtype
		}
		w := newWorld(DefaultConfig())
		got := ofType(w.applyAll(evs), TypeDNSDataExfiltration)
		if raised(got) != tc.want {
			t.Errorf("%s: %d occurrences, want %d", tc.qtype, raised(got), tc.want)
		}
		if tc.want > 0 && len(got) > 0 {
			info := aggregate(got)[0].Service.AdditionalInfo
			if info["threshold"] != DefaultDNSTunnelNames || info["distinctEncodedNames"].(int) < DefaultDNSTunnelNames || info["window"] != "10m0s" {
				t.Errorf("%s: additionalInfo %v", tc.qtype, info)
			}
		}
	}
}
