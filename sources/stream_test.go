package sources

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/event"
)

func TestLimitsDefaults(t *testing.T) {
	for _, tt := range []struct {
		in, want Limits
	}{
		{Limits{}, Limits{MaxDecompressed: 64 << 20, MaxElement: 1 << 20}},
		{Limits{MaxDecompressed: -1, MaxElement: -1}, Limits{MaxDecompressed: 64 << 20, MaxElement: 1 << 20}},
		{Limits{MaxDecompressed: 10 << 20, MaxElement: 4096}, Limits{MaxDecompressed: 10 << 20, MaxElement: 4096}},
	} {
		if got := tt.in.withDefaults(); got != tt.want {
			t.Errorf("%+v.withDefaults() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	for n, want := range map[int64]string{64 << 20: "64 MiB", 1 << 20: "1 MiB", 1000: "1000 bytes", 3<<20 + 1: "3145729 bytes"} {
		if got := sizeString(n); got != want {
			t.Errorf("sizeString(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestCloudTrailStreamShapes decodes delivery files whose layout the whole-
// document parse never saw: keys around Records, records larger than
// MaxElement in memory, pretty-printed and gzip-compressed ones. All must
// decode to the events of the records one by one.
func TestCloudTrailStreamShapes(t *testing.T) {
	evs := stratusEvents(t)
	var want []event.Event
	for _, e := range evs {
		got, _, err := decodeAll(NewCloudTrailDecoder(Limits{}).Decode, e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, got...)
	}
	joined := string(bytes.Join(evs, []byte(",")))
	pretty := string(bytes.Join(evs, []byte(",\n    ")))
	shapes := map[string]string{
		"keys first":        `{"digest":{"a":[1,"]}"]},"Records":[` + joined + `]}`,
		"keys after":        `{"Records":[` + joined + `],"x":"\"}"}`,
		"pretty":            "{\n  \"Records\": [\n    " + pretty + "\n  ]\n}\n",
		"array":             "[" + joined + "]",
		"lines of wrappers": `{"Records":[` + string(evs[0]) + `]}` + "\n" + `{"Records":[` + string(bytes.Join(evs[1:], []byte(","))) + `]}` + "\n",
	}
	// Small elements so that the records in memory are larger than
	// MaxElement and streamed too.
	small := Limits{MaxElement: 4 << 10}
	for name, rec := range shapes {
		for _, lim := range []Limits{{}, small} {
			for _, z := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/max %d/gzip %v", name, lim.MaxElement, z), func(t *testing.T) {
					b := []byte(rec)
					if z {
						b = gz(t, b)
					}
					got, res, err := decodeAll(NewCloudTrailDecoder(lim).Decode, b)
					if err != nil || res != (Result{}) || !reflect.DeepEqual(got, want) {
						t.Fatalf("%d events (want %d), %+v, %v", len(got), len(want), res, err)
					}
				})
			}
		}
	}
}

// TestElementLimit checks an element past MaxElement fails alone, in every
// source and layout.
func TestElementLimit(t *testing.T) {
	lim := Limits{MaxElement: 8 << 10}
	big := strings.Repeat("x", 10<<10)
	valid := ctEvent(t, nil)
	large := ctEvent(t, map[string]any{"requestParameters": map[string]any{"policy": big}})
	const dnsGood = `{"account_id":"111122223333","region":"us-east-1","query_timestamp":"2026-03-08T21:41:07Z","query_name":"a.b.","srcaddr":"10.0.1.25"}`
	dnsLarge := strings.Replace(dnsGood, `"srcaddr"`, `"answers":[{"Rdata":"`+big+`","Type":"TXT"}],"srcaddr"`, 1)
	const flowGood = "2 111122223333 eni-0a1b2c3d4e5f67890 198.51.100.7 10.0.1.25 49152 22 6 6 360 1741470000 1741470059 ACCEPT OK"
	limitMsg := "bytes, more than the limit of 8192 bytes (MaxElement)"
	tests := []struct {
		name   string
		decode decodeFunc
		rec    string
		reason string
		events int
	}{
		{"cloudtrail records", NewCloudTrailDecoder(lim).Decode, `{"Records":[` + string(valid) + "," + string(large) + "," + string(valid) + `]}`,
			fmt.Sprintf("cloudtrail: 1 of 3 elements failed; element 2: element: %d %s", len(large), limitMsg), 2},
		{"cloudtrail lines", NewCloudTrailDecoder(lim).Decode, string(valid) + "\n" + string(large) + "\n" + string(valid),
			fmt.Sprintf("cloudtrail: 1 of 3 elements failed; element 2: element: %d %s", len(large), limitMsg), 2},
		{"cloudtrail single", NewCloudTrailDecoder(lim).Decode, string(large), fmt.Sprintf("cloudtrail: element: %d %s", len(large), limitMsg), 0},
		{"dns lines", NewDNSDecoder(lim).Decode, dnsGood + "\n" + dnsLarge + "\n" + dnsGood,
			fmt.Sprintf("dns: 1 of 3 lines failed; line 2: element: %d %s", len(dnsLarge), limitMsg), 2},
		{"dns array", NewDNSDecoder(lim).Decode, "[" + dnsGood + "," + dnsLarge + "]",
			fmt.Sprintf("dns: 1 of 2 elements failed; element 2: element: %d %s", len(dnsLarge), limitMsg), 1},
		{"flow", (&FlowDecoder{lim: lim}).Decode, flowGood + "\n" + flowGood + " " + big + "\n" + flowGood,
			fmt.Sprintf("vpcflow: 1 of 3 lines failed; line 2: line: %d %s", len(flowGood)+1+len(big), limitMsg), 2},
	}
	for _, tt := range tests {
		for _, z := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip %v", tt.name, z), func(t *testing.T) {
				rec := []byte(tt.rec)
				if z {
					rec = gz(t, rec)
				}
				evs, res, err := decodeAll(tt.decode, rec)
				de := checkDecodeError(t, err, tt.reason)
				if !errors.Is(de, ErrElementLimit) || res.Failed != 1 || len(evs) != tt.events {
					t.Fatalf("%d events, %+v, %v", len(evs), res, de.Err)
				}
			})
		}
	}
}

