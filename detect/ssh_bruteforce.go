package detect

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// UnauthorizedAccess:EC2/SSHBruteForce: password guessing over SSH, seen
// only on port 22 (as GuardDuty does). Each guess round is a new TCP
// connection, so the detector counts distinct connections (distinct client
// source ports: a long session logged once per aggregation interval is one
// connection) within a 10-minute window of event time (hopping windows
// that start every 5 minutes, see profiles/window.go).
//
// TARGET (Low, INBOUND, the remote host is the attacker): one remote host
// opens at least 10 accepted connections to local port 22 within a
// window. In the UQO Cowrie honeypot sessions (real attackers), the
// sources that brute-force open 10 to several hundred sessions in 10
// minutes, while one-off scanners open one or two; a person or a
// deployment tool with connection sharing opens a few. Rejected attempts
// are not counted: the security group already stopped them, no password
// was tried.
//
// ACTOR (High, OUTBOUND, the entity is the attacker): the entity opens at
// least 20 connections to port 22 of one remote host (the AWS tester runs
// crowbar 20 times against one address), or reaches port 22 of at least
// 30 distinct hosts, within a window. Rejected attempts count: the entity
// still made them. The ACTOR thresholds are higher than TARGET's because
// the severity is, and because bastions and configuration tools
// legitimately open many SSH connections.
//
// Each window that reaches a threshold counts one occurrence (a per-host
// window and a fan-out window are different windows), so an attack counts
// about two per 10 minutes it lasts. Aggregation key: (account, region,
// type, entity, role): a TARGET and an ACTOR finding on one instance stay
// apart (they differ in severity), and the latest window's remote host
// shows (spec §4.2).

const sshPort = 22

func (e *Engine) sshBruteForce(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, out []findings.Finding) []findings.Finding {
	if r.Protocol != protoTCP || !initiated(&r.FlowRecord) {
		return out
	}
	switch {
	case !r.Outbound && r.LocalPort == sshPort && r.RemotePort != sshPort:
		if r.Action == event.ActionReject {
			return out
		}
		hits := n.ObserveSSHInbound(r.Remote, r.RemotePort, r.Time, r.Exemplar(), e.cfg.SSHWindow, e.cfg.SSHInboundAttempts)
		if w, ok := n.SSHInbound.Reached(r.Remote, hits); ok {
			remote, inst := w.Exemplar.Remote.String(), instanceLabel(n, ev)
			fd := e.sshFinding(n, ev, &w.Exemplar, w.First, w.Last, w.Count, w.Crossed, findings.RoleTarget, findings.SeverityLow)
			fd.Title = remote + " is performing SSH brute force attacks against " + inst + ". "
			fd.Description = remote + " is performing SSH brute force attacks against " + inst +
				". Brute force attacks are used to gain unauthorized access to your instance by guessing the SSH password."
			out = append(out, fd)
		}

	case r.Outbound && r.RemotePort == sshPort && r.LocalPort != sshPort:
		ex := r.Exemplar()
		hits := n.ObserveSSHOutbound(r.Remote, r.LocalPort, r.Time, ex, e.cfg.SSHWindow, e.cfg.SSHOutboundAttempts)
		if w, ok := n.SSHOutbound.Reached(r.Remote, hits); ok {
			out = append(out, e.sshActorFinding(n, ev, &w.Exemplar, w.First, w.Last, w.Count, w.Crossed,
				strconv.Itoa(w.Distinct)+" SSH connections to "+w.Exemplar.Remote.String()))
		}
		hits = n.ObserveSSHFanout(r.Remote, r.Time, ex, e.cfg.SSHWindow, e.cfg.SSHFanoutHosts)
		if w, ok := n.SSHFanout.Reached(netip.Addr{}, hits); ok { // the fan-out windows' one group
			out = append(out, e.sshActorFinding(n, ev, &w.Exemplar, w.First, w.Last, w.Count, w.Crossed,
				"SSH connections to "+strconv.Itoa(w.Distinct)+" hosts, the latest "+w.Exemplar.Remote.String()+","))
		}
	}
	return out
}

func (e *Engine) sshActorFinding(n *profiles.Network, ev *event.Event, x *profiles.FlowExemplar,
	first, last time.Time, count uint64, crossed int, what string) findings.Finding {
	remote, inst := x.Remote.String(), instanceLabel(n, ev)
	fd := e.sshFinding(n, ev, x, first, last, count, crossed, findings.RoleActor, findings.SeverityHigh)
	fd.Title = inst + " is performing SSH brute force attacks against " + remote + "."
	fd.Description = inst + " is performing SSH brute force attacks against " + remote + ": it opened " + what +
		" within minutes. Brute force attacks are used to gain unauthorized access to remote hosts by guessing the SSH password; the instance may be compromised."
	return fd
}

func (e *Engine) sshFinding(n *profiles.Network, ev *event.Event, x *profiles.FlowExemplar,
	first, last time.Time, count uint64, crossed int, role string, sev float64) findings.Finding {
	fd := windowFinding(TypeSSHBruteForce, sev, &n.Header, ev, first, last, count, crossed, role)
	fd.Resource = flowResource(n, ev, x)
	fd.Service.Action = connectionAction(x, role == findings.RoleActor)
	fd.Service.ResourceRole = role
	return fd
}

func itoa(n int) string { return strconv.Itoa(n) }
