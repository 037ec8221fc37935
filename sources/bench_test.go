package sources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/vigil-sec/vigil/event"
)

// ctCorpus returns every decodable CloudTrail event in testdata, one
// compact record each, as they arrive from the raw topic.
func ctCorpus(b *testing.B) [][]byte {
	var recs [][]byte
	var d CloudTrailDecoder
	for _, p := range testdataFiles(b, "cloudtrail") {
		var raw []json.RawMessage
		data := readTestdata(b, "cloudtrail/"+filepath.Base(p))
		if err := json.Unmarshal(data, &raw); err != nil {
			for line := range bytes.Lines(data) {
				raw = append(raw, bytes.TrimSpace(line))
			}
		}
		for _, r := range raw {
			var buf bytes.Buffer
			if json.Compact(&buf, r) != nil {
				continue
			}
			if evs, _, err := decodeAll(d.Decode, buf.Bytes()); err == nil && len(evs) == 1 {
				recs = append(recs, buf.Bytes())
			}
		}
	}
	return recs
}

func lineCorpus(b *testing.B, files ...string) [][]byte {
	var recs [][]byte
	for _, f := range files {
		for line := range bytes.Lines(readTestdata(b, f)) {
			if line = bytes.TrimSpace(line); len(line) > 0 && !isFlowHeader(line) {
				recs = append(recs, line)
			}
		}
	}
	return recs
}

// benchDecode runs decode over recs round-robin; one op is one record.
func benchDecode(b *testing.B, recs [][]byte, decode decodeFunc) {
	total := 0
	for _, r := range recs {
		total += len(r)
	}
	b.SetBytes(int64(total / len(recs)))
	b.ReportAllocs()
	n := 0
	emit := func(e *event.Event) { n++ }
	i := 0
	for b.Loop() {
		if _, err := decode(recs[i], emit); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(recs) {
			i = 0
		}
	}
	if n == 0 {
		b.Fatal("no events")
	}
}

func BenchmarkCloudTrailDecode(b *testing.B) {
	recs := ctCorpus(b)
	b.Logf("%d records", len(recs))
	var d CloudTrailDecoder
	benchDecode(b, recs, d.Decode)
}

func BenchmarkFlowDecode(b *testing.B) {
	b.Run("v2", func(b *testing.B) {
		var d FlowDecoder
		benchDecode(b, lineCorpus(b, "vpcflow/v2.txt"), d.Decode)
	})
	b.Run("v5", func(b *testing.B) {
		data := readTestdata(b, "vpcflow/v5-header.txt")
		header, _, _ := bytes.Cut(data, []byte("\n"))
		var d FlowDecoder
		benchDecode(b, lineCorpus(b, "vpcflow/v5-header.txt"), withFormat(&d, string(header)))
	})
}

func BenchmarkDNSDecode(b *testing.B) {
	var d DNSDecoder
	benchDecode(b, lineCorpus(b, "dns/iodine.route53.jsonl", "dns/dns2tcp.route53.jsonl", "dns/panther.jsonl"), d.Decode)
}

// deliveryFile returns an S3 delivery file {"Records":[...]} of n copies of
// a real event, each with its own eventID, and the file gzip-compressed.
func deliveryFile(t testing.TB, n int) (plain, compressed []byte) {
	ev := stratusEvents(t)[0]
	var buf bytes.Buffer
	buf.Grow(n * (len(ev) + 8))
	buf.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(bytes.Replace(ev, []byte(`"eventID":"`), fmt.Appendf(nil, `"eventID":"%d-`, i), 1))
	}
	buf.WriteString(`]}`)
	return buf.Bytes(), gz(t, buf.Bytes())
}

// BenchmarkCloudTrailDelivery decodes a 10,000-event delivery file; one op
// is the file. Before streaming it cost 56 MB and 70k allocations an op.
func BenchmarkCloudTrailDelivery(b *testing.B) {
	plain, rec := deliveryFile(b, 10000)
	for _, bb := range []struct {
		name string
		rec  []byte
	}{{"gzip", rec}, {"plain", plain}} {
		b.Run(bb.name, func(b *testing.B) {
			var d CloudTrailDecoder
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				n := 0
				if _, err := d.Decode(bb.rec, func(*event.Event) { n++ }); err != nil || n != 10000 {
					b.Fatal(err, n)
				}
			}
		})
	}
}
