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

func TestDNSTunnelCaptures(t *testing.T) {
	var d DNSDecoder
	for _, f := range []string{"dns/iodine.route53.jsonl", "dns/dns2tcp.route53.jsonl"} {
		data := readTestdata(t, f)
		evs, res, err := decodeAll(d.Decode, data)
		if err != nil || res != (Result{}) || len(evs) != bytes.Count(data, []byte("\n")) {
			t.Fatalf("%s: %d events, %+v, %v", f, len(evs), res, err)
		}
		checkEvents(t, event.SourceDNS, evs)
	}
	first, _, _ := bytes.Cut(readTestdata(t, "dns/iodine.route53.jsonl"), []byte("\n"))
	evs, _, err := decodeAll(d.Decode, first)
	if err != nil {
		t.Fatal(err)
	}
	want := event.Event{
		Source: event.SourceDNS, Time: time.Date(2010, 8, 21, 2, 10, 40, 0, time.UTC),
		Account: "123456789012", Region: "us-east-1", Kind: event.KindNetwork, Entity: "i-00000000000000000",
		DNS: &event.DNS{
			AccountID: "123456789012", Region: "us-east-1", VPCID: "vpc-00000000",
			QueryName: "vaaaakardli.pirate.sea", QueryType: "NULL", QueryClass: "IN", RCode: "NOERROR",
			SrcAddr: netip.MustParseAddr("10.0.2.30"), SrcPort: 44639, Transport: "UDP", InstanceID: "i-00000000000000000",
		},
	}
	if !reflect.DeepEqual(evs[0], want) {
		t.Fatalf("\n got %+v %+v\nwant %+v %+v", evs[0], evs[0].DNS, want, want.DNS)
	}
}

// TestDNSPanther covers the variants in Panther's test logs: answers as one
// object, timestamps without T or zone, names without the trailing dot.
func TestDNSPanther(t *testing.T) {
	data := readTestdata(t, "dns/panther.jsonl")
	var d DNSDecoder
	evs, res, err := decodeAll(d.Decode, data)
	if err != nil || res != (Result{}) || len(evs) != 13 {
		t.Fatalf("%d events, %+v, %v", len(evs), res, err)
	}
	checkEvents(t, event.SourceDNS, evs)
	e := evs[1]
	if e.DNS.QueryName != "dynamodb.us-west-2.amazonaws.com" || e.Time != time.Date(2022, 6, 25, 0, 27, 53, 0, time.UTC) ||
		!reflect.DeepEqual(e.DNS.Answers, []event.Answer{{Rdata: "1.2.3.4", Type: "A"}}) || e.DNS.SrcPort != 8888 || e.Entity != "i-0abc234" {
		t.Errorf("panther record: %+v %+v", e, e.DNS)
	}
	if evs[0].DNS.QueryName != evs[1].DNS.QueryName {
		t.Errorf("trailing dot not stripped: %q", evs[0].DNS.QueryName)
	}
	// Records without srcids are keyed by source address.
	if e := evs[len(evs)-1]; e.Entity != "ip:10.0.0.1" || e.DNS.SrcPort != 0 || e.DNS.Answers != nil {
		t.Errorf("no srcids: %+v %+v", e, e.DNS)
	}
}

