package intel

import (
	"bufio"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "lists"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Lists(), []string{"a-plain", "b-hosts", "c-adblock"}; !slices.Equal(got, want) {
		t.Fatalf("Lists = %v, want %v", got, want)
	}
	want := map[string]string{
		"minexmr.com":             "a-plain", // also in b-hosts: the first list by name wins
		"pool.minergate.com":      "a-plain",
		"minexmr.org":             "a-plain", // upper case and trailing dot normalised
		"wildpool.net":            "a-plain", // "*." dropped
		"coinpoolit.webhop.me":    "a-plain", // a name under a public suffix is fine
		"under_score.example.com": "a-plain",
		"coinhive.com":            "b-hosts",
		"authedmine.com":          "b-hosts", // every name of a hosts line
		"authedmine.eu":           "b-hosts",
		"2miners.com":             "c-adblock",
		"cnhv.co":                 "c-adblock",
	}
	for d, list := range want {
		m, l, ok := s.CryptoDomain(d)
		if !ok || m != d || l != list {
			t.Errorf("CryptoDomain(%q) = %q, %q, %v; want %q, %q, true", d, m, l, ok, d, list)
		}
	}
	if s.Len() != len(want) {
		var all []string
		for d := range s.crypto {
			all = append(all, d)
		}
		slices.Sort(all)
		t.Errorf("Len = %d, want %d: %v", s.Len(), len(want), all)
	}
	for _, d := range []string{
		"107.191.47.239", "45.32.233.191", "45.15.156.210", // addresses are not domains
		"ddns.net", "webhop.me", // public suffixes would match every site under them
		"localhost", "bad..domain", "example.org", "no-caret.com", "coin-hive.js",
		"shared.example",     // cancelled by trusted.txt
		"miner.evil.com",     // README.md is not a list
		"ignored.hidden.com", // hidden files are not lists
	} {
		if m, l, ok := s.CryptoDomain(d); ok {
			t.Errorf("CryptoDomain(%q) = %q, %q, true; want no match", d, m, l)
		}
	}
}

