package intel

import (
	"net/netip"
	"testing"
)

func TestBuiltinReputation(t *testing.T) {
	r, err := BuiltinReputation()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dyn, free string
	}{
		{"myhost.ddns.net", "ddns.net", ""},
		{"a.b.duckdns.org", "duckdns.org", ""},
		{"x.no-ip.com", "no-ip.com", ""},
		{"evil.tk", "", "tk"},
		{"abc123.trycloudflare.com", "", "trycloudflare.com"},
		{"www.example.com", "", ""},
		{"ddns.net.example.com", "", ""},
	} {
		if got, _ := r.DynamicDNS(tc.name); got != tc.dyn {
			t.Errorf("DynamicDNS(%q) = %q, want %q", tc.name, got, tc.dyn)
		}
		if got, _ := r.FreeSubdomain(tc.name); got != tc.free {
			t.Errorf("FreeSubdomain(%q) = %q, want %q", tc.name, got, tc.free)
		}
	}
	if !r.Popular("google.com") || !r.Popular("amazonaws.com") || r.Popular("guarddutyc2activityb.com") {
		t.Error("popular list")
	}
	if tld, ok := r.AbusedTLD("x.example.top"); !ok || tld != "top" {
		t.Errorf("AbusedTLD = %q, %v", tld, ok)
	}
	if _, ok := r.AbusedTLD("example.com"); ok {
		t.Error("com abused")
	}
	if p, ok := r.Sinkhole(netip.MustParseAddr("199.2.137.20")); !ok || p.String() != "199.2.137.0/24" {
		t.Errorf("Sinkhole = %v, %v", p, ok)
	}
	if k, ok := r.TestIndicator("crypto-rep.guarddutyc2activityb.com"); !ok || k != "bitcoin" {
		t.Errorf("TestIndicator = %q, %v", k, ok)
	}
}
