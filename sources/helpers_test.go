package sources

import (
	"bytes"
	"compress/gzip"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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
		checkBounds(t, e)
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
// counts and the events that did decode. Each record is decoded as is and
// gzip-compressed, which streams it: both must agree on the counts.
func runDecodeErrorTests(t *testing.T, src event.Source, decode decodeFunc, tests []decodeErrorTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, res, err := decodeAll(decode, tt.rec)
			checkDecodeError(t, err, tt.reason)
			if res.Failed != tt.failed || len(evs) != tt.events {
				t.Fatalf("got %d events, %+v; want %d events, %d failed", len(evs), res, tt.events, tt.failed)
			}
			checkEvents(t, src, evs)
			if isGzip(tt.rec) {
				return
			}
			zevs, zres, zerr := decodeAll(decode, gz(t, tt.rec))
			if zerr == nil || zres != res || len(zevs) != len(evs) {
				t.Fatalf("gzip: got %d events, %+v, %v; want %d events, %+v", len(zevs), zres, zerr, len(evs), res)
			}
		})
	}
}

// decodeFunc is the signature of Decode.
type decodeFunc func([]byte, func(*event.Event)) (Result, error)

// decodeAll decodes rec and returns copies of the events emitted: the
// decoder reuses the event it hands to emit.
func decodeAll(decode decodeFunc, rec []byte) ([]event.Event, Result, error) {
	var evs []event.Event
	res, err := decode(rec, func(e *event.Event) { evs = append(evs, cloneEvent(e)) })
	return evs, res, err
}

// withFormat is FlowDecoder.DecodeWithFormat as a decodeFunc.
func withFormat(d *FlowDecoder, format string) decodeFunc {
	return func(rec []byte, emit func(*event.Event)) (Result, error) {
		return d.DecodeWithFormat(rec, format, emit)
	}
}

// cloneEvent returns a copy of e that shares nothing mutable with it.
func cloneEvent(e *event.Event) event.Event {
	c := *e
	if e.CloudTrail != nil {
		ct := *e.CloudTrail
		ct.RequestParameters = maps.Clone(ct.RequestParameters)
		c.CloudTrail = &ct
	}
	if e.Flow != nil {
		fl := *e.Flow
		c.Flow = &fl
	}
	if e.DNS != nil {
		q := *e.DNS
		q.Answers = slices.Clone(q.Answers)
		c.DNS = &q
	}
	return c
}

