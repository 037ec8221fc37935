package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// The .Reputation types (ACTOR, DNS_REQUEST): the entity queried a
// low-reputation domain. GuardDuty scores domains with a reputation model
// of its own; vigil names the rule that made a domain low-reputation in
// additionalInfo.reputationRule, with its evidence (the list and entry
// matched, the model score and threshold). A query raises at most one of
// them, the first that holds:
//
//   - Impact:EC2/MaliciousDomainRequest.Reputation (High): an answer is a
//     sinkhole — an address on the sinkhole list, or a CNAME, NS or PTR
//     answer naming a sinkhole host (rule sinkhole-answer); or the query
//     failed with NXDOMAIN for an unpopular registered domain whose label
//     the DGA model scores at least repMaliciousDGAScore (dga-nxdomain), a
//     generated name nobody registered, which is what a DGA client asks.
//   - Impact:EC2/BitcoinDomainRequest.Reputation (High): a label names
//     crypto-currency mining (pool, xmr, monero, stratum, ...) under a
//     low-reputation domain: a dynamic-DNS or free-subdomain name, an
//     abused top-level domain, or a registered domain whose label the DGA
//     model scores at least 0.5; popular domains and names on the crypto
//     lists (which raise CryptoCurrency:EC2/BitcoinTool.B!DNS) are not
//     counted (crypto-keyword-low-reputation).
//   - Impact:EC2/AbusedDomainRequest.Reputation (Medium): the name lies
//     under a dynamic-DNS provider (maltrail's list, rule dynamic-dns) or
//     a free-subdomain suffix (the former Freenom TLDs, tunnel and
//     free-hosting services; free-subdomain), and its registered domain
//     is not popular (the provider's own site is).
//   - Impact:EC2/SuspiciousDomainRequest.Reputation (Low): the registered
//     domain is unpopular — not on the OpenDNS top 10,000 — and under one
//     of the most abused top-level domains (abused-tld-unpopular); or it is
//     unpopular, random-looking (DGA score 0.7 or more) and newly observed:
//     the entity queries it for the first time after a week of queries
//     (new-random-looking-domain; profiles.DNSModels.Seen keeps the
//     entity's unpopular domains, 256 at most). vigil has no registration
//     dates and no global traffic counts, so "newly observed, little
//     traffic" is this deployment's view: the popularity list and the
//     entity's own history. Parked and expired domains are not
//     recognised: that needs registration data.
//
// The AWS GuardDuty tester's indicator names (abused-rep., crypto-rep.,
// malicious-rep. and suspicious-rep.guarddutyc2activityb.com) raise their
// type by rule guardduty-tester-indicator. Reverse-lookup zones and names
// without a public top-level domain raise nothing.
//
// Every matching query is an occurrence (Rank 1, details from the query
// alone); they aggregate by (account, region, type, entity, registered
// domain). The new-random-looking-domain rule fires on a domain's
// earliest query, so it raises one occurrence per domain unless an
// earlier query of it arrives after a later one (then two), or the seen
// set dropped the domain.

// repMaliciousDGAScore is the DGA score an NXDOMAIN query must reach to be
// called malicious alone: 0.2% of the benign domains of the model's
// held-back split score that high, against 1.2% at the DGA threshold.
const repMaliciousDGAScore = 0.99

// miningWords are label fragments of crypto-currency mining hosts.
var miningWords = []string{"pool", "xmr", "monero", "mining", "miner", "stratum", "nicehash", "hashvault",
	"coinhive", "cryptonight", "ethermine", "nanopool", "minexmr", "btc", "bitcoin", "crypto"}

// reputationHit is the rule a query matched.
type reputationHit struct {
	typ      string
	severity float64
	rule     string
	// info is the rule's evidence.
	info findings.AdditionalInfo
	// why completes the description.
	why string
}

