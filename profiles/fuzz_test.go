package profiles

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// fuzzEvents are applied to every profile the fuzzer decodes.
var fuzzEvents = []*event.Event{
	withID(ctEvent(t0, "cloudtrail.amazonaws.com", "StopLogging", "86.245.153.234", "ua", ""), "x"),
	flowEvent(t0, "10.0.9.9", "10.0.9.8", 1, 2, event.ActionAccept),
	flowEvent(t0.Add(time.Second), "10.0.9.9", "1.1.1.1", 1, 2, event.ActionAccept),
	dnsEvent(t0.Add(-time.Hour), "example.com", "10.0.9.8"),
}

// fuzzUnmarshal checks that decoding arbitrary bytes never panics, that
// whatever decodes re-encodes to bytes that decode to the same profile,
// and that a decoded profile takes events (and windows) and still encodes
// to what decodes.
func fuzzUnmarshal(f *testing.F, kind event.EntityKind, seeds ...Profile) {
	for _, p := range seeds {
		b, err := p.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{encodingVersion, byte(kind), 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Unmarshal(kind, b)
		if err != nil {
			return
		}
		b2, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		q, err := Unmarshal(kind, b2)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		b3, _ := q.MarshalBinary()
		if !bytes.Equal(b2, b3) {
			t.Fatal("encoding is not stable")
		}
		for _, ev := range fuzzEvents {
			observe(q, ev)
			if p, ok := q.(*Principal); ok && ev.CloudTrail != nil {
				p.Baseline.Observe(Call{At: ev.Time, API: "cloudtrail:StopLogging", UserAgent: "aws-cli", ASN: "64500 X", Country: "DE", UserType: "IAMUser", Failed: true})
				p.Baseline.Anomalies.Observe(AnomalousCall{Tactic: 5, API: "cloudtrail:StopLogging", At: ev.Time}, []Unusual{{Dim: DimHour, Value: "03"}}, time.Hour, p.LastEvent)
			}
			if n, ok := q.(*Network); ok {
				x := FlowExemplar{Remote: netip.MustParseAddr("10.0.1.26")}
				n.ObserveProbe(x.Remote, 22, ev.Time, x, 5*time.Minute, 2)
				n.ObserveSSHFanout(x.Remote, ev.Time, x, time.Minute, 2)
				n.ObserveDNSTunnel("example.org", 7, ev.Time, DNSExemplar{Name: "x.example.org"}, time.Minute, 2)
			}
		}
		b4, _ := q.MarshalBinary()
		if _, err := Unmarshal(kind, b4); err != nil {
			t.Fatalf("a decoded profile that took events does not decode: %v", err)
		}
	})
}

func FuzzUnmarshalPrincipal(f *testing.F) {
	fuzzUnmarshal(f, event.KindPrincipal, richPrincipal(), baselinePrincipal(), NewPrincipal("1", "us-east-1", "arn:aws:iam::1:root"))
}

func FuzzUnmarshalNetwork(f *testing.F) {
	fuzzUnmarshal(f, event.KindNetwork, richNetwork(), NewNetwork("1", "us-east-1", "i-1"))
}
