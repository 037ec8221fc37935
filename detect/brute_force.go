package detect

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// The brute-force family: password guessing over a remote-login service,
// one finding type per service, seen only on the service's ports (as
// GuardDuty does):
//
//   - UnauthorizedAccess:EC2/SSHBruteForce, TCP 22;
//   - UnauthorizedAccess:EC2/RDPBruteForce, TCP 3389 (the AWS tester runs
//     `hydra ... rdp://` against an instance);
//   - Impact:EC2/WinRMBruteForce, TCP 5985 (HTTP) and 5986 (HTTPS), one
//     service.
//
// Each guess round is a new TCP connection (hydra, crowbar, ncrack and
// the WinRM sprayers open one per attempt or per few attempts), so the
// detector counts distinct connections (distinct client source ports: a
// long session logged once per aggregation interval is one connection)
// within a 10-minute window of event time (hopping windows that start
// every 5 minutes, see profiles/window.go).
//
// TARGET (Low, INBOUND, the remote host is the attacker): one remote host
// opens at least 10 accepted connections to the service within a window.
// In the UQO Cowrie honeypot sessions (real attackers), the sources that
// brute-force SSH open 10 to several hundred sessions in 10 minutes, while
// one-off scanners open one or two; a person or a deployment tool with
// connection sharing opens a few. RDP and WinRM clients are alike: an
// RDP session is one TCP connection (plus its UDP transport, not
// counted), reconnections after a drop are a few, and a WinRM client
// reuses its HTTP connection for a session's commands. In the
// CIC-IDS2017 sample (a random sample of the capture's flows) the
// SSH-Patator and FTP-Patator sources open up to 430 connections to one
// host within a window, while no benign host pair opens more than one to
// a login service (SSH, FTP, RDP). Rejected attempts are not counted: the
// security group already stopped them, no password was tried.
//
// ACTOR (High, OUTBOUND, the entity is the attacker): the entity opens at
// least 20 connections to the service of one remote host (the AWS tester
// runs crowbar 20 times against one address), or reaches the service on
// at least 30 distinct hosts, within a window. Rejected attempts count:
// the entity still made them. The ACTOR thresholds are higher than
// TARGET's because the severity is, and because bastions, configuration
// tools (Ansible over SSH or WinRM) and jump hosts legitimately open many
// connections. The thresholds are Config's SSH ones, for every service.
//
// Each window that reaches a threshold counts one occurrence (a per-host
// window and a fan-out window are different windows), so an attack counts
// about two per 10 minutes it lasts. Aggregation key: (account, region,
// type, entity, role): a TARGET and an ACTOR finding on one instance stay
// apart (they differ in severity), and the latest window's remote host
// shows (spec §4.2). additionalInfo gives the evidence: the window, the
// threshold and the connections or hosts counted in it.
//
// The SSH windows are the profile's SSHInbound, SSHOutbound and SSHFanout
// (kept as they were, so that stored profiles keep their SSH history);
// the other services share AttackWindows' lists, grouped by service.

// bruteService is one service of the family.
type bruteService struct {
	typ  string
	name string
	// ports are the service's ports; the first is its key in the windows.
	ports []uint16
}

var bruteServices = [...]bruteService{
	{TypeSSHBruteForce, "SSH", []uint16{22}},
	{TypeRDPBruteForce, "RDP", []uint16{3389}},
	{TypeWinRMBruteForce, "WinRM", []uint16{5985, 5986}},
}

const sshPort = 22

// bruteServiceOf returns the service port belongs to, or nil.
func bruteServiceOf(port uint16) *bruteService {
	for i := range bruteServices {
		if slices.Contains(bruteServices[i].ports, port) {
			return &bruteServices[i]
		}
	}
	return nil
}

// bruteWindow is what a finding is made of: the state of the windows an
// event reached (profiles.Window of either window type).
type bruteWindow struct {
	x           profiles.FlowExemplar
	first, last time.Time
	count       uint64
	crossed     int
	distinct    int
}

func fromWindow[G interface {
	comparable
	Compare(G) int
}, K ~uint16 | ~uint32](w profiles.Window[G, K, profiles.FlowExemplar]) bruteWindow {
	return bruteWindow{x: w.Exemplar, first: w.First, last: w.Last, count: w.Count, crossed: w.Crossed, distinct: w.Distinct}
}

// observeIn, observeOut and observeFanout add a connection to the
// service's windows and return the window state if the event reached a
// threshold.
func (s *bruteService) observeIn(n *profiles.Network, r *profiles.OrientedFlow, window time.Duration, threshold int) (bruteWindow, bool) {
	key := s.ports[0]
	if key == sshPort {
		hits := n.ObserveSSHInbound(r.Remote, r.RemotePort, r.Time, r.Exemplar(), window, threshold)
		w, ok := n.SSHInbound.Reached(r.Remote, hits)
		return fromWindow(w), ok
	}
	hits := n.ObserveBruteIn(key, r.Remote, r.RemotePort, r.Time, r.Exemplar(), window, threshold)
	w, ok := n.Attacks.BruteIn.Reached(profiles.ServiceAddr{Service: key, Addr: r.Remote}, hits)
	return fromWindow(w), ok
}

