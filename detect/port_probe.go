package detect

import (
	"slices"
	"strconv"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/profiles"
)

// Recon:EC2/PortProbeUnprotectedPort (Low; High on 9200 and 9300,
// Elasticsearch) and Recon:EC2/PortProbeEMRUnprotectedPort (High):
// TARGET, INBOUND. A known scanner probes a port of the instance and the
// port is not blocked.
//
// A known scanner is an address on a scanner list (intel kind Scanner:
// the bundled maltrail mass-scanner list of Censys, Shodan, BinaryEdge,
// Rapid7, Shadowserver and the like, or the lists in --intel-dir
// scanner/). GuardDuty's real finding names "Scanner" from ProofPoint's
// list; the finding carries the list and entry matched (threatListName,
// threatListEntry) and threatName "Scanner".
//
// "Not blocked by a security group, NACL or host firewall" is what
// GuardDuty checks; the flows tell part of it. A record the remote
// opened (see initiated: the scanner's SYN, or its UDP probe) that was
// ACCEPTed passed the security group and the NACL; a REJECTed one raises
// nothing. Whether the host's own firewall (iptables, Windows Firewall)
// dropped it, or a service answered, the record alone does not say: the
// reply record (SYN-ACK, tcp-flags 18) would, and is not correlated. So
// a port the security group opens to the internet is reported even when
// nothing listens on it, which is still an exposure worth the Low
// finding.
//
// The EMR type is raised instead of the plain one for the ports of EMR's
// web interfaces and services (emrPorts): YARN ResourceManager 8088, the
// EMR service's cluster-manager port 8443, Zeppelin 8890, Livy 8998,
// JupyterHub 9443, HDFS NameNode 9870 (Hadoop 3) and 50070 (Hadoop 2),
// HBase Master 16010, Spark History Server 18080, MapReduce JobHistory
// 19888 and the YARN web proxy 20888. The flows cannot tell an EMR node
// from another instance listening there; a non-EMR service on those
// ports exposed to scanners is as exposed.
//
// Scanners do reach exposed instances: of the 20,000 real sessions of
// the UQO Cowrie honeypot (SSH and Telnet open to the internet), 56 from
// 42 sources come from addresses on the maltrail list (Shodan, Censys and
// others), each a Low finding (TestPortProbeHoneypot); none of the
// addresses of the slips and CIC-IDS2017 captures is on it.
//
// Each accepted probe is one occurrence, its details its own (a
// single-event finding). Aggregation key: (account, region, type,
// entity), plus "elasticsearch" for the High variant, so that a Low and a
// High finding on one instance stay apart (spec §4.2, EC2 TARGET).

// emrPorts are the EMR-sensitive ports (see above).
var emrPorts = []uint16{8088, 8443, 8890, 8998, 9443, 9870, 16010, 18080, 19888, 20888, 50070}

func (e *Engine) portProbe(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, out []findings.Finding) []findings.Finding {
	if r.Outbound || r.Action != event.ActionAccept || (r.Protocol != protoTCP && r.Protocol != protoUDP) || !initiated(&r.FlowRecord) {
		return out
	}
	set := e.Intel()
	if set == nil {
		return out
	}
	var m intel.IPMatch
	for _, x := range set.IP(r.Remote) {
		if x.Kind == intel.Scanner {
			m = x
		}
	}
	if m.Kind != intel.Scanner {
		return out
	}
	typ, sev, key := TypePortProbeUnprotected, findings.SeverityLow, []string(nil)
	switch {
	case slices.Contains(emrPorts, r.LocalPort):
		typ, sev = TypePortProbeEMRUnprotected, findings.SeverityHigh
	case r.LocalPort == 9200 || r.LocalPort == 9300:
		sev, key = findings.SeverityHigh, []string{"elasticsearch"}
	}
	account, region := placement(&n.Header, ev)
	fd := findings.New(typ, sev, account, region, r.Time, append([]string{entityKey(&n.Header, ev)}, key...)...)
	x := r.Exemplar()
	fd.Resource = flowResource(n, ev, &x)
	local := &findings.LocalIPDetails{}
	if a := r.Local.Unmap(); a.Is4() {
		local.IPAddressV4 = a.String()
	} else {
		local.IPAddressV6 = a.String()
	}
	port := int(r.LocalPort)
	fd.Service.Action = findings.Action{
		ActionType: findings.ActionPortProbe,
		PortProbeAction: &findings.PortProbeAction{
			PortProbeDetails: []findings.PortProbeDetail{{
				LocalPortDetails: &findings.PortDetails{Port: port, PortName: findings.PortName(port)},
				LocalIPDetails:   local,
				RemoteIPDetails:  remoteIP(r.Remote),
			}},
		},
	}
	fd.Service.ResourceRole = findings.RoleTarget
	because(&fd, "an inbound connection opened by an address on a scanner list was accepted (not blocked by the security group or NACL)",
		"remoteIp", r.Remote.String(), "localPort", strconv.Itoa(port), "protocol", findings.ProtocolName(r.Protocol), "action", "ACCEPT")
	ai := fd.Service.AdditionalInfo
	ai["threatListName"] = m.List
	ai["threatListEntry"] = m.Entry
	ai["threatName"] = "Scanner"
	fd.Service.Evidence = &findings.Evidence{ThreatIntelligenceDetails: []findings.ThreatIntelligenceDetail{{
		ThreatListName: m.List, ThreatNames: []string{"Scanner"},
	}}}
	inst, p := instanceLabel(n, ev), strconv.Itoa(port)
	if typ == TypePortProbeEMRUnprotected {
		fd.Title = "EMR-related port " + p + " on EC2 instance " + inst + " is being probed."
		fd.Description = "EMR-related port " + p + " on EC2 instance " + inst + " is not blocked and is being probed by a known scanner, " +
			r.Remote.String() + " (" + m.Entry + " on list " + m.List + ")."
	} else {
		fd.Title = "Unprotected port on EC2 instance " + inst + " is being probed."
		fd.Description = "EC2 instance " + inst + " has an unprotected port " + p + " which is being probed by a known scanner, " +
			r.Remote.String() + " (" + m.Entry + " on list " + m.List + ")."
	}
	return append(out, fd)
}
