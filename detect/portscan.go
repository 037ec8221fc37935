package detect

import (
	"slices"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Recon:EC2/Portscan (Medium, ACTOR, OUTBOUND): the entity probes many
// ports of one remote host in a short time, as `nmap -sT` does (the AWS
// tester scans another instance that way, so the target may be private).
//
// A record counts as a probe when it is outbound (direction determined,
// not guessed: see profiles.Network.Orient), TCP or UDP, opened by the
// entity (see initiated: a server's replies to one client's many ports
// are not probes) and probe-like: rejected, or at most 3 packets — a SYN,
// its retransmission, or a connect scan's SYN/ACK/RST. Real connections
// carry data and more packets, which keeps a Windows client talking to a
// domain controller's dozen service ports, or an FTP client's data
// connections, out of the count.
//
// Threshold: 25 distinct ports of one remote host within the last 5
// minutes of event time (a sliding window). A top-1000 nmap scan sends
// hundreds of probes a minute even at polite timing; the real scans read
// for calibration (the slips vertical nmap scan, the CIC-IDS2017 port
// scans) reach 44 to several hundred distinct ports per minute, while no
// benign host pair in those captures reached 3. A scan raises one
// occurrence per 5 minutes it lasts. Slower scans (nmap -T0/-T1, one
// probe per 15 s or more) are not detected.
//
// Aggregation key: (account, region, type, entity), the latest remote
// overwriting (spec §4.2 "EC2 ACTOR, volume/DoS/scan").

func (e *Engine) portscan(n *profiles.Network, ev *event.Event, o profiles.Orientation, out []findings.Finding) []findings.Finding {
	f := ev.Flow
	if !o.Known || !o.Outbound || (f.Protocol != protoTCP && f.Protocol != protoUDP) || !initiated(f) {
		return out
	}
	if f.Action != event.ActionReject && f.Packets > e.cfg.PortscanProbePackets {
		return out
	}
	at := ev.Time.UTC()
	w := n.Probes.Observe(o.Remote, o.RemotePort, at, e.cfg.PortscanWindow)
	if len(w.Ports) < e.cfg.PortscanPorts || !w.Report(at, e.cfg.PortscanWindow) {
		return out
	}

	account, region := placement(&n.Header, ev)
	fd := findings.New(TypePortscan, findings.SeverityMedium, account, region, ev.Time, entityKey(&n.Header, ev))
	fd.Resource = instanceResource(n, ev, o.Local)
	fd.Service.Action = connectionAction(f, o)
	fd.Service.ResourceRole = findings.RoleActor
	ports := make([]int, len(w.Ports))
	for i, p := range w.Ports {
		ports[i] = int(p.Key)
	}
	slices.Sort(ports)
	fd.Service.AdditionalInfo = findings.AdditionalInfo{"portsScannedSample": ports}
	inst, remote := instanceLabel(n, ev), o.Remote.String()
	fd.Title = "EC2 instance " + inst + " is performing outbound port scans against remote host " + remote + "."
	fd.Description = "EC2 instance " + inst + " is performing outbound port scans against remote host " + remote +
		". It probed " + itoa(len(w.Ports)) + " ports of the host within a few minutes, which is how an attacker maps services to exploit."
	return append(out, fd)
}
