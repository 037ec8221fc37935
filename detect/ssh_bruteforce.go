package detect

import (
	"strconv"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// UnauthorizedAccess:EC2/SSHBruteForce: password guessing over SSH, seen
// only on port 22 (as GuardDuty does). Each guess round is a new TCP
// connection, so the detector counts distinct connections (distinct client
// source ports: a long session logged once per aggregation interval is one
// connection) within a sliding window of event time.
//
// TARGET (Low, INBOUND, the remote host is the attacker): one remote host
// opens at least 10 accepted connections to local port 22 within 10
// minutes. In the UQO Cowrie honeypot sessions (real attackers), the
// sources that brute-force open 10 to several hundred sessions in 10
// minutes, while one-off scanners open one or two; a person or a
// deployment tool with connection sharing opens a few. Rejected attempts
// are not counted: the security group already stopped them, no password
// was tried.
//
// ACTOR (High, OUTBOUND, the entity is the attacker): the entity opens at
// least 20 connections to port 22 of one remote host (the AWS tester runs
// crowbar 20 times against one address), or reaches port 22 of at least
// 30 distinct hosts, within 10 minutes. Rejected attempts count: the
// entity still made them. The ACTOR thresholds are higher than TARGET's
// because the severity is, and because bastions and configuration tools
// legitimately open many SSH connections.
//
// An attack raises one occurrence per 10 minutes it lasts. Aggregation
// key: (account, region, type, entity, role): a TARGET and an ACTOR
// finding on one instance stay apart (they differ in severity), and the
// latest remote host overwrites (spec §4.2).

const sshPort = 22

func (e *Engine) sshBruteForce(n *profiles.Network, ev *event.Event, o profiles.Orientation, out []findings.Finding) []findings.Finding {
	f := ev.Flow
	if !o.Known || f.Protocol != protoTCP || !initiated(f) {
		return out
	}
	at := ev.Time.UTC()
	switch {
	case !o.Outbound && o.LocalPort == sshPort && o.RemotePort != sshPort:
		if f.Action == event.ActionReject {
			return out
		}
		w := n.SSHInbound.Observe(o.Remote, o.RemotePort, at, e.cfg.SSHWindow)
		if len(w.Ports) < e.cfg.SSHInboundAttempts || !w.Report(at, e.cfg.SSHWindow) {
			return out
		}
		remote, inst := o.Remote.String(), instanceLabel(n, ev)
		fd := e.sshFinding(n, ev, o, findings.RoleTarget, findings.SeverityLow)
		fd.Title = remote + " is performing SSH brute force attacks against " + inst + ". "
		fd.Description = remote + " is performing SSH brute force attacks against " + inst +
			". Brute force attacks are used to gain unauthorized access to your instance by guessing the SSH password."
		return append(out, fd)

	case o.Outbound && o.RemotePort == sshPort && o.LocalPort != sshPort:
		w := n.SSHOutbound.Observe(o.Remote, o.LocalPort, at, e.cfg.SSHWindow)
		n.SSHFanout.Observe(o.Remote, at, e.cfg.SSHWindow)
		fan := &n.SSHFanout
		// One occurrence for the event, whichever threshold it crossed.
		oneHost := len(w.Ports) >= e.cfg.SSHOutboundAttempts && w.Report(at, e.cfg.SSHWindow)
		manyHosts := len(fan.Addrs) >= e.cfg.SSHFanoutHosts && fan.Report(at, e.cfg.SSHWindow)
		if !oneHost && !manyHosts {
			return out
		}
		remote, inst := o.Remote.String(), instanceLabel(n, ev)
		fd := e.sshFinding(n, ev, o, findings.RoleActor, findings.SeverityHigh)
		fd.Title = inst + " is performing SSH brute force attacks against " + remote + "."
		what := strconv.Itoa(len(w.Ports)) + " SSH connections to " + remote
		if !oneHost {
			what = "SSH connections to " + strconv.Itoa(len(fan.Addrs)) + " hosts, the latest " + remote + ","
		}
		fd.Description = inst + " is performing SSH brute force attacks against " + remote + ": it opened " + what +
			" within minutes. Brute force attacks are used to gain unauthorized access to remote hosts by guessing the SSH password; the instance may be compromised."
		return append(out, fd)
	}
	return out
}

func (e *Engine) sshFinding(n *profiles.Network, ev *event.Event, o profiles.Orientation, role string, sev float64) findings.Finding {
	account, region := placement(&n.Header, ev)
	fd := findings.New(TypeSSHBruteForce, sev, account, region, ev.Time, entityKey(&n.Header, ev), role)
	fd.Resource = instanceResource(n, ev, o.Local)
	fd.Service.Action = connectionAction(ev.Flow, o)
	fd.Service.ResourceRole = role
	return fd
}

func itoa(n int) string { return strconv.Itoa(n) }
