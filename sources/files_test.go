package sources

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/event"
)

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func collect(t *testing.T, paths []string, src event.Source) []FileRecord {
	t.Helper()
	var recs []FileRecord
	if err := ReadFiles(paths, src, func(r FileRecord) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	events := stratusEvents(t)
	s3 := []byte(`{"Records":[` + string(bytes.Join(events, []byte(","))) + `]}`)
	writeFile(t, filepath.Join(dir, "ct/2026/03/08/111122223333_CloudTrail_us-east-1_20260308T2145Z_abc.json.gz"), gz(t, s3))
	writeFile(t, filepath.Join(dir, "ct/stratus.json"), readTestdata(t, "cloudtrail/stratus.aws.persistence.iam-create-admin-user.json"))
	writeFile(t, filepath.Join(dir, "ct/lines.jsonl"), []byte(string(events[0])+"\n\n"+string(events[1])+"\n"))
	writeFile(t, filepath.Join(dir, "dns/query.log.gz"), gz(t, readTestdata(t, "dns/iodine.route53.jsonl")))
	writeFile(t, filepath.Join(dir, "flow/v5.log"), readTestdata(t, "vpcflow/v5-header.txt"))
	writeFile(t, filepath.Join(dir, "flow/v2.log"), readTestdata(t, "vpcflow/v2.txt"))
	writeFile(t, filepath.Join(dir, "flow/empty.log"), nil)
	writeFile(t, filepath.Join(dir, ".hidden/x.log"), []byte("garbage"))
	writeFile(t, filepath.Join(dir, "flow/.partial"), []byte("garbage"))

	recs := collect(t, []string{dir}, event.SourceUnknown)
	count := map[event.Source]int{}
	byPath := map[string][]FileRecord{}
	for _, r := range recs {
		count[r.Source]++
		rel, _ := filepath.Rel(dir, r.Path)
		byPath[filepath.ToSlash(rel)] = append(byPath[filepath.ToSlash(rel)], r)
	}
	if want := (map[event.Source]int{event.SourceCloudTrail: 6 + 3 + 2, event.SourceDNS: 8, event.SourceVPCFlow: 5 + 8}); !maps.Equal(count, want) {
		t.Fatalf("records per source %v, want %v", count, want)
	}

	// Every CloudTrail record is one compact event that decodes alone, and
	// the split S3 file decodes to the same events as the whole file.
	var ct CloudTrailDecoder
	var split []event.Event
	for _, r := range byPath["ct/2026/03/08/111122223333_CloudTrail_us-east-1_20260308T2145Z_abc.json.gz"] {
		evs, _, err := decodeAll(ct.Decode, r.Value)
		if err != nil || len(evs) != 1 || bytes.ContainsAny(r.Value, "\n") || r.Line != 1 {
			t.Fatalf("record %q: %d events, %v", r.Value, len(evs), err)
		}
		split = append(split, evs...)
	}
	whole, _, _ := decodeAll(ct.Decode, s3)
	if len(split) != len(whole) {
		t.Fatalf("split %d, whole %d", len(split), len(whole))
	}
	for i := range whole {
		if whole[i].CloudTrail.EventID != split[i].CloudTrail.EventID {
			t.Fatalf("event %d differs", i)
		}
	}
	for _, r := range byPath["ct/stratus.json"] {
		if evs, _, err := decodeAll(ct.Decode, r.Value); err != nil || len(evs) != 1 || bytes.ContainsAny(r.Value, "\n") {
			t.Fatalf("pretty-printed array element: %v", err)
		}
	}
	if lines := byPath["ct/lines.jsonl"]; len(lines) != 2 || lines[0].Line != 1 || lines[1].Line != 3 || !bytes.Equal(lines[1].Value, events[1]) {
		t.Fatalf("json lines: %+v", lines)
	}

	// Flow lines carry the header of their file.
	fd, _ := NewFlowDecoder("", Limits{})
	for _, r := range byPath["flow/v5.log"] {
		if !strings.HasPrefix(r.Header, "version account-id") || r.Line < 2 {
			t.Fatalf("v5 record header %q line %d", r.Header, r.Line)
		}
		if _, _, err := decodeAll(withFormat(fd, r.Header), r.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range byPath["flow/v2.log"] {
		if r.Header != "" {
			t.Fatalf("v2 header %q", r.Header)
		}
	}
	var dd DNSDecoder
	for i, r := range byPath["dns/query.log.gz"] {
		if r.Line != i+1 {
			t.Fatalf("dns line %d", r.Line)
		}
		if _, _, err := decodeAll(dd.Decode, r.Value); err != nil {
			t.Fatal(err)
		}
	}
	for p := range byPath {
		if strings.Contains(p, ".hidden") || strings.Contains(p, ".partial") {
			t.Fatalf("hidden file read: %s", p)
		}
	}
}

func TestReadFilesExplicitSource(t *testing.T) {
	dir := t.TempDir()
	// A custom flow format without a version first: sniffing cannot be
	// sure, the caller can.
	p := filepath.Join(dir, "flow.txt")
	writeFile(t, p, []byte("${interface-id} ${srcaddr} ${dstaddr}\neni-1 10.0.0.1 10.0.0.2\neni-1 10.0.0.2 10.0.0.1\n"))
	recs := collect(t, []string{p}, event.SourceVPCFlow)
	if len(recs) != 2 || recs[0].Header != "${interface-id} ${srcaddr} ${dstaddr}" || recs[1].Line != 3 {
		t.Fatalf("%+v", recs)
	}
	// Values are the callee's to keep.
	if string(recs[0].Value) != "eni-1 10.0.0.1 10.0.0.2" {
		t.Fatalf("first value overwritten: %q", recs[0].Value)
	}
}

func TestReadFilesPrettyObject(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "event.json")
	writeFile(t, p, []byte("{\n  \"eventVersion\": \"1.10\",\n  \"eventName\": \"ListUsers\"\n}\n"))
	recs := collect(t, []string{p}, event.SourceUnknown)
	if len(recs) != 1 || string(recs[0].Value) != `{"eventVersion":"1.10","eventName":"ListUsers"}` {
		t.Fatalf("%+v", recs)
	}
	// A file whose first line is bad JSON but the rest are lines.
	writeFile(t, p, []byte("{bad\n"+string(ctEvent(t, nil))+"\n"))
	recs = collect(t, []string{p}, event.SourceCloudTrail)
	if len(recs) != 2 || string(recs[0].Value) != "{bad" || recs[1].Line != 2 {
		t.Fatalf("%+v", recs)
	}
}

func TestReadFilesErrors(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "notes.txt")
	writeFile(t, unknown, []byte("hello world\n"))
	err := ReadFiles([]string{unknown}, event.SourceUnknown, func(FileRecord) error { return nil })
	if err == nil || !strings.Contains(err.Error(), unknown) || !strings.Contains(err.Error(), "cannot tell") {
		t.Fatalf("unsniffable: %v", err)
	}
	if err := ReadFiles([]string{filepath.Join(dir, "missing")}, event.SourceDNS, func(FileRecord) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	bad := filepath.Join(dir, "bad.gz")
	writeFile(t, bad, []byte("not gzip"))
	if err := ReadFiles([]string{bad}, event.SourceDNS, func(FileRecord) error { return nil }); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad gzip: %v", err)
	}
	truncated := filepath.Join(dir, "truncated.gz")
	writeFile(t, truncated, gz(t, readTestdata(t, "dns/dns2tcp.route53.jsonl"))[:500])
	if err := ReadFiles([]string{truncated}, event.SourceDNS, func(FileRecord) error { return nil }); err == nil {
		t.Fatal("truncated gzip read without error")
	}

	// The callback's error stops the walk and is returned.
	good := filepath.Join(dir, "d", "q.jsonl")
	writeFile(t, good, readTestdata(t, "dns/iodine.route53.jsonl"))
	stop := errors.New("stop")
	n := 0
	err = ReadFiles([]string{filepath.Join(dir, "d")}, event.SourceUnknown, func(FileRecord) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("callback error: %v after %d", err, n)
	}

	// Paths are read in order.
	var paths []string
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	writeFile(t, a, readTestdata(t, "dns/iodine.route53.jsonl"))
	writeFile(t, b, readTestdata(t, "dns/iodine.route53.jsonl"))
	ReadFiles([]string{b, a}, event.SourceDNS, func(r FileRecord) error {
		if len(paths) == 0 || paths[len(paths)-1] != r.Path {
			paths = append(paths, r.Path)
		}
		return nil
	})
	if !slices.Equal(paths, []string{b, a}) {
		t.Fatalf("order %v", paths)
	}
}

func TestReadFilesSkipsNonLogsInDirectories(t *testing.T) {
	dir := t.TempDir()
	flow := "2 111122223333 eni-0a1b2c3d4e5f67890 198.51.100.7 10.0.1.25 49152 22 6 6 360 1741470000 1741470059 ACCEPT OK\n"
	if err := os.WriteFile(filepath.Join(dir, "flows.log"), []byte(flow), 0o600); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(dir, "README.md")
	if err := os.WriteFile(notes, []byte("# Sample logs\n\nWhere these came from.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := ReadFiles([]string{dir}, event.SourceUnknown, func(FileRecord) error { n++; return nil }); err != nil {
		t.Fatalf("directory with a README: %v", err)
	}
	if n != 1 {
		t.Errorf("read %d records, want 1", n)
	}
	err := ReadFiles([]string{notes}, event.SourceUnknown, func(FileRecord) error { return nil })
	if !errors.Is(err, ErrUnknownSource) {
		t.Errorf("named non-log file: err %v, want ErrUnknownSource", err)
	}
}

// TestReadFilesCloudTrailStream splits CloudTrail files as a stream: a
// large delivery file, a wrapper with other keys, pretty-printed arrays
// and a file that turns malformed part way.
func TestReadFilesCloudTrailStream(t *testing.T) {
	dir := t.TempDir()
	_, z := deliveryFile(t, 20000)
	evs := stratusEvents(t)
	joined := string(bytes.Join(evs, []byte(",\n")))
	tests := []struct {
		name  string
		file  []byte
		want  int   // records
		lines []int // of the first records, if given
		bad   int   // records that must not decode
	}{
		{"delivery.json.gz", z, 20000, []int{1, 1}, 0},
		{"wrapper.json", []byte("{\"digest\": {\"a\": [1]},\n\"Records\": [\n" + joined + "\n]}\n"), len(evs), []int{3}, 0},
		{"array.json", []byte("[\n" + joined + "\n]\n"), len(evs), []int{2}, 0},
		{"cut.json", []byte("[\n" + joined + ",\n" + string(evs[0][:100])), len(evs) + 1, nil, 1},
		{"garbage.json", []byte(`{"Records":[` + string(evs[0]) + `] x}`), 2, nil, 1},
	}
	var d CloudTrailDecoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			writeFile(t, p, tt.file)
			recs := collect(t, []string{p}, event.SourceUnknown)
			if len(recs) != tt.want {
				t.Fatalf("%d records, want %d", len(recs), tt.want)
			}
			for i, line := range tt.lines {
				if recs[i].Line != line {
					t.Errorf("record %d on line %d, want %d", i, recs[i].Line, line)
				}
			}
			bad := 0
			for _, r := range recs {
				if bytes.ContainsAny(r.Value, "\n") {
					t.Fatalf("record not compact: %.100q", r.Value)
				}
				if evs, _, err := decodeAll(d.Decode, r.Value); err != nil || len(evs) != 1 {
					bad++
				}
			}
			if bad != tt.bad {
				t.Fatalf("%d records do not decode, want %d", bad, tt.bad)
			}
		})
	}
}
