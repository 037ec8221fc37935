package intel

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestParseListFormats reads one sample file of every format.
func TestParseListFormats(t *testing.T) {
	for _, tc := range []struct {
		format    Format
		file      string
		prefixes  []netip.Prefix
		domains   []string
		wildcards []string
		skipped   int
	}{
		{FormatTXT, "txt.txt", prefixes("192.0.2.1/32", "198.51.100.0/24", "2001:db8:bad::/48", "2001:db8::1/128"),
			[]string{"malware.example.com"}, []string{"example.org"}, 0},
		{FormatSTIX, "stix.xml", prefixes("192.0.2.5/32", "198.51.100.10/31", "198.51.100.12/31", "203.0.113.1/32", "203.0.113.2/32", "2001:db8:c2::/48"),
			[]string{"c2.example.net"}, nil, 1},
		{FormatOTXCSV, "otx.csv", prefixes("198.51.100.1/32", "192.0.2.0/24", "2001:db8::5/128"),
			[]string{"bad.example.net", "c2.bad.example.net"}, nil, 2},
		{FormatFireEye, "fireeye.csv", prefixes("192.0.2.10/32", "198.51.100.0/24", "2001:db8::bad:1/128"),
			[]string{"c2.example.net"}, []string{"evil.example.org"}, 1},
		{FormatProofPoint, "proofpoint.csv", prefixes("192.0.2.44/32", "198.51.100.200/32"), nil, nil, 0},
		{FormatProofPoint, "proofpoint-domains.csv", nil, []string{"malware.example.com"}, nil, 0},
		{FormatAlienVault, "alienvault.txt", prefixes("192.0.2.77/32", "198.51.100.9/32", "2001:db8::77/128"), nil, nil, 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "formats", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			l, err := ParseList(tc.format, tc.file, f, ThreatLimits())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.Prefixes, tc.prefixes) {
				t.Errorf("prefixes %v, want %v", l.Prefixes, tc.prefixes)
			}
			if !slices.Equal(l.Domains, tc.domains) || !slices.Equal(l.Wildcards, tc.wildcards) {
				t.Errorf("domains %v %v, want %v %v", l.Domains, l.Wildcards, tc.domains, tc.wildcards)
			}
			if l.Skipped != tc.skipped || l.Format != tc.format {
				t.Errorf("skipped %d format %s, want %d %s", l.Skipped, l.Format, tc.skipped, tc.format)
			}
		})
	}
}

