package sources

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// Realistic records for the bound tests; each test replaces one field.
const (
	flowLine = "2 111122223333 eni-0a1b2c3d4e5f67890 198.51.100.7 10.0.1.25 49152 22 6 6 360 1741470000 1741470059 ACCEPT OK"
	flowV5   = "version account-id interface-id instance-id vpc-id subnet-id region srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n" +
		"5 111122223333 eni-0a1b2c3d4e5f67890 i-00779ebad43b2470d vpc-0123456789abcdef0 subnet-0123456789abcdef0 us-east-1 10.0.1.25 1.1.1.1 40612 853 6 12 2480 1741470000 1741470059 ACCEPT OK"
	dnsQuery = `{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-0123456789abcdef0","query_timestamp":"2026-03-08T21:41:07Z","query_name":"example.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"93.184.216.34","Type":"A","Class":"IN"}],"srcaddr":"10.0.1.25","srcport":"53422","transport":"UDP","srcids":{"instance":"i-00779ebad43b2470d","resolver_endpoint":"rslvr-in-0123456789abcdef0"}}`
)

// sourceDecoders returns a fresh decoder per source, as a decodeFunc.
func sourceDecoders() map[event.Source]decodeFunc {
	return map[event.Source]decodeFunc{
		event.SourceCloudTrail: NewCloudTrailDecoder(Limits{}).Decode,
		event.SourceVPCFlow:    (&FlowDecoder{}).Decode,
		event.SourceDNS:        NewDNSDecoder(Limits{}).Decode,
	}
}

func TestEmptyRecords(t *testing.T) {
	header, _, _ := strings.Cut(flowV5, "\n")
	tests := []struct {
		name   string
		src    event.Source
		rec    []byte
		reason string
	}{
		{"cloudtrail nil", event.SourceCloudTrail, nil, "cloudtrail: empty record"},
		{"cloudtrail blanks", event.SourceCloudTrail, []byte("  \r\n\t\n"), "cloudtrail: empty record"},
		{"cloudtrail gzip of nothing", event.SourceCloudTrail, gz(t, nil), "cloudtrail: empty record"},
		{"cloudtrail gzip of blanks", event.SourceCloudTrail, gz(t, []byte("\n\n")), "cloudtrail: empty record"},
		{"dns nil", event.SourceDNS, nil, "dns: empty record"},
		{"dns blanks", event.SourceDNS, []byte("\n \n"), "dns: empty record"},
		{"dns gzip of nothing", event.SourceDNS, gz(t, nil), "dns: empty record"},
		{"vpcflow nil", event.SourceVPCFlow, nil, "vpcflow: empty record"},
		{"vpcflow blanks", event.SourceVPCFlow, []byte("\n \n"), "vpcflow: empty record"},
		{"vpcflow gzip of nothing", event.SourceVPCFlow, gz(t, nil), "vpcflow: empty record"},
		{"vpcflow header only", event.SourceVPCFlow, []byte(header + "\n"), "vpcflow: no flow lines after the header"},
		{"vpcflow gzip header only", event.SourceVPCFlow, gz(t, []byte(header)), "vpcflow: no flow lines after the header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, res, err := decodeAll(sourceDecoders()[tt.src], tt.rec)
			checkDecodeError(t, err, tt.reason)
			if len(evs) != 0 || res.Failed != 1 {
				t.Fatalf("%d events, %+v", len(evs), res)
			}
		})
	}
	// Empty containers are well-formed records with no events.
	for _, tt := range []struct {
		src event.Source
		rec string
	}{{event.SourceCloudTrail, `{"Records":[]}`}, {event.SourceCloudTrail, `[]`}, {event.SourceDNS, `[]`}} {
		if evs, res, err := decodeAll(sourceDecoders()[tt.src], []byte(tt.rec)); err != nil || len(evs) != 0 || res != (Result{}) {
			t.Errorf("%v %s: %d events, %+v, %v", tt.src, tt.rec, len(evs), res, err)
		}
	}
}

