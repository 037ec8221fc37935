package profiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
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

func TestPrincipalObserve(t *testing.T) {
	p := NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	p.Observe(ctEvent(t0.Add(time.Minute), "cloudtrail.amazonaws.com", "StopLogging", "86.245.153.234", "aws-cli/2", ""))
	p.Observe(ctEvent(t0, "cloudtrail.amazonaws.com", "StopLogging", "86.245.153.234", "aws-cli/2", "AccessDenied"))
	p.Observe(ctEvent(t0.Add(2*time.Minute), "iam.amazonaws.com", "ListUsers", "86.245.153.235", "aws-cli/2", ""))
	if p.Events != 3 || p.Errors != 1 {
		t.Errorf("events %d errors %d, want 3 and 1", p.Events, p.Errors)
	}
	if !p.FirstEvent.Equal(t0) || !p.LastEvent.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("first/last = %v/%v", p.FirstEvent, p.LastEvent)
	}
	if p.Type != "IAMUser" || p.UserName != "christophe" || p.PrincipalID != "AIDAOC1SYDVN0AF0FMMR" {
		t.Errorf("identity = %q %q %q", p.Type, p.UserName, p.PrincipalID)
	}
	s := p.APIs.Find("cloudtrail:StopLogging")
	if s == nil || s.Count != 2 || !s.FirstSeen.Equal(t0) || !s.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("cloudtrail:StopLogging = %+v", s)
	}
	if len(p.APIs) != 2 || len(p.SourceIPs) != 2 || len(p.UserAgents) != 1 {
		t.Errorf("sets = %d APIs, %d IPs, %d UAs", len(p.APIs), len(p.SourceIPs), len(p.UserAgents))
	}
	// Role sessions are named after the role.
	ev := ctEvent(t0, "sts.amazonaws.com", "GetCallerIdentity", "10.0.0.1", "", "")
	ev.CloudTrail.Identity = event.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::1:assumed-role/web/i-1", SessionIssuerUserName: "web"}
	p.Observe(ev)
	if p.Type != "AssumedRole" || p.UserName != "web" {
		t.Errorf("role identity = %q %q", p.Type, p.UserName)
	}
}

