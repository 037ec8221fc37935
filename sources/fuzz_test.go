package sources

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/event"
)

// checkDecode asserts what every Decode must hold, whatever the input.
func checkDecode(t *testing.T, src event.Source, evs []event.Event, res Result, err error) {
	t.Helper()
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
		}
		checkExcerpt(t, de)
		if res.Failed == 0 {
			t.Fatalf("error %q with Result.Failed 0", de.Reason)
		}
	} else if res.Failed != 0 {
		t.Fatalf("Result.Failed %d without an error", res.Failed)
	}
	checkEvents(t, src, evs)
	if src == event.SourceCloudTrail || src == event.SourceDNS {
		for _, e := range evs {
			for _, s := range []string{e.Account, e.Region, e.Entity} {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 in %q", s)
				}
			}
		}
	}
}

// maxSeed keeps large files out of the seed corpus: the fuzzer mutates and
// minimises small inputs far faster.
const maxSeed = 8 << 10

// seeds returns the small testdata files of dir and the first lines of all.
func seeds(f *testing.F, dir string) [][]byte {
	var out [][]byte
	for _, p := range testdataFiles(f, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= maxSeed {
			out = append(out, b)
		}
		if line, _, _ := bytes.Cut(b, []byte("\n")); len(line) < len(b) && len(line) <= maxSeed {
			out = append(out, line)
		}
	}
	return out
}

func addSeeds(f *testing.F, dir string) {
	for _, b := range seeds(f, dir) {
		f.Add(b)
	}
}

func FuzzCloudTrail(f *testing.F) {
	addSeeds(f, "cloudtrail")
	for _, e := range stratusEvents(f)[:2] {
		f.Add(e)
		f.Add(gz(f, e))
		f.Add([]byte(`{"Records":[` + string(e) + `]}`))
	}
	f.Add(ctEvent(f, map[string]any{"userIdentity": map[string]any{"type": "Root", "sessionContext": map[string]any{"assumedRoot": "true"}}}))
	f.Add(ctEvent(f, map[string]any{"eventCategory": "Data"}))
	f.Fuzz(func(t *testing.T, rec []byte) {
		// A fresh decoder per input keeps coverage deterministic, which
		// the fuzzer's minimiser needs; reuse is covered by unit tests.
		var d CloudTrailDecoder
		evs, res, err := d.Decode(rec, nil)
		checkDecode(t, event.SourceCloudTrail, evs, res, err)
		for _, e := range evs {
			if ct := e.CloudTrail; len(ct.RequestParameters) > maxParams || len(ct.UserAgent) > maxField {
				t.Fatalf("bounds: %d params, %d-byte user agent", len(ct.RequestParameters), len(ct.UserAgent))
			}
		}
	})
}

func FuzzFlow(f *testing.F) {
	for _, b := range seeds(f, "vpcflow") {
		f.Add(b, "")
		if header, lines, ok := bytes.Cut(b, []byte("\n")); ok {
			f.Add(lines, string(header))
		}
	}
	f.Add([]byte("2 111122223333 eni-1 ::ffff:10.0.0.1 fe80::1%eth0 1 2 6 1 1 1 2 ACCEPT OK"), "")
	f.Add(gz(f, readTestdata(f, "vpcflow/v2.txt")), "")
	f.Fuzz(func(t *testing.T, rec []byte, format string) {
		var d FlowDecoder
		evs, res, err := d.DecodeWithFormat(rec, format, nil)
		checkDecode(t, event.SourceVPCFlow, evs, res, err)
	})
}

func FuzzDNS(f *testing.F) {
	addSeeds(f, "dns")
	f.Add(gz(f, readTestdata(f, "dns/panther.jsonl")))
	f.Add([]byte(`[{"query_timestamp":"2026-03-08 21:41:07.5","query_name":"A.B.","srcaddr":"::1","srcport":53,"answers":{"Rdata":"x","Type":"TXT"}}]`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		var d DNSDecoder
		evs, res, err := d.Decode(rec, nil)
		checkDecode(t, event.SourceDNS, evs, res, err)
	})
}

func FuzzSniff(f *testing.F) {
	for _, dir := range []string{"cloudtrail", "dns", "vpcflow"} {
		addSeeds(f, dir)
	}
	f.Add(gz(f, readTestdata(f, "vpcflow/v2.txt")))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Sniff(b)
		if s > event.SourceDNS {
			t.Fatalf("Sniff = %v", s)
		}
		if Sniff(b) != s {
			t.Fatal("Sniff not deterministic")
		}
	})
}
