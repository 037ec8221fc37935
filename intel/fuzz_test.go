package intel

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The fuzz targets check that a parser never panics, that what it accepts
// is well-formed (masked networks, unmapped IPv4, normalised domains,
// within the limits) and that what it refuses is a *ParseError naming the
// file. `go test ./intel` runs their seeds; `go test -fuzz FuzzParseSTIX
// ./intel` explores.

func FuzzParseTXT(f *testing.F) {
	fuzzList(f, FormatTXT, "txt.txt", "192.0.2.1\n::ffff:192.0.2.1/120\n*.Example.ORG.\n", "10.0.0.0/33\n", "a\x00b\n")
}

func FuzzParseSTIX(f *testing.F) {
	fuzzList(f, FormatSTIX, "stix.xml",
		`<r xmlns:AddressObj="http://cybox.mitre.org/objects#AddressObject-2"><AddressObj:Address_Value condition="InclusiveBetween">::1##comma##::ffff</AddressObj:Address_Value></r>`,
		`<r><AddressObj:Address_Value>192.0.2.1##comma##</AddressObj:Address_Value></r>`,
		`<!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;&a;</r>`)
}

func FuzzParseOTXCSV(f *testing.F) {
	fuzzList(f, FormatOTXCSV, "otx.csv", "IPv4,192.0.2.1\n", "Indicator type,Indicator\n\"CIDR\",\"192.0.2.0/24\"\n", "a,\"b\n")
}

func FuzzParseFireEye(f *testing.F) {
	fuzzList(f, FormatFireEye, "fireeye.csv", "ip,cidr,domain\n192.0.2.1,,\n,,x.example.com\n", "IP\n\n")
}

func FuzzParseProofPoint(f *testing.F) {
	fuzzList(f, FormatProofPoint, "proofpoint.csv", "domain\nexample.com\n", "192.0.2.1,1\nexample.net,2\n")
}

func FuzzParseAlienVault(f *testing.F) {
	fuzzList(f, FormatAlienVault, "alienvault.txt", "192.0.2.1#1#2#x\n", "#\n192.0.2.1####\n")
}

func fuzzList(f *testing.F, format Format, sample string, seeds ...string) {
	b, err := os.ReadFile(filepath.Join("testdata", "formats", sample))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	lim := Limits{MaxBytes: 1 << 20, MaxEntries: 1000, MaxLine: 4096}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseList(format, "fuzz.list", bytes.NewReader(data), lim)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "fuzz.list" {
				t.Fatalf("error %v is not a *ParseError of the file", err)
			}
			return
		}
		if l.Len() > lim.MaxEntries {
			t.Fatalf("%d entries, limit %d", l.Len(), lim.MaxEntries)
		}
		for _, p := range l.Prefixes {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("prefix %v is not a masked, unmapped network", p)
			}
		}
		for _, d := range append(append([]string(nil), l.Domains...), l.Wildcards...) {
			if got, _, err := parseDomainEntry(d); err != nil || got != d {
				t.Fatalf("domain %q does not parse back: %q, %v", d, got, err)
			}
		}
	})
}