// TestPrincipalCaps drives a principal far past every cap: the profile
// keeps the most recent values and its encoding stays bounded.
func TestPrincipalCaps(t *testing.T) {
	p := NewPrincipal("1", "us-east-1", "arn:aws:iam::1:user/enum")
	ua := strings.Repeat("é", MaxValueLen) // 2 bytes per rune: the cut must not split one
	for i := range 5000 {
		at := t0.Add(time.Duration(i) * time.Second)
		p.Observe(ctEvent(at, "ec2.amazonaws.com", fmt.Sprintf("Describe%04d", i), fmt.Sprintf("198.51.%d.%d", i/256, i%256), fmt.Sprintf("%d%s", i, ua), ""))
	}
	if len(p.APIs) != MaxAPIs || len(p.SourceIPs) != MaxSourceIPs || len(p.UserAgents) != MaxUserAgents {
		t.Fatalf("sets = %d/%d/%d, want the caps %d/%d/%d", len(p.APIs), len(p.SourceIPs), len(p.UserAgents), MaxAPIs, MaxSourceIPs, MaxUserAgents)
	}
	if p.APIs.Find("ec2:Describe4999") == nil || p.APIs.Find("ec2:Describe0000") != nil {
		t.Error("eviction did not keep the most recent API and drop the oldest")
	}
	for _, u := range p.UserAgents {
		if len(u.Value) > MaxValueLen || !utf8Valid(u.Value) {
			t.Fatalf("user agent of %d bytes (valid UTF-8 %v)", len(u.Value), utf8Valid(u.Value))
		}
	}
	b, _ := p.MarshalBinary()
	if len(b) > 128<<10 {
		t.Errorf("encoding of a capped principal is %d bytes", len(b))
	}
	t.Logf("capped principal: %d bytes", len(b))
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestNetworkOrient(t *testing.T) {
	type rec struct {
		src, dst string
		dir      event.Direction
	}
	for _, tc := range []struct {
		name      string
		learn     []rec // records observed first
		dns       string
		rec       rec
		wantLocal string
		outbound  bool
		known     bool
	}{
		{name: "flow-direction egress", rec: rec{"10.0.1.25", "10.0.1.26", event.DirectionEgress}, wantLocal: "10.0.1.25", outbound: true, known: true},
		{name: "flow-direction ingress", rec: rec{"10.0.1.26", "10.0.1.25", event.DirectionIngress}, wantLocal: "10.0.1.25", known: true},
		{name: "private to public is outbound", rec: rec{"10.0.1.25", "1.1.1.1", 0}, wantLocal: "10.0.1.25", outbound: true, known: true},
		{name: "public to private is inbound", rec: rec{"198.51.100.7", "10.0.1.25", 0}, wantLocal: "10.0.1.25", known: true},
		{name: "shared address space is private", rec: rec{"100.64.3.4", "8.8.8.8", 0}, wantLocal: "100.64.3.4", outbound: true, known: true},
		{name: "two private, nothing learned: guess", rec: rec{"10.0.1.26", "10.0.1.25", 0}, wantLocal: "10.0.1.26", outbound: true},
		{
			name:  "two private, local learned from public traffic",
			learn: []rec{{"10.0.1.25", "52.216.229.53", 0}},
			rec:   rec{"10.0.1.26", "10.0.1.25", 0}, wantLocal: "10.0.1.25", known: true,
		},
		{
			name: "two private, local learned from a DNS query", dns: "10.0.1.25",
			rec: rec{"10.0.1.26", "10.0.1.25", 0}, wantLocal: "10.0.1.25", known: true,
		},
		{
			name:  "two private, local learned from candidates",
			learn: []rec{{"10.0.1.25", "10.0.2.9", 0}, {"10.0.3.3", "10.0.1.25", 0}},
			rec:   rec{"10.0.1.26", "10.0.1.25", 0}, wantLocal: "10.0.1.25", known: true,
		},
		{
			name:  "two private, same pair only: still a guess",
			learn: []rec{{"10.0.1.25", "10.0.1.26", 0}, {"10.0.1.26", "10.0.1.25", 0}},
			rec:   rec{"10.0.1.26", "10.0.1.25", 0}, wantLocal: "10.0.1.26", outbound: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewNetwork("111122223333", "us-east-1", "i-1")
			for i, r := range tc.learn {
				ev := flowEvent(t0.Add(time.Duration(i)*time.Second), r.src, r.dst, 40000, 443, event.ActionAccept)
				ev.Flow.Direction = r.dir
				n.Observe(ev)
			}
			if tc.dns != "" {
				n.Observe(dnsEvent(t0, "example.com", tc.dns))
			}
			ev := flowEvent(t0.Add(time.Minute), tc.rec.src, tc.rec.dst, 40000, 22, event.ActionAccept)
			ev.Flow.Direction = tc.rec.dir
			n.Observe(ev)
			o := n.Orient(ev.Flow)
			if o.Local != netip.MustParseAddr(tc.wantLocal) || o.Outbound != tc.outbound || o.Known != tc.known {
				t.Fatalf("Orient = local %s outbound %v known %v; want %s %v %v (learned %v)",
					o.Local, o.Outbound, o.Known, tc.wantLocal, tc.outbound, tc.known, n.LocalAddrs)
			}
			if o.Outbound && (o.LocalPort != 40000 || o.RemotePort != 22) || !o.Outbound && (o.LocalPort != 22 || o.RemotePort != 40000) {
				t.Fatalf("ports local %d remote %d", o.LocalPort, o.RemotePort)
			}
		})
	}
}

