package detect

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/awsranges"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// The instance of the baseline tests: an application server that, every
// day, fetches from a few public HTTPS hosts, syncs time with the Amazon
// Time Sync Service and resolves names through the VPC resolver.
const (
	appInstance = "i-0b5e1ine00000001a"
	appENI      = "eni-0b5e1ine0000001a"
	appIP       = "10.0.3.17"
)

// baselineDay is the day the tests judge: the learning period (7 days)
// ended two days before.
var baselineDay = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

// baselineConn is one connection the instance opens: its records are the
// instance's request and the server's reply.
type baselineConn struct {
	remote     string
	port       uint16
	proto      uint8
	out, in    uint64 // bytes
	flags      bool   // v5 records with TCP flags and flow-direction
	sport      uint16
	atOffset   time.Duration
	outPackets uint64
}

// records returns the two records of c at at.
func (c baselineConn) records(at time.Time) []*event.Event {
	if c.proto == 0 {
		c.proto = protoTCP
	}
	if c.sport == 0 {
		c.sport = 41000 + uint16(at.Unix()%20000)
	}
	pk := c.outPackets
	if pk == 0 {
		pk = 4 + c.out/1400
	}
	out := flowSpec{at: at, src: appIP, dst: c.remote, sport: c.sport, dport: c.port, proto: c.proto,
		packets: pk, bytes: c.out, instance: appInstance, eni: appENI, version: 2}
	in := flowSpec{at: at, src: c.remote, dst: appIP, sport: c.port, dport: c.sport, proto: c.proto,
		packets: 4 + c.in/1400, bytes: c.in, instance: appInstance, eni: appENI, version: 2}
	if c.flags {
		out.version, in.version = 5, 5
		out.dir, in.dir = event.DirectionEgress, event.DirectionIngress
		if c.proto == protoTCP {
			out.flags, in.flags = tcpSYN|tcpFIN, tcpSYN|tcpACK|tcpFIN
		}
	}
	return []*event.Event{out.event(), in.event()}
}

// appRoutine is the instance's daily traffic.
var appRoutine = []baselineConn{
	{remote: "52.94.236.248", port: 443, out: 2400, in: 38000},
	{remote: "151.101.1.69", port: 443, out: 1800, in: 120000},
	{remote: "140.82.112.3", port: 443, out: 5200, in: 880000},
	{remote: "169.254.169.123", port: 123, proto: protoUDP, out: 76, in: 76},
	{remote: "10.0.0.2", port: 53, proto: protoUDP, out: 80, in: 240},
}

// routineDays returns days of the appRoutine, and of extra, ending the day
// before baselineDay: every connection at 09:00 plus a minute per
// connection, and again at 15:00.
func routineDays(days int, extra ...baselineConn) []*event.Event {
	var evs []*event.Event
	all := append(slices.Clone(appRoutine), extra...)
	for d := days; d >= 1; d-- {
		day := baselineDay.AddDate(0, 0, -d)
		for _, h := range []int{9, 15} {
			for i, c := range all {
				evs = append(evs, c.records(day.Add(time.Duration(h)*time.Hour+time.Duration(i)*time.Minute+c.atOffset))...)
			}
		}
	}
	return evs
}

func baselineConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	r, err := awsranges.Parse(strings.NewReader(`{"createDate":"2026-11-30-21-13-09","prefixes":[
		{"ip_prefix":"52.216.0.0/15","region":"us-east-1","service":"AMAZON","network_border_group":"us-east-1"},
		{"ip_prefix":"52.216.0.0/15","region":"us-east-1","service":"S3","network_border_group":"us-east-1"},
		{"ip_prefix":"3.80.0.0/12","region":"us-east-1","service":"AMAZON","network_border_group":"us-east-1"},
		{"ip_prefix":"3.80.0.0/12","region":"us-east-1","service":"EC2","network_border_group":"us-east-1"}]}`), "test ranges")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AWSRanges = r
	return cfg
}

