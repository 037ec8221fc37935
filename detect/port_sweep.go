package detect

import (
	"strconv"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Impact:EC2/PortSweep (High, ACTOR, OUTBOUND): the entity probes one
// port on many publicly routable hosts, as a worm or a compromised host
// looking for its next targets does (masscan, zmap, Mirai's telnet
// scanner). It is the horizontal counterpart of Recon:EC2/Portscan.
//
// A record counts as a probe of its remote port as for Portscan: outbound
// (its direction known), TCP or UDP, opened by the entity (see
// initiated), and rejected or of at most PortscanProbePackets packets. The
// remote host must be publicly routable (GuardDuty's wording) and IPv4
// (flow findings do not cover IPv6, and its space cannot be swept). Ports
// 53 and 123 are not counted: a recursive resolver sends one-packet
// queries to hundreds of authoritative servers, and an NTP client polls
// a pool of servers, both legitimately.
//
// Threshold: 30 distinct hosts on one port within a 5-minute window of
// event time (hopping windows starting every 2.5 minutes,
// profiles/window.go). In the slips captures, the Mirai-like sweep of
// test7 probes port 23 of 54 public hosts and port 8080 of 39 within one
// window, while no benign host in slips or the CIC-IDS2017 sample sent
// probe-like records to more than 3 hosts on one port (browsing reaches
// 64 hosts on port 443 in a window of test9, but with full
// connections). The malware of the slips "horizontal" capture fetches
// pages from 25 hosts on port 80, 10 of them unanswered probes: it stays
// below, as GuardDuty's "large number of IP addresses" suggests. Each
// window that reaches the threshold counts one occurrence.
//
// Aggregation key: (account, region, type, entity), the latest window's
// remote host showing (spec §4.2). additionalInfo: the port swept
// (scannedPort), the hosts probed in the window (up to 64) and a sample of
// them (the numerically smallest addresses, a function of the window's
// set), with the window and threshold.

// sweepSample is how many probed hosts additionalInfo lists.
const sweepSample = 10

func (e *Engine) portSweep(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, out []findings.Finding) []findings.Finding {
	if !r.Outbound || (r.Protocol != protoTCP && r.Protocol != protoUDP) || !initiated(&r.FlowRecord) {
		return out
	}
	if r.Action != event.ActionReject && r.Packets > e.cfg.PortscanProbePackets {
		return out
	}
	if r.RemotePort == 53 || r.RemotePort == 123 || !publicAddr(r.Remote.Unmap()) {
		return out
	}
	hits := n.ObserveSweep(r.RemotePort, r.Remote, r.Time, r.Exemplar(), e.cfg.PortSweepWindow, e.cfg.PortSweepHosts)
	port := profiles.Port(r.RemotePort)
	w, ok := n.Attacks.Sweep.Reached(port, hits)
	if !ok {
		return out
	}
	fd := windowFinding(TypePortSweep, findings.SeverityHigh, &n.Header, ev, w.First, w.Last, w.Count, w.Crossed)
	fd.Resource = flowResource(n, ev, &w.Exemplar)
	fd.Service.Action = connectionAction(&w.Exemplar, true)
	fd.Service.ResourceRole = findings.RoleActor
	var buf [profiles.MaxWindowKeys]uint32
	keys := n.Attacks.Sweep.AppendKeys(buf[:0], port, w.Index)
	sample := make([]string, 0, sweepSample)
	for _, k := range keys[:min(len(keys), sweepSample)] {
		sample = append(sample, profiles.SweepAddr(k).String())
	}
	p := strconv.Itoa(int(r.RemotePort))
	windowEvidence(&fd, e.cfg.PortSweepWindow, e.cfg.PortSweepHosts, "probes of one port on distinct public hosts within the window",
		"hosts", strconv.Itoa(w.Distinct), "probes", strconv.FormatUint(w.Count, 10), "port", p)
	fd.Service.AdditionalInfo["scannedPort"] = int(r.RemotePort)
	fd.Service.AdditionalInfo["hostsProbed"] = w.Distinct
	fd.Service.AdditionalInfo["remoteIpsSample"] = sample
	inst, remote := instanceLabel(n, ev), w.Exemplar.Remote.String()
	fd.Title = "EC2 instance " + inst + " is performing a port sweep on port " + p + "."
	fd.Description = "EC2 instance " + inst + " probed port " + p + " on " + strconv.Itoa(w.Distinct) +
		" public hosts within minutes, the latest " + remote + ". A sweep of one port across many hosts is how worms and compromised hosts look for their next targets."
	return append(out, fd)
}
