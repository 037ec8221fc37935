package detect

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
)

var dosTypeList = []string{TypeDoSDNS, TypeDoSTCP, TypeDoSUDP, TypeDoSUDPOnTCPPorts, TypeDoSUnusualProtocol}

// flood returns the flow log of a flood of total packets of size bytes
// from the instance to dst:dport at rate packets a second, from a source
// port that changes with every packet, cycling through span ports from
// base (hping3 counts up through all 65,536 by default; bots often pick
// from a smaller range): per 1-minute aggregation interval, one record
// per source port used in it, carrying that port's packets.
func flood(start time.Time, dst string, proto uint8, dport uint16, total, rate int, size uint64, base uint16, span int) []*event.Event {
	var evs []*event.Event
	perInterval := rate * 60
	for sent, interval := 0, 0; sent < total; interval++ {
		n := min(perInterval, total-sent)
		at := start.Add(time.Duration(interval) * time.Minute)
		// n packets over span ports: each port used n/span times, the
		// first n%span once more.
		ports := min(n, span)
		for i := range ports {
			pk := uint64(n / span)
			if i < n%span {
				pk++
			}
			flags := uint16(0)
			if proto == protoTCP {
				flags = tcpSYN
			}
			evs = append(evs, flowSpec{at: at, src: localIP, dst: dst, sport: base + uint16((sent+i)%span), dport: dport, proto: proto,
				packets: pk, bytes: pk * size, flags: flags, dir: event.DirectionEgress, instance: scanner}.event())
		}
		sent += n
	}
	return evs
}

func dosOccurrences(all []findings.Finding) map[string]int {
	got := map[string]int{}
	for _, typ := range dosTypeList {
		for _, f := range ofType(all, typ) {
			got[typ] += f.Service.Count
		}
	}
	return got
}

// TestDenialOfServiceTester replays the AWS GuardDuty tester's two floods
// (spec §1.4): 400,000 UDP/53 packets with 64-byte payloads to one
// address, and 400,000 UDP/80 packets with 256-byte payloads to an
// elastic IP, at 10,000 packets a second.
func TestDenialOfServiceTester(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		evs   []*event.Event
		types []string
		port  int
	}{
		{"UDP/53, 64-byte payloads", flood(t0, "198.51.100.53", protoUDP, 53, 400000, 10000, 64+28, 31000, 1<<16), []string{TypeDoSDNS}, 53},
		{"UDP/80, 256-byte payloads", flood(t0, "54.201.10.10", protoUDP, 80, 400000, 10000, 256+28, 1200, 1<<16), []string{TypeDoSUDP, TypeDoSUDPOnTCPPorts}, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := dosOccurrences(w.applyAll(tc.evs))
			// The 40-second flood lies in the two 2-minute windows of its
			// minute: one occurrence each.
			if len(got) != len(tc.types) {
				t.Fatalf("raised %v, want %v", got, tc.types)
			}
			for _, typ := range tc.types {
				if got[typ] != 2 {
					t.Errorf("%s: %d occurrences, want 2", typ, got[typ])
				}
				agg := aggregate(ofType(w.occ, typ))
				if len(agg) != 1 {
					t.Fatalf("%s: %d findings", typ, len(agg))
				}
				f := agg[0]
				checkFinding(t, f)
				nc := f.Service.Action.NetworkConnectionAction
				ai := f.Service.AdditionalInfo
				if f.Severity != findings.SeverityHigh || f.Service.ResourceRole != findings.RoleActor || nc.ConnectionDirection != findings.DirectionOutbound ||
					nc.RemotePortDetails.Port != tc.port || nc.Protocol != "UDP" || ai["packetsOut"] != uint64(400000) ||
					ai["window"] != "2m0s" || ai["threshold"] != uint64(120000) || ai["localPortsCount"] != 64 {
					t.Fatalf("finding %s: %+v %+v", f.Title, nc, ai)
				}
				if !strings.Contains(f.Title, "Denial of Service") || !strings.Contains(f.Description, "400000 packets") {
					t.Errorf("title %q description %q", f.Title, f.Description)
				}
			}
		})
	}
}