// boundTest is a record with one field replaced, and what decoding it
// must give: an error naming the field and its bound, or (reason "") one
// event that check accepts.
type boundTest struct {
	name   string
	src    event.Source
	rec    []byte
	reason string
	check  func(t *testing.T, e *event.Event)
}

func runBoundTests(t *testing.T, tests []boundTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, res, err := decodeAll(sourceDecoders()[tt.src], tt.rec)
			if tt.reason != "" {
				checkDecodeError(t, err, tt.reason)
				if len(evs) != 0 || res.Failed != 1 {
					t.Fatalf("%d events, %+v", len(evs), res)
				}
				return
			}
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events, %v", len(evs), err)
			}
			checkEvents(t, tt.src, evs)
			if tt.check != nil {
				tt.check(t, &evs[0])
			}
		})
	}
}

func flowRec(old, new string) []byte { return []byte(strings.Replace(flowV5, old, new, 1)) }

func dnsRec(old, new string) []byte { return []byte(strings.Replace(dnsQuery, old, new, 1)) }

func ctIdentity(t *testing.T, field, value string) []byte {
	id := map[string]any{"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/alice",
		"accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": "alice"}
	id[field] = value
	return ctEvent(t, map[string]any{"userIdentity": id})
}

func TestFieldBounds(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	arn := "arn:aws:iam::111122223333:user/" + long(maxARN-31)
	runBoundTests(t, []boundTest{
		{"flow interface-id 700 KB", event.SourceVPCFlow, flowRec("eni-0a1b2c3d4e5f67890", "eni-"+long(700_000-3)), "vpcflow: interface-id: 700001 bytes, more than 128", nil},
		{"flow instance-id", event.SourceVPCFlow, flowRec("i-00779ebad43b2470d", "i-"+long(200)), "vpcflow: instance-id: 202 bytes, more than 128", nil},
		{"flow account-id", event.SourceVPCFlow, flowRec("111122223333", long(129)), "vpcflow: account-id: 129 bytes, more than 128", nil},
		{"flow vpc-id", event.SourceVPCFlow, flowRec("vpc-0123456789abcdef0", "vpc-"+long(125)), "vpcflow: vpc-id: 129 bytes, more than 128", nil},
		{"flow subnet-id", event.SourceVPCFlow, flowRec("subnet-0123456789abcdef0", "subnet-"+long(122)), "vpcflow: subnet-id: 129 bytes, more than 128", nil},
		{"flow region", event.SourceVPCFlow, flowRec(" us-east-1 ", " "+long(33)+" "), "vpcflow: region: 33 bytes, more than 32", nil},
		{"flow ids at their bound", event.SourceVPCFlow, flowRec("i-00779ebad43b2470d", "i-"+long(126)), "", func(t *testing.T, e *event.Event) {
			if len(e.Entity) != maxID {
				t.Errorf("entity %d bytes", len(e.Entity))
			}
		}},

		{"dns query_name 253 and a dot", event.SourceDNS, dnsRec("example.com.", strings.Repeat("abcdefghi.", 25)+"abc."), "", func(t *testing.T, e *event.Event) {
			if len(e.DNS.QueryName) != 253 {
				t.Errorf("query name %d bytes", len(e.DNS.QueryName))
			}
		}},
		{"dns query_name 256", event.SourceDNS, dnsRec("example.com.", strings.Repeat("abcdefghi.", 25)+"abcdef"), "dns: query_name: 256 bytes, more than 255", nil},
		{"dns escaped query_name counts octets", event.SourceDNS, dnsRec("example.com.", strings.Repeat(`\\200`, 60)+".t.example."), "", func(t *testing.T, e *event.Event) {
			if !strings.HasPrefix(e.DNS.QueryName, `\200\200`) {
				t.Errorf("query name %q", e.DNS.QueryName)
			}
		}},
		// iodine's raw octets, exported as the code points U+0080–U+00FF
		// (two bytes of UTF-8 each), as the tour's capture has them.
		{"dns raw octets count once", event.SourceDNS, dnsRec("example.com.", strings.Repeat("\u00c6", 200)+".t.example."), "", func(t *testing.T, e *event.Event) {
			if !strings.HasPrefix(e.DNS.QueryName, "\u00c6\u00c6") {
				t.Errorf("query name %q", e.DNS.QueryName)
			}
		}},
		{"dns raw octets too long", event.SourceDNS, dnsRec("example.com.", strings.Repeat("\u00c6", 256)), "dns: query_name: 256 bytes, more than 255", nil},
		{"dns escaped query_name too long", event.SourceDNS, dnsRec("example.com.", strings.Repeat(`\\200`, 200)+strings.Repeat("a", 56)), "dns: query_name: 256 bytes, more than 255", nil},
		{"dns query_name 10 KB", event.SourceDNS, dnsRec("example.com.", long(10000)), "dns: query_name: 10000 bytes, more than 1020", nil},
		{"dns account_id", event.SourceDNS, dnsRec("111122223333", long(129)), "dns: account_id: 129 bytes, more than 128", nil},
		{"dns region", event.SourceDNS, dnsRec(`"us-east-1"`, `"`+long(33)+`"`), "dns: region: 33 bytes, more than 32", nil},
		{"dns vpc_id", event.SourceDNS, dnsRec("vpc-0123456789abcdef0", long(129)), "dns: vpc_id: 129 bytes, more than 128", nil},
		{"dns instance", event.SourceDNS, dnsRec("i-00779ebad43b2470d", long(129)), "dns: srcids.instance: 129 bytes, more than 128", nil},
		{"dns resolver_endpoint", event.SourceDNS, dnsRec("rslvr-in-0123456789abcdef0", long(129)), "dns: srcids.resolver_endpoint: 129 bytes, more than 128", nil},
		{"dns query_type", event.SourceDNS, dnsRec(`"query_type":"A"`, `"query_type":"`+long(65)+`"`), "dns: query_type: 65 bytes, more than 64", nil},
		{"dns rcode", event.SourceDNS, dnsRec("NOERROR", long(65)), "dns: rcode: 65 bytes, more than 64", nil},
		{"dns transport", event.SourceDNS, dnsRec("UDP", long(65)), "dns: transport: 65 bytes, more than 64", nil},
		{"dns answer type", event.SourceDNS, dnsRec(`"Type":"A"`, `"Type":"`+long(65)+`"`), "dns: answers.Type: 65 bytes, more than 64", nil},
		{"dns timestamp", event.SourceDNS, dnsRec("21:41:07Z", "21:41:07."+strings.Repeat("0", 60)+"Z"), "dns: query_timestamp: 81 bytes, more than 64", nil},
		{"dns srcaddr", event.SourceDNS, dnsRec("10.0.1.25", long(65)), "dns: srcaddr: 65 bytes, more than 64", nil},

		{"cloudtrail eventName", event.SourceCloudTrail, ctEvent(t, map[string]any{"eventName": long(257)}), "cloudtrail: eventName: 257 bytes, more than 256", nil},
		{"cloudtrail eventSource", event.SourceCloudTrail, ctEvent(t, map[string]any{"eventSource": long(257)}), "cloudtrail: eventSource: 257 bytes, more than 256", nil},
		{"cloudtrail eventType", event.SourceCloudTrail, ctEvent(t, map[string]any{"eventType": long(257)}), "cloudtrail: eventType: 257 bytes, more than 256", nil},
		{"cloudtrail errorCode", event.SourceCloudTrail, ctEvent(t, map[string]any{"errorCode": long(257)}), "cloudtrail: errorCode: 257 bytes, more than 256", nil},
		{"cloudtrail awsRegion", event.SourceCloudTrail, ctEvent(t, map[string]any{"awsRegion": long(33)}), "cloudtrail: awsRegion: 33 bytes, more than 32", nil},
		{"cloudtrail eventID", event.SourceCloudTrail, ctEvent(t, map[string]any{"eventID": long(129)}), "cloudtrail: eventID: 129 bytes, more than 128", nil},
		{"cloudtrail recipientAccountId", event.SourceCloudTrail, ctEvent(t, map[string]any{"recipientAccountId": long(129)}), "cloudtrail: recipientAccountId: 129 bytes, more than 128", nil},
		{"cloudtrail eventTime", event.SourceCloudTrail, ctEvent(t, map[string]any{"eventTime": long(65)}), "cloudtrail: eventTime: 65 bytes, more than 64", nil},
		{"cloudtrail arn", event.SourceCloudTrail, ctIdentity(t, "arn", arn+"a"), "cloudtrail: userIdentity.arn: 2049 bytes, more than 2048", nil},
		{"cloudtrail arn at its bound", event.SourceCloudTrail, ctIdentity(t, "arn", arn), "", func(t *testing.T, e *event.Event) {
			if e.Entity != arn {
				t.Errorf("entity %.40q", e.Entity)
			}
		}},
		{"cloudtrail principalId", event.SourceCloudTrail, ctIdentity(t, "principalId", long(2049)), "cloudtrail: userIdentity.principalId: 2049 bytes, more than 2048", nil},
		{"cloudtrail userName", event.SourceCloudTrail, ctIdentity(t, "userName", long(2049)), "cloudtrail: userIdentity.userName: 2049 bytes, more than 2048", nil},
		{"cloudtrail accountId", event.SourceCloudTrail, ctIdentity(t, "accountId", long(129)), "cloudtrail: userIdentity.accountId: 129 bytes, more than 128", nil},
		{"cloudtrail accessKeyId", event.SourceCloudTrail, ctIdentity(t, "accessKeyId", long(129)), "cloudtrail: userIdentity.accessKeyId: 129 bytes, more than 128", nil},
		{"cloudtrail sessionIssuer.arn", event.SourceCloudTrail, ctEvent(t, map[string]any{"userIdentity": map[string]any{"type": "AssumedRole",
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"arn": long(2049)}}}}), "cloudtrail: sessionIssuer.arn: 2049 bytes, more than 2048", nil},
		{"cloudtrail other field, general bound", event.SourceCloudTrail, ctEvent(t, map[string]any{"sourceIPAddress": long(257)}), "cloudtrail: sourceIPAddress: 257 bytes, more than 256", nil},
		// Free text is cut, not failed: a caller must not hide its calls
		// behind a long user agent.
		{"cloudtrail 100 KB user agent is cut", event.SourceCloudTrail, ctEvent(t, map[string]any{"userAgent": strings.Repeat("é", 50<<10)}), "", func(t *testing.T, e *event.Event) {
			if ua := e.CloudTrail.UserAgent; ua != strings.Repeat("é", maxFreeText/2) {
				t.Errorf("user agent %d bytes", len(ua))
			}
		}},
		{"cloudtrail errorMessage is cut", event.SourceCloudTrail, ctEvent(t, map[string]any{"errorMessage": long(5000)}), "", func(t *testing.T, e *event.Event) {
			if len(e.CloudTrail.ErrorMessage) != maxFreeText {
				t.Errorf("error message %d bytes", len(e.CloudTrail.ErrorMessage))
			}
		}},
	})
}

