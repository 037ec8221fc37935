package sources

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
)

func TestFlowDefault(t *testing.T) {
	data := readTestdata(t, "vpcflow/v2.txt")
	d, err := NewFlowDecoder("", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	evs, res, err := decodeAll(d.Decode, data)
	if err != nil || res != (Result{}) || len(evs) != 8 {
		t.Fatalf("%d events, %+v, %v", len(evs), res, err)
	}
	checkEvents(t, event.SourceVPCFlow, evs)
	// v2 is the event of a default-format line of account 111122223333 on
	// interface eni; its time is the flow's start.
	v2 := func(eni string, f event.Flow) event.Event {
		f.Version, f.AccountID, f.InterfaceID = 2, "111122223333", eni
		return event.Event{
			Source: event.SourceVPCFlow, Time: time.Unix(f.Start, 0).UTC(), Account: "111122223333",
			Kind: event.KindNetwork, Entity: eni, Flow: &f,
		}
	}
	want := map[int]event.Event{
		0: v2("eni-0a1b2c3d4e5f67890", event.Flow{
			Src: netip.MustParseAddr("198.51.100.7"), Dst: netip.MustParseAddr("10.0.1.25"),
			SrcPort: 49152, DstPort: 22, Protocol: 6, Packets: 6, Bytes: 360,
			Start: 1741470000, End: 1741470059, Action: event.ActionAccept, LogStatus: event.StatusOK,
		}),
		2: v2("eni-0a1b2c3d4e5f67890", event.Flow{
			Src: netip.MustParseAddr("203.0.113.99"), Dst: netip.MustParseAddr("10.0.1.25"),
			SrcPort: 51514, DstPort: 3389, Protocol: 6, Packets: 1, Bytes: 40,
			Start: 1741470010, End: 1741470010, Action: event.ActionReject, LogStatus: event.StatusOK,
		}),
		4: v2("eni-0a1b2c3d4e5f67890", event.Flow{
			Src: netip.MustParseAddr("2001:db8:1234:1a00::25"), Dst: netip.MustParseAddr("2606:4700:4700::1111"),
			SrcPort: 44312, DstPort: 443, Protocol: 6, Packets: 14, Bytes: 5120,
			Start: 1741470000, End: 1741470059, Action: event.ActionAccept, LogStatus: event.StatusOK,
		}),
		6: v2("eni-0f00dfeedbeef0001", event.Flow{
			Start: 1741470000, End: 1741470060, Action: event.ActionNone, LogStatus: event.StatusNoData,
		}),
		7: v2("eni-0f00dfeedbeef0002", event.Flow{
			Start: 1741470000, End: 1741470060, Action: event.ActionNone, LogStatus: event.StatusSkipData,
		}),
	}
	for i, w := range want {
		if !reflect.DeepEqual(evs[i], w) {
			t.Errorf("line %d:\n got %+v %+v\nwant %+v %+v", i+1, evs[i], evs[i].Flow, w, w.Flow)
		}
	}
	if evs[5].Account != "unknown" {
		t.Errorf("AWS-owned ENI account %q", evs[5].Account)
	}

	// The zero value decodes the default format too, and gzip is accepted.
	var z FlowDecoder
	evs2, _, err := decodeAll(z.Decode, gz(t, data))
	if err != nil || !reflect.DeepEqual(evs, evs2) {
		t.Fatalf("zero-value decoder with gzip: %v", err)
	}
}

func TestFlowHeaderV5(t *testing.T) {
	data := readTestdata(t, "vpcflow/v5-header.txt")
	var d FlowDecoder
	evs, res, err := decodeAll(d.Decode, data)
	if err != nil || res != (Result{}) || len(evs) != 5 {
		t.Fatalf("%d events, %+v, %v", len(evs), res, err)
	}
	checkEvents(t, event.SourceVPCFlow, evs)
	want := event.Event{
		Source: event.SourceVPCFlow, Time: time.Unix(1741470000, 0).UTC(), Account: "111122223333", Region: "us-east-1",
		Kind: event.KindNetwork, Entity: "i-00779ebad43b2470d",
		Flow: &event.Flow{
			Version: 5, AccountID: "111122223333", InterfaceID: "eni-0a1b2c3d4e5f67890", InstanceID: "i-00779ebad43b2470d",
			VPCID: "vpc-0123456789abcdef0", SubnetID: "subnet-0123456789abcdef0",
			Src: netip.MustParseAddr("10.0.1.25"), Dst: netip.MustParseAddr("1.1.1.1"),
			SrcPort: 40612, DstPort: 853, Protocol: 6, Packets: 12, Bytes: 2480,
			Start: 1741470000, End: 1741470059, Action: event.ActionAccept, LogStatus: event.StatusOK,
			TCPFlags: 3, Direction: event.DirectionEgress, Region: "us-east-1",
			PktSrc: netip.MustParseAddr("10.0.1.25"), PktDst: netip.MustParseAddr("1.1.1.1"),
		},
	}
	if !reflect.DeepEqual(evs[0], want) {
		t.Errorf("\n got %+v %+v\nwant %+v %+v", evs[0], evs[0].Flow, want, want.Flow)
	}
	if f := evs[1].Flow; f.Direction != event.DirectionIngress || f.TCPFlags != 18 {
		t.Errorf("ingress line: %+v", f)
	}
	// NODATA without an instance: keyed by the ENI.
	if e := evs[4]; e.Entity != "eni-0d1e2f3a4b5c6d7e8" || e.Flow.LogStatus != event.StatusNoData || e.Flow.Src.IsValid() {
		t.Errorf("NODATA line: %+v %+v", e, e.Flow)
	}

	// The same lines with the format from a Kafka header instead of a
	// header line.
	header, lines, _ := bytes.Cut(data, []byte("\n"))
	evs2, res, err := decodeAll(withFormat(&d, string(header)), lines)
	if err != nil || res != (Result{}) || !reflect.DeepEqual(evs, evs2) {
		t.Fatalf("DecodeWithFormat: %+v, %v", res, err)
	}
	// Without either, the v2 decoder rejects the v5 lines.
	if _, _, err := decodeAll(d.Decode, lines); err == nil {
		t.Fatal("v5 lines decoded with the default format")
	}
}

func TestFlowCustomFormat(t *testing.T) {
	data := readTestdata(t, "vpcflow/custom-dollar.txt")
	header, lines, _ := bytes.Cut(data, []byte("\n"))
	d, err := NewFlowDecoder(string(header), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	evs, res, err := decodeAll(d.Decode, lines)
	if err != nil || res != (Result{}) || len(evs) != 2 {
		t.Fatalf("%d events, %+v, %v", len(evs), res, err)
	}
	checkEvents(t, event.SourceVPCFlow, evs)
	f := evs[0].Flow
	if f.Version != 3 || f.Bytes != 1234 || f.Packets != 6 || f.TCPFlags != 19 || f.PktDst != netip.MustParseAddr("203.0.113.5") ||
		evs[0].Entity != "i-0a1b2c3d4e5f60001" || f.VPCID != "vpc-0123456789abcdef0" {
		t.Errorf("custom line: %+v", f)
	}
	// The header line in the record works as well.
	var z FlowDecoder
	evs2, _, err := decodeAll(z.Decode, data)
	if err != nil || !reflect.DeepEqual(evs, evs2) {
		t.Fatalf("header line: %v", err)
	}
	// Formats without version take the highest version of their fields.
	d2, err := NewFlowDecoder("interface-id srcaddr dstaddr start region", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err = decodeAll(d2.Decode, []byte("eni-1 10.0.0.1 10.0.0.2 1741470000 eu-west-1"))
	if err != nil || evs[0].Flow.Version != 4 || evs[0].Region != "eu-west-1" {
		t.Fatalf("versionless: %+v, %v", evs, err)
	}
}

func TestFlowFormatCache(t *testing.T) {
	var d FlowDecoder
	format := "version interface-id srcaddr dstaddr"
	for range 3 {
		if _, _, err := decodeAll(withFormat(&d, format), []byte("3 eni-1 10.0.0.1 10.0.0.2")); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.formats) != 1 {
		t.Fatalf("%d cached formats", len(d.formats))
	}
	line := []byte("3 eni-1 10.0.0.1 10.0.0.2")
	emit := func(*event.Event) {}
	allocs := testing.AllocsPerRun(100, func() {
		d.DecodeWithFormat(line, format, emit)
	})
	if allocs > 0 {
		t.Errorf("%v allocs per cached decode", allocs)
	}
	for i := range 2 * maxCachedFormats {
		f := format + strings.Repeat(" ", i) // distinct strings, same fields
		if _, _, err := decodeAll(withFormat(&d, f), []byte("3 eni-1 10.0.0.1 10.0.0.2")); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.formats) > maxCachedFormats {
		t.Fatalf("cache grew to %d", len(d.formats))
	}
}

func TestNewFlowDecoderErrors(t *testing.T) {
	for format, want := range map[string]string{
		"version account-id foo":                   `vpcflow: unknown field`,
		"${version} ${nope}":                       `vpcflow: unknown field`,
		"   ":                                      "vpcflow: empty format",
		"version interface-id srcaddr srcaddr":     `vpcflow: duplicate field`,
		"version srcaddr dstaddr":                  "neither interface-id nor instance-id",
		strings.Repeat("version ", 100):            "at most",
		"version interface-id ${srcaddr ${dstaddr": `unknown field`,
	} {
		if _, err := NewFlowDecoder(format, Limits{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewFlowDecoder(%q) = %v, want %q", format, err, want)
		}
	}
	// Every AWS field name is known, with and without ${}.
	var all, dollars []string
	for f := range numFlowFields {
		name, v := flowFieldInfo(f)
		if name == "" || v < 2 || v > 8 || v == 6 {
			t.Fatalf("field %d: %q v%d", f, name, v)
		}
		all = append(all, name)
		dollars = append(dollars, "${"+name+"}")
	}
	for _, format := range []string{strings.Join(all, " "), strings.Join(dollars, " ")} {
		d, err := NewFlowDecoder(format, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if d.def.version != 8 || len(d.def.fields) != int(numFlowFields) {
			t.Fatalf("all fields: %+v", d.def)
		}
	}
}

func TestFlowBadInput(t *testing.T) {
	const good = "2 111122223333 eni-0a1b2c3d4e5f67890 198.51.100.7 10.0.1.25 49152 22 6 6 360 1741470000 1741470059 ACCEPT OK"
	repl := func(old, new string) []byte { return []byte(strings.Replace(good, old, new, 1)) }
	tests := []decodeErrorTest{
		{"too few fields", []byte(strings.TrimSuffix(good, " OK")), "vpcflow: 13 fields, format has 14", 1, 0},
		{"too many fields", []byte(good + " extra"), "vpcflow: 15 fields, format has 14", 1, 0},
		{"port too big", repl("49152", "70000"), `srcport: not a number in range`, 1, 0},
		{"port not a number", repl(" 22 ", " ssh "), `dstport: not a number in range`, 1, 0},
		{"negative packets", repl(" 6 360", " -6 360"), `packets: not a number in range`, 1, 0},
		{"bytes overflow", repl(" 360 ", " 99999999999999999999 "), "bytes: not a number in range", 1, 0},
		{"protocol too big", repl(" 6 6 ", " 256 6 "), "protocol: not a number in range", 1, 0},
		{"bad IPv4", repl("198.51.100.7", "198.51.100.256"), `srcaddr: not an IP address`, 1, 0},
		{"IPv4 leading zero", repl("10.0.1.25", "10.0.01.25"), `dstaddr: not an IP address`, 1, 0},
		{"bad IPv6", repl("198.51.100.7", "2001:db8::1::2"), `srcaddr: not an IP address`, 1, 0},
		{"hostname", repl("198.51.100.7", "example.com"), "srcaddr: not an IP address", 1, 0},
		{"bad action", repl("ACCEPT", "ALLOW"), `action: not a known value`, 1, 0},
		{"bad log status", repl(" OK", " FINE"), `log-status: not a known value`, 1, 0},
		{"bad version", repl("2 ", "x "), "version: not a number in range", 1, 0},
		{"unknown field in header", []byte("version account-id foo\n" + good + "\n" + good), `vpcflow: unknown field (field 3 of the format) (header, line 1)`, 2, 0},
		{"bad header after good lines", []byte(good + "\nversion bogus-field\n" + good), `unknown field (field 2 of the format) (header, line 2)`, 1, 1},
		{"one bad line of three", []byte(good + "\n" + good[:40] + "\n" + good), "vpcflow: 1 of 3 lines failed; line 2: 4 fields, format has 14", 1, 2},
		{"invalid UTF-8", repl("eni-", "eni-\xff"), "vpcflow: invalid UTF-8", 1, 0},
		{"no interface", []byte("2 111122223333 - 198.51.100.7 10.0.1.25 49152 22 6 6 360 1741470000 1741470059 ACCEPT OK"), "neither interface-id nor instance-id", 1, 0},
		{"bad gzip", []byte{0x1f, 0x8b, 0}, "vpcflow: gzip:", 1, 0},
	}
	var d FlowDecoder
	runDecodeErrorTests(t, event.SourceVPCFlow, d.Decode, tests)
	// A bad format from a record header fails the record.
	_, res, err := decodeAll(withFormat(&d, "version foo"), []byte(good))
	checkDecodeError(t, err, `vpcflow: format header: unknown field`)
	if res.Failed != 1 {
		t.Fatalf("%+v", res)
	}
}

func TestParseIPv4(t *testing.T) {
	for in, ok := range map[string]bool{
		"0.0.0.0": true, "255.255.255.255": true, "10.0.1.25": true,
		"256.0.0.1": false, "1.2.3": false, "1.2.3.4.5": false, "1..2.3": false, "01.2.3.4": false,
		"1.2.3.4.": false, ".1.2.3": false, "": false, "1.2.3.a": false, "1000.1.1.1": false,
	} {
		a, got := parseIPv4([]byte(in))
		if got != ok {
			t.Errorf("parseIPv4(%q) ok = %v", in, got)
			continue
		}
		if ok && a != netip.MustParseAddr(in) {
			t.Errorf("parseIPv4(%q) = %v", in, a)
		}
	}
}

func TestFlowAllocs(t *testing.T) {
	line := []byte("2 111122223333 eni-0a1b2c3d4e5f67890 198.51.100.7 10.0.1.25 49152 22 6 6 360 1741470000 1741470059 ACCEPT OK")
	var d FlowDecoder
	emit := func(*event.Event) {}
	d.Decode(line, emit)
	allocs := testing.AllocsPerRun(1000, func() {
		d.Decode(line, emit)
	})
	if allocs > 0 { // the Flow is the decoder's, reused
		t.Errorf("%v allocs per line, want 0", allocs)
	}
}
