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
	pos := rawPosition{source: event.SourceVPCFlow, partition: 3, Position: storage.Position{Offset: 1 << 40, Index: 17}}
	b, err := appendEnvelope(nil, pos, ev)
	if err != nil {
		t.Fatal(err)
	}
	gotPos, data, err := parseEnvelope(b)
	if err != nil || gotPos != pos {
		t.Fatalf("position %+v, %v; want %+v", gotPos, err, pos)
	}
	var got event.Event
	if err := got.UnmarshalBinary(data); err != nil || !reflect.DeepEqual(&got, ev) {
		t.Fatalf("event %+v, %v", got, err)
	}
	if pos.watermarkKey() != "vpcflow/3" {
		t.Errorf("watermark key %q", pos.watermarkKey())
	}
}

func FuzzParseEnvelope(f *testing.F) {
	b, _ := appendEnvelope(nil, rawPosition{source: event.SourceDNS, partition: 1}, &event.Event{Source: event.SourceDNS, DNS: &event.DNS{QueryName: "a.b"}})
	f.Add(b)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, data, err := parseEnvelope(b)
		if err == nil {
			var ev event.Event
			_ = ev.UnmarshalBinary(data) // must not panic
		}
	})
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
