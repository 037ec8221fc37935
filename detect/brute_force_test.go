package detect

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
)

// serviceConnections returns n connection attempts from src to dst's
// port, one every `every`, as version-5 records of the interface: an
// attempt that logs in and fails carries a handshake, the protocol's
// negotiation and a close (SYN and FIN seen); a rejected one a lone SYN.
func serviceConnections(start time.Time, n int, every time.Duration, src, dst string, port uint16, dir event.Direction, action event.FlowAction) []*event.Event {
	var evs []*event.Event
	for i := range n {
		s := flowSpec{at: start.Add(time.Duration(i) * every), src: src, dst: dst, sport: uint16(40000 + i), dport: port,
			packets: 14, bytes: 3400, flags: tcpSYN | tcpFIN, dir: dir, action: action, instance: scanner}
		if action == event.ActionReject {
			s.packets, s.bytes, s.flags = 1, 60, tcpSYN
		}
		evs = append(evs, s.event())
	}
	return evs
}

// TestBruteForceServices runs the brute-force rules for RDP and WinRM:
// the same windows and thresholds as SSH (ssh_bruteforce_test.go), each
// service raising its own type.
func TestBruteForceServices(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)
	in, out := event.DirectionIngress, event.DirectionEgress
	acc, rej := event.ActionAccept, event.ActionReject
	fanout := func(n int, port uint16) []*event.Event {
		var evs []*event.Event
		for i := range n {
			dst := netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}).String()
			evs = append(evs, serviceConnections(t0.Add(time.Duration(i)*3*time.Second), 1, 0, localIP, dst, port, out, acc)...)
		}
		return evs
	}
	for _, tc := range []struct {
		name   string
		events []*event.Event
		typ    string // "" for no finding
		role   string
		remote string
		count  int // windows (10 minutes, starting every 5) that reach a threshold
	}{
		{"hydra against RDP: 10 connections", serviceConnections(t0, 10, 50*time.Second, "198.51.100.7", localIP, 3389, in, acc), TypeRDPBruteForce, findings.RoleTarget, "198.51.100.7", 1},
		{"RDP: 9 connections", serviceConnections(t0, 9, 30*time.Second, "198.51.100.7", localIP, 3389, in, acc), "", "", "", 0},
		{"RDP: blocked by the security group", serviceConnections(t0, 200, time.Second, "198.51.100.7", localIP, 3389, in, rej), "", "", "", 0},
		{"RDP: an hour of guessing", serviceConnections(t0, 360, 10*time.Second, "198.51.100.7", localIP, 3389, in, acc), TypeRDPBruteForce, findings.RoleTarget, "198.51.100.7", 13},
		// Within one half-window: both windows holding it reach the threshold.
		{"WinRM over HTTPS", serviceConnections(t0, 12, 20*time.Second, "198.51.100.9", localIP, 5986, in, acc), TypeWinRMBruteForce, findings.RoleTarget, "198.51.100.9", 2},
		{"WinRM: 5985 and 5986 are one service", func() []*event.Event {
			https := serviceConnections(t0.Add(5*time.Second), 5, 20*time.Second, "198.51.100.9", localIP, 5986, in, acc)
			for _, ev := range https {
				ev.Flow.SrcPort += 100
			}
			return append(serviceConnections(t0, 5, 20*time.Second, "198.51.100.9", localIP, 5985, in, acc), https...)
		}(), TypeWinRMBruteForce, findings.RoleTarget, "198.51.100.9", 2},
		{"instance brute-forcing RDP of one host", serviceConnections(t0, 20, 3*time.Second, localIP, "54.201.10.10", 3389, out, acc), TypeRDPBruteForce, findings.RoleActor, "54.201.10.10", 2},
		{"19 outbound RDP connections", serviceConnections(t0, 19, 3*time.Second, localIP, "54.201.10.10", 3389, out, acc), "", "", "", 0},
		{"instance spraying WinRM over 30 hosts", fanout(30, 5985), TypeWinRMBruteForce, findings.RoleActor, "203.0.113.30", 2},
		{"Ansible over WinRM to 29 hosts", fanout(29, 5985), "", "", "", 0},
		{"RDP server answering its clients", func() []*event.Event {
			var evs []*event.Event
			for i := range 100 {
				dst := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String()
				evs = append(evs, flowSpec{at: t0.Add(time.Duration(i) * time.Second), src: localIP, dst: dst, sport: 3389, dport: uint16(50000 + i),
					packets: 300, bytes: 90000, flags: tcpSYN | tcpACK | tcpFIN, dir: out, instance: scanner}.event())
			}
			return evs
		}(), "", "", "", 0},
		{"one RDP session logged every minute for two hours", func() []*event.Event {
			var evs []*event.Event
			for i := range 120 {
				evs = append(evs, flowSpec{at: t0.Add(time.Duration(i) * time.Minute), src: "198.51.100.7", dst: localIP, sport: 51234, dport: 3389,
					packets: 900, bytes: 120000, dir: in, instance: scanner}.event())
			}
			return evs
		}(), "", "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			all := w.applyAll(tc.events)
			var got []findings.Finding
			for _, typ := range []string{TypeSSHBruteForce, TypeRDPBruteForce, TypeWinRMBruteForce} {
				got = append(got, ofType(all, typ)...)
			}
			if raised(got) != tc.count {
				t.Fatalf("%d occurrences counted, want %d:%s", raised(got), tc.count, summary(got))
			}
			for _, f := range got {
				checkFinding(t, f)
				nc := f.Service.Action.NetworkConnectionAction
				wantSev, wantDir := findings.SeverityLow, findings.DirectionInbound
				if tc.role == findings.RoleActor {
					wantSev, wantDir = findings.SeverityHigh, findings.DirectionOutbound
				}
				if f.Type != tc.typ || f.Service.ResourceRole != tc.role || f.Severity != wantSev || nc.ConnectionDirection != wantDir {
					t.Fatalf("%s role %s severity %v direction %s; want %s %s %v %s", f.Type, f.Service.ResourceRole, f.Severity, nc.ConnectionDirection, tc.typ, tc.role, wantSev, wantDir)
				}
				ai := f.Service.AdditionalInfo
				if ai["window"] != "10m0s" || ai["threshold"] == nil || ai["reason"] == nil {
					t.Fatalf("evidence missing: %v", ai)
				}
			}
			if len(got) > 0 {
				last := aggregate(got)[0]
				if r := last.Service.Action.NetworkConnectionAction.RemoteIPDetails.IPAddressV4; r != tc.remote {
					t.Errorf("remote = %s, want %s", r, tc.remote)
				}
			}
		})
	}
}

