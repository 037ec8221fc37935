package detect

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
)

var reputationTypes = []string{TypeAbusedDomainReputation, TypeBitcoinDomainReputation,
	TypeMaliciousDomainReputation, TypeSuspiciousDomainReputation}

func ofTypes(occ []findings.Finding, types ...string) []findings.Finding {
	var out []findings.Finding
	for _, typ := range types {
		out = append(out, ofType(occ, typ)...)
	}
	return out
}

func TestDomainReputation(t *testing.T) {
	answer := func(name, typ, rdata string) *event.Event {
		ev := dnsQuery(dnsStart, scanner, localIP, name)
		ev.DNS.Answers = []event.Answer{{Rdata: rdata, Type: typ}}
		return ev
	}
	nx := func(name string) *event.Event { return nxQuery(dnsStart, name) }
	q := func(name string) *event.Event { return dnsQuery(dnsStart, scanner, localIP, name) }
	for _, tc := range []struct {
		name      string
		ev        *event.Event
		typ, rule string
		// entry is the list entry of additionalInfo, when the rule has one.
		entry string
	}{
		// The AWS GuardDuty tester's indicator names.
		{"tester abused", q("abused-rep.guarddutyc2activityb.com"), TypeAbusedDomainReputation, "guardduty-tester-indicator", "abused-rep.guarddutyc2activityb.com"},
		{"tester crypto", q("crypto-rep.guarddutyc2activityb.com"), TypeBitcoinDomainReputation, "guardduty-tester-indicator", "crypto-rep.guarddutyc2activityb.com"},
		{"tester malicious", q("malicious-rep.guarddutyc2activityb.com"), TypeMaliciousDomainReputation, "guardduty-tester-indicator", "malicious-rep.guarddutyc2activityb.com"},
		{"tester suspicious", q("suspicious-rep.guarddutyc2activityb.com"), TypeSuspiciousDomainReputation, "guardduty-tester-indicator", "suspicious-rep.guarddutyc2activityb.com"},
		// Abused: dynamic DNS and free subdomains.
		{"dynamic DNS host", q("myrat.ddns.net"), TypeAbusedDomainReputation, "dynamic-dns", "ddns.net"},
		{"DuckDNS host", q("c2.home.duckdns.org"), TypeAbusedDomainReputation, "dynamic-dns", "duckdns.org"},
		{"free TLD", q("paypal-verify.tk"), TypeAbusedDomainReputation, "free-subdomain", "tk"},
		{"quick tunnel", q("river-apple-yellow.trycloudflare.com"), TypeAbusedDomainReputation, "free-subdomain", "trycloudflare.com"},
		{"out-of-band test host", q("c9xk2.oast.fun"), TypeAbusedDomainReputation, "free-subdomain", "oast.fun"},
		// Malicious: sinkholes and generated names that do not exist.
		{"sinkhole address", answer("kjsdhfkjsdf.com", "A", "131.253.18.12"), TypeMaliciousDomainReputation, "sinkhole-answer", "131.253.18.12/32"},
		{"sinkhole network", answer("ajsdkfj.net", "A", "199.2.137.44"), TypeMaliciousDomainReputation, "sinkhole-answer", "199.2.137.0/24"},
		{"sinkhole CNAME", answer("updates-win32.com", "CNAME", "sinkhole.shadowserver.org."), TypeMaliciousDomainReputation, "sinkhole-answer", "sinkhole"},
		{"generated NXDOMAIN", nx("wjfbhtvfktdcdxwqpz.com"), TypeMaliciousDomainReputation, "dga-nxdomain", ""},
		// Bitcoin: mining names under low-reputation domains.
		{"pool on dynamic DNS", q("xmr-pool.myrig.ddns.net"), TypeBitcoinDomainReputation, "crypto-keyword-low-reputation", "ddns.net"},
		{"stratum on abused TLD", q("stratum.fastcoins.top"), TypeBitcoinDomainReputation, "crypto-keyword-low-reputation", "top"},
		// Suspicious: unpopular, abused TLD.
		{"unpopular abused TLD", q("login.account-check.xyz"), TypeSuspiciousDomainReputation, "abused-tld-unpopular", "xyz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := ofTypes(w.apply(tc.ev), reputationTypes...)
			if len(got) != 1 || got[0].Type != tc.typ {
				t.Fatalf("raised:%s\nwant one %s", summary(got), tc.typ)
			}
			f := got[0]
			checkFinding(t, f)
			info := f.Service.AdditionalInfo
			a := f.Service.Action.DNSRequestAction
			if info["reputationRule"] != tc.rule || tc.entry != "" && info["entry"] != tc.entry ||
				f.Service.ResourceRole != findings.RoleActor || a == nil || a.Domain != tc.ev.DNS.QueryName ||
				!strings.Contains(f.Description, tc.rule) {
				b, _ := json.MarshalIndent(f, "", "  ")
				t.Fatalf("finding:\n%s", b)
			}
		})
	}
}

