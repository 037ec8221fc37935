package detect

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

var scanStart = time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)

const (
	scanner  = "i-00779ebad43b2470d"
	scannerE = "eni-0a1b2c3d4e5f67890"
	localIP  = "10.0.1.25"
)

// scanPorts returns n target ports in the order a connect scan probes
// them: the well-known ports and a few high service ports, shuffled with a
// fixed seed.
func scanPorts(n int, seed uint64) []uint16 {
	var ports []uint16
	for p := uint16(1); p <= 1024; p++ {
		ports = append(ports, p)
	}
	ports = append(ports, 1433, 1521, 1723, 2049, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200,
		27017, 49152, 49153, 49154, 49155, 50000, 50001)
	r := rand.New(rand.NewPCG(seed, 1))
	r.Shuffle(len(ports), func(i, j int) { ports[i], ports[j] = ports[j], ports[i] })
	return ports[:n]
}

// nmapScan returns the flow records the scanner's interface logs for an
// `nmap -sT` scan of target: per port a SYN from a fresh ephemeral port,
// and the target's answer — SYN-ACK from an open port (the scanner then
// sends ACK and RST), RST from a closed one, nothing from a filtered one.
// v5 records carry flow-direction and TCP flags; v2 records carry neither.
// perProbe is the time between probes.
func nmapScan(start time.Time, target string, ports []uint16, version uint8, perProbe time.Duration) []*event.Event {
	var evs []*event.Event
	r := rand.New(rand.NewPCG(7, 7))
	for i, p := range ports {
		at := start.Add(time.Duration(i) * perProbe)
		eph := uint16(32768 + r.IntN(28000))
		state := r.IntN(10) // 0: open, 1–2: filtered, else closed
		out := flowSpec{at: at, src: localIP, dst: target, sport: eph, dport: p, instance: scanner, eni: scannerE,
			packets: 1, bytes: 60, flags: tcpSYN, dir: event.DirectionEgress, version: version}
		in := flowSpec{at: at, src: target, dst: localIP, sport: p, dport: eph, instance: scanner, eni: scannerE,
			packets: 1, bytes: 40, flags: tcpRST, dir: event.DirectionIngress, version: version}
		switch {
		case state == 0:
			out.packets, out.bytes, out.flags = 3, 160, tcpSYN|tcpRST
			in.flags, in.bytes = tcpSYN|tcpACK, 60
		case state <= 2:
			out.packets, out.bytes = 2, 120
		}
		evs = append(evs, format(out, version).event())
		if state > 2 || state == 0 {
			evs = append(evs, format(in, version).event())
		}
	}
	return evs
}

// format strips what a flow-log version lacks from a record: version 3
// has the instance id and TCP flags but no flow-direction; version 2 has
// neither, so the record belongs to the network interface.
func format(s flowSpec, version uint8) flowSpec {
	s.version = version
	switch version {
	case 2:
		s.flags, s.dir, s.instance = 0, event.DirectionUnknown, ""
	case 3:
		s.dir = event.DirectionUnknown
	}
	return s
}