// TestBruteForceTitles: the titles and descriptions of GuardDuty's
// samples (spec §3.6), TARGET and ACTOR, and the evidence counted.
func TestBruteForceTitles(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)
	w := newWorld(DefaultConfig())
	got := aggregate(ofType(w.applyAll(serviceConnections(t0, 12, 10*time.Second, "198.51.100.7", localIP, 3389, event.DirectionIngress, event.ActionAccept)), TypeRDPBruteForce))
	if len(got) != 1 {
		t.Fatalf("%d findings", len(got))
	}
	f := got[0]
	if want := "198.51.100.7 is performing RDP brute force attacks against " + scanner + "."; f.Title != want {
		t.Errorf("title %q, want %q", f.Title, want)
	}
	if want := "198.51.100.7 is performing RDP brute force attacks against " + scanner +
		". Brute force attacks are used to gain unauthorized access to your instance by guessing the RDP password."; f.Description != want {
		t.Errorf("description %q", f.Description)
	}
	nc := f.Service.Action.NetworkConnectionAction
	// 12 connections within one half-window: both windows reach 10.
	if nc.LocalPortDetails.Port != 3389 || nc.LocalPortDetails.PortName != "RDP" || f.Service.Count != 2 {
		t.Errorf("local port %+v, count %d", nc.LocalPortDetails, f.Service.Count)
	}
	reason := f.Service.AdditionalInfo["reason"].(map[string]any)
	if obs := reason["observed"].(map[string]string); obs["connections"] != "12" || obs["events"] != "12" {
		t.Errorf("observed %v", obs)
	}
	if f.Service.AdditionalInfo["threshold"] != DefaultSSHInboundAttempts {
		t.Errorf("threshold %v", f.Service.AdditionalInfo["threshold"])
	}
}

// TestBruteForceHoneypotAsRDP replays the real Cowrie sessions (a
// password-guessing workload, testdata/uqo_cowrie_sessions_sample.csv) as
// if they had been RDP connections: the three brute-forcing sources raise
// RDPBruteForce exactly as they raise SSHBruteForce on port 22, and SSH
// raises nothing on the same records.
func TestBruteForceHoneypotAsRDP(t *testing.T) {
	sessions := readSessions(t, filepath.Join("testdata", "uqo_cowrie_sessions_sample.csv"))
	evs := sessionEvents(t, sessions)
	for _, ev := range evs {
		switch {
		case ev.Flow.DstPort == 22:
			ev.Flow.DstPort = 3389
		case ev.Flow.SrcPort == 22:
			ev.Flow.SrcPort = 3389
		}
	}
	w := newWorld(DefaultConfig())
	all := w.applyAll(evs)
	if n := len(ofType(all, TypeSSHBruteForce)); n != 0 {
		t.Fatalf("%d SSH findings on port 3389", n)
	}
	remotes := map[string]int{}
	for _, f := range ofType(all, TypeRDPBruteForce) {
		checkFinding(t, f)
		remotes[f.Service.Action.NetworkConnectionAction.RemoteIPDetails.IPAddressV4] += f.Service.Count
	}
	want := map[string]int{"83.69.135.28": 2, "176.65.137.13": 2, "170.64.199.203": 3}
	if len(remotes) != len(want) {
		t.Fatalf("findings for %v, want %v", remotes, want)
	}
	for r, n := range want {
		if remotes[r] != n {
			t.Errorf("%s: %d occurrences, want %d", r, remotes[r], n)
		}
	}
}