// runBaseline applies the events in order to one world and returns the
// merged findings of typ.
func runBaseline(t *testing.T, evs []*event.Event, typ string) []findings.Finding {
	t.Helper()
	w := newWorld(baselineConfig(t))
	occ := w.applyAll(evs)
	for _, f := range occ {
		checkFinding(t, f)
	}
	return aggregate(ofType(occ, typ))
}

func onDay(h, m int) time.Time {
	return baselineDay.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

func TestNetworkBaselineTypes(t *testing.T) {
	// Today's traffic is the appRoutine plus what each case adds.
	today := func(extra ...*event.Event) []*event.Event {
		var evs []*event.Event
		for i, c := range appRoutine {
			evs = append(evs, c.records(onDay(9, i))...)
		}
		return append(evs, extra...)
	}
	recs := func(c baselineConn, t time.Time) []*event.Event { return c.records(t) }
	many := func(c baselineConn, n int, every time.Duration, start time.Time) []*event.Event {
		var evs []*event.Event
		for i := range n {
			evs = append(evs, c.records(start.Add(time.Duration(i)*every))...)
		}
		return evs
	}
	mail := func(hosts int, start time.Time) []*event.Event {
		var evs []*event.Event
		for i := range hosts {
			remote := netip.AddrFrom4([4]byte{198, 51, byte(100 + i%3), byte(10 + i)}).String()
			evs = append(evs, baselineConn{remote: remote, port: 25, out: 24000, in: 1200}.records(start.Add(time.Duration(i)*2*time.Minute))...)
		}
		return evs
	}
	cases := []struct {
		name    string
		history []baselineConn
		days    int
		today   []*event.Event
		typ     string
		want    int // findings of typ
		count   int // their summed count
		check   func(t *testing.T, f findings.Finding)
	}{
		// NetworkPortUnusual.
		{name: "port: new server port on a public host", days: 9,
			today: recs(baselineConn{remote: "203.0.113.50", port: 4444, out: 9000, in: 52000}, onDay(11, 0)),
			typ:   TypeNetworkPortUnusual, want: 1, count: 1,
			check: func(t *testing.T, f findings.Finding) {
				if f.Severity != findings.SeverityMedium || f.Service.AdditionalInfo["context"] != nil {
					t.Errorf("severity %v context %v", f.Severity, f.Service.AdditionalInfo["context"])
				}
				u := f.Service.AdditionalInfo["unusual"].(map[string]any)
				if u["port"] != 4444 || f.Service.AdditionalInfo["unusualProtocol"] != "TCP" {
					t.Errorf("unusual %v", u)
				}
				base := f.Service.AdditionalInfo["baseline"].(map[string]any)
				if base["class"] != "new" || base["value"] != "tcp/4444" {
					t.Errorf("baseline %v", base)
				}
				ports := f.Service.AdditionalInfo["profiledPorts"].([]string)
				if !slices.Contains(ports, "tcp/443") || !slices.Contains(ports, "udp/53") {
					t.Errorf("profiled ports %v", ports)
				}
			}},
		{name: "port: log4j callback on 1389", days: 9,
			today: recs(baselineConn{remote: "45.155.205.233", port: 1389, out: 900, in: 2400, flags: true}, onDay(11, 0)),
			typ:   TypeNetworkPortUnusual, want: 1, count: 1,
			check: func(t *testing.T, f findings.Finding) {
				if f.Severity != findings.SeverityHigh || f.Service.AdditionalInfo["context"] != "Possible log4j callback" {
					t.Errorf("severity %v context %v", f.Severity, f.Service.AdditionalInfo["context"])
				}
			}},
		{name: "port: LDAP 389 counted per record", days: 9,
			today: many(baselineConn{remote: "45.155.205.233", port: 389, out: 900, in: 2400}, 3, time.Minute, onDay(11, 0)),
			typ:   TypeNetworkPortUnusual, want: 1, count: 3},
		{name: "port: known port to a new host", days: 9,
			today: recs(baselineConn{remote: "185.199.108.153", port: 443, out: 3000, in: 90000}, onDay(11, 0)),
			typ:   TypeNetworkPortUnusual},
		{name: "port: used within the history", days: 9, history: []baselineConn{{remote: "203.0.113.9", port: 8443, out: 1000, in: 9000}},
			today: recs(baselineConn{remote: "203.0.113.50", port: 8443, out: 9000, in: 52000}, onDay(11, 0)),
			typ:   TypeNetworkPortUnusual},
		{name: "port: private host", days: 9,
			today: recs(baselineConn{remote: "10.0.7.40", port: 5432, out: 9000, in: 52000}, onDay(11, 0)),
			typ:   TypeNetworkPortUnusual},
		{name: "port: reply of the instance's own service", days: 9,
			today: []*event.Event{
				flowSpec{at: onDay(11, 0), src: "198.51.100.77", dst: appIP, sport: 51544, dport: 8080, packets: 6, bytes: 900, instance: appInstance, eni: appENI, version: 2}.event(),
				flowSpec{at: onDay(11, 0), src: appIP, dst: "198.51.100.77", sport: 8080, dport: 51544, packets: 8, bytes: 64000, instance: appInstance, eni: appENI, version: 2}.event(),
			},
			typ: TypeNetworkPortUnusual},
		{name: "port: ephemeral remote port without TCP flags", days: 9,
			today: recs(baselineConn{remote: "198.51.100.77", port: 45000, sport: 51000, out: 9000, in: 52000}, onDay(11, 0)),
			typ:   TypeNetworkPortUnusual},
		{name: "port: ephemeral remote port the SYN shows", days: 9,
			today: recs(baselineConn{remote: "198.51.100.77", port: 45000, sport: 51000, out: 9000, in: 52000, flags: true}, onDay(11, 0)),
			typ:   TypeNetworkPortUnusual, want: 1, count: 1},
		{name: "port: rejected probe", days: 9,
			today: []*event.Event{flowSpec{at: onDay(11, 0), src: appIP, dst: "198.51.100.77", sport: 51000, dport: 6667, packets: 1, bytes: 60,
				action: event.ActionReject, instance: appInstance, eni: appENI, version: 2}.event()},
			typ: TypeNetworkPortUnusual},
		{name: "port: during the learning period", days: 3,
			today: recs(baselineConn{remote: "203.0.113.50", port: 4444, out: 9000, in: 52000}, onDay(11, 0)),
			typ:   TypeNetworkPortUnusual},

		// TrafficVolumeUnusual.
		{name: "volume: 600 MB to a new host in an afternoon", days: 9,
			today: many(baselineConn{remote: "203.0.113.80", port: 443, out: 60 << 20, in: 400000}, 10, 3*time.Minute, onDay(14, 0)),
			typ:   TypeTrafficVolumeUnusual, want: 1, count: 1,
			check: func(t *testing.T, f findings.Finding) {
				ai := f.Service.AdditionalInfo
				if ai["outBytes"] != uint64(600<<20) || ai["inBytes"] != uint64(4000000) || ai["records"] != uint64(20) {
					t.Errorf("additionalInfo %v", ai)
				}
				if base := ai["baseline"].(map[string]any); base["thresholdBytes"] != uint64(volumeFloor) || base["daysWithTraffic"] != 0 {
					t.Errorf("baseline %v", base)
				}
				if f.Service.EventFirstSeen != findings.Stamp(onDay(14, 0)) || f.Service.EventLastSeen != findings.Stamp(onDay(14, 27)) {
					t.Errorf("seen %s to %s", f.Service.EventFirstSeen, f.Service.EventLastSeen)
				}
				if f.Rank != 20 {
					t.Errorf("rank %d", f.Rank)
				}
			}},
		{name: "volume: 80 MB to a new host is below the floor", days: 9,
			today: many(baselineConn{remote: "203.0.113.80", port: 443, out: 8 << 20, in: 400000}, 10, 3*time.Minute, onDay(14, 0)),
			typ:   TypeTrafficVolumeUnusual},
		{name: "volume: ten times a host's busiest day", days: 9, history: []baselineConn{{remote: "140.82.113.4", port: 22, out: 30 << 20, in: 1 << 20}},
			today: many(baselineConn{remote: "140.82.113.4", port: 22, out: 100 << 20, in: 1 << 20}, 7, time.Minute, onDay(14, 0)),
			typ:   TypeTrafficVolumeUnusual, want: 1, count: 1,
			check: func(t *testing.T, f findings.Finding) {
				base := f.Service.AdditionalInfo["baseline"].(map[string]any)
				if base["peakDailyOutBytes"] != uint64(60<<20) || base["thresholdBytes"] != uint64(600<<20) || base["daysWithTraffic"] != 7 {
					t.Errorf("baseline %v", base)
				}
			}},
		{name: "volume: a host's usual large day", days: 9, history: []baselineConn{{remote: "140.82.113.4", port: 22, out: 200 << 20, in: 1 << 20}},
			today: many(baselineConn{remote: "140.82.113.4", port: 22, out: 100 << 20, in: 1 << 20}, 7, time.Minute, onDay(14, 0)),
			typ:   TypeTrafficVolumeUnusual},
		{name: "volume: S3 is not a host", days: 9,
			today: many(baselineConn{remote: "52.216.229.53", port: 443, out: 100 << 20, in: 400000}, 10, time.Minute, onDay(14, 0)),
			typ:   TypeTrafficVolumeUnusual},
		{name: "volume: the day the learning period ends", days: 6,
			today: many(baselineConn{remote: "203.0.113.80", port: 443, out: 60 << 20, in: 400000}, 10, 3*time.Minute, onDay(14, 0)),
			typ:   TypeTrafficVolumeUnusual},

		// Spambot.
		{name: "spambot: 12 mail servers in half an hour", days: 9, today: mail(12, onDay(12, 0)),
			typ: TypeSpambot, want: 1, count: 2,
			check: func(t *testing.T, f findings.Finding) {
				ai := f.Service.AdditionalInfo
				if ai["distinctHosts"] != 12 || ai["massMailing"] != true {
					t.Errorf("additionalInfo %v", ai)
				}
			}},
		{name: "spambot: one mail server", days: 9, today: mail(1, onDay(12, 0)),
			typ: TypeSpambot, want: 1, count: 2,
			check: func(t *testing.T, f findings.Finding) {
				if ai := f.Service.AdditionalInfo; ai["distinctHosts"] != 1 || ai["massMailing"] != false {
					t.Errorf("additionalInfo %v", ai)
				}
			}},
		{name: "spambot: a mail relay", days: 9, history: []baselineConn{{remote: "198.51.100.25", port: 25, out: 90000, in: 3000}},
			today: mail(12, onDay(12, 0)), typ: TypeSpambot},
		{name: "spambot: not NetworkPortUnusual too", days: 9, today: mail(3, onDay(12, 0)), typ: TypeNetworkPortUnusual},

		// UnusualDNSResolver.
		{name: "dns: Google Public DNS", days: 9,
			today: many(baselineConn{remote: "8.8.8.8", port: 53, proto: protoUDP, out: 74, in: 120}, 4, time.Minute, onDay(11, 0)),
			typ:   TypeUnusualDNSResolver, want: 1, count: 4,
			check: func(t *testing.T, f findings.Finding) {
				if f.Service.AdditionalInfo["unusual"] != "8.8.8.8" {
					t.Errorf("unusual %v", f.Service.AdditionalInfo["unusual"])
				}
			}},
		{name: "dns: over TCP", days: 9,
			today: recs(baselineConn{remote: "94.140.14.14", port: 53, out: 300, in: 900}, onDay(11, 0)),
			typ:   TypeUnusualDNSResolver, want: 1, count: 1},
		{name: "dns: a resolver of the last 30 days", days: 9, history: []baselineConn{{remote: "8.8.8.8", port: 53, proto: protoUDP, out: 74, in: 120}},
			today: recs(baselineConn{remote: "8.8.8.8", port: 53, proto: protoUDP, out: 74, in: 120}, onDay(11, 0)),
			typ:   TypeUnusualDNSResolver},
		{name: "dns: the VPC resolver", days: 9,
			today: recs(baselineConn{remote: "10.0.0.2", port: 53, proto: protoUDP, out: 74, in: 120}, onDay(11, 0)),
			typ:   TypeUnusualDNSResolver},
		{name: "dns: a recursive resolver meets a new server", days: 9, history: recursiveQueries(20),
			today: recs(baselineConn{remote: "199.7.83.42", port: 53, proto: protoUDP, out: 74, in: 520}, onDay(11, 0)),
			typ:   TypeUnusualDNSResolver},
		{name: "dns: during the learning period", days: 2,
			today: recs(baselineConn{remote: "8.8.8.8", port: 53, proto: protoUDP, out: 74, in: 120}, onDay(11, 0)),
			typ:   TypeUnusualDNSResolver},

		// UnusualDoHActivity.
		{name: "doh: Cloudflare over HTTPS", days: 9,
			today: recs(baselineConn{remote: "1.1.1.1", port: 443, out: 3000, in: 6000, flags: true}, onDay(11, 0)),
			typ:   TypeUnusualDoHActivity, want: 1, count: 1,
			check: func(t *testing.T, f findings.Finding) {
				ai := f.Service.AdditionalInfo
				if ai["unusual"] != "1.1.1.1" || ai["resolverList"] != "public-doh-resolvers" || ai["resolverEntry"] != "1.1.1.1" {
					t.Errorf("additionalInfo %v", ai)
				}
			}},
		{name: "doh: HTTPS to a web host", days: 9,
			today: recs(baselineConn{remote: "185.199.108.153", port: 443, out: 3000, in: 6000}, onDay(11, 0)),
			typ:   TypeUnusualDoHActivity},
		{name: "doh: the instance's usual DoH resolver", days: 9, history: []baselineConn{{remote: "8.8.8.8", port: 443, out: 3000, in: 6000}},
			today: recs(baselineConn{remote: "8.8.4.4", port: 443, out: 3000, in: 6000}, onDay(11, 0)), // another address: new
			typ:   TypeUnusualDoHActivity, want: 1, count: 1},
		{name: "doh: the same address as every day", days: 9, history: []baselineConn{{remote: "8.8.8.8", port: 443, out: 3000, in: 6000}},
			today: recs(baselineConn{remote: "8.8.8.8", port: 443, out: 3000, in: 6000}, onDay(11, 0)),
			typ:   TypeUnusualDoHActivity},

		// UnusualDoTActivity.
		{name: "dot: Quad9 over TLS", days: 9,
			today: recs(baselineConn{remote: "9.9.9.9", port: 853, out: 2480, in: 5200, flags: true}, onDay(11, 0)),
			typ:   TypeUnusualDoTActivity, want: 1, count: 1,
			check: func(t *testing.T, f findings.Finding) {
				if ai := f.Service.AdditionalInfo; ai["resolverList"] != "public-dot-resolvers" {
					t.Errorf("additionalInfo %v", ai)
				}
			}},
		{name: "dot: an unlisted server", days: 9,
			today: recs(baselineConn{remote: "203.0.113.53", port: 853, out: 2480, in: 5200}, onDay(11, 0)),
			typ:   TypeUnusualDoTActivity, want: 1, count: 1},
		{name: "dot: a server of the last 30 days", days: 9, history: []baselineConn{{remote: "9.9.9.9", port: 853, out: 2480, in: 5200}},
			today: recs(baselineConn{remote: "9.9.9.9", port: 853, out: 2480, in: 5200}, onDay(11, 0)),
			typ:   TypeUnusualDoTActivity},
		{name: "dot: not NetworkPortUnusual too", days: 9,
			today: recs(baselineConn{remote: "9.9.9.9", port: 853, out: 2480, in: 5200}, onDay(11, 0)),
			typ:   TypeNetworkPortUnusual},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs := append(routineDays(tc.days, tc.history...), today(tc.today...)...)
			got := runBaseline(t, evs, tc.typ)
			count := 0
			for _, f := range got {
				count += f.Service.Count
			}
			if len(got) != tc.want || count != tc.count {
				t.Fatalf("%d findings of %s counting %d, want %d counting %d:%s", len(got), tc.typ, count, tc.want, tc.count, summary(got))
			}
			for _, f := range got {
				if f.Resource.InstanceDetails == nil || f.Resource.InstanceDetails.InstanceID != appInstance ||
					f.Service.Action.NetworkConnectionAction == nil || f.Service.Action.NetworkConnectionAction.ConnectionDirection != findings.DirectionOutbound {
					b, _ := json.MarshalIndent(f, "", "  ")
					t.Fatalf("finding without its instance or outbound connection:\n%s", b)
				}
				if f.Service.AdditionalInfo["reason"] == nil || f.Service.AdditionalInfo["baseline"] == nil {
					t.Errorf("no evidence: %v", f.Service.AdditionalInfo)
				}
				if tc.check != nil {
					tc.check(t, f)
				}
			}
		})
	}
}

