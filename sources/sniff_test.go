package sources

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/event"
)

func TestSniffTestdata(t *testing.T) {
	for dir, want := range map[string]event.Source{
		"cloudtrail": event.SourceCloudTrail,
		"dns":        event.SourceDNS,
		"vpcflow":    event.SourceVPCFlow,
	} {
		for _, f := range testdataFiles(t, dir) {
			b := readTestdata(t, filepath.Join(dir, filepath.Base(f)))
			if got := Sniff(b); got != want {
				t.Errorf("Sniff(%s) = %v, want %v", f, got, want)
			}
			if got := Sniff(gz(t, b)); got != want {
				t.Errorf("Sniff(gzip %s) = %v, want %v", f, got, want)
			}
			// A truncated gzip head still sniffs.
			if z := gz(t, b); len(z) > 40 {
				if got := Sniff(z[:40]); got != want && got != event.SourceUnknown {
					t.Errorf("Sniff(truncated gzip %s) = %v", f, got)
				}
			}
		}
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]event.Source{
		"":                                 event.SourceUnknown,
		"   \n\n":                          event.SourceUnknown,
		"hello world":                      event.SourceUnknown,
		"\xef\xbb\xbf{\"Records\":[]}":     event.SourceCloudTrail,
		"{ \"Records\" : [":                event.SourceCloudTrail,
		`{"eventVersion":"1.08"`:           event.SourceCloudTrail,
		`[{"userIdentity":{}}]`:            event.SourceCloudTrail,
		`{"query_name":"a.b."}`:            event.SourceDNS,
		`{"foo":1}`:                        event.SourceUnknown,
		"version account-id interface-id":  event.SourceVPCFlow,
		"${version} ${interface-id}":       event.SourceVPCFlow,
		"interface-id srcaddr dstaddr":     event.SourceVPCFlow,
		"2 123456789012 eni-1 1.2.3.4":     event.SourceVPCFlow,
		"5 unknown eni-1 - - - -":          event.SourceVPCFlow,
		"eni-abc 10.0.0.1 10.0.0.2 ACCEPT": event.SourceVPCFlow,
		"2 apples and 3 pears":             event.SourceUnknown,
		"9 123456789012 eni-1 1.2.3.4":     event.SourceUnknown,
		"\x1f\x8b":                         event.SourceUnknown,
		strings.Repeat("x", 100000):        event.SourceUnknown,
	} {
		if got := Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%.40q) = %v, want %v", in, got, want)
		}
	}
}
