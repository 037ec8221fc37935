package detect

import (
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
)

// sweep returns a masscan-like sweep of port over n hosts from the
// instance: one SYN (or UDP probe) per host, every `every`, most hosts not
// answering (the record's lone packet), v5 records with flow-direction.
func sweep(start time.Time, proto uint8, port uint16, n int, every time.Duration, first [4]byte) []*event.Event {
	var evs []*event.Event
	for i := range n {
		a := first
		a[3] += byte(i % 200)
		a[2] += byte(i / 200)
		flags := uint16(0)
		if proto == protoTCP {
			flags = tcpSYN
		}
		evs = append(evs, flowSpec{at: start.Add(time.Duration(i) * every), src: localIP, dst: netip.AddrFrom4(a).String(),
			sport: 61000, dport: port, proto: proto, packets: 1, bytes: 44, flags: flags, dir: event.DirectionEgress, instance: scanner}.event())
	}
	return evs
}

func TestPortSweep(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		evs   []*event.Event
		count int
	}{
		{"Mirai-like telnet sweep of 40 hosts", sweep(t0, protoTCP, 23, 40, 2*time.Second, [4]byte{45, 33, 7, 1}), 2},
		{"masscan of port 6379 over 500 hosts", sweep(t0, protoTCP, 6379, 500, 100*time.Millisecond, [4]byte{45, 33, 7, 1}), 2},
		{"UDP sweep of memcached", sweep(t0, protoUDP, 11211, 30, time.Second, [4]byte{45, 33, 7, 1}), 2},
		{"29 hosts", sweep(t0, protoTCP, 23, 29, 2*time.Second, [4]byte{45, 33, 7, 1}), 0},
		{"30 hosts over 20 minutes", sweep(t0, protoTCP, 23, 30, 40*time.Second, [4]byte{45, 33, 7, 1}), 0},
		{"a sweep of private hosts (the VPC)", sweep(t0, protoTCP, 22, 100, time.Second, [4]byte{10, 0, 1, 1}), 0},
		{"recursive resolver querying 200 name servers", sweep(t0, protoUDP, 53, 200, time.Second, [4]byte{192, 0, 32, 1}), 0},
		{"NTP pool", sweep(t0, protoUDP, 123, 40, time.Second, [4]byte{162, 159, 200, 1}), 0},
		{"browsing 100 sites over HTTPS", func() []*event.Event {
			var evs []*event.Event
			for i := range 100 {
				dst := netip.AddrFrom4([4]byte{151, 101, byte(i), 10}).String()
				evs = append(evs, flowSpec{at: t0.Add(time.Duration(i) * time.Second), src: localIP, dst: dst, sport: uint16(50000 + i), dport: 443,
					packets: 22, bytes: 5400, flags: tcpSYN | tcpFIN, dir: event.DirectionEgress, instance: scanner}.event())
			}
			return evs
		}(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			all := w.applyAll(tc.evs)
			got := ofType(all, TypePortSweep)
			if raised(got) != tc.count {
				t.Fatalf("%d occurrences, want %d:%s", raised(got), tc.count, summary(got))
			}
			if tc.count == 0 {
				return
			}
			for _, f := range got {
				checkFinding(t, f)
			}
			agg := aggregate(got)
			if len(agg) != 1 {
				t.Fatalf("%d findings", len(agg))
			}
			f := agg[0]
			nc := f.Service.Action.NetworkConnectionAction
			ai := f.Service.AdditionalInfo
			last := tc.evs[len(tc.evs)-1].Flow
			sample := ai["remoteIpsSample"].([]string)
			if f.Severity != findings.SeverityHigh || f.Service.ResourceRole != findings.RoleActor || nc.ConnectionDirection != findings.DirectionOutbound ||
				nc.RemoteIPDetails.IPAddressV4 != last.Dst.String() || nc.RemotePortDetails.Port != int(last.DstPort) ||
				ai["scannedPort"] != int(last.DstPort) || ai["window"] != "5m0s" || ai["threshold"] != DefaultPortSweepHosts ||
				len(sample) != sweepSample || sample[0] != "45.33.7.1" || sample[9] != "45.33.7.10" {
				t.Fatalf("finding %s: %+v %+v", f.Title, nc, ai)
			}
			if !strings.Contains(f.Title, "port sweep on port") {
				t.Errorf("title %q", f.Title)
			}
		})
	}
}