func TestNetworkObserveCounters(t *testing.T) {
	n := NewNetwork("111122223333", "us-east-1", "i-00779ebad43b2470d")
	n.Observe(flowEvent(t0, "10.0.1.25", "1.1.1.1", 40612, 853, event.ActionAccept))
	n.Observe(flowEvent(t0, "1.1.1.1", "10.0.1.25", 853, 40612, event.ActionAccept))
	n.Observe(flowEvent(t0, "203.0.113.99", "10.0.1.25", 51514, 3389, event.ActionReject))
	nodata := flowEvent(t0, "10.0.1.25", "1.1.1.1", 0, 0, event.ActionNone)
	nodata.Flow.LogStatus, nodata.Flow.Src, nodata.Flow.Dst = event.StatusNoData, netip.Addr{}, netip.Addr{}
	n.Observe(nodata)
	skip := flowEvent(t0, "10.0.1.25", "1.1.1.1", 0, 0, event.ActionNone)
	skip.Flow.LogStatus = event.StatusSkipData
	n.Observe(skip)
	n.Observe(dnsEvent(t0, "example.com", "10.0.1.25"))
	want := [...]uint64{3, 2, 1, 1, 1, 120, 240, 2, 4, 1}
	got := [...]uint64{n.Flows, n.Accepted, n.Rejected, n.NoData, n.SkipData, n.BytesOut, n.BytesIn, n.PacketsOut, n.PacketsIn, n.DNSQueries}
	if got != want {
		t.Errorf("counters = %v, want %v", got, want)
	}
	if n.InstanceID != "i-00779ebad43b2470d" || len(n.ENIs) != 1 || n.ENIs[0].VPCID != "vpc-0123456789abcdef0" {
		t.Errorf("identity = %q %+v", n.InstanceID, n.ENIs)
	}
	if e, ok := n.LatestENI(); !ok || e.ID != "eni-0a1b2c3d4e5f67890" {
		t.Errorf("LatestENI = %+v %v", e, ok)
	}
	if len(n.LocalAddrs) != 1 || !n.IsLocal(netip.MustParseAddr("10.0.1.25")) {
		t.Errorf("local addresses = %v", n.LocalAddrs)
	}
}

// TestNetworkCaps floods every list of a network profile.
func TestNetworkCaps(t *testing.T) {
	n := NewNetwork("1", "us-east-1", "i-1")
	const w = 10 * time.Minute
	for i := range 3000 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		remote := netip.AddrFrom4([4]byte{198, 51, byte(i / 256), byte(i % 256)})
		ev := flowEvent(at, "10.0.1.25", remote.String(), 40000, uint16(i), event.ActionAccept)
		ev.Flow.InterfaceID = fmt.Sprintf("eni-%04d", i)
		ev.Flow.Src = netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i % 256)})
		ev.Flow.Direction = event.DirectionEgress
		n.Observe(ev)
		n.Probes.Observe(remote, uint16(i), at, w)
		n.Probes.Observe(netip.MustParseAddr("203.0.113.1"), uint16(i), at, w)
		n.SSHInbound.Observe(remote, uint16(i), at, w)
		n.SSHOutbound.Observe(remote, uint16(i), at, w)
		n.SSHFanout.Observe(remote, at, w)
		n.DNSTunnel.Observe(fmt.Sprintf("%s-%d.example", strings.Repeat("d", 200), i), uint32(i), at, w)
	}
	if len(n.ENIs) != MaxENIs || len(n.LocalAddrs) != MaxLocalAddrs {
		t.Errorf("ENIs %d, local addresses %d; want %d, %d", len(n.ENIs), len(n.LocalAddrs), MaxENIs, MaxLocalAddrs)
	}
	for name, l := range map[string]int{"probes": len(n.Probes), "sshInbound": len(n.SSHInbound), "sshOutbound": len(n.SSHOutbound)} {
		if l != MaxRemoteWindows {
			t.Errorf("%s has %d windows, want %d", name, l, MaxRemoteWindows)
		}
	}
	if len(n.DNSTunnel) != MaxDomainWindows || len(n.SSHFanout.Addrs) != MaxFanoutAddrs {
		t.Errorf("dns windows %d, fan-out addresses %d", len(n.DNSTunnel), len(n.SSHFanout.Addrs))
	}
	// The busy remote survives the churn and its window is capped.
	busy := n.Probes.Find(netip.MustParseAddr("203.0.113.1"))
	if busy == nil || len(busy.Ports) != MaxWindowPorts || busy.Count != 3000 {
		t.Fatalf("busy remote window = %+v", busy)
	}
	b, _ := n.MarshalBinary()
	if len(b) > 256<<10 {
		t.Errorf("encoding of a flooded network profile is %d bytes", len(b))
	}
	t.Logf("flooded network profile: %d bytes", len(b))
	if err := new(Network).UnmarshalBinary(b); err != nil {
		t.Fatalf("a capped profile does not decode: %v", err)
	}
}