func (e *Engine) domainReputation(n *profiles.Network, ev *event.Event, out []findings.Finding) []findings.Finding {
	q := ev.DNS
	name := queryName(q)
	p, ok := splitName(name)
	if !ok {
		return out
	}
	domain := p.domain
	hit, ok := e.reputation(n, ev, name, &p)
	if !ok {
		return out
	}
	account, region := placement(&n.Header, ev)
	f := findings.New(hit.typ, hit.severity, account, region, ev.Time, entityKey(&n.Header, ev), domain)
	f.Resource = instanceResource(q.InstanceID, findings.NetworkInterface{VpcID: q.VPCID}, q.SrcAddr)
	f.Service.Action = dnsAction(name, domain, q.Transport, q.AccountID, q.FirewallAction == "BLOCK")
	f.Service.ResourceRole = findings.RoleActor
	info := findings.AdditionalInfo{"reputationRule": hit.rule, "domain": domain, "rcode": q.RCode}
	for k, v := range hit.info {
		info[k] = v
	}
	f.Service.AdditionalInfo = info
	inst := instanceLabel(n, ev)
	f.Title = "EC2 instance " + inst + " is querying a low-reputation domain name."
	f.Description = "EC2 instance " + inst + " queried " + name + ", a low-reputation domain: " + hit.why +
		" (rule " + hit.rule + ")."
	return append(out, f)
}

// reputation returns the first reputation rule name matches.
func (e *Engine) reputation(n *profiles.Network, ev *event.Event, name string, p *nameParts) (reputationHit, bool) {
	q, domain := ev.DNS, p.domain
	rep := e.dns.rep
	if kind, ok := rep.TestIndicator(name); ok {
		h := reputationHit{rule: "guardduty-tester-indicator", info: findings.AdditionalInfo{"list": "vigil-test", "entry": name},
			why: "it is an indicator name of the AWS GuardDuty tester"}
		switch kind {
		case "abused":
			h.typ, h.severity = TypeAbusedDomainReputation, findings.SeverityMedium
		case "bitcoin":
			h.typ, h.severity = TypeBitcoinDomainReputation, findings.SeverityHigh
		case "malicious":
			h.typ, h.severity = TypeMaliciousDomainReputation, findings.SeverityHigh
		default:
			h.typ, h.severity = TypeSuspiciousDomainReputation, findings.SeverityLow
		}
		return h, true
	}
	if reverseZone(name) || !p.public() || e.allow[domain] {
		return reputationHit{}, false
	}
	popular := rep.Popular(domain)
	// Malicious: sinkhole answers.
	for _, a := range q.Answers {
		entry := ""
		if ip, err := netip.ParseAddr(a.Rdata); err == nil {
			if p, ok := rep.Sinkhole(ip); ok {
				entry = p.String()
			}
		} else if strings.Contains(strings.ToLower(a.Rdata), "sinkhole") {
			entry = "sinkhole"
		}
		if entry != "" {
			return reputationHit{typ: TypeMaliciousDomainReputation, severity: findings.SeverityHigh, rule: "sinkhole-answer",
				info: findings.AdditionalInfo{"list": "sinkholes", "entry": entry, "answer": a.Rdata, "answerType": a.Type},
				why:  "it resolves to a sinkhole (" + a.Type + " " + a.Rdata + ", matching " + entry + "), so it was taken over from malware"}, true
		}
	}
	if popular || e.platform(p) {
		return reputationHit{}, false
	}
	at := ev.Time.UTC()
	first, tracked := n.ObserveDomain(profiles.DomainHash(domain), at)
	// The model scores only the queries a rule needs it for.
	word := miningWord(name)
	var score float64
	scored := false
	if q.RCode == "NXDOMAIN" || word != "" {
		score, scored = e.dgaScore(name, p)
	}
	label := p.label
	if scored && q.RCode == "NXDOMAIN" && score >= repMaliciousDGAScore {
		return reputationHit{typ: TypeMaliciousDomainReputation, severity: findings.SeverityHigh, rule: "dga-nxdomain",
			info: findings.AdditionalInfo{"dgaScore": round3(score), "scoreThreshold": repMaliciousDGAScore, "label": label},
			why:  fmt.Sprintf("it does not exist and its label %s scores %.3f as generated by a DGA (threshold %.2f)", label, score, repMaliciousDGAScore)}, true
	}
	dyn, isDyn := rep.DynamicDNS(name)
	if isDyn && dyn == name {
		isDyn = false // the provider itself
	}
	free, isFree := rep.FreeSubdomain(name)
	if isFree && free == name {
		isFree = false
	}
	tld, abusedTLD := rep.AbusedTLD(name)
	// Bitcoin: a mining name under a low-reputation domain.
	if word != "" {
		if _, _, listed := e.cryptoListed(name); !listed {
			var why string
			info := findings.AdditionalInfo{"keyword": word}
			switch {
			case isDyn:
				why, info["list"], info["entry"] = "dynamic-DNS domain "+dyn, "maltrail_dynamic_domain", dyn
			case isFree:
				why, info["list"], info["entry"] = "free-subdomain suffix "+free, "free_subdomain", free
			case abusedTLD:
				why, info["list"], info["entry"] = "abused top-level domain ."+tld, "abused_tlds", tld
			case scored && score >= 0.5:
				why, info["dgaScore"], info["scoreThreshold"] = fmt.Sprintf("a random-looking registered domain (DGA score %.3f)", score), round3(score), 0.5
			}
			if why != "" {
				info["popular"] = false
				return reputationHit{typ: TypeBitcoinDomainReputation, severity: findings.SeverityHigh, rule: "crypto-keyword-low-reputation",
					info: info, why: "it names crypto-currency mining (" + word + ") under a " + why}, true
			}
		}
	}
	switch {
	case isDyn:
		return reputationHit{typ: TypeAbusedDomainReputation, severity: findings.SeverityMedium, rule: "dynamic-dns",
			info: findings.AdditionalInfo{"list": "maltrail_dynamic_domain", "entry": dyn, "popular": false},
			why:  "it is a name of dynamic-DNS provider " + dyn}, true
	case isFree:
		return reputationHit{typ: TypeAbusedDomainReputation, severity: findings.SeverityMedium, rule: "free-subdomain",
			info: findings.AdditionalInfo{"list": "free_subdomain", "entry": free, "popular": false},
			why:  "it is under free-subdomain suffix " + free}, true
	case abusedTLD:
		return reputationHit{typ: TypeSuspiciousDomainReputation, severity: findings.SeverityLow, rule: "abused-tld-unpopular",
			info: findings.AdditionalInfo{"list": "abused_tlds", "entry": tld, "popular": false, "popularList": "opendns_top_domains"},
			why:  "its registered domain " + domain + " is not on the popular list and is under ." + tld + ", one of the most abused top-level domains"}, true
	}
	// Suspicious: a random-looking unpopular domain this entity queries for
	// the first time after a week of queries.
	known := at.Sub(n.FirstEvent)
	if !tracked || !first.Equal(at) || known < newDomainAfter {
		return reputationHit{}, false
	}
	if !scored {
		score, scored = e.dgaScore(name, p)
	}
	if !scored || score < newDomainScore {
		return reputationHit{}, false
	}
	return reputationHit{typ: TypeSuspiciousDomainReputation, severity: findings.SeverityLow, rule: "new-random-looking-domain",
		info: findings.AdditionalInfo{"popular": false, "popularList": "opendns_top_domains", "firstSeenByEntity": findings.Stamp(first),
			"entityObservedFor": known.Round(time.Hour).String(), "learning": newDomainAfter.String(),
			"dgaScore": round3(score), "scoreThreshold": newDomainScore},
		why: fmt.Sprintf("its registered domain %s is not on the popular list, the instance never queried it in the %s before, and it looks random (DGA score %.3f, threshold %.2f)",
			domain, known.Round(time.Hour), score, newDomainScore)}, true
}