// TestEvalSlipsPortSweep: in the slips captures (read where present,
// GPL-2.0, not copied), the Mirai-like host of test7 sweeps ports 23 and
// 8080 of public hosts; no capture raises PortSweep otherwise.
func TestEvalSlipsPortSweep(t *testing.T) {
	for _, tc := range []struct {
		file string
		want int
	}{
		{"test7-malicious.vpcflow.txt", 1},
		{"test9-mixed-zeek-dir/conn.log.vpcflow.txt", 0},
		{"port-scans/horizontal/conn.log.vpcflow.txt", 0},
		{"port-scans/vertical/conn.log.vpcflow.txt", 0},
		{"test-cc/test-cc-capture-1.vpcflow.txt", 0},
		{"test18-malicious-ctu-sme-11-win/zeek-labeled/conn.log.labeled.vpcflow.txt", 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := dataFile(t, append([]string{"slips_dataset", "dataset"}, strings.Split(tc.file, "/")...)...)
			var evs []*event.Event
			for _, l := range fileLines(t, path) {
				if strings.TrimSpace(l) != "" {
					evs = append(evs, flowLine(t, l, ""))
				}
			}
			sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
			w := newWorld(DefaultConfig())
			all := w.applyAll(evs)
			got := aggregate(ofType(all, TypePortSweep))
			t.Logf("%d records, %d PortSweep findings%s", len(evs), len(got), summary(got))
			if len(got) != tc.want {
				t.Errorf("%d findings, want %d", len(got), tc.want)
			}
			for _, typ := range append(dosTypeList, TypeRDPBruteForce, TypeWinRMBruteForce) {
				if n := len(ofType(all, typ)); n > 0 {
					t.Errorf("%d %s occurrences", n, typ)
				}
			}
		})
	}
}

// TestEvalCICIDSVolumeAndScan replays the CIC-IDS2017 sample (read where
// present, not copied: no licence) as TestEvalCICIDS does, each flow
// logged by both hosts. The sample has no flood, sweep, RDP or WinRM
// attack: its benign rows (2,500), port scans of one host, SSH and FTP
// brute force and botnet traffic must raise none of those types, nor a
// port probe.
func TestEvalCICIDSVolumeAndScan(t *testing.T) {
	flows := fileLines(t, dataFile(t, "cicids2017_improved_sample", "cicids2017_sample.vpcflow.txt"))
	labels := fileLines(t, dataFile(t, "cicids2017_improved_sample", "cicids2017_sample.vpcflow.labels.txt"))
	if len(flows) != len(labels) {
		t.Fatalf("%d flows, %d labels", len(flows), len(labels))
	}
	var evs []*event.Event
	benign := 0
	for i, l := range flows {
		if strings.HasPrefix(labels[i], "BENIGN") {
			benign++
		}
		ev := flowLine(t, l, "")
		f := ev.Flow
		for _, side := range []struct {
			host string
			dir  event.Direction
		}{{f.Src.String(), event.DirectionEgress}, {f.Dst.String(), event.DirectionIngress}} {
			c, cf := *ev, *f
			cf.Direction, cf.Version, cf.InterfaceID = side.dir, 5, "eni-"+side.host
			c.Flow, c.Entity = &cf, "eni-"+side.host
			evs = append(evs, &c)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	w := newWorld(DefaultConfig())
	all := w.applyAll(evs)
	mine := append(slices.Clone(dosTypeList), TypePortSweep, TypeRDPBruteForce, TypeWinRMBruteForce, TypePortProbeUnprotected, TypePortProbeEMRUnprotected)
	n := 0
	for _, typ := range mine {
		if got := ofType(all, typ); len(got) > 0 {
			n += len(got)
			t.Errorf("%d %s occurrences:%s", len(got), typ, summary(got[:1]))
		}
	}
	t.Logf("CIC-IDS2017 sample: %d flows (%d benign), %d volume/scan/probe occurrences", len(flows), benign, n)
}