// recursion is the daily traffic of an instance that resolves names
// itself: queries to n authoritative servers.
func recursiveQueries(n int) []baselineConn {
	var out []baselineConn
	for i := range n {
		out = append(out, baselineConn{remote: netip.AddrFrom4([4]byte{192, 5, byte(i), 30}).String(), port: 53, proto: protoUDP, out: 74, in: 480})
	}
	return out
}

// TestNetworkPortUnusualPanther runs the exfiltration of panther-analysis'
// compromised-credentials scenario (testdata/panther_attacker_vpc.vpcflow.txt):
// after nine days of the interface's appRoutine traffic, the attacker's SSH
// session in and the instance copying data out to the attacker's port 22,
// a server port it never used. The inbound session and the S3 download
// (the instance's own port 443 answering) raise nothing; the copy-out
// raises NetworkPortUnusual once per record, and its 2 MB stay far below
// the volume threshold.
func TestNetworkPortUnusualPanther(t *testing.T) {
	const eni, local, account = "eni-0b13344793d4fde67", "172.31.77.31", "493859302102"
	var scenario []*event.Event
	for _, l := range readLines(t, "panther_attacker_vpc.vpcflow.txt") {
		if l[0] != '#' {
			scenario = append(scenario, flowLine(t, string(l), ""))
		}
	}
	start := scenario[0].Time
	var evs []*event.Event
	for d := 9; d >= 1; d-- {
		day := start.AddDate(0, 0, -d)
		for i, c := range appRoutine[:3] {
			for _, ev := range c.records(day.Add(time.Duration(i) * time.Minute)) {
				f := ev.Flow
				f.Version, f.AccountID, f.InterfaceID, f.InstanceID, f.VPCID, f.SubnetID = 2, account, eni, "", "", ""
				if f.Src == netip.MustParseAddr(appIP) {
					f.Src = netip.MustParseAddr(local)
				} else {
					f.Dst = netip.MustParseAddr(local)
				}
				ev.Account, ev.Entity = account, eni
				evs = append(evs, ev)
			}
		}
	}
	evs = append(evs, scenario...)
	w := newWorld(baselineConfig(t))
	occ := w.applyAll(evs)
	got := aggregate(occ)
	if len(got) != 1 || got[0].Type != TypeNetworkPortUnusual || got[0].Service.Count != 2 {
		t.Fatalf("want one NetworkPortUnusual counting 2:%s", summary(got))
	}
	f := got[0]
	checkFinding(t, f)
	c := f.Service.Action.NetworkConnectionAction
	if c.RemoteIPDetails.IPAddressV4 != "92.55.146.245" || c.RemotePortDetails.Port != 22 || c.LocalIPDetails.IPAddressV4 != local ||
		f.Resource.InstanceDetails.NetworkInterfaces[0].NetworkInterfaceID != eni {
		b, _ := json.MarshalIndent(f, "", "  ")
		t.Fatalf("connection:\n%s", b)
	}
}

