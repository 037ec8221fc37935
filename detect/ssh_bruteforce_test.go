package detect

import (
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
)

const (
	honeypot   = "i-0c0ffee0ddba11000"
	honeypotE  = "eni-0c0ffee0ddba11000"
	honeypotIP = "10.0.2.15"
)

// sshSession is one row of the UQO Cowrie session data.
type sshSession struct {
	start, end time.Time
	src        string
	srcPort    uint16
	failed     int
}

func readSessions(t testing.TB, path string) []sshSession {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var out []sshSession
	for _, r := range rows[1:] {
		start, err1 := time.Parse(time.RFC3339Nano, r[col["start_time"]])
		end, err2 := time.Parse(time.RFC3339Nano, r[col["end_time"]])
		port, err3 := strconv.ParseUint(r[col["src_port"]], 10, 16)
		if err1 != nil || err2 != nil || err3 != nil {
			continue // a few rows lack times
		}
		failed, _ := strconv.Atoi(r[col["login_failed"]])
		out = append(out, sshSession{start: start, end: end, src: r[col["src_ip"]], srcPort: uint16(port), failed: failed})
	}
	return out
}

// sessionFlows converts an SSH session into the version-2 flow records the
// target's interface logs at a one-minute aggregation interval: per minute
// the session spans, one record from the client to port 22 and one back,
// with the client's source port throughout.
func sessionFlows(s sshSession) []*event.Event {
	var evs []*event.Event
	for at := s.start.Truncate(time.Second); ; at = at.Add(time.Minute) {
		pk := uint64(12 + 4*s.failed)
		evs = append(evs,
			flowSpec{at: at, src: s.src, dst: honeypotIP, sport: s.srcPort, dport: 22, packets: pk, bytes: 1800 + 120*pk, eni: honeypotE, version: 2}.event(),
			flowSpec{at: at, src: honeypotIP, dst: s.src, sport: 22, dport: s.srcPort, packets: pk - 1, bytes: 2600 + 150*pk, eni: honeypotE, version: 2}.event())
		if !at.Add(time.Minute).Before(s.end) {
			break
		}
	}
	return evs
}

func sessionEvents(t testing.TB, sessions []sshSession) []*event.Event {
	t.Helper()
	var evs []*event.Event
	for _, s := range sessions {
		evs = append(evs, sessionFlows(s)...)
	}
	// The interface's log is in time order.
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	return evs
}

// TestSSHBruteForceHoneypot replays real Cowrie honeypot sessions as the
// honeypot's flow log: three brute-forcing sources must raise the TARGET
// finding, the sources with 8 sessions in 10 minutes and the one-off
// scanners must not.
func TestSSHBruteForceHoneypot(t *testing.T) {
	sessions := readSessions(t, filepath.Join("testdata", "uqo_cowrie_sessions_sample.csv"))
	if len(sessions) < 100 {
		t.Fatalf("%d sessions", len(sessions))
	}
	w := newWorld(DefaultConfig())
	got := ofType(w.applyAll(sessionEvents(t, sessions)), TypeSSHBruteForce)
	remotes := map[string]int{}
	for _, f := range got {
		checkFinding(t, f)
		remotes[f.Service.Action.NetworkConnectionAction.RemoteIPDetails.IPAddressV4] += f.Service.Count
	}
	// Windows (10 minutes, starting every 5) that reached 10 connections.
	want := map[string]int{"83.69.135.28": 2, "176.65.137.13": 2, "170.64.199.203": 3}
	if len(remotes) != len(want) {
		t.Fatalf("findings for %v, want %v:%s", remotes, want, summary(got))
	}
	for r, n := range want {
		if remotes[r] != n {
			t.Errorf("%s: %d occurrences, want %d", r, remotes[r], n)
		}
	}
	// One finding per target instance, the latest attacker shown.
	agg := aggregate(got)
	if len(agg) != 1 || agg[0].Service.Count != 7 {
		t.Fatalf("aggregated into %d findings:%s", len(agg), summary(agg))
	}
	f := agg[0]
	nc := f.Service.Action.NetworkConnectionAction
	if f.Severity != findings.SeverityLow || f.Service.ResourceRole != findings.RoleTarget ||
		nc.ConnectionDirection != findings.DirectionInbound || nc.LocalPortDetails.Port != 22 ||
		nc.LocalPortDetails.PortName != "SSH" || nc.LocalIPDetails.IPAddressV4 != honeypotIP ||
		f.Resource.InstanceDetails.NetworkInterfaces[0].NetworkInterfaceID != honeypotE {
		b, _ := json.MarshalIndent(f, "", "  ")
		t.Fatalf("finding:\n%s", b)
	}
	remote := nc.RemoteIPDetails.IPAddressV4
	if wantTitle := remote + " is performing SSH brute force attacks against " + honeypotE + ". "; f.Title != wantTitle {
		t.Errorf("title = %q, want %q", f.Title, wantTitle)
	}
	if wantDesc := remote + " is performing SSH brute force attacks against " + honeypotE +
		". Brute force attacks are used to gain unauthorized access to your instance by guessing the SSH password."; f.Description != wantDesc {
		t.Errorf("description = %q", f.Description)
	}
}

func TestSSHBruteForceLegitimate(t *testing.T) {
	sessions := readSessions(t, filepath.Join("testdata", "uqo_ssh_legitimate_sample.csv"))
	w := newWorld(DefaultConfig())
	if got := w.applyAll(sessionEvents(t, sessions)); len(got) != 0 {
		t.Fatalf("legitimate sessions raised:%s", summary(got))
	}
}

