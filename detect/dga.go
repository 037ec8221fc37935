package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/detect/dga"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/profiles"
	"golang.org/x/net/publicsuffix"
)

// Trojan:EC2/DGADomainRequest.B (High, ACTOR, DNS_REQUEST): the entity
// queries domains that an algorithm generated — malware that finds its
// command server by trying many names a day, of which the operator
// registers a few. A model, not a list (package dga): a logistic
// regression over the registered domain's own label (Public Suffix List),
// trained on 47,932 generated names of 50 families and 4,980 seen in the
// wild against the Umbrella, Alexa and OpenDNS top lists. On its held-back
// split (registered domains whose FNV-1a hash is 0 mod 5) it scores
// precision 0.962, recall 0.757, F1 0.847 per domain at its threshold
// (0.884), calling 1.2% of benign domains generated; dictionary DGAs
// (suppobox, matsnu, gozi, nymaim2) look like words and are missed.
//
// One generated-looking name is weak evidence: 1 benign domain in 85 of
// the held-back split scores that high. A DGA client queries many — tens
// to thousands an hour, most of them unregistered (NXDOMAIN) — so the
// finding fires when one entity queries dgaDomains (4) distinct such
// registered domains, of any response code, within dgaWindow (one hour,
// hopping windows starting every 30 minutes, see profiles/window.go). A
// benign host reaches that only by querying some 330 distinct unpopular
// registered domains within the hour. Names never scored: reverse-lookup
// zones, names without an ICANN top-level domain (.internal, .local,
// .lan), names under a popular platform's private suffix (cloudfront.net,
// s3.amazonaws.com: random ids by design, see platform), labels
// shorter than dgaMinLabel, internationalised labels (xn--, which read
// as noise to a character model), registered domains on the popular list
// (the OpenDNS top 10,000, see intel.Reputation) or in
// Config.DNSTunnelAllow.
//
// Each window that reaches the threshold counts one occurrence; the
// details are the window's latest generated-looking query, with its score.
// additionalInfo names the model, the score and threshold, the distinct
// count, the window and its threshold. Aggregation key: (account, region,
// type, entity).

const (
	dgaDomains  = 4
	dgaWindow   = time.Hour
	dgaMinLabel = 7
)

// dnsModels are the DNS detectors' models and lists: built once, shared
// read-only by every profile.
type dnsModels struct {
	dga *dga.Model
	rep *intel.Reputation
}

func newDNSModels() *dnsModels {
	m, err := dga.Default()
	if err != nil {
		panic(fmt.Sprintf("detect: embedded DGA model: %v", err)) // tested: impossible
	}
	rep, err := intel.BuiltinReputation()
	if err != nil {
		panic(fmt.Sprintf("detect: embedded reputation lists: %v", err)) // tested: impossible
	}
	return &dnsModels{dga: m, rep: rep}
}

// reverseZone reports whether name is in a reverse-lookup zone.
func reverseZone(name string) bool {
	return strings.HasSuffix(name, ".in-addr.arpa") || strings.HasSuffix(name, ".ip6.arpa") ||
		name == "in-addr.arpa" || name == "ip6.arpa"
}

// nameParts is a query name split by the Public Suffix List, with one
// lookup: sub.label.suffix, domain = label.suffix (the registered
// domain). icann tells whether the suffix is in the list's ICANN section.
type nameParts struct {
	sub, label, domain, suffix string
	icann                      bool
}

// splitName splits name; ok is false when it has no registered domain.
func splitName(name string) (p nameParts, ok bool) {
	suffix, icann := publicsuffix.PublicSuffix(name)
	n := len(name) - len(suffix) - 1
	if n <= 0 || name[n] != '.' {
		return p, false
	}
	rest := name[:n]
	i := strings.LastIndexByte(rest, '.')
	p = nameParts{label: rest[i+1:], domain: name[i+1:], suffix: suffix, icann: icann}
	if i >= 0 {
		p.sub = rest[:i]
	}
	return p, p.label != ""
}

// public reports whether the name ends in a top-level domain the Public
// Suffix List knows (ICANN or a private suffix under one), not a local or
// made-up one (.internal, .local, .lan, .corp).
func (p *nameParts) public() bool {
	return p.icann || strings.IndexByte(p.suffix, '.') >= 0
}