func TestDNSVariants(t *testing.T) {
	const base = `"account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-1","query_timestamp":"2026-03-08T21:41:07Z","query_type":"A","query_class":"IN","rcode":"NOERROR","srcaddr":"10.0.1.25","transport":"UDP"`
	rec := func(extra string) []byte { return []byte("{" + base + "," + extra + "}") }
	tests := []struct {
		name  string
		rec   []byte
		check func(t *testing.T, e event.Event)
	}{
		{"upper case, trailing dot", rec(`"query_name":"WWW.Example.COM.","srcport":"53422","srcids":{"instance":"i-1"}`), func(t *testing.T, e event.Event) {
			if e.DNS.QueryName != "www.example.com" || e.DNS.SrcPort != 53422 {
				t.Errorf("%+v", e.DNS)
			}
		}},
		{"root query", rec(`"query_name":"."`), func(t *testing.T, e event.Event) {
			if e.DNS.QueryName != "." {
				t.Errorf("%q", e.DNS.QueryName)
			}
		}},
		{"srcport number", rec(`"query_name":"a.b","srcport":8888`), func(t *testing.T, e event.Event) {
			if e.DNS.SrcPort != 8888 {
				t.Errorf("%d", e.DNS.SrcPort)
			}
		}},
		{"answers array", rec(`"query_name":"a.b","answers":[{"Rdata":"1.2.3.4","Type":"A","Class":"IN"},{"Rdata":"c.d.","Type":"CNAME","Class":"IN"}]`), func(t *testing.T, e event.Event) {
			want := []event.Answer{{Rdata: "1.2.3.4", Type: "A"}, {Rdata: "c.d.", Type: "CNAME"}}
			if !reflect.DeepEqual(e.DNS.Answers, want) {
				t.Errorf("%+v", e.DNS.Answers)
			}
		}},
		{"many answers, long TXT", rec(`"query_name":"a.b","answers":[` + strings.Repeat(`{"Rdata":"`+strings.Repeat("t", 5000)+`","Type":"TXT"},`, 40) + `{}]`), func(t *testing.T, e event.Event) {
			if len(e.DNS.Answers) != maxAnswers || len(e.DNS.Answers[0].Rdata) != maxAnswerData {
				t.Errorf("%d answers, rdata %d bytes", len(e.DNS.Answers), len(e.DNS.Answers[0].Rdata))
			}
		}},
		{"resolver endpoint", rec(`"query_name":"a.b","srcaddr":"10.9.9.9","srcids":{"resolver_endpoint":"rslvr-in-abc"}`), func(t *testing.T, e event.Event) {
			if e.Entity != "ip:10.9.9.9" || e.DNS.ResolverEndpoint != "rslvr-in-abc" || e.DNS.InstanceID != "" {
				t.Errorf("%q %+v", e.Entity, e.DNS)
			}
		}},
		{"IPv6 source", rec(`"query_name":"a.b","srcaddr":"2001:db8::7"`), func(t *testing.T, e event.Event) {
			if e.Entity != "ip:2001:db8::7" {
				t.Errorf("%q", e.Entity)
			}
		}},
		{"firewall", rec(`"query_name":"a.b","firewall_rule_action":"BLOCK","firewall_rule_group_id":"rslvr-frg-1"`), func(t *testing.T, e event.Event) {
			if e.DNS.FirewallAction != "BLOCK" {
				t.Errorf("%+v", e.DNS)
			}
		}},
		{"fractional timestamp", []byte(strings.Replace(string(rec(`"query_name":"a.b"`)), "07Z", "07.250Z", 1)), func(t *testing.T, e event.Event) {
			if e.Time != time.Date(2026, 3, 8, 21, 41, 7, 25e7, time.UTC) {
				t.Errorf("%v", e.Time)
			}
		}},
	}
	var d DNSDecoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, res, err := decodeAll(d.Decode, tt.rec)
			if err != nil || len(evs) != 1 || res != (Result{}) {
				t.Fatalf("%d events, %+v, %v", len(evs), res, err)
			}
			checkEvents(t, event.SourceDNS, evs)
			tt.check(t, evs[0])
		})
	}

	// Shapes: lines, array, gzip.
	one := rec(`"query_name":"a.b"`)
	for name, r := range map[string][]byte{
		"lines":      []byte(string(one) + "\n\n" + string(one) + "\r\n" + string(one)),
		"array":      []byte("[" + string(one) + "," + string(one) + "," + string(one) + "]"),
		"lines gzip": gz(t, []byte(string(one)+"\n"+string(one)+"\n"+string(one)+"\n")),
	} {
		evs, res, err := decodeAll(d.Decode, r)
		if err != nil || len(evs) != 3 || res != (Result{}) {
			t.Errorf("%s: %d events, %+v, %v", name, len(evs), res, err)
		}
	}
}