func TestControlCharactersInIDs(t *testing.T) {
	runBoundTests(t, []boundTest{
		{"cloudtrail NUL in arn", event.SourceCloudTrail, ctIdentity(t, "arn", "arn:aws:iam::111122223333:user/alice\x00admin"),
			"cloudtrail: userIdentity.arn: control character 0x00 at byte 36", nil},
		{"cloudtrail escaped NUL in arn", event.SourceCloudTrail, bytes.Replace(ctIdentity(t, "arn", "arn:aws:iam::111122223333:user/alice"), []byte("user/alice"), []byte(`user/al\u0000ice`), 1),
			"cloudtrail: userIdentity.arn: control character 0x00", nil},
		{"cloudtrail newline in userName", event.SourceCloudTrail, ctIdentity(t, "userName", "alice\nbob"), "userIdentity.userName: control character 0x0a at byte 5", nil},
		{"cloudtrail DEL in principalId", event.SourceCloudTrail, ctIdentity(t, "principalId", "AIDA\x7f"), "userIdentity.principalId: control character 0x7f at byte 4", nil},
		{"cloudtrail tab in accountId", event.SourceCloudTrail, ctIdentity(t, "accountId", "1111\t22223333"), "userIdentity.accountId: control character 0x09", nil},
		{"cloudtrail control in recipientAccountId", event.SourceCloudTrail, ctEvent(t, map[string]any{"recipientAccountId": "111122223333\x1b[2J"}), "recipientAccountId: control character 0x1b", nil},
		{"cloudtrail control in awsRegion", event.SourceCloudTrail, ctEvent(t, map[string]any{"awsRegion": "us-east-1\r"}), "awsRegion: control character 0x0d", nil},
		{"cloudtrail control in sessionIssuer.arn", event.SourceCloudTrail, ctEvent(t, map[string]any{"userIdentity": map[string]any{"type": "AssumedRole",
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"arn": "arn:aws:iam::1:role/a\x01"}}}}), "sessionIssuer.arn: control character 0x01", nil},
		{"cloudtrail control in invokedBy", event.SourceCloudTrail, ctIdentity(t, "invokedBy", "lambda\x00.amazonaws.com"), "userIdentity.invokedBy: control character 0x00", nil},
		{"cloudtrail unicode in userName is fine", event.SourceCloudTrail, ctIdentity(t, "userName", "zoë"), "", nil},
		{"cloudtrail lone surrogate in arn", event.SourceCloudTrail, bytes.Replace(ctIdentity(t, "arn", "arn:aws:iam::111122223333:user/alice"), []byte("alice"), []byte(`al\ud800ice`), 1), "", func(t *testing.T, e *event.Event) {
			// The parser keeps it as text: valid UTF-8.
			if e.Entity != `arn:aws:iam::111122223333:user/al\ud800ice` {
				t.Errorf("entity %q", e.Entity)
			}
		}},

		{"flow NUL in interface-id", event.SourceVPCFlow, flowRec("eni-0a1b2c3d4e5f67890", "eni-0a1b\x00c3d4e5f67890"), "vpcflow: interface-id: control character 0x00 at byte 8", nil},
		{"flow control in instance-id", event.SourceVPCFlow, flowRec("i-00779ebad43b2470d", "i-0077\x029ebad43b2470d"), "vpcflow: instance-id: control character 0x02", nil},
		{"flow control in account-id", event.SourceVPCFlow, flowRec("111122223333", "1111\x7f22223333"), "vpcflow: account-id: control character 0x7f", nil},
		{"flow control in region", event.SourceVPCFlow, flowRec(" us-east-1 ", " us-east-1\x01 "), "vpcflow: region: control character 0x01", nil},

		{"dns escaped NUL in instance", event.SourceDNS, dnsRec("i-00779ebad43b2470d", `i-0077\u00009ebad43b2470d`), "dns: srcids.instance: control character 0x00 at byte 6", nil},
		{"dns control in account_id", event.SourceDNS, dnsRec("111122223333", `1111\u001f22223333`), "dns: account_id: control character 0x1f", nil},
		{"dns control in region", event.SourceDNS, dnsRec(`"us-east-1"`, `"us-east-1\n"`), "dns: region: control character 0x0a", nil},
	})
	// The composed routing fields are checked too.
	for _, ev := range []event.Event{
		{Account: "1\x00", Region: "us-east-1", Entity: "e"},
		{Account: "1", Region: "us-east-1", Entity: "service:\x7f"},
		{Account: "1", Region: "us-\xffeast-1", Entity: "e"},
		{Account: "1", Region: "us-east-1", Entity: ""},
		{Account: "1", Region: "us-east-1", Entity: strings.Repeat("e", maxEntity+1)},
	} {
		if err := checkRouting(&ev); err == nil {
			t.Errorf("checkRouting(%q/%q/%.20q) passed", ev.Account, ev.Region, ev.Entity)
		}
	}
}