func TestDenialOfServiceRules(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)
	out := event.DirectionEgress
	// stream is one connection's records: one per minute for minutes,
	// perMinute packets of size bytes each.
	stream := func(dst string, proto uint8, sport, dport uint16, minutes int, perMinute, size uint64) []*event.Event {
		var evs []*event.Event
		for i := range minutes {
			evs = append(evs, flowSpec{at: t0.Add(time.Duration(i) * time.Minute), src: localIP, dst: dst, sport: sport, dport: dport, proto: proto,
				packets: perMinute, bytes: perMinute * size, dir: out, instance: scanner}.event())
		}
		return evs
	}
	for _, tc := range []struct {
		name string
		evs  []*event.Event
		want map[string]int
	}{
		{"SYN flood from random source ports", flood(t0, "203.0.113.80", protoTCP, 443, 600000, 5000, 40, 1024, 4096), map[string]int{TypeDoSTCP: 3}},
		{"DNS over TCP flood", flood(t0, "203.0.113.53", protoTCP, 53, 300000, 5000, 60, 1024, 4096), map[string]int{TypeDoSDNS: 2}},
		{"UDP flood to a high port", flood(t0, "203.0.113.9", protoUDP, 27015, 300000, 5000, 1200, 1024, 4096), map[string]int{TypeDoSUDP: 2}},
		{"GRE flood to a public host", stream("203.0.113.47", 47, 0, 0, 2, 300000, 500), map[string]int{TypeDoSUnusualProtocol: 3}},
		{"UDP flood below 1,000 packets/s", flood(t0, "203.0.113.9", protoUDP, 27015, 120000, 900, 100, 1024, 4096), nil},
		{"the tester's flood to a private address", flood(t0, "10.0.3.7", protoUDP, 53, 400000, 10000, 92, 31000, 4096), nil},
		{"IGMP to a multicast group", stream("224.0.0.22", 2, 0, 0, 3, 200000, 40), nil},
		{"IPsec ESP tunnel to a VPN peer", stream("203.0.113.4", protoESP, 0, 0, 10, 600000, 1400), nil},
		{"1 Gbit/s download: its ACKs", stream("52.216.8.10", protoTCP, 51000, 443, 10, 2400000, 52), nil},
		{"WireGuard tunnel", stream("203.0.113.5", protoUDP, 51820, 51820, 10, 600000, 1200), nil},
		{"QUIC upload", stream("142.250.1.1", protoUDP, 52000, 443, 10, 600000, 1350), nil},
		{"UDP/80 flood from one source port", stream("54.201.10.10", protoUDP, 4444, 80, 2, 600000, 284), map[string]int{TypeDoSUDPOnTCPPorts: 3}},
		{"DNS flood from one source port", stream("198.51.100.53", protoUDP, 4444, 53, 1, 400000, 92), map[string]int{TypeDoSDNS: 2}},
		{"RDP's UDP transport", stream("203.0.113.6", protoUDP, 50321, 3389, 10, 300000, 1100), nil},
		{"busy DNS forwarder at 200 queries/s", flood(t0, "8.8.8.8", protoUDP, 53, 24000, 200, 70, 1024, 4096), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			all := w.applyAll(tc.evs)
			got := dosOccurrences(all)
			if len(got) != len(tc.want) {
				t.Fatalf("raised %v, want %v", got, tc.want)
			}
			for typ, n := range tc.want {
				if got[typ] != n {
					t.Errorf("%s: %d occurrences, want %d", typ, got[typ], n)
				}
			}
			for _, typ := range dosTypeList {
				for _, f := range ofType(all, typ) {
					checkFinding(t, f)
				}
			}
		})
	}
}

// TestDenialOfServiceOrder: the flood's occurrences, merged, are the same
// in any order of its records.
func TestDenialOfServiceOrder(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)
	evs := flood(t0, "198.51.100.53", protoUDP, 53, 250000, 2000, 92, 31000, 4096)
	want := aggregate(newWorld(DefaultConfig()).applyAll(evs))
	perm := slices.Clone(evs)
	rand.New(rand.NewPCG(8, 3)).Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	got := aggregate(newWorld(DefaultConfig()).applyAll(perm))
	if len(want) != 1 || want[0].Service.Count != 3 {
		t.Fatalf("in order:%s", summary(want))
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) || got[0].Rank != want[0].Rank {
		t.Fatalf("shuffled:\n%s\nin order:\n%s", g, w)
	}
}

// attackEvents are the volume and scan attacks of one instance for the
// order tests (order_test.go): an RDP brute force against it, a port
// sweep, a UDP flood from 64 source ports and a scanner's accepted
// probes, interleaved in time.
func attackEvents() []*event.Event {
	const instance = "i-0a77ac4e5000000a1"
	t0 := time.Date(2026, 3, 9, 4, 0, 0, 0, time.UTC)
	var evs []*event.Event
	evs = append(evs, serviceConnections(t0, 14, 20*time.Second, "198.51.100.7", localIP, 3389, event.DirectionIngress, event.ActionAccept)...)
	evs = append(evs, sweep(t0.Add(time.Minute), protoTCP, 23, 40, 3*time.Second, [4]byte{45, 33, 7, 1})...)
	evs = append(evs, flood(t0.Add(2*time.Minute), "203.0.113.9", protoUDP, 80, 240000, 2000, 284, 20000, 64)...)
	for i, port := range []uint16{22, 9200, 8088, 22} {
		evs = append(evs, probe(t0.Add(time.Duration(i)*37*time.Second), censys, port, event.ActionAccept))
	}
	for _, ev := range evs {
		ev.Entity, ev.Flow.InstanceID = instance, instance
	}
	return evs
}