func TestDNSBadInput(t *testing.T) {
	const good = `{"account_id":"111122223333","region":"us-east-1","query_timestamp":"2026-03-08T21:41:07Z","query_name":"a.b.","srcaddr":"10.0.1.25","srcport":"53"}`
	repl := func(old, new string) []byte { return []byte(strings.Replace(good, old, new, 1)) }
	tests := []decodeErrorTest{
		{"empty", nil, "dns: empty record", 1, 0},
		{"whitespace", []byte("\n\n  "), "dns: empty record", 1, 0},
		{"truncated", []byte(good[:50]), "dns: invalid JSON", 1, 0},
		{"missing query_name", repl(`"query_name":"a.b.",`, ""), "dns: query_name: missing", 1, 0},
		{"empty query_name", repl(`"a.b."`, `""`), "dns: query_name: missing", 1, 0},
		{"query_name number", repl(`"a.b."`, `7`), "dns: query_name: not a string", 1, 0},
		{"missing timestamp", repl(`"query_timestamp":"2026-03-08T21:41:07Z",`, ""), "dns: query_timestamp: missing", 1, 0},
		{"bad timestamp", repl("2026-03-08T21:41:07Z", "2026-13-08T21:41:07Z"), "dns: query_timestamp: not a time", 1, 0},
		{"bad srcaddr", repl("10.0.1.25", "10.0.1"), `dns: srcaddr: not an IP address`, 1, 0},
		{"no source", repl(`"srcaddr":"10.0.1.25",`, ""), "srcaddr: missing, and no srcids.instance", 1, 0},
		{"bad srcport", repl(`"53"`, `"http"`), `dns: srcport: not a port number`, 1, 0},
		{"srcport too big", repl(`"53"`, `70000`), `srcport: not a port number`, 1, 0},
		{"srcport bool", repl(`"53"`, `true`), "srcport: not a string or number", 1, 0},
		{"answers string", repl(`"srcport"`, `"answers":"x","srcport"`), "answers: not an array", 1, 0},
		{"answer not object", repl(`"srcport"`, `"answers":[1],"srcport"`), "answers: element not an object", 1, 0},
		{"rdata number", repl(`"srcport"`, `"answers":[{"Rdata":1}],"srcport"`), "answers.Rdata: not a string", 1, 0},
		{"invalid UTF-8", repl("a.b.", "a.\xff."), "dns: query: invalid UTF-8", 1, 0},
		{"huge name", repl("a.b.", strings.Repeat("x", 10000)), "dns: query_name: 10000 bytes, more than 1020", 1, 0},
		{"not an object", []byte(`[1, ` + good + `]`), "1 of 2 elements failed; element 1: query: not a JSON object", 1, 1},
		{"bad line of three", []byte(good + "\n" + good[:20] + "\n" + good), "dns: 1 of 3 lines failed; line 2: json:", 1, 2},
		{"invalid UTF-8 line", []byte(good + "\n" + strings.Replace(good, "a.b.", "\xc3", 1)), "line 2: query: invalid UTF-8", 1, 1},
		{"invalid UTF-8 array element", []byte("[" + good + "," + strings.Replace(good, "a.b.", "\xc3", 1) + "]"), "element 2: query: invalid UTF-8", 1, 1},
		{"bad gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, "dns: gzip:", 1, 0},
	}
	var d DNSDecoder
	runDecodeErrorTests(t, event.SourceDNS, d.Decode, tests)
}

func TestQueryName(t *testing.T) {
	for in, want := range map[string]string{
		"a.b.": "a.b", "A.B": "a.b", ".": ".", "x": "x", "Ünï.COM.": "Ünï.com", "a..": "a.",
	} {
		if got := queryName([]byte(in)); got != want {
			t.Errorf("queryName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-03-08T21:44:02Z":            time.Date(2026, 3, 8, 21, 44, 2, 0, time.UTC),
		"2026-03-08t21:44:02z":            time.Date(2026, 3, 8, 21, 44, 2, 0, time.UTC),
		"2026-03-08T21:44:02.123456789Z":  time.Date(2026, 3, 8, 21, 44, 2, 123456789, time.UTC),
		"2026-03-08T21:44:02.1234567891Z": time.Date(2026, 3, 8, 21, 44, 2, 123456789, time.UTC),
		"2026-03-08T23:44:02+02:00":       time.Date(2026, 3, 8, 21, 44, 2, 0, time.UTC),
		"2026-03-08T19:14:02-02:30":       time.Date(2026, 3, 8, 21, 44, 2, 0, time.UTC),
		"2022-06-25 00:27:53":             time.Date(2022, 6, 25, 0, 27, 53, 0, time.UTC),
		"2025-01-21 17:49:47.000000000":   time.Date(2025, 1, 21, 17, 49, 47, 0, time.UTC),
		"2024-02-29T00:00:00Z":            time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
	} {
		got, ok := parseTime([]byte(in))
		if !ok || got != want {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{
		"", "2026-03-08", "2026-03-08X21:44:02Z", "2026-02-29T00:00:00Z", "2026-00-01T00:00:00Z",
		"2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00.Z",
		"2026-01-01T00:00:00+0200", "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00ZZ", "20x6-01-01T00:00:00Z",
		"1700-02-29T00:00:00Z",
	} {
		if got, ok := parseTime([]byte(in)); ok {
			t.Errorf("parseTime(%q) = %v, want failure", in, got)
		}
	}
}
