package profiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/vigil-sec/vigil/event"
)

var t0 = time.Date(2024, 7, 31, 13, 0, 0, 0, time.UTC)

func ctEvent(at time.Time, source, name, ip, ua, errCode string) *event.Event {
	return &event.Event{
		Source: event.SourceCloudTrail, Time: at, Account: "143434273843", Region: "us-east-1",
		Kind: event.KindPrincipal, Entity: "arn:aws:iam::143434273843:user/christophe",
		CloudTrail: &event.CloudTrail{
			EventName: name, EventSource: source, EventType: "AwsApiCall", SourceIP: ip, UserAgent: ua, ErrorCode: errCode,
			Identity: event.Identity{
				Type: "IAMUser", PrincipalID: "AIDAOC1SYDVN0AF0FMMR", ARN: "arn:aws:iam::143434273843:user/christophe",
				AccountID: "143434273843", AccessKeyID: "AKIAGGWFBBHBE7D3M9WI", UserName: "christophe",
			},
		},
	}
}

// withID gives a CloudTrail event an eventID.
func withID(ev *event.Event, id string) *event.Event {
	ev.CloudTrail.EventID = id
	return ev
}

// flowEvent is a version-5 record without flow-direction: the direction
// comes from the addresses.
func flowEvent(at time.Time, src, dst string, sport, dport uint16, action event.FlowAction) *event.Event {
	return &event.Event{
		Source: event.SourceVPCFlow, Time: at, Account: "111122223333", Region: "us-east-1",
		Kind: event.KindNetwork, Entity: "i-00779ebad43b2470d",
		Flow: &event.Flow{
			Version: 5, AccountID: "111122223333", InterfaceID: "eni-0a1b2c3d4e5f67890", InstanceID: "i-00779ebad43b2470d",
			VPCID: "vpc-0123456789abcdef0", SubnetID: "subnet-0123456789abcdef0",
			Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: sport, DstPort: dport,
			Protocol: 6, Packets: 2, Bytes: 120, Start: at.Unix(), End: at.Unix() + 1, Action: action,
		},
	}
}

func dnsEvent(at time.Time, name, src string) *event.Event {
	return &event.Event{
		Source: event.SourceDNS, Time: at, Account: "111122223333", Region: "us-east-1",
		Kind: event.KindNetwork, Entity: "i-00779ebad43b2470d",
		DNS: &event.DNS{
			AccountID: "111122223333", Region: "us-east-1", VPCID: "vpc-0123456789abcdef0", QueryName: name,
			QueryType: "A", QueryClass: "IN", RCode: "NOERROR", SrcAddr: netip.MustParseAddr(src), SrcPort: 53422,
			Transport: "UDP", InstanceID: "i-00779ebad43b2470d",
		},
	}
}

// observe applies ev to p as the engine does, without detectors.
func observe(p Profile, ev *event.Event) []OrientedFlow {
	switch p := p.(type) {
	case *Principal:
		p.Observe(ev)
	case *Network:
		return p.Observe(ev, nil)
	}
	return nil
}

func mustMarshal(t testing.TB, p Profile) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkOrderIndependent applies evs to fresh profiles made by fresh, in
// order and in n seeded random orders, and requires the same encoding.
func checkOrderIndependent(t *testing.T, fresh func() Profile, evs []*event.Event, n int) []byte {
	t.Helper()
	apply := func(evs []*event.Event) []byte {
		p := fresh()
		for _, ev := range evs {
			observe(p, ev)
		}
		return mustMarshal(t, p)
	}
	want := apply(evs)
	r := rand.New(rand.NewPCG(uint64(len(evs)), 9))
	perm := append([]*event.Event(nil), evs...)
	for i := range n {
		r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		if got := apply(perm); !bytes.Equal(got, want) {
			q, _ := Unmarshal(fresh().Kind(), got)
			w, _ := Unmarshal(fresh().Kind(), want)
			gj, _ := json.Marshal(q)
			wj, _ := json.Marshal(w)
			t.Fatalf("permutation %d gives another profile:\n%s\nwant\n%s", i, gj, wj)
		}
	}
	return want
}