func TestPortWindowSliding(t *testing.T) {
	var w PortWindows
	r := netip.MustParseAddr("198.51.100.7")
	const win = time.Minute
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for i := range 5 {
		w.Observe(r, uint16(1000+i), at(i*10), win) // 0s..40s
	}
	pw := w.Observe(r, 1000, at(45), win) // a repeat refreshes port 1000
	if len(pw.Ports) != 5 || pw.Count != 6 || !pw.Last.Equal(at(45)) {
		t.Fatalf("window = %+v", pw)
	}
	pw = w.Observe(r, 1005, at(-5), win) // out of order: counts
	if len(pw.Ports) != 6 {
		t.Fatalf("out-of-order observation = %+v", pw)
	}
	// At 85s the ports last seen before 25s have left the window: 1001
	// (10s) and 1002 (20s); 1000 was refreshed at 45s.
	pw = w.Observe(r, 2000, at(85), win)
	if got := pw.Ports.Keys(); !slices.Equal(got, []uint16{1000, 1003, 1004, 2000}) {
		t.Fatalf("ports at 85s = %v, want [1000 1003 1004 2000]", got)
	}
	// Report: once per window.
	if !pw.Report(at(85), win) || pw.Report(at(100), win) || pw.Report(at(145), win) || !pw.Report(at(146), win) {
		t.Fatalf("Report did not allow exactly one finding per window: %v", pw.Reported)
	}
	// Adding a remote drops windows that ended.
	w.Observe(netip.MustParseAddr("198.51.100.8"), 1, at(600), win)
	if len(w) != 1 || w[0].Remote != netip.MustParseAddr("198.51.100.8") {
		t.Fatalf("expired windows kept: %+v", w)
	}
	// A full window replaces its least recently seen port.
	var full PortWindows
	for i := range MaxWindowPorts + 1 {
		full.Observe(r, uint16(i), at(i), time.Hour)
	}
	if got := full[0].Ports.Keys(); len(got) != MaxWindowPorts || got[0] != 1 || got[len(got)-1] != MaxWindowPorts {
		t.Fatalf("full window keys %v", got)
	}
}

func TestDomainWindow(t *testing.T) {
	var w DomainWindows
	for i := range 10 {
		w.Observe("hidemyself.org", uint32(i%4), t0.Add(time.Duration(i)*time.Second), time.Minute)
	}
	dw := w.Find("hidemyself.org")
	if dw == nil || len(dw.Names) != 4 || dw.Count != 10 {
		t.Fatalf("window = %+v", dw)
	}
	if w.Observe(strings.Repeat("a", MaxDomainLen+1), 1, t0, time.Minute) != nil || len(w) != 1 {
		t.Fatal("an over-long domain was accepted")
	}
	var a AddrWindow
	a.Observe(netip.MustParseAddr("198.51.100.2"), t0, time.Minute)
	a.Observe(netip.MustParseAddr("198.51.100.1"), t0, time.Minute)
	a.Observe(netip.MustParseAddr("198.51.100.1"), t0, time.Minute)
	if len(a.Addrs) != 2 || a.Count != 3 {
		t.Fatalf("address window = %+v", a)
	}
	a.Observe(netip.MustParseAddr("198.51.100.3"), t0.Add(2*time.Minute), time.Minute)
	if len(a.Addrs) != 1 || a.Addrs[0].Key != netip.MustParseAddr("198.51.100.3") {
		t.Fatalf("address window did not slide: %+v", a)
	}
}

// richPrincipal and richNetwork fill every field of the profiles.
func richPrincipal() *Principal {
	p := NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	p.Observe(ctEvent(t0, "cloudtrail.amazonaws.com", "StopLogging", "86.245.153.234", "stratus-red-team_c97089f1", ""))
	p.Observe(ctEvent(t0.Add(time.Second+500*time.Microsecond), "iam.amazonaws.com", "ListUsers", "2001:db8::1", "aws-cli/2.15", "AccessDenied"))
	return p
}