func (s *bruteService) observeOut(n *profiles.Network, r *profiles.OrientedFlow, ex profiles.FlowExemplar, window time.Duration, threshold int) (bruteWindow, bool) {
	key := s.ports[0]
	if key == sshPort {
		hits := n.ObserveSSHOutbound(r.Remote, r.LocalPort, r.Time, ex, window, threshold)
		w, ok := n.SSHOutbound.Reached(r.Remote, hits)
		return fromWindow(w), ok
	}
	hits := n.ObserveBruteOut(key, r.Remote, r.LocalPort, r.Time, ex, window, threshold)
	w, ok := n.Attacks.BruteOut.Reached(profiles.ServiceAddr{Service: key, Addr: r.Remote}, hits)
	return fromWindow(w), ok
}

func (s *bruteService) observeFanout(n *profiles.Network, r *profiles.OrientedFlow, ex profiles.FlowExemplar, window time.Duration, threshold int) (bruteWindow, bool) {
	key := s.ports[0]
	if key == sshPort {
		hits := n.ObserveSSHFanout(r.Remote, r.Time, ex, window, threshold)
		w, ok := n.SSHFanout.Reached(netip.Addr{}, hits) // the SSH fan-out windows' one group
		return fromWindow(w), ok
	}
	hits := n.ObserveBruteFanout(key, r.Remote, r.Time, ex, window, threshold)
	w, ok := n.Attacks.BruteFanout.Reached(profiles.Port(key), hits)
	return fromWindow(w), ok
}

func (e *Engine) bruteForce(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, out []findings.Finding) []findings.Finding {
	if r.Protocol != protoTCP || !initiated(&r.FlowRecord) {
		return out
	}
	window := e.cfg.SSHWindow
	if !r.Outbound {
		s := bruteServiceOf(r.LocalPort)
		if s == nil || slices.Contains(s.ports, r.RemotePort) || r.Action == event.ActionReject {
			return out
		}
		if w, ok := s.observeIn(n, r, window, e.cfg.SSHInboundAttempts); ok {
			remote, inst := w.x.Remote.String(), instanceLabel(n, ev)
			fd := e.bruteFinding(s, n, ev, &w, findings.RoleTarget, findings.SeverityLow)
			fd.Title = remote + " is performing " + s.name + " brute force attacks against " + inst + "."
			if s.ports[0] == sshPort {
				fd.Title += " " // GuardDuty's SSH title ends so
			}
			fd.Description = remote + " is performing " + s.name + " brute force attacks against " + inst +
				". Brute force attacks are used to gain unauthorized access to your instance by guessing the " + s.name + " password."
			windowEvidence(&fd, window, e.cfg.SSHInboundAttempts, "accepted connections from one host to the "+s.name+" port, each from its own source port, within the window",
				"connections", strconv.Itoa(w.distinct), "events", strconv.FormatUint(w.count, 10))
			out = append(out, fd)
		}
		return out
	}
	s := bruteServiceOf(r.RemotePort)
	if s == nil || slices.Contains(s.ports, r.LocalPort) {
		return out
	}
	ex := r.Exemplar()
	if w, ok := s.observeOut(n, r, ex, window, e.cfg.SSHOutboundAttempts); ok {
		fd := e.bruteActorFinding(s, n, ev, &w, strconv.Itoa(w.distinct)+" "+s.name+" connections to "+w.x.Remote.String())
		windowEvidence(&fd, window, e.cfg.SSHOutboundAttempts, "connections to one host's "+s.name+" port, each from its own local port, within the window",
			"connections", strconv.Itoa(w.distinct), "events", strconv.FormatUint(w.count, 10))
		out = append(out, fd)
	}
	if w, ok := s.observeFanout(n, r, ex, window, e.cfg.SSHFanoutHosts); ok {
		fd := e.bruteActorFinding(s, n, ev, &w, s.name+" connections to "+strconv.Itoa(w.distinct)+" hosts, the latest "+w.x.Remote.String()+",")
		windowEvidence(&fd, window, e.cfg.SSHFanoutHosts, "distinct hosts the instance connected to on the "+s.name+" port within the window",
			"hosts", strconv.Itoa(w.distinct), "events", strconv.FormatUint(w.count, 10))
		out = append(out, fd)
	}
	return out
}

// windowEvidence records why a window finding was raised in
// additionalInfo: the window's length and the threshold it reached, and
// in reason the condition and the counts observed in the window (key,
// value pairs, see because). All come from the window's state.
func windowEvidence(f *findings.Finding, window time.Duration, threshold any, condition string, observed ...string) {
	because(f, condition, observed...)
	f.Service.AdditionalInfo["window"] = window.String()
	f.Service.AdditionalInfo["threshold"] = threshold
}

func (e *Engine) bruteActorFinding(s *bruteService, n *profiles.Network, ev *event.Event, w *bruteWindow, what string) findings.Finding {
	remote, inst := w.x.Remote.String(), instanceLabel(n, ev)
	fd := e.bruteFinding(s, n, ev, w, findings.RoleActor, findings.SeverityHigh)
	fd.Title = inst + " is performing " + s.name + " brute force attacks against " + remote + "."
	fd.Description = inst + " is performing " + s.name + " brute force attacks against " + remote + ": it opened " + what +
		" within minutes. Brute force attacks are used to gain unauthorized access to remote hosts by guessing the " + s.name + " password; the instance may be compromised."
	return fd
}

func (e *Engine) bruteFinding(s *bruteService, n *profiles.Network, ev *event.Event, w *bruteWindow, role string, sev float64) findings.Finding {
	fd := windowFinding(s.typ, sev, &n.Header, ev, w.first, w.last, w.count, w.crossed, role)
	fd.Resource = flowResource(n, ev, &w.x)
	fd.Service.Action = connectionAction(&w.x, role == findings.RoleActor)
	fd.Service.ResourceRole = role
	return fd
}

func itoa(n int) string { return strconv.Itoa(n) }
