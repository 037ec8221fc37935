package sources

import (
	"bytes"
	"encoding/json"
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
			if evs, _, err := d.Decode(buf.Bytes(), nil); err == nil && len(evs) == 1 {
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
func benchDecode(b *testing.B, recs [][]byte, decode func([]byte, []event.Event) ([]event.Event, Result, error)) {
	total := 0
	for _, r := range recs {
		total += len(r)
	}
	b.SetBytes(int64(total / len(recs)))
	b.ReportAllocs()
	out := make([]event.Event, 0, 4)
	i := 0
	for b.Loop() {
		var err error
		out, _, err = decode(recs[i], out[:0])
		if err != nil {
			b.Fatal(err)
		}
		if i++; i == len(recs) {
			i = 0
		}
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
		format := string(header)
		benchDecode(b, lineCorpus(b, "vpcflow/v5-header.txt"), func(rec []byte, out []event.Event) ([]event.Event, Result, error) {
			return d.DecodeWithFormat(rec, format, out)
		})
	})
}

func BenchmarkDNSDecode(b *testing.B) {
	var d DNSDecoder
	benchDecode(b, lineCorpus(b, "dns/iodine.route53.jsonl", "dns/dns2tcp.route53.jsonl", "dns/panther.jsonl"), d.Decode)
}
