package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

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
	// checkEvents checks the bounds, control characters and times.
	checkEvents(t, src, evs)
}

// tinyLimits makes the fuzzer's small inputs reach the limits.
func tinyLimits() Limits { return Limits{MaxDecompressed: 4 << 10, MaxElement: 512} }

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

// hostileSeeds returns records every decoder must survive: empty ones, a
// gzip bomb in miniature, truncated gzip streams.
func hostileSeeds(f *testing.F, valid []byte) [][]byte {
	z := gz(f, valid)
	return [][]byte{
		nil, []byte(" \n\t\r\n"), gz(f, nil), gz(f, []byte("\n\n")),
		gz(f, append(append([]byte(`{"a":"`), bytes.Repeat([]byte("0"), 64<<10)...), `"}`...)),
		z[:len(z)/2], z[:len(z)-4], append(z, 0x1f, 0x8b, 8),
	}
}

func FuzzCloudTrail(f *testing.F) {
	addSeeds(f, "cloudtrail")
	evs := stratusEvents(f)
	for _, e := range evs[:2] {
		f.Add(e)
		f.Add(gz(f, e))
		f.Add([]byte(`{"Records":[` + string(e) + `]}`))
	}
	valid := ctEvent(f, nil)
	f.Add([]byte(`{"x":[1,{"y":"]"}],"Records":[` + string(valid) + `,` + string(valid) + `],"z":{}}`))
	f.Add([]byte(string(valid) + "\n{\"eventName\":\n" + string(valid) + "\n"))
	f.Add(ctEvent(f, map[string]any{"userIdentity": map[string]any{"type": "Root", "sessionContext": map[string]any{"assumedRoot": "true"}}}))
	f.Add(ctEvent(f, map[string]any{"eventCategory": "Data"}))
	f.Add(ctEvent(f, map[string]any{"eventName": strings.Repeat("N", 300), "userAgent": strings.Repeat("u", 2000)}))
	f.Add(ctEvent(f, map[string]any{"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a\x00b"}}))
	f.Add(ctEvent(f, map[string]any{"recipientAccountId": "1111\u007f22223333"}))
	f.Add(ctEvent(f, map[string]any{"eventTime": "0000-01-01T00:00:00Z"}))
	f.Add(ctEvent(f, map[string]any{"eventTime": "2262-04-12T00:00:00Z"}))
	f.Add(ctEvent(f, map[string]any{"requestParameters": json.RawMessage(`{"policyDocument":"{\n \"a\": 1\n}",` +
		`"p":{"items":[{"r":{"items":[{"c":"0.0.0.0/0"},[1],null]}},"all",{}]},"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}`)}))
	for _, b := range hostileSeeds(f, []byte(`{"Records":[`+string(valid)+`,`+string(valid)+`]}`)) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		// Fresh decoders per input keep coverage deterministic, which the
		// fuzzer's minimiser needs; reuse is covered by unit tests.
		for _, d := range []*CloudTrailDecoder{NewCloudTrailDecoder(Limits{}), NewCloudTrailDecoder(tinyLimits())} {
			evs, res, err := decodeAll(d.Decode, rec)
			checkDecode(t, event.SourceCloudTrail, evs, res, err)
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
	const good = "2 111122223333 eni-0a1b2c3d4e5f67890 198.51.100.7 10.0.1.25 49152 22 6 6 360 1741470000 1741470059 ACCEPT OK"
	f.Add([]byte("2 111122223333 eni-1 ::ffff:10.0.0.1 fe80::1%eth0 1 2 6 1 1 1 2 ACCEPT OK"), "")
	f.Add(gz(f, readTestdata(f, "vpcflow/v2.txt")), "")
	f.Add([]byte(strings.Replace(good, "eni-0a1b2c3d4e5f67890", "eni-"+strings.Repeat("f", 200), 1)), "")
	f.Add([]byte(strings.Replace(good, "eni-0a", "eni-\x000a", 1)), "")
	f.Add([]byte(strings.Replace(good, "1741470000 1741470059", "1741470059 1741470000", 1)), "")
	f.Add([]byte(strings.Replace(good, "1741470000", "99999999999", 1)), "")
	f.Add([]byte("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"), "")
	for _, b := range hostileSeeds(f, []byte(good+"\n"+good+"\n")) {
		f.Add(b, "")
	}
	f.Fuzz(func(t *testing.T, rec []byte, format string) {
		for _, lim := range []Limits{{}, tinyLimits()} {
			d := &FlowDecoder{lim: lim}
			evs, res, err := decodeAll(withFormat(d, format), rec)
			checkDecode(t, event.SourceVPCFlow, evs, res, err)
		}
	})
}