func TestNew(t *testing.T) {
	p := New(event.KindPrincipal, "143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	if p == nil || p.Kind() != event.KindPrincipal {
		t.Fatalf("New(principal) = %#v", p)
	}
	n := New(event.KindNetwork, "111122223333", "us-east-1", "i-1")
	if n == nil || n.Kind() != event.KindNetwork {
		t.Fatalf("New(network) = %#v", n)
	}
	if h := HeaderOf(n); h == nil || h.Entity != "i-1" {
		t.Fatalf("HeaderOf(network) = %+v", h)
	}
	if New(event.KindUnknown, "a", "r", "e") != nil || HeaderOf(nil) != nil {
		t.Fatal("New(unknown kind) or HeaderOf(nil) returned a profile")
	}
	long := strings.Repeat("x", MaxIDLen+10)
	if h := HeaderOf(New(event.KindNetwork, long, "r", "e")); len(h.Account) != MaxIDLen {
		t.Fatalf("account not clipped: %d bytes", len(h.Account))
	}
}

// richPrincipal and richNetwork fill every field of the profiles.
func richPrincipal() *Principal {
	p := NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	p.Observe(withID(ctEvent(t0, "cloudtrail.amazonaws.com", "StopLogging", "86.245.153.234", "stratus-red-team_c97089f1", ""),
		"6b7f7e5b-6e4a-4c1a-9f8e-0d2f5a0b1c3d"))
	p.Observe(withID(ctEvent(t0.Add(time.Second+500*time.Microsecond), "iam.amazonaws.com", "ListUsers", "2001:db8::1", "aws-cli/2.15", "AccessDenied"),
		"1f0e9d8c-7b6a-5948-3726-1504f3e2d1c0"))
	role := ctEvent(t0.Add(-time.Hour), "sts.amazonaws.com", "GetCallerIdentity", "86.245.153.234", "aws-cli/2.15", "")
	role.CloudTrail.Identity = event.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::143434273843:assumed-role/web/i-1", SessionIssuerUserName: "web"}
	p.Observe(role)
	return p
}

func richNetwork() *Network {
	n := NewNetwork("111122223333", "us-east-1", "i-00779ebad43b2470d")
	n.Observe(flowEvent(t0, "10.0.1.25", "1.1.1.1", 40612, 853, event.ActionAccept), nil) // teaches 10.0.1.25
	n.Observe(flowEvent(t0, "10.0.9.9", "10.0.9.8", 1, 2, event.ActionAccept), nil)       // parked
	n.Observe(flowEvent(t0.Add(time.Second), "10.0.9.9", "10.0.9.7", 3, 4, event.ActionReject), nil)
	v2 := flowEvent(t0.Add(2*time.Second+time.Millisecond), "fd00::9", "fd00::8", 5, 6, event.ActionAccept)
	v2.Flow.Version, v2.Flow.InterfaceID, v2.Flow.VPCID, v2.Flow.SubnetID = 2, "eni-0b0b0b0b0b0b0b0b0", "", ""
	n.Observe(v2, nil)
	nodata := flowEvent(t0, "10.0.1.25", "1.1.1.1", 0, 0, event.ActionNone)
	nodata.Flow.LogStatus = event.StatusNoData
	n.Observe(nodata, nil)
	skip := flowEvent(t0, "10.0.1.25", "1.1.1.1", 0, 0, event.ActionNone)
	skip.Flow.LogStatus = event.StatusSkipData
	n.Observe(skip, nil)
	n.Observe(dnsEvent(t0.Add(-time.Minute), "example.com", "10.0.1.25"), nil)
	r := n.Observe(flowEvent(t0, "10.0.1.25", "10.0.1.26", 40000, 22, event.ActionAccept), nil)[0]
	const w = 10 * time.Minute
	n.ObserveProbe(r.Remote, 22, t0, r.Exemplar(), w, 25)
	n.ObserveProbe(r.Remote, 80, t0.Add(5*time.Minute+time.Millisecond), r.Exemplar(), w, 25)
	n.ObserveProbe(netip.MustParseAddr("10.0.1.27"), 443, t0, r.Exemplar(), w, 25)
	n.ObserveSSHInbound(netip.MustParseAddr("198.51.100.7"), 49152, t0, r.Exemplar(), w, 10)
	n.ObserveSSHOutbound(netip.MustParseAddr("2001:db8::7"), 40000, t0, r.Exemplar(), w, 20)
	n.ObserveSSHFanout(netip.MustParseAddr("198.51.100.8"), t0, r.Exemplar(), w, 30)
	ex := DNSExemplar{Name: "aGVsbG8gd29ybGQ.hidemyself.org", Src: netip.MustParseAddr("10.0.1.25"), VPC: "vpc-0123456789abcdef0",
		Owner: "111122223333", Transport: "UDP", Blocked: true}
	n.ObserveDNSTunnel("hidemyself.org", 0xdeadbeef, t0, ex, w, 30)
	return n
}

