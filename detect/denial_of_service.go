package detect

import (
	"slices"
	"strconv"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Backdoor:EC2/DenialOfService.* (High, ACTOR, OUTBOUND): the entity
// sends a large volume of traffic to one publicly routable host within a
// short window of event time, as a bot taking part in a flood does. One
// type per protocol class of the traffic:
//
//   - .Dns: UDP or TCP to remote port 53;
//   - .Tcp: other TCP;
//   - .Udp: other UDP;
//   - .UdpOnTcpPorts: UDP to a port only TCP services use (udpOnTCPPorts),
//     counted in .Udp's volume too: the AWS tester's UDP flood to port 80
//     is expected as .Udp (spec §1.4), and GuardDuty names the port
//     pattern separately;
//   - .UnusualProtocol: protocols other than TCP, UDP, ICMP and IPsec
//     (IGMP, GRE, raw IP, ...). IPsec ESP and AH (50, 51) are left out:
//     they carry a site-to-site VPN's whole traffic to one peer.
//
// Volume is counted from flow records, which carry the packets and bytes
// of their 5-tuple over their aggregation interval (1 or 10 minutes),
// summed per (remote host, class) over hopping windows of DoSWindow (2
// minutes, starting every minute: a window holds two 1-minute
// intervals). A window reaches the threshold when it holds at least
// DoSPacketsPerSecond × DoSWindow packets (1,000 packets/s, 120,000
// packets), and at least DoSMinPackets (a floor for short windows), from
// at least DoSSourcePorts (64) distinct local ports for .Tcp and .Udp,
// from any number for .Dns, .UdpOnTcpPorts and .UnusualProtocol (see
// below). Both sums only grow, so a window reaches it once, in any order
// (profiles.VolumeWindows).
//
// Calibration. The AWS tester sends 400,000 UDP/53 packets with 64-byte
// payloads, and 400,000 UDP/80 packets with 256-byte payloads, to one
// address (spec §1.4). Flooding tools change the source port with every
// packet (hping3 counts up through all of them by default) or keep one;
// at 10,000 packets/s the 400,000 packets take 40 seconds, and every
// window over them holds 100,000 to 400,000 packets. Benign traffic in the
// captures of ../shared/data stays two orders of magnitude below: the
// busiest outbound stream to one public host (a download's ACKs in slips
// test9) averages 62 packets/s over 2 minutes (238/s within its record),
// DNS to a public resolver at most 0.2 packets/s (slips test7), and no
// host pair of the CIC-IDS2017 sample exceeds 13 packets/s. The
// distinct-port condition keeps the heavy single-connection streams of
// TCP and UDP out: a fast download's ACKs (a 1 Gbit/s download returns
// 40,000 ACKs a second), a VPN tunnel, a QUIC transfer, a game or media
// stream use one to a few local ports, a parallel download (S3's 10
// connections) a few more. DNS, UDP to a TCP service's port and unusual
// protocols have no such legitimate stream to one public host, so they
// need no port condition, and the tester's floods are found whatever
// source ports its tool uses (its UDP/80 flood raises .UdpOnTcpPorts, and
// .Udp as well when it comes from many ports). A TCP or other UDP flood
// from fewer than 64 source ports is not detected, nor any flood below
// 1,000 packets/s.
//
// Only records to publicly routable addresses count (no finding for
// private, multicast or broadcast destinations: IGMP to 224.0.0.x is
// ordinary). Rejected records count too: the instance still sent the
// traffic, its own security group or NACL stopped it.
//
// Aggregation key: (account, region, type, entity), the latest window's
// remote host showing (spec §4.2). additionalInfo gives the window, the
// threshold, and the window's packets (packetsOut), bytes (outBytes),
// average rate and size, and distinct local ports.

// Protocol classes of the volume windows.
const (
	dosDNS uint8 = iota + 1
	dosTCP
	dosUDP
	dosUDPOnTCPPorts
	dosUnusual
)

var dosTypes = [...]struct{ typ, what string }{
	dosDNS:           {TypeDoSDNS, "the DNS protocol"},
	dosTCP:           {TypeDoSTCP, "the TCP protocol"},
	dosUDP:           {TypeDoSUDP, "the UDP protocol"},
	dosUDPOnTCPPorts: {TypeDoSUDPOnTCPPorts, "the UDP protocol on a TCP port"},
	dosUnusual:       {TypeDoSUnusualProtocol, "an unusual protocol"},
}

// udpOnTCPPorts are ports only TCP services use, where UDP volume is a
// flood aimed at the service's host: FTP, SSH, Telnet, SMTP, HTTP, POP3,
// IMAP, SMB, IMAPS, POP3S, MSSQL, MySQL, PostgreSQL, WinRM and the HTTP
// alternates 8080 and 8443. 443 and 3389 are left out although TCP's
// best-known ports: they carry UDP by design (QUIC and HTTP/3, RDP's UDP
// transport), and UDP floods to them count as .Udp.
var udpOnTCPPorts = []uint16{21, 22, 23, 25, 80, 110, 143, 445, 993, 995, 1433, 3306, 5432, 5985, 5986, 8080, 8443}

const (
	protoICMP   = 1
	protoESP    = 50
	protoAH     = 51
	protoICMPv6 = 58
)

// dosClasses returns the classes a record counts in: one, or .Udp and
// .UdpOnTcpPorts; none for ICMP and IPsec.
func dosClasses(r *profiles.OrientedFlow) []uint8 {
	switch r.Protocol {
	case protoTCP, protoUDP:
		if r.RemotePort == 53 {
			return []uint8{dosDNS}
		}
		if r.Protocol == protoTCP {
			return []uint8{dosTCP}
		}
		if slices.Contains(udpOnTCPPorts, r.RemotePort) {
			return []uint8{dosUDP, dosUDPOnTCPPorts}
		}
		return []uint8{dosUDP}
	case protoICMP, protoICMPv6, protoESP, protoAH:
		return nil
	}
	return []uint8{dosUnusual}
}

// dosThreshold is the packets a window must hold: the rate over the
// window, at least the floor.
func (c *Config) dosThreshold() uint64 {
	return max(uint64(c.DoSPacketsPerSecond)*uint64(c.DoSWindow/time.Second), c.DoSMinPackets)
}

func (e *Engine) denialOfService(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, out []findings.Finding) []findings.Finding {
	if !r.Outbound || r.Packets == 0 || !publicAddr(r.Remote.Unmap()) {
		return out
	}
	threshold := e.cfg.dosThreshold()
	for _, class := range dosClasses(r) {
		ports := 1
		if class == dosTCP || class == dosUDP {
			ports = e.cfg.DoSSourcePorts
		}
		hits := n.ObserveVolume(r.Remote, class, r.LocalPort, r.Packets, r.Bytes, r.Time, r.Exemplar(), e.cfg.DoSWindow, threshold, ports)
		w, ok := n.Attacks.Volume.Reached(profiles.VolumeGroup{Remote: r.Remote, Class: class}, hits)
		if !ok {
			continue
		}
		out = append(out, e.dosFinding(n, ev, &w, class, threshold, ports))
	}
	return out
}

func (e *Engine) dosFinding(n *profiles.Network, ev *event.Event, w *profiles.VolumeWindow, class uint8, threshold uint64, ports int) findings.Finding {
	t := dosTypes[class]
	fd := windowFinding(t.typ, findings.SeverityHigh, &n.Header, ev, w.First, w.Last, w.Count, w.Crossed)
	fd.Resource = flowResource(n, ev, &w.Exemplar)
	fd.Service.Action = connectionAction(&w.Exemplar, true)
	fd.Service.ResourceRole = findings.RoleActor
	secs := e.cfg.DoSWindow.Seconds()
	rate := strconv.FormatFloat(float64(w.Packets)/secs, 'f', 0, 64)
	windowEvidence(&fd, e.cfg.DoSWindow, threshold,
		"at least "+strconv.FormatUint(threshold, 10)+" packets ("+strconv.Itoa(e.cfg.DoSPacketsPerSecond)+"/s over the window) to one public host from at least "+
			strconv.Itoa(ports)+" local ports",
		"packets", strconv.FormatUint(w.Packets, 10), "bytes", strconv.FormatUint(w.Bytes, 10),
		"localPorts", strconv.Itoa(w.Ports), "records", strconv.FormatUint(w.Count, 10))
	ai := fd.Service.AdditionalInfo
	ai["packetsOut"] = w.Packets
	ai["outBytes"] = w.Bytes
	ai["packetsPerSecond"] = float64(w.Packets) / secs
	if w.Packets > 0 {
		ai["averagePacketSizeOut"] = w.Bytes / w.Packets
	}
	ai["localPortsCount"] = w.Ports
	ai["minLocalPorts"] = ports
	inst, remote := instanceLabel(n, ev), w.Exemplar.Remote.String()
	fd.Title = "EC2 instance " + inst + " is behaving in a manner that may indicate it is being used to perform a Denial of Service (DoS) attack using " + t.what + "."
	fd.Description = "EC2 instance " + inst + " sent " + strconv.FormatUint(w.Packets, 10) + " packets (" + rate + " a second) to " + remote +
		" within " + e.cfg.DoSWindow.String() + " using " + t.what + ". This may indicate that the instance is compromised and used to flood that host."
	return fd
}