// connections returns n SSH connection attempts from src to dst:22, one
// every `every`, as version-5 records of the given interface.
func connections(start time.Time, n int, every time.Duration, src, dst string, dir event.Direction, action event.FlowAction, instance string) []*event.Event {
	var evs []*event.Event
	for i := range n {
		s := flowSpec{at: start.Add(time.Duration(i) * every), src: src, dst: dst, sport: uint16(40000 + i), dport: 22,
			packets: 9, bytes: 1900, flags: tcpSYN | tcpFIN, dir: dir, action: action, instance: instance}
		if action == event.ActionReject {
			s.packets, s.bytes, s.flags = 1, 60, tcpSYN
		}
		evs = append(evs, s.event())
	}
	return evs
}

func TestSSHBruteForceRules(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)
	in, out := event.DirectionIngress, event.DirectionEgress
	acc, rej := event.ActionAccept, event.ActionReject
	hosts := func(n int) []*event.Event {
		var evs []*event.Event
		for i := range n {
			dst := netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}).String()
			evs = append(evs, connections(t0.Add(time.Duration(i)*3*time.Second), 1, 0, localIP, dst, out, acc, scanner)...)
		}
		return evs
	}
	for _, tc := range []struct {
		name   string
		events []*event.Event
		role   string // "" for no finding
		remote string
		// count is the number of windows (10 minutes, starting every 5)
		// that reach a threshold.
		count int
	}{
		{"10 connections in 10 minutes", connections(t0, 10, 50*time.Second, "198.51.100.7", localIP, in, acc, scanner), findings.RoleTarget, "198.51.100.7", 1},
		{"9 connections", connections(t0, 9, 50*time.Second, "198.51.100.7", localIP, in, acc, scanner), "", "", 0},
		{"10 connections over 20 minutes", connections(t0, 10, 2*time.Minute, "198.51.100.7", localIP, in, acc, scanner), "", "", 0},
		{"an hour-long attack: every window", connections(t0, 360, 10*time.Second, "198.51.100.7", localIP, in, acc, scanner), findings.RoleTarget, "198.51.100.7", 13},
		{"rejected by the security group", connections(t0, 100, time.Second, "198.51.100.7", localIP, in, rej, scanner), "", "", 0},
		{"another port", func() []*event.Event {
			evs := connections(t0, 50, time.Second, "198.51.100.7", localIP, in, acc, scanner)
			for _, ev := range evs {
				ev.Flow.DstPort = 2222
			}
			return evs
		}(), "", "", 0},
		{"one long session logged every minute", func() []*event.Event {
			var evs []*event.Event
			for i := range 120 {
				evs = append(evs, flowSpec{at: t0.Add(time.Duration(i) * time.Minute), src: "198.51.100.7", dst: localIP, sport: 51234, dport: 22,
					packets: 40, bytes: 5000, dir: in, instance: scanner}.event())
			}
			return evs
		}(), "", "", 0},
		{"AWS tester: crowbar 20 times against one host", connections(t0, 20, 3*time.Second, localIP, "54.201.10.10", out, acc, scanner), findings.RoleActor, "54.201.10.10", 2},
		{"outbound attempts blocked by the instance's own security group", connections(t0, 20, 3*time.Second, localIP, "54.201.10.10", out, rej, scanner), findings.RoleActor, "54.201.10.10", 2},
		{"19 outbound connections", connections(t0, 19, 3*time.Second, localIP, "54.201.10.10", out, acc, scanner), "", "", 0},
		{"worm: 30 hosts", hosts(30), findings.RoleActor, "203.0.113.30", 2},
		{"deployment to 29 hosts", hosts(29), "", "", 0},
		{"SSH server answering many clients", func() []*event.Event {
			var evs []*event.Event
			for i := range 100 {
				dst := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String()
				evs = append(evs, flowSpec{at: t0.Add(time.Duration(i) * time.Second), src: localIP, dst: dst, sport: 22, dport: uint16(50000 + i),
					packets: 10, bytes: 3000, flags: tcpSYN | tcpACK | tcpFIN, dir: out, instance: scanner}.event())
			}
			return evs
		}(), "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := ofType(w.applyAll(tc.events), TypeSSHBruteForce)
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
				if f.Service.ResourceRole != tc.role || f.Severity != wantSev || nc.ConnectionDirection != wantDir {
					t.Fatalf("role %s severity %v direction %s; want %s %v %s", f.Service.ResourceRole, f.Severity, nc.ConnectionDirection, tc.role, wantSev, wantDir)
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

// TestSSHBruteForceRolesApart: an instance both attacked and attacking
// has two findings, TARGET (Low) and ACTOR (High).
func TestSSHBruteForceRolesApart(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)
	w := newWorld(DefaultConfig())
	w.applyAll(connections(t0, 10, time.Second, "198.51.100.7", localIP, event.DirectionIngress, event.ActionAccept, scanner))
	w.applyAll(connections(t0.Add(time.Minute), 20, time.Second, localIP, "54.201.10.10", event.DirectionEgress, event.ActionAccept, scanner))
	agg := aggregate(ofType(w.occ, TypeSSHBruteForce))
	if len(agg) != 2 || agg[0].Service.ResourceRole == agg[1].Service.ResourceRole {
		t.Fatalf("%d findings:%s", len(agg), summary(agg))
	}
}