func TestPortscanPositives(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events func() []*event.Event
		remote string
		// want is the number of windows (5 minutes, starting every 2.5)
		// that reach the threshold: a scan shorter than 2.5 minutes lies
		// whole in two.
		want int
		v2   bool // version-2 records: the interface stands for the instance
	}{
		{
			// The AWS tester: nmap -sT -Pn against another instance of the
			// VPC, 1000 ports, flow logs v5.
			name: "v5 nmap -sT top 1000 against a private host",
			events: func() []*event.Event {
				return nmapScan(scanStart, "10.0.1.26", scanPorts(1000, 1), 5, 20*time.Millisecond)
			},
			remote: "10.0.1.26", want: 2,
		},
		{
			name: "v2 nmap -sT top 100 against scanme.nmap.org",
			events: func() []*event.Event {
				return nmapScan(scanStart, "45.33.32.156", scanPorts(100, 2), 2, 50*time.Millisecond)
			},
			remote: "45.33.32.156", want: 2, v2: true,
		},
		{
			// v3 records (instance id and TCP flags, no flow-direction)
			// between two private addresses: the scanner's own address is
			// learned from its DNS queries first.
			name: "v3 nmap against a private host, local address learned from DNS",
			events: func() []*event.Event {
				evs := []*event.Event{dnsQuery(scanStart.Add(-time.Minute), scanner, localIP, "ssm.us-east-1.amazonaws.com")}
				return append(evs, nmapScan(scanStart, "10.0.1.26", scanPorts(300, 3), 3, 100*time.Millisecond)...)
			},
			remote: "10.0.1.26", want: 2,
		},
		{
			// The same with v2 records, which belong to the interface: its
			// address is learned from a record with a public peer.
			name: "v2 nmap against a private host, local address learned from public traffic",
			events: func() []*event.Event {
				evs := []*event.Event{flowSpec{at: scanStart.Add(-time.Minute), src: localIP, dst: "52.216.229.53", sport: 40001, dport: 443,
					packets: 20, bytes: 9000, version: 2}.event()}
				return append(evs, nmapScan(scanStart, "10.0.1.26", scanPorts(300, 3), 2, 100*time.Millisecond)...)
			},
			remote: "10.0.1.26", want: 2, v2: true,
		},
		{
			// A SYN scan of 30 filtered ports (one rejected record each),
			// parked until the interface's address is learned from a record
			// after it.
			name: "v2 scan of a private host, local address learned last",
			events: func() []*event.Event {
				var evs []*event.Event
				for i, p := range scanPorts(30, 3) {
					evs = append(evs, flowSpec{at: scanStart.Add(time.Duration(i) * 100 * time.Millisecond), src: localIP, dst: "10.0.1.26",
						sport: uint16(40000 + i), dport: p, packets: 1, bytes: 60, action: event.ActionReject, version: 2}.event())
				}
				return append(evs, flowSpec{at: scanStart.Add(time.Minute), src: localIP, dst: "52.216.229.53", sport: 40001, dport: 443,
					packets: 20, bytes: 9000, version: 2}.event())
			},
			remote: "10.0.1.26", want: 2, v2: true,
		},
		{
			// One probe a second for 1000 ports, 16m40s: panes of 2.5
			// minutes 0 to 6, so windows -1 (pane 0 alone) to 6 (pane 6
			// alone), 8 in all, each with 100 probes or more.
			name:   "slow scan over 17 minutes",
			events: func() []*event.Event { return nmapScan(scanStart, "10.0.1.26", scanPorts(1000, 4), 5, time.Second) },
			remote: "10.0.1.26", want: 8,
		},
		{
			name:   "threshold: 25 ports",
			events: func() []*event.Event { return nmapScan(scanStart, "10.0.1.26", scanPorts(25, 5), 5, time.Second) },
			remote: "10.0.1.26", want: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := ofType(w.applyAll(tc.events()), TypePortscan)
			if raised(got) != tc.want {
				t.Fatalf("%d occurrences counted, want %d:%s", raised(got), tc.want, summary(got))
			}
			agg := aggregate(got)
			if len(agg) != 1 || agg[0].Service.Count != tc.want {
				t.Fatalf("aggregated into %d findings:%s", len(agg), summary(agg))
			}
			f := agg[0]
			checkFinding(t, f)
			// Version 2 records do not name the instance: the interface does.
			wantInstance, label := scanner, scanner
			if tc.v2 {
				wantInstance, label = "", scannerE
			}
			nc := f.Service.Action.NetworkConnectionAction
			d := f.Resource.InstanceDetails
			if f.Severity != findings.SeverityMedium || f.Service.ResourceRole != findings.RoleActor ||
				nc == nil || nc.ConnectionDirection != findings.DirectionOutbound || nc.RemoteIPDetails.IPAddressV4 != tc.remote ||
				nc.LocalIPDetails.IPAddressV4 != localIP || nc.Protocol != "TCP" || d == nil || d.InstanceID != wantInstance ||
				len(d.NetworkInterfaces) != 1 || d.NetworkInterfaces[0].NetworkInterfaceID != scannerE ||
				d.NetworkInterfaces[0].PrivateIPAddress != localIP {
				b, _ := json.MarshalIndent(f, "", "  ")
				t.Fatalf("finding:\n%s", b)
			}
			sample, ok := f.Service.AdditionalInfo["portsScannedSample"].([]int)
			if !ok || len(sample) < 25 || !slices.IsSorted(sample) {
				t.Errorf("portsScannedSample = %#v", f.Service.AdditionalInfo["portsScannedSample"])
			}
			if want := "EC2 instance " + label + " is performing outbound port scans against remote host " + tc.remote + "."; f.Title != want {
				t.Errorf("title = %q, want %q", f.Title, want)
			}
		})
	}
}

