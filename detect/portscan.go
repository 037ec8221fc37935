package detect

import (
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Recon:EC2/Portscan (Medium, ACTOR, OUTBOUND): the entity probes many
// ports of one remote host in a short time, as `nmap -sT` does (the AWS
// tester scans another instance that way, so the target may be private).
//
// A record counts as a probe when it is outbound (its direction
// determined: see profiles/orient.go; a record whose direction is not
// known yet waits parked until it is), TCP or UDP, opened by the entity
// (see initiated: a server's replies to one client's many ports are not
// probes) and probe-like: rejected, or at most 3 packets — a SYN, its
// retransmission, or a connect scan's SYN/ACK/RST. Real connections carry
// data and more packets, which keeps a Windows client talking to a domain
// controller's dozen service ports, or an FTP client's data connections,
// out of the count.
//
// Threshold: 25 distinct ports of one remote host within a 5-minute
// window of event time (hopping windows that start every 2.5 minutes, see
// profiles/window.go). A top-1000 nmap scan sends hundreds of probes a
// minute even at polite timing; the real scans read for calibration (the
// slips vertical nmap scan, the CIC-IDS2017 port scans) reach 44 to
// several hundred distinct ports per minute, while no benign host pair in
// those captures reached 3. Each window that reaches the threshold counts
// one occurrence, so a scan counts about two per 5 minutes it lasts (a
// burst shorter than 2.5 minutes lies whole in two windows). Slower scans
// (nmap -T0/-T1, one probe per 15 s or more) are not detected.
//
// Aggregation key: (account, region, type, entity), the latest window's
// remote host showing (spec §4.2 "EC2 ACTOR, volume/DoS/scan"). The
// details are the window's: its latest probe, and its distinct ports as
// portsScannedSample.

func (e *Engine) portscan(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, out []findings.Finding) []findings.Finding {
	if !r.Outbound || (r.Protocol != protoTCP && r.Protocol != protoUDP) || !initiated(&r.FlowRecord) {
		return out
	}
	if r.Action != event.ActionReject && r.Packets > e.cfg.PortscanProbePackets {
		return out
	}
	hits := n.ObserveProbe(r.Remote, r.RemotePort, r.Time, r.Exemplar(), e.cfg.PortscanWindow, e.cfg.PortscanPorts)
	w, ok := n.Probes.Reached(r.Remote, hits)
	if !ok {
		return out
	}
	fd := windowFinding(TypePortscan, findings.SeverityMedium, &n.Header, ev, w.First, w.Last, w.Count, w.Crossed)
	fd.Resource = flowResource(n, ev, &w.Exemplar)
	fd.Service.Action = connectionAction(&w.Exemplar, true)
	fd.Service.ResourceRole = findings.RoleActor
	var buf [profiles.MaxWindowKeys]uint16
	keys := n.Probes.AppendKeys(buf[:0], r.Remote, w.Index)
	ports := make([]int, len(keys))
	for i, p := range keys {
		ports[i] = int(p)
	}
	fd.Service.AdditionalInfo = findings.AdditionalInfo{"portsScannedSample": ports}
	inst, remote := instanceLabel(n, ev), w.Exemplar.Remote.String()
	fd.Title = "EC2 instance " + inst + " is performing outbound port scans against remote host " + remote + "."
	fd.Description = "EC2 instance " + inst + " is performing outbound port scans against remote host " + remote +
		". It probed " + itoa(len(ports)) + " ports of the host within a few minutes, which is how an attacker maps services to exploit."
	return append(out, fd)
}