func FuzzDNS(f *testing.F) {
	addSeeds(f, "dns")
	f.Add(gz(f, readTestdata(f, "dns/panther.jsonl")))
	const good = `{"account_id":"111122223333","region":"us-east-1","query_timestamp":"2026-03-08T21:41:07Z","query_name":"a.b.","srcaddr":"10.0.1.25","srcport":"53","srcids":{"instance":"i-1"}}`
	f.Add([]byte(`[{"query_timestamp":"2026-03-08 21:41:07.5","query_name":"A.B.","srcaddr":"::1","srcport":53,"answers":{"Rdata":"x","Type":"TXT"}}]`))
	f.Add([]byte(strings.Replace(good, "a.b.", strings.Repeat("x", 300), 1)))
	f.Add([]byte(strings.Replace(good, "a.b.", strings.Repeat(`\\200`, 60), 1)))
	f.Add([]byte(strings.Replace(good, "i-1", `i-\u00001`, 1)))
	f.Add([]byte(strings.Replace(good, "2026-03-08", "1999-12-31", 1)))
	f.Add([]byte(good + "\n" + good[:40] + "\n" + good + "\n"))
	for _, b := range hostileSeeds(f, []byte(good+"\n"+good+"\n")) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		for _, d := range []*DNSDecoder{NewDNSDecoder(Limits{}), NewDNSDecoder(tinyLimits())} {
			evs, res, err := decodeAll(d.Decode, rec)
			checkDecode(t, event.SourceDNS, evs, res, err)
		}
	})
}

// FuzzStreamedMatchesWhole checks a record decodes the same parsed whole
// (in memory, within MaxElement) and streamed (gzip-compressed): same
// events, same counts.
func FuzzStreamedMatchesWhole(f *testing.F) {
	for _, e := range stratusEvents(f)[:2] {
		f.Add(e, false)
		f.Add([]byte(`{"x":{"Records":[1]},"Records":[`+string(e)+`,`+string(e)+`],"y":"]"}`), false)
		f.Add([]byte(`[`+string(e)+`,7,{"eventName":1}]`), false)
	}
	for _, b := range seeds(f, "cloudtrail") {
		f.Add(b, false)
	}
	for _, b := range seeds(f, "dns") {
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, rec []byte, dns bool) {
		if isGzip(rec) {
			return
		}
		var whole, streamed decodeFunc
		if dns {
			whole, streamed = NewDNSDecoder(Limits{}).Decode, NewDNSDecoder(Limits{}).Decode
		} else {
			whole, streamed = NewCloudTrailDecoder(Limits{}).Decode, NewCloudTrailDecoder(Limits{}).Decode
		}
		evs, res, err := decodeAll(whole, rec)
		zevs, zres, zerr := decodeAll(streamed, gz(t, rec))
		if res != zres || (err == nil) != (zerr == nil) || len(evs) != len(zevs) {
			t.Fatalf("whole: %d events, %+v, %v\nstreamed: %d events, %+v, %v", len(evs), res, err, len(zevs), zres, zerr)
		}
		for i := range evs {
			if !reflect.DeepEqual(evs[i], zevs[i]) {
				t.Fatalf("event %d differs:\n%+v\n%+v", i, evs[i], zevs[i])
			}
		}
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