func richNetwork() *Network {
	n := NewNetwork("111122223333", "us-east-1", "i-00779ebad43b2470d")
	n.Observe(flowEvent(t0, "10.0.1.25", "1.1.1.1", 40612, 853, event.ActionAccept))
	n.Observe(flowEvent(t0, "10.0.9.9", "10.0.9.8", 1, 2, event.ActionAccept)) // leaves candidates
	n.Observe(dnsEvent(t0, "example.com", "10.0.1.25"))
	n.LocalCandidates = []netip.Addr{netip.MustParseAddr("10.0.9.8"), netip.MustParseAddr("fd00::1")}
	n.Probes.Observe(netip.MustParseAddr("10.0.1.26"), 22, t0, time.Minute)
	n.Probes.Observe(netip.MustParseAddr("10.0.1.26"), 80, t0.Add(time.Second+time.Millisecond), time.Minute).Report(t0, time.Minute)
	n.SSHInbound.Observe(netip.MustParseAddr("198.51.100.7"), 49152, t0, time.Minute)
	n.SSHOutbound.Observe(netip.MustParseAddr("2001:db8::7"), 40000, t0, time.Minute)
	n.SSHFanout.Observe(netip.MustParseAddr("198.51.100.8"), t0, time.Minute)
	n.SSHFanout.Report(t0.Add(time.Second), time.Minute)
	n.DNSTunnel.Observe("hidemyself.org", 0xdeadbeef, t0, time.Minute)
	return n
}

func TestRoundTrip(t *testing.T) {
	for _, p := range []Profile{
		richPrincipal(), richNetwork(),
		NewPrincipal("", "", ""), NewNetwork("", "", ""),
	} {
		t.Run(fmt.Sprintf("%T", p), func(t *testing.T) {
			b, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			q, err := Unmarshal(p.Kind(), b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, q) {
				t.Fatalf("round trip differs:\n%+v\n%+v", p, q)
			}
			b2, _ := q.MarshalBinary()
			if !bytes.Equal(b, b2) {
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

func TestUnmarshalErrors(t *testing.T) {
	pb, _ := richPrincipal().MarshalBinary()
	nb, _ := richNetwork().MarshalBinary()
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
	bad := bytes.Clone(pb)
	bad[0] = 9
	if _, err := Unmarshal(event.KindPrincipal, bad); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("version 9: %v", err)
	}
	// A count above the cap is refused before anything is allocated.
	e := encoder{}
	e.byte(encodingVersion)
	e.byte(byte(event.KindPrincipal))
	(&Header{}).encode(&e)
	for range 4 {
		e.str("")
	}
	e.uvarint(0)
	e.uvarint(1 << 40) // APIs
	if _, err := Unmarshal(event.KindPrincipal, e.b); err == nil || !strings.Contains(err.Error(), "cap") {
		t.Errorf("huge count: %v", err)
	}
	// Unsorted sets are refused: lookups binary-search them.
	p := richPrincipal()
	p.APIs[0], p.APIs[1] = p.APIs[1], p.APIs[0]
	b, _ := p.MarshalBinary()
	if _, err := Unmarshal(event.KindPrincipal, b); err == nil || !strings.Contains(err.Error(), "sorted") {
		t.Errorf("unsorted APIs: %v", err)
	}
	// A failed decode leaves the profile unchanged.
	q := richNetwork()
	before, _ := q.MarshalBinary()
	if err := q.UnmarshalBinary(nb[:len(nb)/2]); err == nil {
		t.Fatal("half an encoding decoded")
	}
	if after, _ := q.MarshalBinary(); !bytes.Equal(before, after) {
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
	buf, _ := richNetwork().MarshalBinary()
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
	ev := ctEvent(t0, "cloudtrail.amazonaws.com", "StopLogging", "198.51.100.9", "aws-cli/2.15.0 Python/3.11", "")
	b, err := ev.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var decoded event.Event
	if err := decoded.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	p := NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	p.Observe(&decoded)
	ct := decoded.CloudTrail
	for _, c := range []struct{ kept, src string }{
		{p.UserAgents[0].Value, ct.UserAgent},
		{p.SourceIPs[0].Value, ct.SourceIP},
		{p.ARN, ct.Identity.ARN},
		{p.UserName, ct.Identity.UserName},
	} {
		if c.kept != c.src {
			t.Fatalf("kept %q, event has %q", c.kept, c.src)
		}
		if unsafe.StringData(c.kept) == unsafe.StringData(c.src) {
			t.Errorf("profile keeps %q inside the decoded event's buffer", c.kept)
		}
	}
}