// checkBounds asserts every field of e is within its bound, the routing
// fields hold no control characters and the time is in range.
func checkBounds(t testing.TB, e *event.Event) {
	t.Helper()
	type field struct {
		name string
		v    string
		max  int
	}
	fields := []field{{"Account", e.Account, maxID}, {"Region", e.Region, maxRegion}, {"Entity", e.Entity, maxEntity}}
	for _, f := range fields {
		if err := checkIDString(f.v, f.max, f.name); err != nil {
			t.Fatalf("routing field: %v (%q)", err, f.v)
		}
	}
	inRange := e.Time.Unix() >= minEventUnix && e.Time.Unix() < maxEventUnix
	switch {
	case e.CloudTrail != nil:
		ct := e.CloudTrail
		id := &ct.Identity
		fields = append(fields, []field{
			{"EventID", ct.EventID, maxID}, {"EventName", ct.EventName, maxName}, {"EventSource", ct.EventSource, maxName},
			{"EventType", ct.EventType, maxName}, {"AWSRegion", ct.AWSRegion, maxRegion}, {"SourceIP", ct.SourceIP, maxName},
			{"UserAgent", ct.UserAgent, maxFreeText}, {"ErrorCode", ct.ErrorCode, maxName}, {"ErrorMessage", ct.ErrorMessage, maxFreeText},
			{"RecipientAccount", ct.RecipientAccount, maxID}, {"VPCEndpointID", ct.VPCEndpointID, maxID},
			{"ConsoleLogin", ct.ConsoleLogin, maxName}, {"MFAUsed", ct.MFAUsed, maxName},
			{"Identity.Type", id.Type, maxName}, {"PrincipalID", id.PrincipalID, maxARN}, {"ARN", id.ARN, maxARN},
			{"AccountID", id.AccountID, maxID}, {"AccessKeyID", id.AccessKeyID, maxID}, {"UserName", id.UserName, maxARN},
			{"InvokedBy", id.InvokedBy, maxName}, {"SessionIssuerType", id.SessionIssuerType, maxName},
			{"SessionIssuerARN", id.SessionIssuerARN, maxARN}, {"SessionIssuerUserName", id.SessionIssuerUserName, maxARN},
			{"EC2RoleDelivery", id.EC2RoleDelivery, maxName},
		}...)
		extra := 0 // the detectors' values, each bounded on its own
		for k, v := range ct.RequestParameters {
			limit := maxParamValue
			switch {
			case strings.HasPrefix(k, "@"):
				extra++
				limit = max(maxPolicyDoc, maxACLDoc)
			case isDocParam([]byte(k)):
				limit = maxDocParam
			}
			if len(k) > maxParamKeyLen || len(v) > limit {
				t.Fatalf("request parameter %q: %d bytes", k, len(v))
			}
		}
		if len(ct.RequestParameters)-extra > maxParams {
			t.Fatalf("%d request parameters", len(ct.RequestParameters))
		}
		for _, s := range []string{ct.AWSRegion, ct.RecipientAccount, id.AccountID, id.ARN, id.SessionIssuerARN, id.UserName, id.PrincipalID} {
			if err := checkIDString(s, maxARN, "id"); err != nil {
				t.Fatalf("CloudTrail id %q: %v", s, err)
			}
		}
		if !inRange {
			t.Fatalf("eventTime %v out of range", e.Time)
		}
	case e.Flow != nil:
		fl := e.Flow
		fields = append(fields, []field{
			{"AccountID", fl.AccountID, maxID}, {"InterfaceID", fl.InterfaceID, maxID}, {"InstanceID", fl.InstanceID, maxID},
			{"VPCID", fl.VPCID, maxID}, {"SubnetID", fl.SubnetID, maxID}, {"Flow.Region", fl.Region, maxRegion},
		}...)
		for _, s := range []string{fl.AccountID, fl.InterfaceID, fl.InstanceID, fl.Region} {
			if err := checkIDString(s, maxID, "id"); err != nil {
				t.Fatalf("flow id %q: %v", s, err)
			}
		}
		if !e.Time.IsZero() && !inRange {
			t.Fatalf("flow start %v out of range", e.Time)
		}
		if fl.End != 0 && (fl.End < minEventUnix || fl.End >= maxEventUnix || e.Time.IsZero() == false && fl.End < fl.Start) {
			t.Fatalf("flow end %d (start %d)", fl.End, fl.Start)
		}
	case e.DNS != nil:
		q := e.DNS
		fields = append(fields, []field{
			{"AccountID", q.AccountID, maxID}, {"DNS.Region", q.Region, maxRegion}, {"VPCID", q.VPCID, maxID},
			{"QueryName", q.QueryName, 4 * maxQueryName}, {"QueryType", q.QueryType, maxDNSToken}, {"QueryClass", q.QueryClass, maxDNSToken},
			{"RCode", q.RCode, maxDNSToken}, {"Transport", q.Transport, maxDNSToken}, {"InstanceID", q.InstanceID, maxID},
			{"ResolverEndpoint", q.ResolverEndpoint, maxID}, {"FirewallAction", q.FirewallAction, maxDNSToken},
		}...)
		if n := nameOctets([]byte(q.QueryName)); n > maxQueryName {
			t.Fatalf("query name of %d octets", n)
		}
		if len(q.Answers) > maxAnswers {
			t.Fatalf("%d answers", len(q.Answers))
		}
		for _, a := range q.Answers {
			if len(a.Rdata) > maxAnswerData || len(a.Type) > maxDNSToken {
				t.Fatalf("answer %d/%d bytes", len(a.Rdata), len(a.Type))
			}
		}
		if !inRange {
			t.Fatalf("query_timestamp %v out of range", e.Time)
		}
	}
	for _, f := range fields {
		if len(f.v) > f.max {
			t.Fatalf("%s: %d bytes, more than %d", f.name, len(f.v), f.max)
		}
	}
}
