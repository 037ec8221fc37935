package detect

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/detect/dga"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// generatedDomains returns n domains of the shapes DGA families generate:
// random letters (Conficker, Murofet, Ramnit), letters and digits
// (CoreBot, Necurs), under .com, .net, .org, .info and .biz. The lists
// the model is trained on are GPL-2.0 or research-only, so the tests
// generate their own.
func generatedDomains(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	tlds := []string{"com", "net", "org", "info", "biz"}
	const letters = "abcdefghijklmnopqrstuvwxyz"
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]string, n)
	for i := range out {
		set := letters
		if i%3 == 2 {
			set = alnum
		}
		b := make([]byte, 10+r.IntN(10))
		for j := range b {
			b[j] = set[r.IntN(len(set))]
		}
		out[i] = string(b) + "." + tlds[r.IntN(len(tlds))]
	}
	return out
}

// nxQuery is a query answered NXDOMAIN.
func nxQuery(at time.Time, name string) *event.Event {
	ev := dnsQuery(at, scanner, localIP, name)
	ev.DNS.RCode = "NXDOMAIN"
	return ev
}

func TestDGAModel(t *testing.T) {
	m, err := dga.Default()
	if err != nil {
		t.Fatal(err)
	}
	if m.Metrics == nil || m.Metrics.Precision < 0.9 || m.Metrics.Recall < 0.7 {
		t.Errorf("embedded model's held-back metrics: %+v", m.Metrics)
	}
	hit := 0
	gen := generatedDomains(300, 1)
	for _, d := range gen {
		label, _, _ := dga.Label(d)
		if ok, _ := m.Generated(label); ok {
			hit++
		}
	}
	if hit < len(gen)*8/10 {
		t.Errorf("%d of %d generated domains scored as generated", hit, len(gen))
	}
	for _, d := range []string{"google.com", "amazonaws.com", "wikipedia.org", "stackoverflow.com", "example.com",
		"cloudflare.com", "ubuntu.com", "debian.org", "github.com", "docker.io", "pypi.org", "npmjs.org"} {
		label, _, _ := dga.Label(d)
		if ok, s := m.Generated(label); ok {
			t.Errorf("%s scored %.3f, generated", d, s)
		}
	}
	if label, domain, _ := dga.Label("a.b.xjw3k9qpz7vbn2mt.co.uk"); label != "xjw3k9qpz7vbn2mt" || domain != "xjw3k9qpz7vbn2mt.co.uk" {
		t.Errorf("Label = %q, %q: the registered domain is by the Public Suffix List", label, domain)
	}
}

func TestDGADomainRequest(t *testing.T) {
	// The detector's windows, on domains the model flags (its recall is
	// TestDGAModel's).
	m, _ := dga.Default()
	var gen []string
	for _, d := range generatedDomains(100, 2) {
		if label, _, _ := dga.Label(d); len(gen) < 40 && len(label) >= dgaMinLabel {
			if ok, _ := m.Generated(label); ok {
				gen = append(gen, d)
			}
		}
	}
	every := func(names []string, d time.Duration) []*event.Event {
		evs := make([]*event.Event, len(names))
		for i, n := range names {
			evs[i] = nxQuery(dnsStart.Add(time.Duration(i)*d), n)
		}
		return evs
	}
	for _, tc := range []struct {
		name    string
		events  []*event.Event
		windows int
	}{
		{"four generated domains in a minute", every(gen[:4], 15*time.Second), 2},
		{"a DGA client's 40 lookups in ten minutes", every(gen, 15*time.Second), 2},
		{"three generated domains", every(gen[:3], 15*time.Second), 0},
		{"four generated domains over four hours", every(gen[:4], time.Hour+time.Minute), 0},
		{"one generated domain polled", every([]string{gen[0], gen[0], gen[0], gen[0], gen[0], gen[0]}, time.Second), 0},
		{"subdomains of one generated domain", every([]string{"a." + gen[0], "b." + gen[0], "c." + gen[0], "d." + gen[0]}, time.Second), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := ofType(w.applyAll(tc.events), TypeDGADomainRequestB)
			agg := aggregate(got)
			if tc.windows == 0 {
				if len(agg) != 0 {
					t.Fatalf("raised:%s", summary(agg))
				}
				return
			}
			if len(agg) != 1 || agg[0].Service.Count != tc.windows {
				t.Fatalf("%d findings, %d occurrences, want 1 and %d:%s", len(agg), raised(got), tc.windows, summary(agg))
			}
			f := agg[0]
			checkFinding(t, f)
			a := f.Service.Action.DNSRequestAction
			info := f.Service.AdditionalInfo
			if f.Severity != findings.SeverityHigh || f.Service.ResourceRole != findings.RoleActor || a == nil ||
				info["dgaScore"].(float64) < info["dgaThreshold"].(float64) || info["threshold"] != dgaDomains ||
				info["window"] != "1h0m0s" || info["distinctDGADomains"].(int) < dgaDomains || info["rcode"] != "NXDOMAIN" {
				b, _ := json.MarshalIndent(f, "", "  ")
				t.Fatalf("finding:\n%s", b)
			}
		})
	}
}