func TestCryptoDomain(t *testing.T) {
	s, err := LoadFS(fstest.MapFS{
		"pools.txt":   {Data: []byte("minexmr.com\nxmr.pool.minergate.com\nminergate.com\n")},
		"trusted.txt": {Data: []byte("minergate.com\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, match string
	}{
		{"minexmr.com", "minexmr.com"},
		{"pool.minexmr.com", "minexmr.com"},
		{"a.b.c.pool.minexmr.com.", "minexmr.com"},
		{"POOL.MineXMR.com", "minexmr.com"},
		{" pool.minexmr.com. ", "minexmr.com"},
		{"xmr.pool.minergate.com", "xmr.pool.minergate.com"},
		{"eu.xmr.pool.minergate.com", "xmr.pool.minergate.com"}, // most specific entry
		{"pool.minergate.com", ""},                              // trusted entry, no listed parent
		{"minergate.com", ""},
		{"xminexmr.com", ""}, // a label must match whole
		{"minexmr.com.evil.net", ""},
		{"com", ""},
		{"", ""},
		{".", ""},
	} {
		m, l, ok := s.CryptoDomain(tc.name)
		if ok != (tc.match != "") || m != tc.match {
			t.Errorf("CryptoDomain(%q) = %q, %q, %v; want %q", tc.name, m, l, ok, tc.match)
		}
		if ok && l != "pools" {
			t.Errorf("CryptoDomain(%q) list = %q, want pools", tc.name, l)
		}
	}
	var nilSet *Set
	if _, _, ok := nilSet.CryptoDomain("minexmr.com"); ok || nilSet.Len() != 0 || nilSet.Lists() != nil {
		t.Error("a nil Set matched or had lists")
	}
	if _, _, ok := (&Set{}).CryptoDomain("minexmr.com"); ok {
		t.Error("the zero Set matched")
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join("testdata", "no-such-dir")); err == nil {
		t.Error("Load of a missing directory succeeded")
	}
	long := strings.Repeat("a", maxLine+1) + ".com\n"
	if _, err := LoadFS(fstest.MapFS{"long.txt": {Data: []byte(long)}}); err == nil {
		t.Error("LoadFS accepted a line longer than maxLine")
	}
	if _, err := LoadFS(fstest.MapFS{"x.txt": {Data: []byte("a.com\n")}, "x.list": {Data: []byte("b.com\n")}}); err == nil {
		t.Error("LoadFS accepted two lists with the same name")
	}
}

func TestDefault(t *testing.T) {
	s, err := defaultErr()
	if err != nil {
		t.Fatal(err)
	}
	if Default() != s {
		t.Error("Default returned a different Set on a second call")
	}
	if s.Len() < 500 {
		t.Errorf("Default has %d domains, want the ~800 of the built-in lists", s.Len())
	}
	if got, want := s.Lists(), []string{"maltrail_crypto_mining", "nocoin_adblock", "nocoin_hosts", "panther_crypto_mining", "vigil-test"}; !slices.Equal(got, want) {
		t.Errorf("Lists = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		name, match, list string
	}{
		// The AWS GuardDuty tester's crypto indicator.
		{"crypto.guarddutyc2activityb.com", "crypto.guarddutyc2activityb.com", "vigil-test"},
		// panther-analysis AWS.DNS.Crypto.Domain positives.
		{"moneropool.ru", "moneropool.ru", "panther_crypto_mining"},
		{"abc.abc.moneropool.ru.", "moneropool.ru", "panther_crypto_mining"},
		{"webservicepag.webhop.net", "webservicepag.webhop.net", "panther_crypto_mining"},
		// maltrail and NoCoin entries, parent matching.
		{"pool.minexmr.com", "pool.minexmr.com", "maltrail_crypto_mining"},
		{"xmr-eu1.pool.minexmr.com", "pool.minexmr.com", "maltrail_crypto_mining"},
		{"webminepool.com", "webminepool.com", "nocoin_adblock"},
		{"coinhiveproxy.com", "coinhiveproxy.com", "nocoin_hosts"},
		{"xmr.2miners.com", "xmr.2miners.com", "maltrail_crypto_mining"},
	} {
		m, l, ok := s.CryptoDomain(tc.name)
		if !ok || m != tc.match || l != tc.list {
			t.Errorf("CryptoDomain(%q) = %q, %q, %v; want %q, %q", tc.name, m, l, ok, tc.match, tc.list)
		}
	}
	for _, name := range []string{
		// panther-analysis AWS.DNS.Crypto.Domain negatives.
		"dynamodb.us-west-2.amazonaws.com", "dynamodb.us-west-2.amazonaws.com.",
		// The tester's C&C domain is not a crypto indicator.
		"guarddutyc2activityb.com", "c2.guarddutyc2activityb.com",
		// Blanket entries dropped by trusted.txt, and a public suffix.
		"mooo.com", "someone.mooo.com", "my.domain", "host.ddns.net",
		"www.google.com", "s3.amazonaws.com",
	} {
		if m, l, ok := s.CryptoDomain(name); ok {
			t.Errorf("CryptoDomain(%q) = %q, %q; want no match", name, m, l)
		}
	}
}

// TestDefaultSize keeps the embedded lists small (the binary carries them).
func TestDefaultSize(t *testing.T) {
	var total int64
	err := fs.WalkDir(builtin, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The C&C list (maltrail's malware trails, at most 300 indicators a
	// family) is most of it.
	if total >= 3<<20 {
		t.Errorf("embedded lists are %d bytes, want < 3 MiB", total)
	}
	// Every embedded list is attributed in SOURCE.md.
	src, err := os.ReadFile(filepath.Join("lists", "SOURCE.md"))
	if err != nil {
		t.Fatal(err)
	}
	err = fs.WalkDir(builtin, "lists", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if name := strings.TrimPrefix(p, "lists/"); !strings.Contains(string(src), "`"+name+"`") {
				t.Errorf("lists/SOURCE.md does not mention %s", name)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentReads(t *testing.T) {
	s := Default()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 1000 {
				if _, _, ok := s.CryptoDomain("pool.minexmr.com"); !ok {
					t.Errorf("goroutine %d read %d: no match", i, j)
					return
				}
				s.CryptoDomain("www.example.com")
			}
		}()
	}
	wg.Wait()
}

// TestDefaultFalsePositives runs the built-in lists over popular benign
// domains when the shared evaluation data is present. The lists are not
// copied into the repository (their licences do not allow it).
func TestDefaultFalsePositives(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "benign_domains")
	files := []string{"umbrella-top-100k.txt", "opendns-top-domains.txt", "opendns-random-domains.txt"}
	if _, err := os.Stat(filepath.Join(dir, files[0])); err != nil {
		t.Skipf("benign domain lists not present (%v)", err)
	}
	s := Default()
	var total int
	var hits []string
	for _, name := range files {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			d := strings.TrimSpace(sc.Text())
			if d == "" {
				continue
			}
			total++
			if m, l, ok := s.CryptoDomain(d); ok {
				hits = append(hits, d+" ("+m+" in "+l+")")
			}
		}
		f.Close()
	}
	t.Logf("%d of %d benign names matched: %v", len(hits), total, hits)
	// The few matches are real mining pools that are popular (minergate,
	// nanopool); a blanket entry such as a shared dynamic-DNS apex would
	// show up as hundreds.
	if max := total / 2000; len(hits) > max {
		t.Errorf("%d matches in %d benign names, want at most %d", len(hits), total, max)
	}
}

func BenchmarkCryptoDomain(b *testing.B) {
	s := Default()
	b.ReportAllocs()
	for b.Loop() {
		s.CryptoDomain("r3---sn-ab5l6nzr.googlevideo.com")
	}
}

// TestIP: IP lists by kind, addresses and networks, IPv4-mapped addresses,
// the first list of a kind by name, and trusted entries beating both.
func TestIP(t *testing.T) {
	s, err := LoadFS(fstest.MapFS{
		"pools.txt":                {Data: []byte("minexmr.com\n")},
		"trusted.txt":              {Data: []byte("# ours\n198.51.100.7\n192.0.2.128/25\nexample.com\n")},
		"tor/exits.txt":            {Data: []byte("# Tor exits\n185.220.101.1\n2001:db8::1\n198.51.100.7\n")},
		"malicious/a-feed.txt":     {Data: []byte("185.220.101.1 # also a Tor exit\n203.0.113.0/24\n192.0.2.0/24\nnot-an-ip\n")},
		"malicious/b-feed.txt":     {Data: []byte("203.0.113.9\n")},
		"malicious/notes.md":       {Data: []byte("203.0.113.10\n")},
		"elsewhere/ignored.txt":    {Data: []byte("10.1.1.1\n")},
		"malicious/.hidden.txt":    {Data: []byte("10.2.2.2\n")},
		"tor/sub/nested/exits.txt": {Data: []byte("10.3.3.3\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want []IPMatch
	}{
		{"185.220.101.1", []IPMatch{{TorExit, "exits", "185.220.101.1"}, {Malicious, "a-feed", "185.220.101.1"}}},
		{"::ffff:185.220.101.1", []IPMatch{{TorExit, "exits", "185.220.101.1"}, {Malicious, "a-feed", "185.220.101.1"}}},
		{"2001:db8::1", []IPMatch{{TorExit, "exits", "2001:db8::1"}}},
		{"203.0.113.9", []IPMatch{{Malicious, "b-feed", "203.0.113.9"}}}, // an address entry before a network
		{"203.0.113.200", []IPMatch{{Malicious, "a-feed", "203.0.113.0/24"}}},
		{"192.0.2.10", []IPMatch{{Malicious, "a-feed", "192.0.2.0/24"}}},
		{"192.0.2.200", nil},  // in a trusted network
		{"198.51.100.7", nil}, // a trusted address beats the Tor list
		{"203.0.113.10", []IPMatch{{Malicious, "a-feed", "203.0.113.0/24"}}}, // notes.md is not a list, a-feed's network still holds it
		{"10.1.1.1", nil},
		{"10.2.2.2", nil},
		{"10.3.3.3", nil},
		{"8.8.8.8", nil},
	} {
		got := s.IP(netip.MustParseAddr(tc.addr))
		if !slices.Equal(got, tc.want) {
			t.Errorf("IP(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if m, _, ok := s.CryptoDomain("minexmr.com"); !ok || m != "minexmr.com" {
		t.Error("the IP lists broke the domain lists")
	}
}

// The built-in set has the bundled Tor and malicious lists.
func TestDefaultIPLists(t *testing.T) {
	s := Default()
	// One line of each bundled file, read back.
	for _, f := range []struct {
		path string
		kind IPKind
	}{{"lists/tor/tor-exit-nodes.txt", TorExit}, {"lists/malicious/ipsum-level3.txt", Malicious}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		got := s.IP(netip.MustParseAddr(strings.TrimSpace(first)))
		if !slices.ContainsFunc(got, func(m IPMatch) bool { return m.Kind == f.kind }) {
			t.Errorf("%s: its first address %s matched %v", f.path, first, got)
		}
	}
	if got := s.IP(netip.MustParseAddr("10.0.0.1")); got != nil {
		t.Errorf("a private address matched %v", got)
	}
}
