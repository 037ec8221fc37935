package profiles

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// DNSModels is the state of the DNS model detectors of a network entity.
type DNSModels struct {
	// DGA counts the distinct registered domains (as 32-bit FNV-1a hashes)
	// whose label the DGA model scores as generated, in one group (the
	// empty Domain): Trojan:EC2/DGADomainRequest.B fires when a window
	// holds enough of them. The pane list holds at most MaxDGAPanes: with
	// one group, that is every pane WindowLateness keeps of windows of
	// half an hour or more.
	DGA DGAWindows `json:"dga"`
	// Seen are the unpopular registered domains the entity queried, as
	// 64-bit FNV-1a hashes with their first and last query times (min and
	// max, so a function of the set of queries), sorted by hash: the
	// "newly observed" rule of SuspiciousDomainRequest.Reputation. At most
	// MaxSeenDomains; a full set drops its least by (last seen, hash).
	Seen []SeenDomain `json:"seen,omitempty"`
}

// SeenDomain is a registered domain the entity queried.
type SeenDomain struct {
	Hash  uint64    `json:"hash"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// MaxSeenDomains bounds DNSModels.Seen: about 20 bytes an entry encoded.
const MaxSeenDomains = 256

// DomainHash is the key of a registered domain in DNSModels.Seen.
func DomainHash(domain string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(domain); i++ {
		h = (h ^ uint64(domain[i])) * 1099511628211
	}
	return h
}

func seenDomainLess(a, b SeenDomain) bool {
	if c := a.Last.Compare(b.Last); c != 0 {
		return c < 0
	}
	return a.Hash < b.Hash
}

// ObserveDomain records a query of the domain with hash h at time at and
// returns the domain's first query time. first is at when this query is
// its earliest known one (the domain is new, or this query arrived late
// and earlier than the others). ok is false when a full set keeps more
// recent domains and does not take it.
func (n *Network) ObserveDomain(h uint64, at time.Time) (first time.Time, ok bool) {
	s := n.DNSModels.Seen
	i, found := slices.BinarySearchFunc(s, h, func(x SeenDomain, h uint64) int { return cmp.Compare(x.Hash, h) })
	if !found {
		s, i = insertBounded(s, i, SeenDomain{Hash: h, First: at, Last: at}, MaxSeenDomains, seenDomainLess)
		n.DNSModels.Seen = s
		if i < 0 {
			return time.Time{}, false
		}
		return at, true
	}
	x := &s[i]
	if at.Before(x.First) {
		x.First = at
	}
	if at.After(x.Last) {
		x.Last = at
	}
	return x.First, true
}

// DGAWindows count distinct generated-looking registered domains.
type DGAWindows = Windows[Domain, uint32, DGAExemplar]

// MaxDGAPanes bounds the DGA pane list (one group; see DNSModels): a
// one-hour window keeps 14 live panes.
const MaxDGAPanes = 16

// ObserveDGA adds the hash of a registered domain the DGA model scored as
// generated.
func (n *Network) ObserveDGA(domain uint32, at time.Time, ex DGAExemplar, window time.Duration, threshold int) [2]WindowHit {
	ex.Name = clip(ex.Name, MaxDomainLen)
	ex.RCode = clip(ex.RCode, maxRCodeLen)
	return n.DNSModels.DGA.observe("", domain, at, ex, window, n.LastEvent, threshold, MaxDGAPanes)
}

// maxRCodeLen bounds a response code ("NXDOMAIN", "SERVFAIL").
const maxRCodeLen = 16

// DGAExemplar is what a DGA pane keeps of the query at its last event
// time (see FlowExemplar): the query, its response code and the model's
// score of its registered domain, in ten-thousandths.
type DGAExemplar struct {
	DNSExemplar
	RCode string `json:"rcode,omitempty"`
	Score uint16 `json:"score"`
}

// Compare orders exemplars field by field.
func (x DGAExemplar) Compare(y DGAExemplar) int {
	if c := x.DNSExemplar.Compare(y.DNSExemplar); c != 0 {
		return c
	}
	if c := strings.Compare(x.RCode, y.RCode); c != 0 {
		return c
	}
	switch {
	case x.Score < y.Score:
		return -1
	case x.Score > y.Score:
		return 1
	}
	return 0
}

func (x DGAExemplar) kept(prev *DGAExemplar) DGAExemplar {
	x.DNSExemplar = x.DNSExemplar.kept(&prev.DNSExemplar)
	if x.RCode == prev.RCode {
		x.RCode = prev.RCode
	} else {
		x.RCode = strings.Clone(x.RCode)
	}
	return x
}

func (x *DGAExemplar) encode(e *encoder, prev *DGAExemplar) {
	x.DNSExemplar.encode(e, &prev.DNSExemplar)
	e.strRef(x.RCode, prev.RCode)
	e.uint16(x.Score)
}

func (x *DGAExemplar) decode(d *decoder, prev *DGAExemplar) {
	x.DNSExemplar.decode(d, &prev.DNSExemplar)
	x.RCode = d.strRef("dga exemplar rcode", maxRCodeLen, prev.RCode)
	x.Score = d.uint16()
	if d.Err == nil && x.Score > 10000 {
		d.Failf("dga exemplar: score %d above 10000", x.Score)
	}
}

// encode writes the state; the DGA windows have one group, the empty
// domain, written as such.
func (m *DNSModels) encode(e *encoder, latest time.Time) {
	m.DGA.encode(e, latest, func(d Domain) { e.str(string(d)) }, func(x, prev *DGAExemplar) { x.encode(e, prev) })
	encodeList(e, m.Seen, func(x *SeenDomain) {
		e.fixed64(x.Hash)
		e.timeRel(x.Last, latest)
		e.timeRel(x.First, x.Last)
	})
}

func (m *DNSModels) decode(d *decoder, latest time.Time) {
	m.DGA.decode(d, "dga", latest, MaxDGAPanes, func() Domain { return Domain(d.str("dga group", MaxDomainLen)) },
		func(x, prev *DGAExemplar) { x.decode(d, prev) })
	m.Seen = decodeList(d, "seen domains", MaxSeenDomains, func(x *SeenDomain) {
		x.Hash = d.fixed64()
		x.Last = d.timeRel(latest)
		x.First = d.timeRel(x.Last)
		if d.Err == nil && x.First.After(x.Last) {
			d.Failf("seen domain: first after last")
		}
	}, func(prev, next *SeenDomain) bool { return prev.Hash < next.Hash }, "%s not sorted")
}

// MaxDNSModelsSize bounds the encoded DNSModels when identifiers have
// AWS's lengths (as MaxNetworkSize does): MaxDGAPanes panes of a full key
// set and an exemplar of the longest name, and a full seen-domain set,
// about 19 KB. A quiet entity's takes 3 bytes.
const MaxDNSModelsSize = 16 + MaxDGAPanes*(40+MaxWindowKeys*5+MaxDomainLen+3*32+maxRCodeLen+3) + MaxSeenDomains*30