// baselineStream is a realistic mix for the order and restart tests:
// days of routine traffic, then a day with one of each finding.
func baselineStream(days int) []*event.Event {
	evs := routineDays(days, baselineConn{remote: "8.8.8.8", port: 53, proto: protoUDP, out: 74, in: 120})
	for i, c := range appRoutine {
		evs = append(evs, c.records(onDay(9, i))...)
	}
	for i := range 3 {
		evs = append(evs, baselineConn{remote: "45.155.205.233", port: 1389, out: 900, in: 2400, flags: true}.records(onDay(10, i))...)
		evs = append(evs, baselineConn{remote: "203.0.113.80", port: 443, out: 60 << 20, in: 400000}.records(onDay(10, 20+i*20))...)
		evs = append(evs, baselineConn{remote: "203.0.113.80", port: 443, out: 60 << 20, in: 400000}.records(onDay(10, 30+i*20))...)
		evs = append(evs, baselineConn{remote: "1.1.1.1", port: 443, out: 3000, in: 6000, flags: true}.records(onDay(11, i*10))...)
		evs = append(evs, baselineConn{remote: "9.9.9.9", port: 853, out: 2000, in: 5000}.records(onDay(11, 5+i*10))...)
		evs = append(evs, baselineConn{remote: "94.140.14.14", port: 53, proto: protoUDP, out: 74, in: 120}.records(onDay(11, 7+i*10))...)
	}
	for i := range 12 {
		remote := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}).String()
		evs = append(evs, baselineConn{remote: remote, port: 25, out: 24000, in: 1200}.records(onDay(12, 3*i))...)
	}
	return evs
}

