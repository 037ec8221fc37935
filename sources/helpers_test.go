package sources

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/event"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testdataFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata in %s: %v", dir, err)
	}
	return files
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkDecodeError asserts err is a well-formed *DecodeError whose Reason
// contains want.
func checkDecodeError(t *testing.T, err error, want string) *DecodeError {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
	}
	if !strings.Contains(de.Reason, want) {
		t.Errorf("Reason %q does not contain %q", de.Reason, want)
	}
	checkExcerpt(t, de)
	return de
}

func checkExcerpt(t testing.TB, de *DecodeError) {
	t.Helper()
	if len(de.Excerpt) > maxExcerpt || !utf8.ValidString(de.Excerpt) {
		t.Errorf("bad excerpt (%d bytes, valid %v): %q", len(de.Excerpt), utf8.ValidString(de.Excerpt), de.Excerpt)
	}
	if de.Error() != de.Reason {
		t.Errorf("Error() = %q, want Reason", de.Error())
	}
}

// checkEvents asserts the invariants every decoded event holds, and that it
// survives the internal-topic codec.
func checkEvents(t testing.TB, src event.Source, evs []event.Event) {
	t.Helper()
	for i := range evs {
		e := &evs[i]
		if e.Source != src || e.Entity == "" {
			t.Fatalf("event %d: source %v entity %q", i, e.Source, e.Entity)
		}
		ok := false
		switch src {
		case event.SourceCloudTrail:
			ok = e.CloudTrail != nil && e.Flow == nil && e.DNS == nil && e.Kind == event.KindPrincipal
		case event.SourceVPCFlow:
			ok = e.Flow != nil && e.CloudTrail == nil && e.DNS == nil && e.Kind == event.KindNetwork
		case event.SourceDNS:
			ok = e.DNS != nil && e.CloudTrail == nil && e.Flow == nil && e.Kind == event.KindNetwork
		}
		if !ok {
			t.Fatalf("event %d: wrong shape %+v", i, e)
		}
		if e.Time.Location() != nil && e.Time.Location().String() != "UTC" {
			t.Fatalf("event %d: time not UTC: %v", i, e.Time)
		}
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got event.Event
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("event %d: unmarshal: %v", i, err)
		}
		if !reflect.DeepEqual(&got, e) {
			t.Fatalf("event %d: codec round trip:\n got %+v\nwant %+v", i, got, *e)
		}
	}
}

// decodeErrorTest is a bad record and what decoding it must report.
type decodeErrorTest struct {
	name           string
	rec            []byte
	reason         string
	failed, events int
}

// runDecodeErrorTests decodes each record and checks the error, the
// counts and the events that did decode.
func runDecodeErrorTests(t *testing.T, src event.Source, decode func([]byte, []event.Event) ([]event.Event, Result, error), tests []decodeErrorTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, res, err := decode(tt.rec, nil)
			checkDecodeError(t, err, tt.reason)
			if res.Failed != tt.failed || len(evs) != tt.events {
				t.Fatalf("got %d events, %+v; want %d events, %d failed", len(evs), res, tt.events, tt.failed)
			}
			checkEvents(t, src, evs)
		})
	}
}