func TestPortscanNegatives(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	eph := func() uint16 { return uint16(32768 + r.IntN(28000)) }
	// balancerTraffic appends a load balancer's requests to the instance
	// and the instance's replies to the balancer's ephemeral ports (v2).
	balancerTraffic := func(evs []*event.Event) []*event.Event {
		for i := range 500 {
			at := scanStart.Add(time.Duration(i) * 300 * time.Millisecond)
			e := eph()
			evs = append(evs,
				flowSpec{at: at, src: "10.0.0.200", dst: localIP, sport: e, dport: 8080, packets: 3, bytes: 300, version: 2}.event(),
				flowSpec{at: at, src: localIP, dst: "10.0.0.200", sport: 8080, dport: e, packets: 2, bytes: 900, version: 2}.event())
		}
		return evs
	}
	for _, tc := range []struct {
		name   string
		events func() []*event.Event
	}{
		{
			name:   "24 ports: below the threshold",
			events: func() []*event.Event { return nmapScan(scanStart, "10.0.1.26", scanPorts(24, 5), 5, time.Second) },
		},
		{
			name: "web client: many connections to 80 and 443 of a few hosts",
			events: func() []*event.Event {
				var evs []*event.Event
				hosts := []string{"151.101.1.69", "151.101.65.69", "104.16.132.229", "52.216.229.53"}
				for i := range 400 {
					at := scanStart.Add(time.Duration(i) * 200 * time.Millisecond)
					h, p, e := hosts[i%len(hosts)], uint16(443), eph()
					if i%5 == 0 {
						p = 80
					}
					evs = append(evs,
						flowSpec{at: at, src: localIP, dst: h, sport: e, dport: p, packets: 14, bytes: 2100, version: 2}.event(),
						flowSpec{at: at, src: h, dst: localIP, sport: p, dport: e, packets: 22, bytes: 28000, version: 2}.event())
				}
				return evs
			},
		},
		{
			name: "server receiving many clients, with replies",
			events: func() []*event.Event {
				var evs []*event.Event
				for i := range 600 {
					at := scanStart.Add(time.Duration(i) * 100 * time.Millisecond)
					client := netip.AddrFrom4([4]byte{198, 51, byte(100 + i/250), byte(i % 250)}).String()
					e := eph()
					evs = append(evs,
						flowSpec{at: at, src: client, dst: localIP, sport: e, dport: 443, packets: 3, bytes: 180, flags: tcpSYN | tcpFIN, dir: event.DirectionIngress}.event(),
						flowSpec{at: at, src: localIP, dst: client, sport: 443, dport: e, packets: 3, bytes: 180, flags: tcpSYN | tcpACK | tcpFIN, dir: event.DirectionEgress}.event())
				}
				return evs
			},
		},
		{
			// A load balancer (one private address) health-checks and
			// forwards to the instance: the instance's replies go to
			// hundreds of the balancer's ephemeral ports in short flows.
			// v2 records: no flags, no direction.
			name: "replies to a load balancer's many ephemeral ports (v2)",
			events: func() []*event.Event {
				evs := []*event.Event{flowSpec{at: scanStart.Add(-time.Minute), src: localIP, dst: "52.94.76.10", sport: eph(), dport: 443, packets: 10, bytes: 4000, version: 2}.event()}
				return balancerTraffic(evs)
			},
		},
		{
			name: "the same, before the instance's address is known",
			events: func() []*event.Event {
				return balancerTraffic(nil)
			},
		},
		{
			// The instance is scanned: inbound probes, and its RST and
			// SYN-ACK answers from each probed port to the scanner's port.
			name: "instance being scanned (v2 records)",
			events: func() []*event.Event {
				var evs []*event.Event
				for i, p := range scanPorts(1000, 9) {
					at := scanStart.Add(time.Duration(i) * 20 * time.Millisecond)
					e := eph()
					evs = append(evs,
						flowSpec{at: at, src: "45.33.32.156", dst: localIP, sport: e, dport: p, packets: 1, bytes: 60, version: 2}.event(),
						flowSpec{at: at, src: localIP, dst: "45.33.32.156", sport: p, dport: e, packets: 1, bytes: 40, version: 2}.event())
				}
				return evs
			},
		},
		{
			// A Windows domain member talks to a domain controller on its
			// service ports and dynamic RPC ports, with real data.
			name: "domain member to a domain controller",
			events: func() []*event.Event {
				var evs []*event.Event
				ports := []uint16{53, 88, 135, 389, 445, 464, 636, 3268, 3269, 9389, 49664, 49665, 49667, 49670, 49688, 50123, 51234, 52345}
				for round := range 10 {
					for j, p := range ports {
						at := scanStart.Add(time.Duration(round*30+j) * time.Second)
						evs = append(evs, flowSpec{at: at, src: localIP, dst: "10.0.0.10", sport: eph(), dport: p, packets: 12, bytes: 5200,
							flags: tcpSYN | tcpFIN, dir: event.DirectionEgress}.event())
					}
				}
				return evs
			},
		},
		{
			// Two private addresses and nothing learned: the records stay
			// parked (the first MaxParked of them), their bytes unknown.
			name: "direction unknown",
			events: func() []*event.Event {
				return nmapScan(scanStart, "10.0.1.26", scanPorts(200, 6), 2, 50*time.Millisecond)
			},
		},
		{
			name: "NODATA and SKIPDATA records",
			events: func() []*event.Event {
				var evs []*event.Event
				for i := range 100 {
					s := flowSpec{at: scanStart.Add(time.Duration(i) * time.Minute), src: localIP, dst: "10.0.1.26", logStatus: event.StatusNoData}
					if i%2 == 1 {
						s.logStatus = event.StatusSkipData
					}
					evs = append(evs, s.event())
				}
				return evs
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			if got := w.applyAll(tc.events()); len(got) != 0 {
				t.Fatalf("%d findings, want none:%s", len(got), summary(got))
			}
			// Nothing is counted as outbound that was not known to be.
			for _, p := range w.profiles {
				if n, ok := p.(*profiles.Network); ok && n.LocalAddrs == nil && n.BytesOut+n.BytesIn != 0 {
					t.Errorf("bytes in %d out %d without a learned address", n.BytesIn, n.BytesOut)
				}
			}
		})
	}
}

// TestPortscanPantherSingleFlows: panther-analysis' AWS.VPC.PortScanning
// flags single egress flows to uncommon ports. One flow is never a scan
// here: the finding needs 25 ports of one host.
func TestPortscanPantherSingleFlows(t *testing.T) {
	for _, c := range pantherCases(t, "AWS.VPC.PortScanning") {
		var rec struct {
			SrcAddr, DstAddr string
			SrcPort, DstPort uint16
			FlowDirection    string
		}
		if err := json.Unmarshal(c.Log, &rec); err != nil {
			t.Fatal(err)
		}
		if _, err := netip.ParseAddr(rec.SrcAddr); err != nil {
			continue // "Null Source Address"
		}
		dir := event.DirectionIngress
		if rec.FlowDirection == "egress" {
			dir = event.DirectionEgress
		}
		w := newWorld(DefaultConfig())
		ev := flowSpec{at: scanStart, src: rec.SrcAddr, dst: rec.DstAddr, sport: rec.SrcPort, dport: rec.DstPort, packets: 1, bytes: 60, flags: tcpSYN, dir: dir}.event()
		if got := w.apply(ev); len(got) != 0 {
			t.Errorf("%s: a single flow raised:%s", c.TestName, summary(got))
		}
	}
}