// TestNetworkBaselineOrder applies the baseline stream in time order and
// in 30 bounded shuffles (records late by less than
// profiles.NetBaselineLateness), half of them restoring the profile from
// its encoding at random points: the profile encodings and the merged
// findings are the same, and every baseline type fires.
func TestNetworkBaselineOrder(t *testing.T) {
	evs := baselineStream(9)
	slices.SortStableFunc(evs, func(a, b *event.Event) int { return a.Time.Compare(b.Time) })
	want := applyRunCfg(t, evs, nil, baselineConfig(t))
	for _, typ := range []string{TypeNetworkPortUnusual, TypeTrafficVolumeUnusual, TypeSpambot, TypeUnusualDNSResolver, TypeUnusualDoHActivity, TypeUnusualDoTActivity} {
		if len(ofType(want.findings, typ)) != 1 {
			t.Fatalf("want one %s:%s", typ, summary(want.findings))
		}
	}
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 42))
		var restore *rand.Rand
		if seed%2 == 1 {
			restore = rand.New(rand.NewPCG(seed, 43))
		}
		got := applyRunCfg(t, boundedShuffle(evs, profiles.NetBaselineLateness-time.Minute, r), restore, baselineConfig(t))
		if d := got.diff(want); d != "" {
			t.Fatalf("seed %d (restore %v):%s", seed, restore != nil, d)
		}
	}
}

