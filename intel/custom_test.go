package intel

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// customFS is a list directory with bundled-style lists and customer
// lists in several formats.
func customFS() fstest.MapFS {
	return fstest.MapFS{
		"pools.txt":          {Data: []byte("minexmr.com\npool.example-miner.com\n")},
		"tor/exits.txt":      {Data: []byte("185.220.101.1\n198.51.100.66\n")},
		"malicious/feed.txt": {Data: []byte("203.0.113.9\n")},
		"custom/lists.json": {Data: []byte(`{"lists": [
			{"name": "Acme blocklist", "format": "TXT", "kind": "threat", "file": "acme.txt"},
			{"name": "feed-otx", "format": "otx_csv", "kind": "threat", "file": "feeds/otx.csv"},
			{"name": "partners", "format": "ALIEN_VAULT", "kind": "trusted", "file": "partners.txt"}
		]}`)},
		"custom/acme.txt":      {Data: []byte("203.0.113.0/24\n2001:db8:bad::/48\n10.0.0.0/8\nc2.example.net\n*.evil.example.org\n198.51.100.66\n")},
		"custom/feeds/otx.csv": {Data: []byte("Indicator type,Indicator,Description\nIPv4,203.0.113.50,x\nIPv4,192.0.2.200,x\ndomain,pool.example-miner.com,x\n")},
		// The trusted list is in another format, to show formats mix.
		"custom/partners.txt": {Data: []byte("203.0.113.7#1#1#Partner\n185.220.101.1#1#1#Partner\n")},
		"custom/README.md":    {Data: []byte("not a list\n")},
	}
}