// TestParseListErrors: a malformed list is refused with the file, the
// line and the reason.
func TestParseListErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format Format
		data   string
		lim    Limits
		line   int
		reason string
	}{
		{"txt bad address", FormatTXT, "192.0.2.1\n192.0.2.300\n", Limits{}, 2, `"192.0.2.300" is not an IP address`},
		{"txt bad network", FormatTXT, "# c\n\n10.0.0.0/33\n", Limits{}, 3, "is not an IP network"},
		{"txt zone", FormatTXT, "fe80::1%eth0\n", Limits{}, 1, "is not an IP address"},
		{"txt bad domain", FormatTXT, "good.example.com\nbad_domain!\n", Limits{}, 2, "is not a domain"},
		{"txt single label", FormatTXT, "localhost\n", Limits{}, 1, "a single label"},
		{"txt unknown tld", FormatTXT, "host.corp-internal\n", Limits{}, 1, "unknown top-level domain"},
		{"txt public suffix", FormatTXT, "co.uk\n", Limits{}, 1, "a public suffix"},
		{"txt wildcard tld", FormatTXT, "*.com\n", Limits{}, 1, "a single label"},
		{"txt wildcard suffix", FormatTXT, "*.co.uk\n", Limits{}, 1, "a public suffix"},
		{"txt too many", FormatTXT, "192.0.2.1\n192.0.2.2\n192.0.2.3\n", Limits{MaxEntries: 2}, 3, "more than 2 entries"},
		{"txt long line", FormatTXT, "192.0.2.1\n" + strings.Repeat("a", 100) + "\n", Limits{MaxLine: 50}, 2, "line longer than 50 bytes"},
		{"txt too large", FormatTXT, strings.Repeat("192.0.2.1\n", 10), Limits{MaxBytes: 50}, 0, "larger than 50 bytes"},
		{"stix not xml", FormatSTIX, "hello", Limits{}, 0, "no XML element"},
		{"stix unclosed", FormatSTIX, "<a>\n<b>\n", Limits{}, 3, "unexpected EOF"},
		{"stix bad address", FormatSTIX, `<r xmlns:AddressObj="http://cybox.mitre.org/objects#AddressObject-2">` + "\n" +
			`<AddressObj:Address_Value>192.0.2.999</AddressObj:Address_Value></r>`, Limits{}, 2, "is not an IP address"},
		{"stix bad range", FormatSTIX, `<r xmlns:AddressObj="http://cybox.mitre.org/objects#AddressObject-2"><AddressObj:Address_Value condition="InclusiveBetween">192.0.2.9##comma##192.0.2.1</AddressObj:Address_Value></r>`,
			Limits{}, 1, "not after the last"},
		{"stix mixed range", FormatSTIX, `<r xmlns:AddressObj="http://cybox.mitre.org/objects#AddressObject-2"><AddressObj:Address_Value condition="InclusiveBetween">192.0.2.1##comma##2001:db8::1</AddressObj:Address_Value></r>`,
			Limits{}, 1, "one family"},
		{"stix condition", FormatSTIX, `<r xmlns:DomainNameObj="http://cybox.mitre.org/objects#DomainNameObject-1"><DomainNameObj:Value condition="Contains">evil</DomainNameObj:Value></r>`,
			Limits{}, 1, `condition "Contains" is not supported`},
		{"stix range too big", FormatSTIX, `<r xmlns:AddressObj="http://cybox.mitre.org/objects#AddressObject-2"><AddressObj:Address_Value condition="InclusiveBetween">0.0.0.1##comma##255.255.255.254</AddressObj:Address_Value></r>`,
			Limits{MaxEntries: 10}, 1, "more than 10 entries"},
		{"stix entity", FormatSTIX, `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`, Limits{}, 1, "XML:"},
		{"otx half header", FormatOTXCSV, "Indicator,Description\n", Limits{}, 1, "both Indicator type and Indicator"},
		{"otx short row", FormatOTXCSV, "Indicator type,Indicator,Description\nIPv4\n", Limits{}, 2, "got 1 field"},
		{"otx bad ip", FormatOTXCSV, "Indicator type,Indicator,Description\nIPv4,198.51.100.1,x\nIPv4,example.com,x\n", Limits{}, 3, "is not an IP address"},
		{"otx bad quote", FormatOTXCSV, "Indicator type,Indicator,Description\nIPv4,\"198.51.100.1,x\n", Limits{}, 2, "quote"},
		{"fireeye no columns", FormatFireEye, "reportId,title\n1,x\n", Limits{}, 1, "no ip, cidr or domain column"},
		{"fireeye width", FormatFireEye, "reportId,ip,domain\n1,192.0.2.1,\n2,192.0.2.2\n", Limits{}, 3, "2 fields, the header has 3"},
		{"fireeye bad cidr", FormatFireEye, "reportId,cidr\n1,192.0.2.0/40\n", Limits{}, 2, "is not an IP network"},
		{"proofpoint bad ip", FormatProofPoint, "ip,category,score,first_seen,last_seen,ports (|)\n192.0.2.1,1,1,,,\nnot-an-ip,1,1,,,\n", Limits{}, 3, `"not-an-ip" is not an IP address`},
		{"proofpoint empty", FormatProofPoint, "ip,category\n,1\n", Limits{}, 2, "empty first column"},
		{"alienvault fields", FormatAlienVault, "192.0.2.1#4#2#Malicious Host#KR##1,2#3\n192.0.2.2\n", Limits{}, 2, "got 1 field"},
		{"alienvault risk", FormatAlienVault, "192.0.2.1#4#high#Malicious Host\n", Limits{}, 1, `risk "high" is not a number`},
		{"alienvault domain", FormatAlienVault, "example.com#4#2#Malicious Host\n", Limits{}, 1, "is not an IP address"},
		{"unknown format", Format("XML"), "", Limits{}, 0, `unknown format "XML"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseList(tc.format, "acme.list", strings.NewReader(tc.data), tc.lim)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseList = %v, %v; want a *ParseError", l, err)
			}
			if pe.File != "acme.list" || pe.Line != tc.line || !strings.Contains(pe.Reason, tc.reason) {
				t.Errorf("error %q (file %q line %d); want line %d and %q", err, pe.File, pe.Line, tc.line, tc.reason)
			}
			if !strings.Contains(err.Error(), "acme.list") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// TestAddRange: a STIX range becomes the exact cover of networks.
func TestAddRange(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     []netip.Prefix
	}{
		{"192.0.2.0", "192.0.2.255", prefixes("192.0.2.0/24")},
		{"192.0.2.7", "192.0.2.7", prefixes("192.0.2.7/32")},
		{"192.0.2.1", "192.0.2.6", prefixes("192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/31", "192.0.2.6/32")},
		{"0.0.0.0", "255.255.255.255", prefixes("0.0.0.0/0")},
		{"255.255.255.254", "255.255.255.255", prefixes("255.255.255.254/31")},
		{"2001:db8::", "2001:db8::ffff", prefixes("2001:db8::/112")},
		{"::ffff:192.0.2.0", "192.0.2.3", prefixes("192.0.2.0/30")},
	} {
		l := &List{max: 1000}
		if err := addRange(l, tc.from, tc.to); err != nil {
			t.Fatalf("%s–%s: %v", tc.from, tc.to, err)
		}
		if !slices.Equal(l.Prefixes, tc.want) {
			t.Errorf("%s–%s = %v, want %v", tc.from, tc.to, l.Prefixes, tc.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats() {
		if got, err := ParseFormat(strings.ToLower(string(f))); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", strings.ToLower(string(f)), got, err)
		}
	}
	if _, err := ParseFormat("CSV"); err == nil {
		t.Error("ParseFormat accepted CSV")
	}
}