// The "newly observed" rule of SuspiciousDomainRequest.Reputation: an
// unpopular registered domain the entity queries for the first time, at
// least newDomainAfter after its first event, whose label the DGA model
// scores at least newDomainScore (below the DGA threshold, so a name that
// reads as random, not a word). 2.5% of the benign registered domains
// (labels of 7 or more characters) of the DGA model's held-back split
// score that high: a server's new random-looking destinations are rare
// enough for a Low finding each.
const (
	newDomainAfter = 7 * 24 * time.Hour
	newDomainScore = 0.7
)

// cryptoListed reports whether name is on a crypto-currency list.
func (e *Engine) cryptoListed(name string) (match, list string, ok bool) {
	if set := e.Intel(); set != nil {
		return set.CryptoDomain(name)
	}
	return "", "", false
}

// miningWord returns the mining word a label of name holds, if any. The
// short words (xmr, btc) must be a label's prefix or follow a separator
// or digit, so that words that merely contain them do not count.
func miningWord(name string) string {
	for _, w := range miningWords {
		for i := 0; ; {
			j := strings.Index(name[i:], w)
			if j < 0 {
				break
			}
			j += i
			if len(w) > 3 || j == 0 || !isLetter(name[j-1]) {
				return w
			}
			i = j + 1
		}
	}
	return ""
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' }

func round3(v float64) float64 { return float64(int(v*1000+0.5)) / 1000 }