func TestEventTimeBounds(t *testing.T) {
	if got := time.Unix(minEventUnix, 0).UTC(); got != time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("minEventUnix is %v", got)
	}
	if got := time.Unix(maxEventUnix, 0).UTC(); got != time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("maxEventUnix is %v", got)
	}
	ct := func(ts string) []byte { return ctEvent(t, map[string]any{"eventTime": ts}) }
	dns := func(ts string) []byte { return dnsRec("2026-03-08T21:41:07Z", ts) }
	flow := func(start, end string) []byte {
		return []byte(strings.Replace(flowLine, "1741470000 1741470059", start+" "+end, 1))
	}
	at := func(want time.Time) func(t *testing.T, e *event.Event) {
		return func(t *testing.T, e *event.Event) {
			if e.Time != want {
				t.Errorf("time %v, want %v", e.Time, want)
			}
		}
	}
	runBoundTests(t, []boundTest{
		{"cloudtrail 2000-01-01", event.SourceCloudTrail, ct("2000-01-01T00:00:00Z"), "", at(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))},
		{"cloudtrail 2099", event.SourceCloudTrail, ct("2099-12-31T23:59:59.999Z"), "", at(time.Date(2099, 12, 31, 23, 59, 59, 999e6, time.UTC))},
		{"cloudtrail 1999", event.SourceCloudTrail, ct("1999-12-31T23:59:59Z"), "cloudtrail: eventTime: 1999-12-31T23:59:59Z outside [2000-01-01, 2100-01-01)", nil},
		{"cloudtrail offset into 1999", event.SourceCloudTrail, ct("2000-01-01T00:30:00+01:00"), "cloudtrail: eventTime: 1999-12-31T23:30:00Z outside", nil},
		{"cloudtrail year 0000", event.SourceCloudTrail, ct("0000-01-01T00:00:00Z"), "cloudtrail: eventTime: 0000-01-01T00:00:00Z outside", nil},
		{"cloudtrail 2100", event.SourceCloudTrail, ct("2100-01-01T00:00:00Z"), "cloudtrail: eventTime: 2100-01-01T00:00:00Z outside", nil},
		{"cloudtrail 2262", event.SourceCloudTrail, ct("2262-04-12T00:00:00Z"), "cloudtrail: eventTime: 2262-04-12T00:00:00Z outside", nil},
		{"cloudtrail 9999", event.SourceCloudTrail, ct("9999-12-31T23:59:59Z"), "cloudtrail: eventTime: 9999-12-31T23:59:59Z outside", nil},
		{"dns 2010", event.SourceDNS, dns("2010-08-21 02:10:40"), "", at(time.Date(2010, 8, 21, 2, 10, 40, 0, time.UTC))},
		{"dns 1970", event.SourceDNS, dns("1970-01-01T00:00:00Z"), "dns: query_timestamp: 1970-01-01T00:00:00Z outside [2000-01-01, 2100-01-01)", nil},
		{"dns 3000", event.SourceDNS, dns("3000-01-01T00:00:00Z"), "dns: query_timestamp: 3000-01-01T00:00:00Z outside", nil},
		{"flow start 0", event.SourceVPCFlow, flow("0", "59"), "vpcflow: start: 1970-01-01T00:00:00Z outside [2000-01-01, 2100-01-01)", nil},
		{"flow start 2262", event.SourceVPCFlow, flow("9223372036", "9223372036"), "vpcflow: start: 2262-04-11T23:47:16Z outside", nil},
		{"flow end past 2100", event.SourceVPCFlow, flow("1741470000", "4102444800"), "vpcflow: end: 2100-01-01T00:00:00Z outside", nil},
		{"flow end before start", event.SourceVPCFlow, flow("1741470059", "1741470000"), "vpcflow: end: 1741470000 before start 1741470059", nil},
		{"flow start equals end", event.SourceVPCFlow, flow("1741470000", "1741470000"), "", at(time.Unix(1741470000, 0).UTC())},
		{"flow start without end", event.SourceVPCFlow, flow("1741470000", "-"), "", at(time.Unix(1741470000, 0).UTC())},
	})
}

