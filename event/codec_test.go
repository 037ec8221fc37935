package event

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func sampleEvents() map[string]Event {
	ts := time.Date(2026, 3, 8, 21, 44, 2, 123456789, time.UTC)
	return map[string]Event{
		"zero": {},
		"cloudtrail": {
			Source:  SourceCloudTrail,
			Time:    ts,
			Account: "111122223333",
			Region:  "us-east-1",
			Kind:    KindPrincipal,
			Entity:  "arn:aws:iam::111122223333:role/iam_role_iisserver",
			CloudTrail: &CloudTrail{
				EventID:          "3f6e2c1a-9b8d-4e7f-a1b2-c3d4e5f60718",
				EventName:        "ListBuckets",
				EventSource:      "s3.amazonaws.com",
				EventType:        "AwsApiCall",
				AWSRegion:        "us-east-1",
				SourceIP:         "212.8.249.213",
				UserAgent:        "[aws-cli/2.15.30 md/distrib#kali.2024]",
				ErrorCode:        "AccessDenied",
				ErrorMessage:     "User is not authorized — ünïcode",
				ReadOnly:         true,
				RecipientAccount: "111122223333",
				VPCEndpointID:    "vpce-0123",
				Identity: Identity{
					Type:                  "AssumedRole",
					PrincipalID:           "AROA3XFRBF23EXAMPLE1:i-00779ebad43b2470d",
					ARN:                   "arn:aws:sts::111122223333:assumed-role/iam_role_iisserver/i-00779ebad43b2470d",
					AccountID:             "111122223333",
					AccessKeyID:           "ASIA3XFRBF23EXAMPLE2",
					InvokedBy:             "ec2.amazonaws.com",
					SessionIssuerType:     "Role",
					SessionIssuerARN:      "arn:aws:iam::111122223333:role/iam_role_iisserver",
					SessionIssuerUserName: "iam_role_iisserver",
					MFAAuthenticated:      true,
					EC2RoleDelivery:       "2.0",
					AssumedRoot:           true,
				},
				RequestParameters: map[string]string{"Host": "s3.amazonaws.com", "maxKeys": "1000", "": ""},
				ConsoleLogin:      "Success",
				MFAUsed:           "No",
				Global:            true,
			},
		},
		"cloudtrail empty params": {
			Source:     SourceCloudTrail,
			Time:       ts,
			CloudTrail: &CloudTrail{RequestParameters: map[string]string{}},
		},
		"vpcflow v4": {
			Source:  SourceVPCFlow,
			Time:    time.Unix(1741470000, 0).UTC(),
			Account: "111122223333",
			Kind:    KindNetwork,
			Entity:  "eni-0a1b2c3d4e5f67890",
			Flow: &Flow{
				Version: 2, AccountID: "111122223333", InterfaceID: "eni-0a1b2c3d4e5f67890",
				Src: netip.MustParseAddr("198.51.100.7"), Dst: netip.MustParseAddr("10.0.1.25"),
				SrcPort: 49152, DstPort: 22, Protocol: 6, Packets: 6, Bytes: 360,
				Start: 1741470000, End: 1741470059, Action: ActionAccept, LogStatus: StatusOK,
			},
		},
		"vpcflow v6 full": {
			Source:  SourceVPCFlow,
			Time:    time.Unix(1741470000, 0).UTC(),
			Account: "111122223333",
			Region:  "eu-west-1",
			Kind:    KindNetwork,
			Entity:  "i-00779ebad43b2470d",
			Flow: &Flow{
				Version: 5, AccountID: "111122223333", InterfaceID: "eni-1", InstanceID: "i-00779ebad43b2470d",
				VPCID: "vpc-1", SubnetID: "subnet-1", Region: "eu-west-1",
				Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("fe80::1%eth0"),
				PktSrc: netip.MustParseAddr("::ffff:10.0.0.1"), PktDst: netip.MustParseAddr("1.1.1.1"),
				SrcPort: 65535, DstPort: 853, Protocol: 255, Packets: 1<<64 - 1, Bytes: 1 << 40,
				Start: -1, End: 1<<63 - 1, Action: ActionReject, LogStatus: StatusSkipData,
				TCPFlags: 18, Direction: DirectionEgress,
			},
		},
		"vpcflow nodata": {
			Source: SourceVPCFlow,
			Time:   time.Unix(1741470000, 0).UTC(),
			Kind:   KindNetwork,
			Entity: "eni-0f00dfeedbeef0001",
			Flow:   &Flow{Version: 2, InterfaceID: "eni-0f00dfeedbeef0001", Start: 1741470000, End: 1741470060, LogStatus: StatusNoData},
		},
		"dns": {
			Source:  SourceDNS,
			Time:    time.Date(2026, 3, 8, 21, 41, 7, 0, time.UTC),
			Account: "111122223333",
			Region:  "us-east-1",
			Kind:    KindNetwork,
			Entity:  "i-00779ebad43b2470d",
			DNS: &DNS{
				AccountID: "111122223333", Region: "us-east-1", VPCID: "vpc-0123456789abcdef0",
				QueryName: "169-254-169-254.rebind.attacker-example.net", QueryType: "A", QueryClass: "IN",
				RCode: "NOERROR", Answers: []Answer{{Rdata: "169.254.169.254", Type: "A"}, {}},
				SrcAddr: netip.MustParseAddr("10.0.1.25"), SrcPort: 53422, Transport: "UDP",
				InstanceID: "i-00779ebad43b2470d", ResolverEndpoint: "rslvr-in-1", FirewallAction: "ALERT",
			},
		},
		"dns no answers": {
			Source: SourceDNS,
			Time:   time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
			Kind:   KindNetwork,
			Entity: "ip:10.0.0.1",
			DNS:    &DNS{QueryName: "x", Answers: []Answer{}, SrcAddr: netip.MustParseAddr("10.0.0.1")},
		},
		"all sources and odd enums": {
			Source: Source(200), Kind: EntityKind(9), Time: time.Date(9999, 1, 1, 0, 0, 0, 1, time.UTC),
			CloudTrail: &CloudTrail{}, Flow: &Flow{Action: 7, LogStatus: 8, Direction: 9}, DNS: &DNS{},
		},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for name, e := range sampleEvents() {
		t.Run(name, func(t *testing.T) {
			b, err := e.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != codecVersion {
				t.Fatalf("version byte %d", b[0])
			}
			var got Event
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
			}
			// Deterministic: encoding the decoded event gives the same bytes,
			// and AppendBinary appends after existing content.
			b2, _ := got.AppendBinary([]byte("xx"))
			if !bytes.Equal(b2[2:], b) || string(b2[:2]) != "xx" {
				t.Fatal("re-encoding differs")
			}
			// Every strict prefix is an error.
			for i := range len(b) {
				var e2 Event
				if err := e2.UnmarshalBinary(b[:i]); err == nil {
					t.Fatalf("prefix %d/%d decoded", i, len(b))
				} else if !errors.Is(err, ErrCodec) {
					t.Fatalf("error %v does not wrap ErrCodec", err)
				}
			}
		})
	}
}