// TestDGANoFire runs benign domains through the detector: the OpenDNS
// random sample (10,000 names, public domain) as 200 instances of 50
// distinct names an hour each — a busy server's hourly share — plus
// reverse lookups and cloud and CDN names.
func TestDGANoFire(t *testing.T) {
	var names []string
	for _, l := range readLines(t, "opendns_random_domains.txt") {
		names = append(names, strings.TrimSpace(string(l)))
	}
	cdn := make([]string, 0, 300)
	for i := range 100 {
		cdn = append(cdn, fmt.Sprintf("%d.%d.0.10.in-addr.arpa", i%250, i/250),
			fmt.Sprintf("d%013x.cloudfront.net", uint64(i+1)*0x9e3779b97f4a7c15>>12),
			fmt.Sprintf("e%d.a.akamaiedge.net", 1000+i*37))
	}
	fired, hosts := benignHosts(t, append(cdn, names...), 50, TypeDGADomainRequestB)
	t.Logf("DGA findings on the OpenDNS random sample: %d of %d hosts of 50 names an hour", fired, hosts)
	if fired > 1 {
		t.Errorf("%d of %d benign hosts raised %s", fired, hosts, TypeDGADomainRequestB)
	}
}

// benignHosts queries names as hosts of per distinct names each, spread
// evenly over an hour, and returns how many hosts raised typ.
func benignHosts(t testing.TB, names []string, per int, typ string) (fired, hosts int) {
	w := newWorld(DefaultConfig())
	for h := 0; h*per < len(names); h++ {
		hosts++
		instance := fmt.Sprintf("i-%017x", h+1)
		var got []findings.Finding
		for i, n := range names[h*per : min((h+1)*per, len(names))] {
			got = append(got, w.apply(dnsQuery(dnsStart.Add(time.Duration(i)*time.Minute*60/time.Duration(per)), instance, localIP, n))...)
		}
		if len(ofType(got, typ)) > 0 {
			fired++
		}
	}
	return fired, hosts
}

// TestDNSModelsBenignLists reports the DNS model detectors on the
// unlicensed benign lists of the evaluation data when it is present: the
// DGA detector with hosts of 50 and of 500 names an hour, tunnelling and
// the .Reputation types with the whole list as one host at 10 queries a
// second.
func TestDNSModelsBenignLists(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "benign_domains")
	for _, file := range []string{"umbrella-top-100k.txt", "alexa2016-top-100000-domains.txt", "opendns-top-domains.txt", "opendns-random-domains.txt"} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Skipf("evaluation data absent: %v", err)
		}
		names := strings.Fields(string(b))
		for _, per := range []int{50, 500} {
			fired, hosts := benignHosts(t, names, per, TypeDGADomainRequestB)
			t.Logf("%s: %d of %d hosts of %d names an hour raised %s", file, fired, hosts, per, TypeDGADomainRequestB)
		}
		w := newWorld(DefaultConfig())
		got := w.applyAll(queries(dnsStart, 100*time.Millisecond, names))
		counts := map[string]int{}
		for _, f := range aggregate(got) {
			counts[f.Type]++
		}
		t.Logf("%s: %d names as one host: findings by type %v", file, len(names), counts)
	}
}

func BenchmarkDGA(b *testing.B) {
	eng := New(DefaultConfig())
	// A benign mix, as most queries are: names that raise nothing.
	names := []string{"www.google.com", "api.github.com", "s3.us-east-1.amazonaws.com", "d111111abcdef8.cloudfront.net",
		"ip-10-0-0-1.ec2.internal", "security.ubuntu.com", "sts.us-east-1.amazonaws.com", "registry-1.docker.io",
		"pypi.org", "files.pythonhosted.org", "1.0.0.10.in-addr.arpa", "mail.example-shop.de"}
	b.Run("score", func(b *testing.B) {
		m := eng.dns.dga
		labels := make([]string, len(names))
		for i, n := range names {
			labels[i], _, _ = dga.Label(n)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			m.Score(labels[i%len(labels)])
		}
	})
	b.Run("detectors", func(b *testing.B) {
		// The DGA, reputation and tunnelling detectors on one query.
		w := newWorldEngine(eng)
		evs := make([]*event.Event, len(names))
		for i, n := range names {
			evs[i] = dnsQuery(dnsStart, scanner, localIP, n)
		}
		n := w.profile(evs[0]).(*profiles.Network)
		var out []findings.Finding
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ev := evs[i%len(evs)]
			ev.Time = dnsStart.Add(time.Duration(i) * time.Second)
			n.Observe(ev, nil)
			out = eng.dgaDomainRequest(n, ev, out[:0])
			out = eng.domainReputation(n, ev, out[:0])
			out = eng.dnsExfiltration(n, ev, out[:0])
		}
	})
	// Apply runs every detector of the catalogue.
	b.Run("query", func(b *testing.B) {
		w := newWorldEngine(eng)
		evs := make([]*event.Event, len(names))
		for i, n := range names {
			evs[i] = dnsQuery(dnsStart, scanner, localIP, n)
		}
		p := w.profile(evs[0])
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ev := evs[i%len(evs)]
			ev.Time = dnsStart.Add(time.Duration(i) * time.Second)
			eng.Apply(p, ev)
		}
	})
}

// TestSplitName checks the one-lookup split against EffectiveTLDPlusOne
// (dga.Label), which the model was trained with. (splitName is lenient
// with empty labels left of the registered domain, "a..b.com", as
// tunnelling tools send them.)
func TestSplitName(t *testing.T) {
	for _, name := range []string{"a.b.xjw3k9qpz7vbn2mt.co.uk", "example.com", "www.example.com", "x.y.ddns.net",
		"d111.cloudfront.net", "bucket.s3.us-east-1.amazonaws.com", "com", "co.uk", "host.internal", ".com"} {
		p, ok := splitName(name)
		label, domain, lok := dga.Label(name)
		if ok != lok || ok && (p.label != label || p.domain != domain) {
			t.Errorf("splitName(%q) = %+v, %v; dga.Label = %q, %q, %v", name, p, ok, label, domain, lok)
		}
	}
}