func TestRoundTrip(t *testing.T) {
	for _, p := range []Profile{
		richPrincipal(), richNetwork(),
		NewPrincipal("", "", ""), NewNetwork("", "", ""),
	} {
		t.Run(fmt.Sprintf("%T", p), func(t *testing.T) {
			b := mustMarshal(t, p)
			q, err := Unmarshal(p.Kind(), b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, q) {
				t.Fatalf("round trip differs:\n%+v\n%+v", p, q)
			}
			if b2 := mustMarshal(t, q); !bytes.Equal(b, b2) {
				t.Fatal("re-encoding differs")
			}
			j1, _ := json.Marshal(p)
			j2, _ := json.Marshal(q)
			if !bytes.Equal(j1, j2) {
				t.Fatalf("JSON differs:\n%s\n%s", j1, j2)
			}
			t.Logf("%d bytes binary, %d bytes JSON", len(b), len(j1))
		})
	}
}

func TestRichProfilesAreRich(t *testing.T) {
	p, n := richPrincipal(), richNetwork()
	if len(p.EventIDs) != 2 || p.Errors != 1 || len(p.APIs) != 3 || p.Type != "IAMUser" {
		t.Errorf("principal: %+v", p)
	}
	if len(n.ENIs) != 2 || len(n.LocalAddrs) != 1 || len(n.Cooccur) < 4 || len(n.Parked) != 3 || n.BytesUnknown == 0 ||
		n.NoData != 1 || n.SkipData != 1 || n.Rejected != 1 || n.DNSQueries != 1 || n.InstanceID == "" ||
		len(n.Probes.Panes) != 3 || len(n.SSHInbound.Panes) != 1 || len(n.SSHOutbound.Panes) != 1 ||
		len(n.SSHFanout.Panes) != 1 || len(n.DNSTunnel.Panes) != 1 {
		b, _ := json.MarshalIndent(n, "", " ")
		t.Errorf("network:\n%s", b)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	pb := mustMarshal(t, richPrincipal())
	nb := mustMarshal(t, richNetwork())
	// Every proper prefix of a valid encoding is an error, never a panic.
	for kind, b := range map[event.EntityKind][]byte{event.KindPrincipal: pb, event.KindNetwork: nb} {
		for i := range b {
			if _, err := Unmarshal(kind, b[:i]); err == nil {
				t.Errorf("%v: prefix of %d/%d bytes decoded", kind, i, len(b))
			}
		}
		if _, err := Unmarshal(kind, append(bytes.Clone(b), 0)); err == nil {
			t.Errorf("%v: trailing byte accepted", kind)
		}
	}
	if _, err := Unmarshal(event.KindNetwork, pb); err == nil {
		t.Error("a principal decoded as a network profile")
	}
	if _, err := Unmarshal(event.KindUnknown, pb); err == nil {
		t.Error("unknown kind accepted")
	}
	for v, want := range map[byte]string{9: "unknown encoding version 9", 1: "obsolete"} {
		bad := bytes.Clone(pb)
		bad[0] = v
		if _, err := Unmarshal(event.KindPrincipal, bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("version %d: %v, want %q", v, err, want)
		}
	}
	// A count above the cap is refused before anything is allocated.
	e := encoder{}
	e.byte(encodingVersion)
	e.byte(byte(event.KindPrincipal))
	(&Header{}).encode(&e)
	for range 4 {
		e.str("")
	}
	e.timeRel(time.Time{}, time.Time{})
	e.uvarint(0)
	e.uvarint(1 << 40) // APIs
	if _, err := Unmarshal(event.KindPrincipal, e.b); err == nil || !strings.Contains(err.Error(), "cap") {
		t.Errorf("huge count: %v", err)
	}
	// Unsorted sets are refused: lookups binary-search them.
	p := richPrincipal()
	p.APIs[0], p.APIs[1] = p.APIs[1], p.APIs[0]
	if _, err := Unmarshal(event.KindPrincipal, mustMarshal(t, p)); err == nil || !strings.Contains(err.Error(), "sorted") {
		t.Errorf("unsorted APIs: %v", err)
	}
	p = richPrincipal()
	p.EventIDs[0], p.EventIDs[1] = p.EventIDs[1], p.EventIDs[0]
	if _, err := Unmarshal(event.KindPrincipal, mustMarshal(t, p)); err == nil {
		t.Error("unsorted event ids accepted")
	}
	for name, mess := range map[string]func(n *Network){
		"local addresses": func(n *Network) { n.LocalAddrs = append(n.LocalAddrs, netip.MustParseAddr("10.0.0.1")) },
		"parked":          func(n *Network) { n.Parked[0], n.Parked[1] = n.Parked[1], n.Parked[0] },
		"cooccur":         func(n *Network) { n.Cooccur[0], n.Cooccur[1] = n.Cooccur[1], n.Cooccur[0] },
		"panes":           func(n *Network) { n.Probes.Panes[0], n.Probes.Panes[1] = n.Probes.Panes[1], n.Probes.Panes[0] },
		"keys":            func(n *Network) { n.Probes.Panes[0].Keys = append(n.Probes.Panes[0].Keys, 1) },
	} {
		n := richNetwork()
		mess(n)
		if _, err := Unmarshal(event.KindNetwork, mustMarshal(t, n)); err == nil || !strings.Contains(err.Error(), "sorted") && !strings.Contains(err.Error(), "key") {
			t.Errorf("unsorted %s: %v", name, err)
		}
	}
	// A failed decode leaves the profile unchanged.
	q := richNetwork()
	before := mustMarshal(t, q)
	if err := q.UnmarshalBinary(nb[:len(nb)/2]); err == nil {
		t.Fatal("half an encoding decoded")
	}
	if after := mustMarshal(t, q); !bytes.Equal(before, after) {
		t.Error("a failed UnmarshalBinary changed the profile")
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"aé", 2, "a"}, {"aé", 3, "aé"}, {"a€b", 3, "a"}, {"a€b", 4, "a€"},
	} {
		if got := clip(tc.s, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

// TestProfileSizes: what most entities are (a principal seen a few times,
// a quiet instance) encodes in a couple of hundred bytes.
func TestProfileSizes(t *testing.T) {
	p := NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	for i, name := range []string{"ListBuckets", "GetObject", "ListBuckets"} {
		p.Observe(withID(ctEvent(t0.Add(time.Duration(i)*time.Hour), "s3.amazonaws.com", name, "86.245.153.234", "aws-cli/2.15.0 Python/3.11.6", ""),
			fmt.Sprintf("3e5c%04d-1b2a-4c3d-8e9f-0a1b2c3d4e5f", i)))
	}
	n := NewNetwork("111122223333", "us-east-1", "i-00779ebad43b2470d")
	for i := range 60 {
		at := t0.Add(time.Duration(i) * time.Minute)
		n.Observe(flowEvent(at, "10.0.1.25", "52.94.222.144", uint16(40000+i), 443, event.ActionAccept), nil)
		n.Observe(flowEvent(at, "52.94.222.144", "10.0.1.25", 443, uint16(40000+i), event.ActionAccept), nil)
		n.Observe(dnsEvent(at, "s3.amazonaws.com", "10.0.1.25"), nil)
	}
	for _, tc := range []struct {
		p   Profile
		max int
	}{{p, 300}, {n, 300}} {
		if b := mustMarshal(t, tc.p); len(b) > tc.max {
			j, _ := json.MarshalIndent(tc.p, "", " ")
			t.Errorf("%T encodes in %d bytes, want at most %d:\n%s", tc.p, len(b), tc.max, j)
		} else {
			t.Logf("%T: %d bytes", tc.p, len(b))
		}
	}
}

func BenchmarkMarshalNetwork(b *testing.B) {
	n := richNetwork()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalNetwork(b *testing.B) {
	buf := mustMarshal(b, richNetwork())
	b.ReportAllocs()
	for b.Loop() {
		var n Network
		if err := n.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// A decoded event's strings share one buffer; a profile that kept one of
// them would keep the whole event alive for as long as the entity lives.
func TestProfilesCopyKeptStrings(t *testing.T) {
	decode := func(ev *event.Event) *event.Event {
		b, err := ev.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var decoded event.Event
		if err := decoded.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		return &decoded
	}
	ct := decode(withID(ctEvent(t0, "cloudtrail.amazonaws.com", "StopLogging", "198.51.100.9", "aws-cli/2.15.0 Python/3.11", ""), "e1"))
	p := NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	p.Observe(ct)
	flow := decode(flowEvent(t0, "10.0.9.9", "10.0.9.8", 1, 2, event.ActionAccept))
	n := NewNetwork("111122223333", "us-east-1", "i-00779ebad43b2470d")
	n.Observe(flow, nil)
	q := decode(dnsEvent(t0, "aGVsbG8gd29ybGQ.hidemyself.org", "10.0.1.25"))
	domain := q.DNS.QueryName[len("aGVsbG8gd29ybGQ."):]
	n.ObserveDNSTunnel(domain, 1, t0,
		DNSExemplar{Name: q.DNS.QueryName, VPC: q.DNS.VPCID, Owner: q.DNS.AccountID, Transport: q.DNS.Transport}, time.Minute, 30)
	pane, ex := n.DNSTunnel.Panes[0], n.DNSTunnel.Panes[0].Exemplar
	for _, c := range []struct{ kept, src string }{
		{p.UserAgents[0].Value, ct.CloudTrail.UserAgent},
		{p.SourceIPs[0].Value, ct.CloudTrail.SourceIP},
		{p.ARN, ct.CloudTrail.Identity.ARN},
		{p.UserName, ct.CloudTrail.Identity.UserName},
		{n.InstanceID, flow.Flow.InstanceID},
		{n.ENIs[0].ID, flow.Flow.InterfaceID},
		{n.ENIs[0].VPCID, flow.Flow.VPCID},
		{n.Parked[0].ENI, flow.Flow.InterfaceID},
		{n.Parked[0].Subnet, flow.Flow.SubnetID},
		{string(pane.Group), domain},
		{ex.Name, q.DNS.QueryName},
		{ex.VPC, q.DNS.VPCID},
		{ex.Transport, q.DNS.Transport},
	} {
		if c.kept != c.src {
			t.Fatalf("kept %q, event has %q", c.kept, c.src)
		}
		if unsafe.StringData(c.kept) == unsafe.StringData(c.src) {
			t.Errorf("profile keeps %q inside the decoded event's buffer", c.kept)
		}
	}
}
