package profiles

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestDGAWindowsRestart counts generated-looking domains across an
// encode and decode of the profile (a restart): the window reaches its
// threshold with the fourth domain, before or after the restart.
func TestDGAWindowsRestart(t *testing.T) {
	n := NewNetwork("1", "us-east-1", "i-00779ebad43b2470d")
	add := func(n *Network, i int) [2]WindowHit {
		at := t0.Add(time.Duration(i) * time.Minute)
		n.Observe(dnsEvent(at, "x.example.org", "10.0.1.25"), nil)
		ex := DGAExemplar{DNSExemplar: DNSExemplar{Name: fmt.Sprintf("gen%d.example", i), Src: netip.MustParseAddr("10.0.1.25"), VPC: "vpc-1"},
			RCode: "NXDOMAIN", Score: 9500 + uint16(i)}
		return n.ObserveDGA(uint32(i)*2654435761, at, ex, time.Hour, 4)
	}
	for i := range 3 {
		if h := add(n, i); h[0].Reached || h[1].Reached {
			t.Fatalf("domain %d reached %+v", i, h)
		}
	}
	var q Network
	if err := q.UnmarshalBinary(mustMarshal(t, n)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.DNSModels, n.DNSModels) {
		t.Fatalf("decoded %+v, want %+v", q.DNSModels, n.DNSModels)
	}
	h := add(&q, 3)
	w, ok := q.DNSModels.DGA.Reached("", h)
	if !ok || w.Crossed != 2 || w.Distinct != 4 || w.Exemplar.Name != "gen3.example" || w.Exemplar.Score != 9503 || w.Exemplar.RCode != "NXDOMAIN" {
		t.Fatalf("after the restart: %+v, %v", w, ok)
	}
}

// TestDGAWindowsCaps floods the DGA windows for the whole lateness
// horizon with long names, and the seen domains with new ones: the pane
// list stays within MaxDGAPanes, the set within MaxSeenDomains, and the
// encoding within MaxDNSModelsSize.
func TestDGAWindowsCaps(t *testing.T) {
	n := NewNetwork("1", "us-east-1", "i-00779ebad43b2470d")
	empty := len(mustMarshal(t, n))
	long := strings.Repeat("q", 240)
	const events = 5000
	for i := range events {
		at := t0.Add(time.Duration(i) * WindowLateness / events)
		n.Observe(dnsEvent(at, "x.example.org", "10.0.1.25"), nil)
		ex := DGAExemplar{DNSExemplar: DNSExemplar{Name: fmt.Sprintf("%s%d.example", long, i), Src: netip.MustParseAddr("fd00::25"),
			VPC: "vpc-0123456789abcdef0", Owner: "111122223333", Transport: "UDP"}, RCode: "NXDOMAIN", Score: 10000}
		n.ObserveDGA(uint32(i)*2654435761, at, ex, time.Hour, 4)
		n.ObserveDomain(DomainHash(ex.Name), at)
	}
	if l := len(n.DNSModels.DGA.Panes); l > MaxDGAPanes || len(n.DNSModels.Seen) != MaxSeenDomains {
		t.Errorf("%d panes (at most %d), %d seen domains (want %d)", l, MaxDGAPanes, len(n.DNSModels.Seen), MaxSeenDomains)
	}
	b := mustMarshal(t, n)
	size := len(b) - empty
	t.Logf("flooded DGA windows: %d bytes (MaxDNSModelsSize %d)", size, MaxDNSModelsSize)
	if size > MaxDNSModelsSize {
		t.Errorf("flooded DGA windows take %d bytes, more than MaxDNSModelsSize %d", size, MaxDNSModelsSize)
	}
	var q Network
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	// A score above 10000 is refused.
	n.DNSModels.DGA.Panes[0].Exemplar.Score = 10001
	if err := q.UnmarshalBinary(mustMarshal(t, n)); err == nil {
		t.Error("a score above 10000 decoded")
	}
}

// TestObserveDomain: the first query time is the minimum whatever the
// order, and the query that set it says so.
func TestObserveDomain(t *testing.T) {
	n := NewNetwork("1", "us-east-1", "i-1")
	h := DomainHash("example.org")
	if first, ok := n.ObserveDomain(h, t0.Add(time.Hour)); !ok || !first.Equal(t0.Add(time.Hour)) {
		t.Fatalf("new domain: %v %v", first, ok)
	}
	if first, _ := n.ObserveDomain(h, t0.Add(2*time.Hour)); !first.Equal(t0.Add(time.Hour)) {
		t.Fatalf("later query: first %v", first)
	}
	if first, _ := n.ObserveDomain(h, t0); !first.Equal(t0) {
		t.Fatalf("earlier query arriving late: first %v", first)
	}
	if s := n.DNSModels.Seen[0]; !s.First.Equal(t0) || !s.Last.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("seen %+v", s)
	}
	var q Network
	n.Observe(dnsEvent(t0.Add(2*time.Hour), "example.org", "10.0.1.25"), nil)
	if err := q.UnmarshalBinary(mustMarshal(t, n)); err != nil || !reflect.DeepEqual(q.DNSModels.Seen, n.DNSModels.Seen) {
		t.Fatalf("round trip: %v, %+v", err, q.DNSModels.Seen)
	}
}
