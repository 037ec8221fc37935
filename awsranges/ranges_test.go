package awsranges

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sample is a few entries of AWS's published file, in its layout.
const sample = `{
  "syncToken": "1733000000",
  "createDate": "2026-11-30-21-13-09",
  "prefixes": [
    {"ip_prefix": "54.74.0.0/15", "region": "eu-west-1", "service": "AMAZON", "network_border_group": "eu-west-1"},
    {"ip_prefix": "54.74.0.0/15", "region": "eu-west-1", "service": "EC2", "network_border_group": "eu-west-1"},
    {"ip_prefix": "52.94.0.0/22", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
    {"ip_prefix": "52.94.0.0/16", "region": "GLOBAL", "service": "AMAZON", "network_border_group": "GLOBAL"}
  ],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2a05:d018::/36", "region": "eu-west-1", "service": "EC2", "network_border_group": "eu-west-1"}
  ]
}`

func TestLookup(t *testing.T) {
	r, err := Parse(strings.NewReader(sample), "sample")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete() || r.Len() != 4 || r.Created() != "2026-11-30-21-13-09" {
		t.Fatalf("complete %v, %d prefixes, created %q", r.Complete(), r.Len(), r.Created())
	}
	for _, c := range []struct {
		addr, prefix, region, services string
	}{
		{"54.74.0.27", "54.74.0.0/15", "eu-west-1", "AMAZON EC2"},
		{"::ffff:54.75.1.1", "54.74.0.0/15", "eu-west-1", "AMAZON EC2"},
		{"52.94.1.2", "52.94.0.0/22", "us-east-1", "AMAZON"}, // the longest match
		{"52.94.200.2", "52.94.0.0/16", "GLOBAL", "AMAZON"},
		{"2a05:d018:1::5", "2a05:d018::/36", "eu-west-1", "EC2"},
		{"198.51.100.7", "", "", ""},
		{"2001:db8::1", "", "", ""},
	} {
		got, ok := r.Lookup(netip.MustParseAddr(c.addr))
		if ok != (c.prefix != "") {
			t.Errorf("%s: found %v", c.addr, ok)
			continue
		}
		if ok && (got.Prefix.String() != c.prefix || got.Region != c.region || strings.Join(got.Services, " ") != c.services) {
			t.Errorf("%s: %+v, want %s %s %s", c.addr, got, c.prefix, c.region, c.services)
		}
	}
	var none *Ranges
	if _, ok := none.Lookup(netip.MustParseAddr("54.74.0.27")); ok || none.Complete() || none.Len() != 0 {
		t.Error("a nil list knows something")
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"not json", `{"prefixes": [`, "unexpected EOF"},
		{"bad prefix", `{"prefixes": [{"ip_prefix": "54.74.0.0/33"}]}`, "prefix 0"},
		{"host bits", `{"prefixes": [{"ip_prefix": "54.74.0.1/15"}]}`, "host bits"},
		{"empty", `{"prefixes": []}`, "no prefixes"},
	} {
		_, err := Parse(strings.NewReader(c.doc), c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ip-ranges.json")
	if err := os.WriteFile(path, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Source() != path || !strings.Contains(r.String(), "4 prefixes") {
		t.Errorf("source %q, %s", r.Source(), r)
	}
}

func TestFallback(t *testing.T) {
	r := Fallback()
	if r.Complete() || r.Len() < 100 || !strings.Contains(r.String(), "incomplete") {
		t.Fatalf("fallback: %s, complete %v", r, r.Complete())
	}
	// The address of the Stratus Red Team detonations (us-west-2 EC2), and
	// documentation and private addresses, which no list holds.
	if got, ok := r.Lookup(netip.MustParseAddr("18.236.253.47")); !ok || got.Region != "us-west-2" {
		t.Errorf("18.236.253.47: %+v %v", got, ok)
	}
	for _, a := range []string{"203.0.113.9", "10.0.1.5", "192.168.1.1"} {
		if got, ok := r.Lookup(netip.MustParseAddr(a)); ok {
			t.Errorf("%s in the fallback: %+v", a, got)
		}
	}
}

// FuzzParse: any document is refused with an error or gives a list whose
// lookups answer with a prefix that holds the address.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add(`{"prefixes":[{"ip_prefix":"10.0.0.0/8","region":"x"}],"ipv6_prefixes":[{"ipv6_prefix":"::/0"}]}`)
	f.Add(`{"prefixes":[{"ip_prefix":"0.0.0.0/0"},{"ip_prefix":"0.0.0.0/0","service":"A"}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		r, err := Parse(strings.NewReader(doc), "fuzz")
		if err != nil {
			return
		}
		for _, a := range []string{"10.1.2.3", "54.74.0.27", "::1", "2a05:d018::1", "255.255.255.255"} {
			addr := netip.MustParseAddr(a)
			if got, ok := r.Lookup(addr); ok && !got.Prefix.Contains(addr) {
				t.Fatalf("%s: %v", a, got.Prefix)
			}
		}
	})
}
