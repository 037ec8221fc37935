package intel

import (
	"net/netip"
	"slices"
	"testing"
	"testing/fstest"
)

// TestKindLists: the kind directories' addresses and domains, exact
// entries, ip:port entries, trusted entries, and the crypto lists'
// addresses.
func TestKindLists(t *testing.T) {
	s, err := LoadFS(fstest.MapFS{
		"pools.txt":          {Data: []byte("minexmr.com\n107.191.47.239:3333\n")},
		"trusted.txt":        {Data: []byte("good.example.com\n203.0.113.200\n")},
		"c2/a.txt":           {Data: []byte("# comment\n203.0.113.10\n198.51.100.0/24\nevil.example.com\n=exact.example.net\n203.0.113.200\ngood.example.com\n")},
		"c2/b.txt":           {Data: []byte("evil.example.com\n")},
		"sinkhole/s.txt":     {Data: []byte("[2001:db8::53]:80\nsinkhole.example.org\n")},
		"tor-relays/n.txt":   {Data: []byte("192.0.2.77\n")},
		"custom/lists.json":  {Data: []byte(`{"lists": [{"name": "partners", "format": "TXT", "kind": "trusted", "file": "p.txt"}]}`)},
		"custom/p.txt":       {Data: []byte("ok.evil.example.com\n")},
		"phishing/empty.txt": {Data: []byte("# nothing\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want []IPMatch
	}{
		{"203.0.113.10", []IPMatch{{CommandControl, "a", "203.0.113.10"}}},
		{"198.51.100.7", []IPMatch{{CommandControl, "a", "198.51.100.0/24"}}},
		{"107.191.47.239", []IPMatch{{CryptoMining, "pools", "107.191.47.239"}}},
		{"2001:db8::53", []IPMatch{{Sinkhole, "s", "2001:db8::53"}}},
		{"192.0.2.77", []IPMatch{{TorRelay, "n", "192.0.2.77"}}},
		{"203.0.113.200", nil}, // trusted
		{"10.0.0.1", nil},
	} {
		if got := s.IP(netip.MustParseAddr(tc.addr)); !slices.Equal(got, tc.want) {
			t.Errorf("IP(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	for _, tc := range []struct {
		kind IPKind
		name string
		want DomainMatch
		ok   bool
	}{
		{CommandControl, "evil.example.com", DomainMatch{"a", "evil.example.com"}, true},
		{CommandControl, "X.Evil.Example.com.", DomainMatch{"a", "evil.example.com"}, true}, // names under an entry
		{CommandControl, "exact.example.net", DomainMatch{"a", "exact.example.net"}, true},
		{CommandControl, "sub.exact.example.net", DomainMatch{}, false}, // "=" is the name only
		{CommandControl, "good.example.com", DomainMatch{}, false},      // built-in trusted
		{CommandControl, "ok.evil.example.com", DomainMatch{}, false},   // customer trusted
		{CommandControl, "example.com", DomainMatch{}, false},
		{Sinkhole, "ns1.sinkhole.example.org", DomainMatch{"s", "sinkhole.example.org"}, true},
		{Sinkhole, "evil.example.com", DomainMatch{}, false}, // another kind's
		{Phishing, "evil.example.com", DomainMatch{}, false},
		{IPKind(200), "evil.example.com", DomainMatch{}, false},
	} {
		if got, ok := s.ThreatDomain(tc.kind, tc.name); ok != tc.ok || got != tc.want {
			t.Errorf("ThreatDomain(%v, %q) = %v, %v; want %v, %v", tc.kind, tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if !s.TrustedDomain("OK.evil.example.com.") || s.TrustedDomain("evil.example.com") || (*Set)(nil).TrustedDomain("x.com") {
		t.Error("TrustedDomain")
	}
	if m, l, ok := s.CryptoDomain("pool.minexmr.com"); !ok || m != "minexmr.com" || l != "pools" {
		t.Errorf("CryptoDomain = %q, %q, %v", m, l, ok)
	}
}

// TestDefaultKinds: the built-in set has lists of every kind, and the
// GuardDuty tester's domains are exact.
func TestDefaultKinds(t *testing.T) {
	s := Default()
	kinds := map[string]bool{}
	for _, l := range s.Info() {
		kinds[l.Kind] = true
	}
	for _, k := range []IPKind{TorExit, Malicious, TorRelay, CommandControl, Log4j, CryptoMining, Sinkhole, DropPoint, DriveBy, Phishing, DGA} {
		if !kinds[k.String()] {
			t.Errorf("no built-in %s list", k)
		}
	}
	if m, ok := s.ThreatDomain(CommandControl, "guarddutyc2activityb.com"); !ok || m.List != "guardduty-tester" {
		t.Errorf("tester C&C domain: %v, %v", m, ok)
	}
	for _, name := range []string{"crypto.guarddutyc2activityb.com", "abused-rep.guarddutyc2activityb.com"} {
		if m, ok := s.ThreatDomain(CommandControl, name); ok {
			t.Errorf("%s matched %v", name, m)
		}
	}
	if got := s.IP(netip.MustParseAddr("128.31.0.39")); !slices.Contains(got, IPMatch{TorRelay, "tor-directory-authorities", "128.31.0.39"}) {
		t.Errorf("moria1: %v", got)
	}
}
