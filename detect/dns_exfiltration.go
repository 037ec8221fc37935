package detect

import (
	"strings"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Trojan:EC2/DNSDataExfiltration (High, ACTOR, DNS_REQUEST): the entity
// tunnels data through DNS — it encodes data in the labels of queries to
// one domain whose authoritative name server the attacker runs. Every
// query of a tunnel carries new data, so the names are distinct, long and
// random-looking, all under one registrable domain (the AWS tester sends
// 929 of them with ~60-character base64 labels).
//
// A query counts when a label left of its registrable domain (eTLD+1,
// Public Suffix List, so "x.elb.amazonaws.com" style cloud names are their
// own registrable domain and never count) looks encoded (encodedLabel, 20+
// characters). The finding fires when one registrable domain receives 30
// distinct such names within a 10-minute window of event time (hopping
// windows that start every 5 minutes, see profiles/window.go). The tunnels
// read for calibration (netrack dns2tcp, iodine and dnscapy captures, the
// iodine and dns2tcp pcaps) send 40 to thousands of them a minute. Benign
// random-looking names are rare: 0.24% of the Umbrella top 100k, none of
// the OpenDNS lists or the netrack benign capture, and at most 60 under
// any one registrable domain across that whole list (azure.net) — resolved
// by one host in a row at 10 a second, the list raises nothing.
// Repeated lookups of one name (a polling client) count once.
//
// TXT and NULL queries carry a tunnel's downstream (iodine asks NULL
// records, dns2tcp TXT) and benign software asks them for a few apex or
// service names ("_dmarc", "selector._domainkey", "_acme-challenge"). So a
// TXT or NULL query counts with shorter labels too (rule txt-null-data):
// NULL with a label of 6 or more characters (iodine's 8-character pings,
// "paeachaa.pirate.sea"), TXT with a label of 8 or more that holds
// characters a host name cannot, or mixes letters and digits with at
// least 2.5 bits of entropy per character; never a name with an underscore
// label (a service record).
//
// Never counted: reverse-lookup zones (in-addr.arpa, ip6.arpa: 32 hex
// labels by design), popular registered domains and cloud platforms (the
// OpenDNS top 10,000 and cloud_platforms.txt, see intel.Reputation: CDN
// and cloud names with random-looking labels, whose name servers an
// attacker cannot run), and domains in Config.DNSTunnelAllow (anti-virus
// and block-list lookups that hash by design). Each window that reaches the threshold counts one occurrence, so
// a tunnel counts about two per 10 minutes it stays open; the details are
// the window's latest query.
//
// Aggregation key: (account, region, type, entity, registrable domain).

func (e *Engine) dnsExfiltration(n *profiles.Network, ev *event.Event, out []findings.Finding) []findings.Finding {
	q := ev.DNS
	name := queryName(q)
	sub, domain, ok := registrable(name)
	if !ok || sub == "" || e.allow[domain] || reverseZone(name) || e.dns.rep.Popular(domain) {
		return out
	}
	if !encodedName(sub, e.cfg.DNSTunnelMinLabel) && !txtNullData(sub, q.QueryType) {
		return out
	}
	if p, ok := splitName(name); ok && e.platform(&p) {
		return out
	}
	ex := profiles.DNSExemplar{
		Name: name, Src: q.SrcAddr.Unmap().WithZone(""), VPC: q.VPCID, Owner: q.AccountID,
		Transport: q.Transport, Blocked: q.FirewallAction == "BLOCK",
	}
	hits := n.ObserveDNSTunnel(domain, fnv32a(name), ev.Time.UTC(), ex, e.cfg.DNSTunnelWindow, e.cfg.DNSTunnelNames)
	w, ok := n.DNSTunnel.Reached(profiles.Domain(domain), hits)
	if !ok {
		return out
	}
	x := &w.Exemplar
	f := windowFinding(TypeDNSDataExfiltration, findings.SeverityHigh, &n.Header, ev, w.First, w.Last, w.Count, w.Crossed, domain)
	f.Resource = instanceResource(instanceID(n, ev), findings.NetworkInterface{VpcID: x.VPC}, x.Src)
	f.Service.Action = dnsAction(x.Name, domain, x.Transport, x.Owner, x.Blocked)
	f.Service.ResourceRole = findings.RoleActor
	longest, h := longestLabel(strings.TrimSuffix(x.Name, "."+domain))
	span := w.Last.Sub(w.First)
	f.Service.AdditionalInfo = findings.AdditionalInfo{
		"domain":               domain,
		"distinctEncodedNames": w.Distinct,
		"threshold":            e.cfg.DNSTunnelNames,
		"window":               e.cfg.DNSTunnelWindow.String(),
		"queries":              w.Count,
		"queriesPerMinute":     round3(float64(w.Count) / max(span.Minutes(), 1)),
		"longestLabel":         longest,
		"labelEntropy":         round3(h),
		"minLabelLength":       e.cfg.DNSTunnelMinLabel,
	}
	inst := instanceLabel(n, ev)
	f.Title = "Data exfiltration through DNS queries from EC2 instance " + inst + "."
	f.Description = "EC2 instance " + inst + " queried " + itoa(w.Distinct) + " distinct names under " + domain +
		" within minutes whose labels look like encoded data. DNS tunnelling tools carry data this way to a name server the attacker controls."
	return append(out, f)
}

// txtNullData reports whether a TXT or NULL query's labels left of the
// registrable domain look like tunnel data (see above).
func txtNullData(sub, qtype string) bool {
	var null bool
	switch qtype {
	case "NULL":
		null = true
	case "TXT":
	default:
		return false
	}
	for rest := sub; rest != ""; {
		label := rest
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			label, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if strings.HasPrefix(label, "_") {
			return false
		}
	}
	longest, _ := longestLabel(sub)
	if null {
		return longest >= 6
	}
	if longest < 8 {
		return false
	}
	for rest := sub; rest != ""; {
		label := rest
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			label, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if len(label) < 8 {
			continue
		}
		letters, digits := false, false
		var counts [256]uint32
		for i := 0; i < len(label); i++ {
			counts[label[i]]++
			switch c := label[i]; {
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
				letters = true
			case c >= '0' && c <= '9':
				digits = true
			case c != '-':
				return true // a byte a host name cannot hold
			}
		}
		if letters && digits && entropy(&counts, len(label)) >= 2.5 {
			return true
		}
	}
	return false
}

// longestLabel returns the length of the longest label of sub and its
// entropy in bits per character.
func longestLabel(sub string) (int, float64) {
	best := ""
	for rest := sub; rest != ""; {
		label := rest
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			label, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if len(label) > len(best) {
			best = label
		}
	}
	var counts [256]uint32
	for i := 0; i < len(best); i++ {
		counts[best[i]]++
	}
	return len(best), entropy(&counts, len(best))
}