func TestCodecTimeLocation(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	e := Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 6, loc)}
	b, _ := e.MarshalBinary()
	var got Event
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(e.Time) || got.Time.Location() != time.UTC {
		t.Fatalf("got %v (%v), want %v in UTC", got.Time, got.Time.Location(), e.Time)
	}
}

func TestCodecErrors(t *testing.T) {
	valid, _ := (&Event{Source: SourceDNS, DNS: &DNS{QueryName: "a"}}).MarshalBinary()
	for name, b := range map[string][]byte{
		"empty":            nil,
		"version":          {99, 0, 0, 0, 0, 0, 0, 0, 0},
		"flags":            {codecVersion, 0, 0, 0x80, 0, 0, 0, 0, 0},
		"nanos":            {codecVersion, 0, 0, 0, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0, 0, 0},
		"huge string":      {codecVersion, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad varint":       {codecVersion, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"trailing":         append(bytes.Clone(valid), 0),
		"huge answers":     append(bytes.Clone(valid[:len(valid)-1]), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"port overflow":    dnsTail(0, 0x80, 0x80, 0x04, 0),
		"bad address size": dnsTail(3, 1, 2, 3, 0, 0),
	} {
		t.Run(name, func(t *testing.T) {
			e := Event{Account: "stale"}
			err := e.UnmarshalBinary(b)
			t.Log(err)
			if !errors.Is(err, ErrCodec) {
				t.Fatalf("err = %v, want ErrCodec", err)
			}
			if !reflect.DeepEqual(e, Event{}) {
				t.Fatalf("event not reset after error: %+v", e)
			}
		})
	}
}

// dnsTail encodes an empty DNS event up to its source address and appends
// tail in place of the address, port and answers.
func dnsTail(tail ...byte) []byte {
	b := []byte{codecVersion, byte(SourceDNS), 0, hasDNS, 0, 0, 0, 0, 0} // time, account, region, entity
	b = append(b, make([]byte, 11)...)                                   // 11 empty DNS strings
	return append(b, tail...)
}

func FuzzUnmarshal(f *testing.F) {
	for _, e := range sampleEvents() {
		b, err := e.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if err := e.UnmarshalBinary(b); err != nil {
			return
		}
		// Whatever decodes must re-encode to a canonical form that is stable.
		b2, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var e2 Event
		if err := e2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("unstable:\n%+v\n%+v", e, e2)
		}
		b3, _ := e2.MarshalBinary()
		if !bytes.Equal(b2, b3) {
			t.Fatal("encoding not canonical")
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	e := sampleEvents()["cloudtrail"]
	buf, _ := e.MarshalBinary()
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(buf)))
		var out []byte
		for b.Loop() {
			out, _ = e.AppendBinary(out[:0])
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(buf)))
		var got Event
		for b.Loop() {
			if err := got.UnmarshalBinary(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