// TestMalformedStream checks what a record cut short keeps: the events
// before the fault are emitted, the rest counts as one failure.
func TestMalformedStream(t *testing.T) {
	valid := string(ctEvent(t, nil))
	records := `{"Records":[` + valid + "," + valid + "," + valid + `]}`
	z := gz(t, []byte(records))
	// Distinct events, so that a cut stream still holds the first ones.
	_, many := deliveryFile(t, 100)
	tests := []struct {
		name, reason   string
		rec            []byte
		events, failed int
	}{
		{"garbage after two", fmt.Sprintf("cloudtrail: invalid JSON: unexpected 'x' after an array element at byte %d, at element 3; 1 of 3 elements failed", 2*len(valid)+14),
			[]byte(`{"Records":[` + valid + "," + valid + ` x]}`), 2, 1},
		{"cut in the third", fmt.Sprintf("cloudtrail: invalid JSON: unexpected end of input at byte %d, at element 3; 1 of 3 elements failed", len(records)-100),
			[]byte(records[:len(records)-100]), 2, 1},
		{"bad element, then cut", "cloudtrail: 2 of 3 elements failed; element 2: eventName: not a string; then at element 3: invalid JSON: unexpected end of input",
			[]byte(`{"Records":[` + valid + `,{"eventName":1},{"a":`), 1, 2},
		{"gzip bad checksum", "cloudtrail: gzip: invalid checksum, at element 4; 1 of 4 elements failed", append(bytes.Clone(z[:len(z)-8]), 0, 0, 0, 0, 0, 0, 0, 0), 3, 1},
		{"gzip trailing garbage", "cloudtrail: gzip: invalid header, at element 4; 1 of 4 elements failed", append(bytes.Clone(z), "garbage after the gzip stream"...), 3, 1},
		// How much of a cut stream decompresses depends on deflate's blocks.
		{"gzip cut", "cloudtrail: gzip: unexpected EOF, at element ", many[:len(many)-30], -1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, res, err := decodeAll(NewCloudTrailDecoder(Limits{}).Decode, tt.rec)
			checkDecodeError(t, err, tt.reason)
			if tt.events < 0 && (len(evs) < 50 || len(evs) == 100) {
				t.Fatalf("cut stream: %d events", len(evs))
			}
			if (tt.events >= 0 && len(evs) != tt.events) || res.Failed != tt.failed {
				t.Fatalf("%d events, %+v", len(evs), res)
			}
			checkEvents(t, event.SourceCloudTrail, evs)
		})
	}
}

// TestDecompressedLimit checks each source stops at Limits.MaxDecompressed,
// keeping the events before it, and accepts a record of exactly the limit.
func TestDecompressedLimit(t *testing.T) {
	const limit = 1 << 20
	lim := Limits{MaxDecompressed: limit}
	ct := append(ctEvent(t, nil), '\n')
	dns := []byte(`{"account_id":"111122223333","region":"us-east-1","query_timestamp":"2026-03-08T21:41:07Z","query_name":"a.b.","srcaddr":"10.0.1.25"}` + "\n")
	flow := []byte("2 111122223333 eni-0a1b2c3d4e5f67890 198.51.100.7 10.0.1.25 49152 22 6 6 360 1741470000 1741470059 ACCEPT OK\n")
	tests := []struct {
		source string
		decode decodeFunc
		line   []byte
	}{
		{"cloudtrail", NewCloudTrailDecoder(lim).Decode, ct},
		{"dns", NewDNSDecoder(lim).Decode, dns},
		{"vpcflow", (&FlowDecoder{lim: lim}).Decode, flow},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			lines := bytes.Repeat(tt.line, 2*limit/len(tt.line))
			evs, res, err := decodeAll(tt.decode, gz(t, lines))
			de := checkDecodeError(t, err, tt.source+": gzip: decompressed size exceeds the limit of 1 MiB (--max-decompressed-mb), at ")
			if !errors.Is(de, ErrDecompressedLimit) || res.Failed != 1 || len(evs) != limit/len(tt.line) {
				t.Fatalf("%d events (want %d), %+v", len(evs), limit/len(tt.line), res)
			}
			// Exactly the limit is within it.
			exact := append(bytes.Repeat(tt.line, limit/len(tt.line)), bytes.Repeat([]byte(" "), limit%len(tt.line))...)
			if evs, res, err := decodeAll(tt.decode, gz(t, exact)); err != nil || res != (Result{}) || len(evs) != limit/len(tt.line) {
				t.Fatalf("at the limit: %d events, %+v, %v", len(evs), res, err)
			}
		})
	}
}