func TestDomainReputationNegatives(t *testing.T) {
	for _, name := range []string{
		"www.google.com", "s3.us-east-1.amazonaws.com", "d1a2b3c4d5e6f7.cloudfront.net",
		"www.no-ip.com", "dynupdate.no-ip.com", "ddns.net", // providers' own sites
		"1.0.0.10.in-addr.arpa", "ip-10-0-1-25.ec2.internal", "printer.local",
		"pool.ntp.org", "0.amazon.pool.ntp.org", // "pool", popular
		"pool.minexmr.com", // on the crypto lists: CryptoCurrency:EC2/BitcoinTool.B!DNS
		"guarddutyc2activityb.com",
	} {
		w := newWorld(DefaultConfig())
		ev := dnsQuery(dnsStart, scanner, localIP, name)
		if got := ofTypes(w.apply(ev), reputationTypes...); len(got) != 0 {
			t.Errorf("%s raised:%s", name, summary(got))
		}
	}
	// A generated name that resolves is left to the DGA detector.
	w := newWorld(DefaultConfig())
	if got := ofTypes(w.apply(dnsQuery(dnsStart, scanner, localIP, "wjfbhtvfktdcdxwqpz.com")), reputationTypes...); len(got) != 0 {
		t.Errorf("resolved generated name raised:%s", summary(got))
	}
}

// TestDomainReputationBenign counts the .Reputation findings the OpenDNS
// random sample raises from a host seen for a week: only the Medium and
// Low rules may, on names under dynamic-DNS and free-subdomain suffixes,
// in abused TLDs, or new and random-looking.
func TestDomainReputationBenign(t *testing.T) {
	w := newWorld(DefaultConfig())
	// The host has been seen for a week: new domains are new.
	w.apply(dnsQuery(dnsStart.Add(-8*24*time.Hour), scanner, localIP, "www.google.com"))
	counts := map[string]int{}
	n := 0
	for _, l := range readLines(t, "opendns_random_domains.txt") {
		name := strings.TrimSpace(string(l))
		n++
		for _, f := range ofTypes(w.apply(dnsQuery(dnsStart, scanner, localIP, name)), reputationTypes...) {
			counts[f.Type+" "+f.Service.AdditionalInfo["reputationRule"].(string)]++
		}
	}
	t.Logf("%d names: %v", n, counts)
	if counts[TypeMaliciousDomainReputation+" dga-nxdomain"]+counts[TypeMaliciousDomainReputation+" sinkhole-answer"] != 0 {
		t.Error("benign names raised MaliciousDomainRequest.Reputation")
	}
	if c := counts[TypeAbusedDomainReputation+" dynamic-dns"] + counts[TypeAbusedDomainReputation+" free-subdomain"]; c > n/200 {
		t.Errorf("%d of %d benign names raised AbusedDomainRequest.Reputation", c, n)
	}
	if c := counts[TypeSuspiciousDomainReputation+" new-random-looking-domain"]; c > n/100 {
		t.Errorf("%d of %d benign names raised the new-random-looking-domain rule", c, n)
	}
}

// TestNewRandomLookingDomain: after a week of queries, the first query of
// an unpopular random-looking domain raises the Low finding once; the
// same domain in the first week, a repeated query, or a word-like new
// domain do not.
func TestNewRandomLookingDomain(t *testing.T) {
	const rnd = "qzkx7vbw2jht.com" // scores above 0.7, below nothing else
	week := 7 * 24 * time.Hour
	run := func(evs ...*event.Event) []findings.Finding {
		w := newWorld(DefaultConfig())
		return ofType(w.applyAll(evs), TypeSuspiciousDomainReputation)
	}
	at := func(d time.Duration, name string) *event.Event {
		return dnsQuery(dnsStart.Add(d), scanner, localIP, name)
	}
	got := run(at(0, "www.google.com"), at(week+time.Hour, rnd), at(week+2*time.Hour, "www."+rnd))
	if len(got) != 1 || got[0].Service.AdditionalInfo["reputationRule"] != "new-random-looking-domain" {
		t.Fatalf("raised:%s", summary(got))
	}
	info := got[0].Service.AdditionalInfo
	if info["dgaScore"].(float64) < newDomainScore || info["learning"] != "168h0m0s" || info["firstSeenByEntity"] == "" {
		t.Errorf("additionalInfo %v", info)
	}
	if got := run(at(0, "www.google.com"), at(time.Hour, rnd)); len(got) != 0 {
		t.Errorf("in the first week:%s", summary(got))
	}
	if got := run(at(0, rnd), at(week+time.Hour, rnd)); len(got) != 0 {
		t.Errorf("a domain known before:%s", summary(got))
	}
	if got := run(at(0, "www.google.com"), at(week+time.Hour, "bluegardenflowers.com")); len(got) != 0 {
		t.Errorf("a word-like domain:%s", summary(got))
	}
}