// TestJSONLinesManyBadLines decodes JSON lines where every line is bad in
// a way that, scanned as a value, runs on over hundreds of following
// lines. Once the first bad line shows the record is JSON lines, each line
// must be read once: the record must cost about what as many good lines
// do, not hundreds of times more.
func TestJSONLinesManyBadLines(t *testing.T) {
	const lines = 10000
	var bad, good bytes.Buffer
	bad.WriteString(dnsQuery + "\n")
	for range lines {
		bad.WriteString(`{"` + strings.Repeat("x", len(dnsQuery)-2) + "\n")
		good.WriteString(dnsQuery + "\n")
	}
	bad.WriteString(dnsQuery + "\n")
	badRec, goodRec := gz(t, bad.Bytes()), gz(t, good.Bytes())
	d := NewDNSDecoder(Limits{})
	start := time.Now()
	evs, res, err := decodeAll(d.Decode, badRec)
	badTime := time.Since(start)
	checkDecodeError(t, err, "dns: 10000 of 10002 lines failed; line 2: json: invalid JSON")
	if len(evs) != 2 || res.Failed != lines {
		t.Fatalf("%d events, %+v", len(evs), res)
	}
	start = time.Now()
	if _, err := d.Decode(goodRec, func(*event.Event) {}); err != nil {
		t.Fatal(err)
	}
	goodTime := time.Since(start)
	t.Logf("%d bad lines in %v, as many good ones in %v", lines, badTime, goodTime)
	if badTime > 5*goodTime+100*time.Millisecond {
		t.Errorf("%d bad lines took %v, %d good ones %v", lines, badTime, lines, goodTime)
	}
}

