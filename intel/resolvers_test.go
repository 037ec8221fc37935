package intel

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

func TestResolverBuiltin(t *testing.T) {
	s := Default()
	for _, tc := range []struct {
		kind ResolverKind
		addr string
		list string // "" for no match
	}{
		{DoH, "1.1.1.1", "public-doh-resolvers"},
		{DoH, "2001:4860:4860::8888", "public-doh-resolvers"},
		{DoH, "45.90.28.7", "public-doh-resolvers"}, // NextDNS network
		{DoH, "::ffff:8.8.8.8", "public-doh-resolvers"},
		{DoT, "9.9.9.9", "public-dot-resolvers"},
		{DoH, "93.184.216.34", ""},
		{DoH, "10.0.0.2", ""},
		{DoT, "77.88.8.8", ""}, // Yandex is on the DoH list only
		{ResolverKind(9), "1.1.1.1", ""},
	} {
		m, ok := s.Resolver(tc.kind, netip.MustParseAddr(tc.addr))
		if ok != (tc.list != "") || m.List != tc.list {
			t.Errorf("Resolver(%s, %s) = %+v, %v; want list %q", tc.kind, tc.addr, m, ok, tc.list)
		}
	}
	// The resolver lists are no threat lists.
	if got := s.IP(netip.MustParseAddr("1.1.1.1")); len(got) != 0 {
		t.Errorf("IP(1.1.1.1) = %+v", got)
	}
}

func TestResolverLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"doh/corp.txt":  {Data: []byte("# our own resolver\n203.0.113.53\n198.51.100.0/24 # lab\n")},
		"doh/README.md": {Data: []byte("not a list")},
	}
	s, err := LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := s.Resolver(DoH, netip.MustParseAddr("198.51.100.9")); !ok || m.List != "corp" || m.Entry != "198.51.100.0/24" {
		t.Errorf("lab resolver = %+v, %v", m, ok)
	}
	if _, ok := s.Resolver(DoH, netip.MustParseAddr("1.1.1.1")); ok {
		t.Error("a directory of its own has the built-in DoH list")
	}
	// Over the built-in lists, a directory without doh/ keeps the built-in
	// one, and one with doh/ replaces it.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "doh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "doh", "corp.txt"), []byte("203.0.113.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = LoadOverBuiltin(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Resolver(DoH, netip.MustParseAddr("1.1.1.1")); ok {
		t.Error("doh/ did not replace the built-in DoH list")
	}
	if _, ok := s.Resolver(DoT, netip.MustParseAddr("1.1.1.1")); !ok {
		t.Error("the built-in DoT list is gone")
	}
}