func TestCustomLists(t *testing.T) {
	s, err := LoadFS(customFS())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want []IPMatch
	}{
		// The most specific entry of the kind: the OTX list's address
		// before Acme's network, though "Acme blocklist" sorts first.
		{"203.0.113.50", []IPMatch{{Custom, "feed-otx", "203.0.113.50"}}},
		{"203.0.113.9", []IPMatch{{Malicious, "feed", "203.0.113.9"}, {Custom, "Acme blocklist", "203.0.113.0/24"}}},
		{"192.0.2.200", []IPMatch{{Custom, "feed-otx", "192.0.2.200"}}},
		{"2001:db8:bad::1", []IPMatch{{Custom, "Acme blocklist", "2001:db8:bad::/48"}}},
		{"::ffff:203.0.113.1", []IPMatch{{Custom, "Acme blocklist", "203.0.113.0/24"}}},
		{"198.51.100.66", []IPMatch{{TorExit, "exits", "198.51.100.66"}, {Custom, "Acme blocklist", "198.51.100.66"}}},
		// The trusted list beats the custom network and the Tor list.
		{"203.0.113.7", nil},
		{"185.220.101.1", nil},
		// Lists apply to publicly routable addresses only.
		{"10.1.2.3", nil},
		{"2001:db8:0:1::1", nil},
	} {
		if got := s.IP(netip.MustParseAddr(tc.addr)); !slices.Equal(got, tc.want) {
			t.Errorf("IP(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		want DomainMatch
		ok   bool
	}{
		{"c2.example.net", DomainMatch{"Acme blocklist", "c2.example.net"}, true},
		{"C2.Example.NET.", DomainMatch{"Acme blocklist", "c2.example.net"}, true},
		{"x.c2.example.net", DomainMatch{}, false}, // a plain entry is the name only
		{"a.b.evil.example.org", DomainMatch{"Acme blocklist", "*.evil.example.org"}, true},
		{"evil.example.org", DomainMatch{}, false}, // a wildcard is the names under it
		{"pool.example-miner.com", DomainMatch{"feed-otx", "pool.example-miner.com"}, true},
		{"example.net", DomainMatch{}, false},
	} {
		if got, ok := s.Domain(tc.name); ok != tc.ok || got != tc.want {
			t.Errorf("Domain(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	want := []ListInfo{
		{Name: "pools", Kind: "crypto", Entries: 2},
		{Name: "exits", Kind: "tor", Entries: 2},
		{Name: "feed", Kind: "malicious", Entries: 1},
		{Name: "Acme blocklist", Kind: "threat", Format: FormatTXT, Entries: 6},
		{Name: "feed-otx", Kind: "threat", Format: FormatOTXCSV, Entries: 3},
		{Name: "partners", Kind: "trusted", Format: FormatAlienVault, Entries: 2},
	}
	if got := s.Info(); !slices.Equal(got, want) {
		t.Errorf("Info =\n%v, want\n%v", got, want)
	}
}

// TestCustomTrustedDomains: a trusted customer list silences the
// crypto-currency lists and the customer threat lists.
func TestCustomTrustedDomains(t *testing.T) {
	fsys := customFS()
	fsys["custom/lists.json"] = &fstest.MapFile{Data: []byte(`{"lists": [
		{"name": "acme", "format": "TXT", "kind": "threat", "file": "acme.txt"},
		{"name": "ours", "format": "PROOF_POINT", "kind": "trusted", "file": "ours.csv"}]}`)}
	fsys["custom/ours.csv"] = &fstest.MapFile{Data: []byte("domain,category\npool.example-miner.com,1\n*.evil.example.org,1\n")}
	s, err := LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if m, l, ok := s.CryptoDomain("pool.example-miner.com"); ok {
		t.Errorf("CryptoDomain matched a trusted name: %s on %s", m, l)
	}
	if _, _, ok := s.CryptoDomain("minexmr.com"); !ok {
		t.Error("CryptoDomain lost an untrusted entry")
	}
	if m, ok := s.Domain("x.evil.example.org"); ok {
		t.Errorf("Domain matched a trusted name: %v", m)
	}
	if _, ok := s.Domain("c2.example.net"); !ok {
		t.Error("Domain lost an untrusted entry")
	}
}

func TestCustomErrors(t *testing.T) {
	manifest := func(entries ...string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(`{"lists": [` + strings.Join(entries, ",") + `]}`)}
	}
	entry := func(name, format, kind, file string) string {
		return fmt.Sprintf(`{"name": %q, "format": %q, "kind": %q, "file": %q}`, name, format, kind, file)
	}
	ok := entry("a", "TXT", "threat", "a.txt")
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"no manifest", fstest.MapFS{"custom/a.txt": {Data: []byte("192.0.2.1\n")}}, "custom/lists.json is missing"},
		{"bad json", fstest.MapFS{"custom/lists.json": {Data: []byte(`{"lists": [}`)}}, "custom/lists.json: invalid character"},
		{"unknown field", fstest.MapFS{"custom/lists.json": {Data: []byte(`{"lists": [{"name": "a", "location": "s3://x"}]}`)}}, `unknown field "location"`},
		{"no name", fstest.MapFS{"custom/lists.json": manifest(entry("", "TXT", "threat", "a.txt"))}, "list 1 (\"\"): name"},
		{"format", fstest.MapFS{"custom/lists.json": manifest(entry("a", "XML", "threat", "a.txt"))}, `unknown list format "XML"`},
		{"kind", fstest.MapFS{"custom/lists.json": manifest(entry("a", "TXT", "block", "a.txt"))}, `kind "block": want threat or trusted`},
		{"duplicate", fstest.MapFS{"custom/lists.json": manifest(ok, ok), "custom/a.txt": {Data: []byte("192.0.2.1\n")}}, "list 2 (\"a\"): a second list of that name"},
		{"escape", fstest.MapFS{"custom/lists.json": manifest(entry("a", "TXT", "threat", "../pools.txt"))}, "want a path inside custom/"},
		{"missing file", fstest.MapFS{"custom/lists.json": manifest(ok)}, "list file custom/a.txt"},
		{"two trusted", fstest.MapFS{"custom/lists.json": manifest(entry("a", "TXT", "trusted", "a.txt"), entry("b", "TXT", "trusted", "a.txt")),
			"custom/a.txt": {Data: []byte("192.0.2.1\n")}}, "GuardDuty's quotas"},
		{"malformed list", fstest.MapFS{"custom/lists.json": manifest(ok), "custom/a.txt": {Data: []byte("192.0.2.1\n192.0.2.1/99\n")}},
			"intel: list file custom/a.txt: line 2: \"192.0.2.1/99\" is not an IP network"},
		{"trusted too long", fstest.MapFS{"custom/lists.json": manifest(entry("a", "TXT", "trusted", "a.txt")),
			"custom/a.txt": {Data: []byte(strings.Repeat("192.0.2.1\n", MaxTrustedEntries+1))}}, "line 2001: more than 2000 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFS(tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadFS error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestLoadOverBuiltin: a directory's own kinds replace the built-in ones,
// the others stay.
func TestLoadOverBuiltin(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "custom/lists.json", `{"lists": [{"name": "acme", "format": "TXT", "kind": "threat", "file": "acme.txt"}]}`)
	write(t, dir, "custom/acme.txt", "203.0.113.0/24\n")
	s, err := LoadOverBuiltin(dir)
	if err != nil {
		t.Fatal(err)
	}
	tor := torAddr(t)
	if got := s.IP(tor); !slices.ContainsFunc(got, func(m IPMatch) bool { return m.Kind == TorExit }) {
		t.Errorf("a directory with only custom/ lost the built-in Tor list: %v", got)
	}
	if _, _, ok := s.CryptoDomain("pool.minexmr.com"); !ok {
		t.Error("a directory with only custom/ lost the built-in crypto lists")
	}
	if got := s.IP(netip.MustParseAddr("203.0.113.5")); len(got) != 1 || got[0].Kind != Custom {
		t.Errorf("custom list: %v", got)
	}
	// An empty tor/ turns the built-in Tor list off; its own crypto list
	// replaces the built-in ones.
	if err := os.Mkdir(filepath.Join(dir, "tor"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "mine.txt", "pool.example-miner.com\n")
	if s, err = LoadOverBuiltin(dir); err != nil {
		t.Fatal(err)
	}
	if got := s.IP(tor); slices.ContainsFunc(got, func(m IPMatch) bool { return m.Kind == TorExit }) {
		t.Errorf("an empty tor/ kept the built-in Tor list: %v", got)
	}
	if _, _, ok := s.CryptoDomain("pool.minexmr.com"); ok {
		t.Error("the directory's crypto list did not replace the built-in ones")
	}
	if _, _, ok := s.CryptoDomain("pool.example-miner.com"); !ok {
		t.Error("the directory's crypto list is missing")
	}
	if _, err := LoadOverBuiltin(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing directory: %v", err)
	}
}

// torAddr returns the first address of the built-in Tor list.
func torAddr(t testing.TB) netip.Addr {
	b, err := os.ReadFile(filepath.Join("lists", "tor", "tor-exit-nodes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return netip.MustParseAddr(strings.TrimSpace(first))
}

func write(t testing.TB, dir, name, data string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
