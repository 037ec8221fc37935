package actors

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/storage"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	ev := &event.Event{Source: event.SourceVPCFlow, Time: time.Unix(1741470000, 0).UTC(), Account: "1", Region: "us-east-1",
		Kind: event.KindNetwork, Entity: "eni-1", Flow: &event.Flow{Version: 2, InterfaceID: "eni-1",
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("198.51.100.7"), DstPort: 22, Protocol: 6}}
	ref := rawRef{source: event.SourceVPCFlow, partition: 3, offset: 1 << 40}
	b, err := appendEnvelope(nil, ref, []string{"us-east-1", "eu-west-1"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	env, err := parseEnvelope(b)
	if err != nil || env.kind != envelopeEvent || env.ref != ref || !reflect.DeepEqual(env.regions, []string{"us-east-1", "eu-west-1"}) {
		t.Fatalf("envelope %+v, %v; want ref %+v", env, err, ref)
	}
	var got event.Event
	if err := got.UnmarshalBinary(env.event); err != nil || !reflect.DeepEqual(&got, ev) {
		t.Fatalf("event %+v, %v", got, err)
	}
}

func TestStatsRoundTrip(t *testing.T) {
	s := &ingestStats{source: event.SourceDNS, partition: 2, records: 10, events: 9, dropped: 1, deadLetters: 3}
	env, err := parseEnvelope(appendStats(nil, s))
	if err != nil || env.kind != envelopeStats {
		t.Fatalf("%+v %v", env, err)
	}
	want := storage.Counters{}
	want.Records[event.SourceDNS], want.Events[event.SourceDNS], want.Dropped[event.SourceDNS], want.DeadLetters[event.SourceDNS] = 10, 9, 1, 3
	if *env.stats != want {
		t.Errorf("counters %+v, want %+v", *env.stats, want)
	}
	if statsKey(event.SourceDNS, 2) != "stats/dns/2" {
		t.Errorf("stats key %q", statsKey(event.SourceDNS, 2))
	}
}

func FuzzParseEnvelope(f *testing.F) {
	b, _ := appendEnvelope(nil, rawRef{source: event.SourceDNS, partition: 1}, nil, &event.Event{Source: event.SourceDNS, DNS: &event.DNS{QueryName: "a.b"}})
	f.Add(b)
	f.Add(appendStats(nil, &ingestStats{source: event.SourceCloudTrail, records: 1}))
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := parseEnvelope(b)
		if err == nil && env.kind == envelopeEvent {
			var ev event.Event
			_ = ev.UnmarshalBinary(env.event) // must not panic
		}
	})
}

func TestWithRegion(t *testing.T) {
	if got := withRegion("1/us-east-1/principal/arn:aws:iam::1:role/a/b", "eu-west-3"); got != "1/eu-west-3/principal/arn:aws:iam::1:role/a/b" {
		t.Errorf("withRegion: %s", got)
	}
}

func TestSplitKey(t *testing.T) {
	kind, acct, region, entity, err := splitKey("1/us-east-1/principal/arn:aws:iam::1:role/a/b")
	if err != nil || kind != event.KindPrincipal || acct != "1" || region != "us-east-1" || entity != "arn:aws:iam::1:role/a/b" {
		t.Errorf("splitKey: %v %s %s %s %v", kind, acct, region, entity, err)
	}
	for _, bad := range []string{"", "1/us-east-1", "1/us-east-1/martian/x"} {
		if _, _, _, _, err := splitKey(bad); err == nil {
			t.Errorf("splitKey(%q) accepted", bad)
		}
	}
}

// BenchmarkEnvelope measures the internal record's codec on a VPC flow
// event, the most frequent: ingest's encoding and the shard's parsing
// (the entity's event decoding is event.BenchmarkCodec).
func BenchmarkEnvelope(b *testing.B) {
	ev := &event.Event{Source: event.SourceVPCFlow, Time: time.Unix(1741470000, 0).UTC(), Account: "123456789012", Region: "us-east-1",
		Kind: event.KindNetwork, Entity: "i-0123456789abcdef0", Flow: &event.Flow{Version: 2, InterfaceID: "eni-0123456789abcdef0",
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("198.51.100.7"), SrcPort: 49152, DstPort: 443, Protocol: 6,
			Packets: 10, Bytes: 8400, Action: event.ActionAccept}}
	ref := rawRef{source: event.SourceVPCFlow, partition: 3, offset: 123456789}
	buf, err := appendEnvelope(nil, ref, nil, ev)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(buf)))
		var out []byte
		for b.Loop() {
			out, _ = appendEnvelope(out[:0], ref, nil, ev)
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			if _, err := parseEnvelope(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	regions := []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1"}
	global, _ := appendEnvelope(nil, ref, regions, ev)
	b.Run("parse-global", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(global)))
		for b.Loop() {
			if _, err := parseEnvelope(global); err != nil {
				b.Fatal(err)
			}
		}
	})
}