// TestNetworkBaselineLearning runs the day of every finding after three
// days of history: the learning period (a week) is not over, and nothing
// is raised; with a learning period of two days, everything is.
func TestNetworkBaselineLearning(t *testing.T) {
	evs := baselineStream(3)
	types := []string{TypeNetworkPortUnusual, TypeTrafficVolumeUnusual, TypeSpambot, TypeUnusualDNSResolver, TypeUnusualDoHActivity, TypeUnusualDoTActivity}
	got := applyRunCfg(t, evs, nil, baselineConfig(t))
	for _, typ := range types {
		if n := len(ofType(got.findings, typ)); n != 0 {
			t.Errorf("%d %s during the learning period", n, typ)
		}
	}
	cfg := baselineConfig(t)
	cfg.NetworkLearningPeriod = 48 * time.Hour
	got = applyRunCfg(t, evs, nil, cfg)
	for _, typ := range types {
		if n := len(ofType(got.findings, typ)); n != 1 {
			t.Errorf("%d %s after a learning period of 2 days, want 1", n, typ)
		}
	}
}

// applyRunCfg is applyRun with the given configuration.
func applyRunCfg(t testing.TB, evs []*event.Event, restore *rand.Rand, cfg Config) run {
	t.Helper()
	eng := New(cfg)
	ps := map[string]profiles.Profile{}
	var occ []findings.Finding
	for _, ev := range evs {
		p, ok := ps[ev.Key()]
		if !ok {
			p = profiles.New(ev.Kind, ev.Account, ev.Region, ev.Entity)
			ps[ev.Key()] = p
		} else if restore != nil && restore.IntN(8) == 0 {
			b, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if p, err = profiles.Unmarshal(p.Kind(), b); err != nil {
				t.Fatalf("restore %s: %v", ev.Key(), err)
			}
			ps[ev.Key()] = p
		}
		got, _ := eng.Apply(p, ev)
		occ = append(occ, got...)
	}
	r := run{profiles: map[string][]byte{}, findings: aggregate(occ)}
	for k, p := range ps {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		r.profiles[k] = b
	}
	return r
}