// TestEmitEncode decodes the way ingest does, encoding each event inside
// emit, and checks the encoded events equal copies taken of them.
func TestEmitEncode(t *testing.T) {
	recs := map[event.Source][]byte{
		event.SourceCloudTrail: readTestdata(t, "cloudtrail/stratus.aws.credential-access.ec2-steal-instance-credentials.json"),
		event.SourceVPCFlow:    gz(t, readTestdata(t, "vpcflow/v5-header.txt")),
		event.SourceDNS:        gz(t, readTestdata(t, "dns/panther.jsonl")),
	}
	for src, rec := range recs {
		var encoded [][]byte
		want, _, err := decodeAll(sourceDecoders()[src], rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sourceDecoders()[src](rec, func(e *event.Event) {
			b, err := e.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			encoded = append(encoded, b)
		}); err != nil {
			t.Fatal(err)
		}
		if len(encoded) != len(want) || len(want) == 0 {
			t.Fatalf("%v: %d encoded, %d events", src, len(encoded), len(want))
		}
		for i, b := range encoded {
			var got event.Event
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			checkEvents(t, src, []event.Event{got})
			if got.Entity != want[i].Entity || !got.Time.Equal(want[i].Time) {
				t.Fatalf("%v event %d: %q at %v, want %q at %v", src, i, got.Entity, got.Time, want[i].Entity, want[i].Time)
			}
		}
	}
}
