package detect

import (
	"math"
	"strings"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"golang.org/x/net/publicsuffix"
)

// Helpers shared by the DNS detectors.

// queryName returns a query name without its trailing dot.
func queryName(q *event.DNS) string {
	return strings.TrimSuffix(q.QueryName, ".")
}

// registrable splits name into its registrable domain (eTLD+1, from the
// Public Suffix List) and the labels left of it. Names some tools produce
// with empty labels ("data..tunnel.example") are split at the last empty
// label. ok is false when name has no registrable domain (a bare suffix,
// an empty name).
func registrable(name string) (sub, domain string, ok bool) {
	tail := name
	if i := strings.LastIndex(name, ".."); i >= 0 {
		tail = name[i+2:]
	}
	domain, err := publicsuffix.EffectiveTLDPlusOne(strings.TrimPrefix(tail, "."))
	if err != nil {
		return "", "", false
	}
	if len(name) > len(domain) {
		sub = name[:len(name)-len(domain)-1]
	}
	return sub, domain, true
}

// dnsAction is the DNS_REQUEST action of a query of name (under the
// registrable domain) over transport (UDP when empty) from a VPC of owner.
func dnsAction(name, domain, transport, owner string, blocked bool) findings.Action {
	if transport == "" {
		transport = "UDP"
	}
	return findings.Action{
		ActionType: findings.ActionDNSRequest,
		DNSRequestAction: &findings.DNSRequestAction{
			Domain:            name,
			Protocol:          transport,
			Blocked:           blocked,
			DomainWithSuffix:  domain,
			VpcOwnerAccountID: owner,
		},
	}
}

// encodedName reports whether any label of sub looks like encoded data
// (encodedLabel).
func encodedName(sub string, minLabel int) bool {
	for sub != "" {
		label := sub
		if i := strings.IndexByte(sub, '.'); i >= 0 {
			label, sub = sub[:i], sub[i+1:]
		} else {
			sub = ""
		}
		if encodedLabel(label, minLabel) {
			return true
		}
	}
	return false
}

// encodedLabel reports whether a DNS label looks like encoded data rather
// than a host name: it has at least minLen bytes and either
//
//   - holds a byte a host name cannot (base64's '+', '/', '=', or raw
//     bytes, as dns2tcp, dnscapy and iodine send), or
//   - has a run of at least minLen letters and digits (no '-' or '_') that
//     switches between letters and digits at least max(4, len/8) times
//     with at least 3.5 bits of entropy per character, as base32, hex and
//     lower-cased base64 do. Host names are words, counters and short ids
//     joined by hyphens ("onedriveclubprodbn20009",
//     "rr11---sn-bvvbaxivnuxq5uu-vgql", "optimizationguide-pa"): their
//     runs are short or switch a few times at most.
//
// Single names of that shape exist (load balancer and key-id names); what
// makes tunnelling is many distinct ones under one domain, which the
// detector counts.
func encodedLabel(l string, minLen int) bool {
	if len(l) < minLen {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return true
		}
	}
	// The longest run without separators.
	run := ""
	for rest := l; rest != ""; {
		i := strings.IndexAny(rest, "-_")
		if i < 0 {
			i = len(rest)
		}
		if i > len(run) {
			run = rest[:i]
		}
		if i == len(rest) {
			break
		}
		rest = rest[i+1:]
	}
	if len(run) < minLen {
		return false
	}
	var counts [256]uint32
	transitions := 0
	prevDigit := false
	for i := 0; i < len(run); i++ {
		c := run[i]
		counts[c]++
		digit := c >= '0' && c <= '9'
		if i > 0 && digit != prevDigit {
			transitions++
		}
		prevDigit = digit
	}
	if transitions < max(4, len(run)/8) {
		return false
	}
	return entropy(&counts, len(run)) >= 3.5
}

// entropy is the Shannon entropy in bits per byte of a string of n bytes
// with the given byte counts.
func entropy(counts *[256]uint32, n int) float64 {
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(n)
			h -= p * math.Log2(p)
		}
	}
	return h
}

// fnv32a hashes a query name for the distinct-name count.
func fnv32a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