// heapInuse returns the heap in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestCloudTrailDeliveryMemory decodes a 100,000-event delivery file: the
// heap must stay far below the file's decompressed size while decoding,
// and the decoder must keep nothing of it afterwards. (Parsed whole, such
// a file once took 1.84 GiB.)
func TestCloudTrailDeliveryMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100 MB delivery file")
	}
	const n = 100_000
	plain, rec := deliveryFile(t, n)
	size := uint64(len(plain))
	plain = nil
	d := NewCloudTrailDecoder(Limits{MaxDecompressed: 1 << 30})
	// Warm the decoder up on one event, so what it keeps for good is in
	// the baseline.
	if _, err := d.Decode(stratusEvents(t)[0], func(*event.Event) {}); err != nil {
		t.Fatal(err)
	}
	before := heapInuse()
	var peak uint64
	count := 0
	res, err := d.Decode(rec, func(e *event.Event) {
		if count++; count%1000 == 0 {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
		}
	})
	if err != nil || count != n || res != (Result{}) {
		t.Fatalf("%d events, %+v, %v", count, res, err)
	}
	after := heapInuse()
	runtime.KeepAlive(d)
	t.Logf("%d MB decompressed, %d KB gzip: heap before %d KB, peak %d KB, after %d KB", size>>20, len(rec)>>10, before>>10, peak>>10, after>>10)
	if peak > before+size/4 {
		t.Errorf("peak heap %d KB, more than a quarter of the %d KB decompressed above the %d KB before", peak>>10, size>>10, before>>10)
	}
	if after > before+4<<20 {
		t.Errorf("heap after decoding %d KB, more than 4 MiB above the %d KB before", after>>10, before>>10)
	}
}

// TestDecodersReleaseBuffers checks no decoder keeps, after a record with
// a large element, more than a small buffer: not the window, not a parser
// grown to the element.
func TestDecodersReleaseBuffers(t *testing.T) {
	big := strings.Repeat("x", 900<<10)
	ct := ctEvent(t, map[string]any{"requestParameters": map[string]any{"policy": big}})
	// Many small values grow the parser's value cache, not only its copy
	// of the input.
	many := map[string]any{}
	for i := range 5000 {
		many[fmt.Sprintf("k%d", i)] = []any{i, i, i, i, i}
	}
	ctMany := ctEvent(t, map[string]any{"responseElements": many})
	// Two lines: the whole-record parse fails, after copying it all.
	ctLines := []byte(string(ctEvent(t, map[string]any{"requestParameters": map[string]any{"policy": big[:400<<10]}})) + "\n" +
		string(ctEvent(t, map[string]any{"requestParameters": map[string]any{"policy": big[:400<<10]}})))
	// Small values grow the parser's cache before the parse fails.
	dense := []byte("[" + strings.Repeat("1,", 100_000) + "x")
	dnsBig := []byte(`{"account_id":"111122223333","region":"us-east-1","query_timestamp":"2026-03-08T21:41:07Z","query_name":"a.b.","srcaddr":"10.0.1.25","answers":[{"Rdata":"` + big + `","Type":"TXT"}]}`)
	flowBig := []byte("2 111122223333 eni-1 " + big)
	tests := []struct {
		name   string
		decode decodeFunc
		warm   []byte
		recs   [][]byte
	}{
		{"cloudtrail", NewCloudTrailDecoder(Limits{}).Decode, ctEvent(t, nil), [][]byte{ct, gz(t, ct), ctMany, gz(t, ctMany), ctLines, dense}},
		{"dns", NewDNSDecoder(Limits{}).Decode, dnsBig[:0], [][]byte{dnsBig, gz(t, dnsBig), gz(t, []byte(string(dnsBig)+"\n"+string(dnsBig))), dense}},
		{"vpcflow", (&FlowDecoder{}).Decode, nil, [][]byte{gz(t, flowBig)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, rec := range tt.recs {
				// Warm up with a small gzip record: the window and the gzip
				// reader are kept between records by design.
				tt.decode(gz(t, tt.warm), func(*event.Event) {})
				before := heapInuse()
				tt.decode(rec, func(*event.Event) {})
				after := heapInuse()
				if after > before+keepBuffer {
					t.Errorf("record %d (%d bytes): decoder kept %d KB", i, len(rec), (after-before)>>10)
				}
			}
		})
	}
}