// dgaScore returns the DGA model's score of the registered domain of the
// name split in p, or ok false when the name is not scored (see above).
func (e *Engine) dgaScore(name string, p *nameParts) (score float64, ok bool) {
	if len(p.label) < dgaMinLabel || strings.HasPrefix(p.label, "xn--") || reverseZone(name) || !p.public() ||
		e.allow[p.domain] || e.dns.rep.Popular(p.domain) || e.platform(p) {
		return 0, false
	}
	return e.dns.dga.Score(p.label), true
}

// platform reports whether the name lies under a private public suffix
// (the Public Suffix List's private section) of a popular platform:
// cloudfront.net distributions, S3 buckets, load balancers and app hosts
// name their customers with random ids by design. Private suffixes of
// dynamic-DNS providers (ddns.net, which DGAs use) do not count.
func (e *Engine) platform(p *nameParts) bool {
	if p.icann || strings.IndexByte(p.suffix, '.') < 0 {
		return false
	}
	if _, ok := e.dns.rep.DynamicDNS(p.suffix); ok {
		return false
	}
	for s := p.suffix; strings.IndexByte(s, '.') >= 0; s = s[strings.IndexByte(s, '.')+1:] {
		if e.dns.rep.Popular(s) {
			return true
		}
	}
	return false
}

func (e *Engine) dgaDomainRequest(n *profiles.Network, ev *event.Event, out []findings.Finding) []findings.Finding {
	q := ev.DNS
	name := queryName(q)
	p, ok := splitName(name)
	if !ok {
		return out
	}
	score, ok := e.dgaScore(name, &p)
	if !ok || score < e.dns.dga.Threshold {
		return out
	}
	domain := p.domain
	ex := profiles.DGAExemplar{
		DNSExemplar: profiles.DNSExemplar{Name: name, Src: q.SrcAddr.Unmap().WithZone(""), VPC: q.VPCID, Owner: q.AccountID,
			Transport: q.Transport, Blocked: q.FirewallAction == "BLOCK"},
		RCode: q.RCode, Score: uint16(score*10000 + 0.5),
	}
	hits := n.ObserveDGA(fnv32a(domain), ev.Time.UTC(), ex, dgaWindow, dgaDomains)
	w, ok := n.DNSModels.DGA.Reached("", hits)
	if !ok {
		return out
	}
	x := &w.Exemplar
	_, xdomain, _ := registrable(x.Name)
	f := windowFinding(TypeDGADomainRequestB, findings.SeverityHigh, &n.Header, ev, w.First, w.Last, w.Count, w.Crossed)
	f.Resource = instanceResource(instanceID(n, ev), findings.NetworkInterface{VpcID: x.VPC}, x.Src)
	f.Service.Action = dnsAction(x.Name, xdomain, x.Transport, x.Owner, x.Blocked)
	f.Service.ResourceRole = findings.RoleActor
	xscore := float64(x.Score) / 10000
	f.Service.AdditionalInfo = findings.AdditionalInfo{
		"domain":             xdomain,
		"model":              "dga logistic regression over the registered domain's label (character n-grams, bigram likelihood, entropy, length, digit and consonant ratios)",
		"dgaScore":           xscore,
		"dgaThreshold":       e.dns.dga.Threshold,
		"rcode":              x.RCode,
		"distinctDGADomains": w.Distinct,
		"threshold":          dgaDomains,
		"window":             dgaWindow.String(),
		"queries":            w.Count,
	}
	inst := instanceLabel(n, ev)
	f.Title = "EC2 instance " + inst + " is querying algorithmically generated domains."
	f.Description = "EC2 instance " + inst + " queried " + itoa(w.Distinct) + " distinct registered domains within " + dgaWindow.String() +
		" that the DGA model scores as generated (at least " + itoa(dgaDomains) + "), the latest " + x.Name +
		fmt.Sprintf(" (score %.3f, threshold %.3f). Malware uses domain generation algorithms to find its command and control server.", xscore, e.dns.dga.Threshold)
	return append(out, f)
}