// TestNetworkBaselineRestart stops the node after the history (the profile
// goes to its encoding and comes back, as a restart or a passivated actor
// does) and judges the day on the restored baseline: the same findings as
// without the restart.
func TestNetworkBaselineRestart(t *testing.T) {
	evs := baselineStream(9)
	slices.SortStableFunc(evs, func(a, b *event.Event) int { return a.Time.Compare(b.Time) })
	want := applyRunCfg(t, evs, nil, baselineConfig(t))

	cut := slices.IndexFunc(evs, func(ev *event.Event) bool { return !ev.Time.Before(baselineDay) })
	eng := New(baselineConfig(t))
	p := profiles.New(event.KindNetwork, evs[0].Account, evs[0].Region, evs[0].Entity)
	var occ []findings.Finding
	for _, ev := range evs[:cut] {
		got, _ := eng.Apply(p, ev)
		occ = append(occ, got...)
	}
	if len(occ) != 0 {
		t.Fatalf("findings from the history alone:%s", summary(occ))
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	q, err := profiles.Unmarshal(event.KindNetwork, b)
	if err != nil {
		t.Fatal(err)
	}
	n := q.(*profiles.Network)
	if n.Baseline.Ports.Find("tcp/443") == nil || n.Baseline.Resolvers.Find("8.8.8.8") == nil || len(n.Baseline.Volume) == 0 {
		t.Fatalf("restored baseline lost its values: %+v", n.Baseline)
	}
	eng = New(baselineConfig(t)) // the restarted node
	for _, ev := range evs[cut:] {
		got, _ := eng.Apply(q, ev)
		occ = append(occ, got...)
	}
	got := aggregate(occ)
	if len(got) != len(want.findings) {
		t.Fatalf("%d findings after a restart, want %d:%s\nwant:%s", len(got), len(want.findings), summary(got), summary(want.findings))
	}
	for i := range got {
		g, _ := json.Marshal(got[i])
		w, _ := json.Marshal(want.findings[i])
		if string(g) != string(w) {
			t.Errorf("finding %s differs after a restart:\n%s\nwant\n%s", got[i].Type, g, w)
		}
	}
}
