package detect

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-sec/vigil/awsranges"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/profiles"
)

// The per-instance baseline types (spec §2.5): an instance does something
// on the network that its own history does not show.
//
// Learning. Every oriented flow record teaches the entity's baseline
// (profiles.NetBaseline), during the learning period and after it: the
// family runs on every oriented record, and learns before it judges. A
// record teaches its IP protocol; a record of a connection the entity
// opened (see clientSide) that carried data (not a rejected or
// header-only attempt, see attempt) teaches the bytes exchanged with a
// public host that day and, when the entity sent it, the remote server
// port ("tcp/443") and, for a public host, a DNS server on port 53, a DoH
// server (TCP 443 to an address on a DoH resolver list,
// intel.Set.Resolver) or a DoT server (TCP 853). No finding is raised for
// a record earlier than Config.NetworkLearningPeriod after the entity's
// first record (--network-learning-period, a week by default).
//
// Judgment. A record at t is judged against what the baseline saw on the
// days before its reference day R, the UTC day of t minus
// profiles.NetBaselineLateness: a value "never used" has no sighting
// before R, one "without recent history" no active day among the 30
// before R. Every record of those days reached the profile before any
// record more than that lateness later, so the judgment of a record, and
// its finding's details, are the same in any order.
//
// Exactness: the findings are the same whatever the order of the records
// while every record arrives before any record more than
// profiles.NetBaselineLateness later in event time, no baseline set
// overflows its cap (profiles/netbaseline.go), and the windows' lateness
// holds (profiles/window.go). A record parked until its direction is
// known (profiles/orient.go) is judged when it is oriented, so a long
// park counts as lateness.
//
// The six types:
//
//   - Behavior:EC2/NetworkPortUnusual (Medium; High with
//     additionalInfo.context "Possible log4j callback" for remote port 389
//     or 1389, the LDAP ports Log4Shell payloads call back to): the entity
//     opens a connection to a public host on a remote server port
//     (protocol/port) it never used before. Ports 25, 53 and TCP 853 are
//     left to the types below. A reply from one of the entity's services
//     is not a connection it opened, and a remote port in the ephemeral
//     range (32768 and up) counts only when the record's TCP flags show
//     the entity sent the SYN: without them the server side cannot be told.
//     Key: (entity, protocol/port); every record counts.
//   - Behavior:EC2/TrafficVolumeUnusual (Medium): the bytes the entity
//     sent to one public host over connections it opened, within a UTC
//     day, reach max(10 × the most it sent to that host on any of the 7
//     days before, 100 MB); the day just before counts without its last
//     profiles.NetBaselineLateness, whose records may still arrive while
//     the day is judged, so the threshold of a day is the same in any
//     order. The captures read for calibration (slips,
//     CIC-IDS2017) show benign per-host daily volumes of kilobytes to a
//     few megabytes, and the Panther compromised-instance scenario's
//     exfiltration 2 MB: 100 MB keeps backups and updates to new hosts
//     out unless they are large, and ten times a host's usual day is
//     what a bulk copy to a known host adds. Bytes to AWS service ranges
//     other than EC2 (S3, CloudFront, ...; Config.AWSRanges) are not
//     counted: their addresses change from request to request, so they
//     have no per-host history. One finding per host-day (count 1 when
//     the day reaches the threshold, updates after); key (entity, host);
//     additionalInfo inBytes and outBytes are the day's. A day that
//     starts before the learning period ends is not judged.
//   - Backdoor:EC2/Spambot (Medium): the entity opens TCP 25 connections
//     to public hosts and never used port 25 before. Each 1-hour window
//     (hopping, see profiles/window.go) with such a connection counts
//     once; its distinctHosts is the evidence, and 10 or more hosts in a
//     window (massMailing) is what a spam bot does, while a mail relay
//     first set up talks to a few. Key: entity.
//   - DefenseEvasion:EC2/UnusualDNSResolver (Medium): DNS (UDP or TCP 53)
//     to a public server the entity used on none of the 30 days before R;
//     additionalInfo.unusual is the server. An entity that itself resolves
//     recursively (16 or more public DNS servers active in those days)
//     meets new authoritative servers all day and raises none. Key:
//     (entity, server).
//   - DefenseEvasion:EC2/UnusualDoHActivity and UnusualDoTActivity
//     (Medium): TCP 443 to a known public DoH resolver, or TCP 853 to any
//     public host, used on none of the 30 days before R. Key: (entity,
//     server).
//
// The DoH list is looked up when a record is learned, so a record to a
// resolver added to the list later teaches the DoH set from then on.
const (
	volumeHistoryDays = profiles.VolumeDays - 1
	volumeFactor      = 10
	volumeFloor       = 100 << 20
	spambotWindow     = time.Hour
	spambotHosts      = 10
	resolverFanout    = 16
	log4jContext      = "Possible log4j callback"

	smtpPort = 25
	dnsPort  = 53
	dohPort  = 443
	dotPort  = 853
)

func (e *Engine) networkBaseline(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, out []findings.Finding) []findings.Finding {
	t := r.Time.UTC()
	b := &n.Baseline
	b.Learn(profiles.NetProtocol, profiles.ProtocolValue(r.Protocol), t)
	if r.Protocol != protoTCP && r.Protocol != protoUDP || !clientSide(r) || attempt(r) {
		return out
	}
	public := publicAddr(r.Remote)
	learnEnd := n.FirstEvent.Add(e.cfg.NetworkLearningPeriod)
	learning := t.Before(learnEnd)
	if public && !e.awsService(r.Remote) {
		out = e.trafficVolume(n, ev, r, learnEnd, out)
	}
	if !r.Outbound || r.RemotePort == 0 || r.RemotePort >= ephemeralFloor && r.TCPFlags&tcpSYN == 0 {
		return out
	}
	ref := profiles.BaselineRef(t)
	port := profiles.PortValue(r.Protocol, r.RemotePort)
	portBefore := b.Ports.Before(port, ref)
	b.Learn(profiles.NetPort, port, t)
	if !public {
		return out
	}
	remote := r.Remote.String()
	tcp := r.Protocol == protoTCP
	switch {
	case r.RemotePort == dnsPort:
		before := b.Resolvers.Before(remote, ref)
		b.Learn(profiles.NetResolver, remote, t)
		if !learning && before.Days == 0 {
			if active := b.Active(profiles.NetResolver, ref); active < resolverFanout {
				out = append(out, e.unusualServerFinding(n, ev, r, TypeUnusualDNSResolver, profiles.NetResolver, before, ref, active, intel.ResolverMatch{}))
			}
		}
		return out
	case tcp && r.RemotePort == dotPort:
		before := b.DoT.Before(remote, ref)
		b.Learn(profiles.NetDoT, remote, t)
		if !learning && before.Days == 0 {
			m, _ := e.Intel().Resolver(intel.DoT, r.Remote)
			out = append(out, e.unusualServerFinding(n, ev, r, TypeUnusualDoTActivity, profiles.NetDoT, before, ref, b.Active(profiles.NetDoT, ref), m))
		}
		return out
	case tcp && r.RemotePort == dohPort:
		if m, ok := e.Intel().Resolver(intel.DoH, r.Remote); ok {
			before := b.DoH.Before(remote, ref)
			b.Learn(profiles.NetDoH, remote, t)
			if !learning && before.Days == 0 {
				out = append(out, e.unusualServerFinding(n, ev, r, TypeUnusualDoHActivity, profiles.NetDoH, before, ref, b.Active(profiles.NetDoH, ref), m))
			}
		}
	case tcp && r.RemotePort == smtpPort:
		if !learning && !portBefore.Seen {
			out = e.spambot(n, ev, r, out)
		}
		return out
	}
	if !learning && !portBefore.Seen {
		out = append(out, e.networkPortUnusual(n, ev, r, port, ref))
	}
	return out
}

// clientSide reports whether the entity opened r's connection: the record
// of a handshake tells (the SYN's sender is the client, the SYN-ACK's the
// server), else the ports do: a server listens on the lower port, below
// the ephemeral range (as initiated does for connection attempts; a
// record of a long connection's later interval has no SYN).
func clientSide(r *profiles.OrientedFlow) bool {
	if r.Protocol == protoTCP && r.TCPFlags&tcpSYN != 0 {
		return (r.TCPFlags&tcpACK == 0) == r.Outbound
	}
	return !(r.LocalPort < r.RemotePort && r.LocalPort < ephemeralFloor)
}

// attempt reports whether r is a connection attempt that carried no
// data: rejected, or a TCP record of at most 3 packets of headers alone (a
// SYN and its retransmissions, a scan's SYN/ACK/RST). Probes teach and
// raise nothing here (Recon:EC2/Portscan counts them): a scan would fill
// the port set with every port it tried.
func attempt(r *profiles.OrientedFlow) bool {
	return r.Action == event.ActionReject || r.Protocol == protoTCP && r.Packets <= 3 && r.Bytes <= 64*r.Packets
}

// awsService reports whether a is in an AWS range of a service other than
// EC2 (S3, CloudFront, DynamoDB, ... or Amazon's own): an endpoint, not a
// host of anyone's.
func (e *Engine) awsService(a netip.Addr) bool {
	ranges := e.cfg.AWSRanges
	if ranges == nil {
		ranges = awsranges.Fallback()
	}
	rg, ok := ranges.Lookup(a)
	return ok && !slices.Contains(rg.Services, "EC2")
}

// baselineAction is the NETWORK_CONNECTION action of a record.
func baselineAction(r *profiles.OrientedFlow) findings.Action {
	x := r.Exemplar()
	return connectionAction(&x, r.Outbound)
}

// recordFinding starts the occurrence of one judged record.
func recordFinding(typ string, sev float64, n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, key ...string) findings.Finding {
	account, region := placement(&n.Header, ev)
	f := findings.New(typ, sev, account, region, r.Time, append([]string{entityKey(&n.Header, ev)}, key...)...)
	x := r.Exemplar()
	f.Resource = flowResource(n, ev, &x)
	f.Service.Action = baselineAction(r)
	f.Service.ResourceRole = findings.RoleActor
	return f
}

// refDay writes a reference day as a date.
func refDay(day int64) string { return time.Unix(day*86400, 0).UTC().Format(time.DateOnly) }

// valueEvidence is what the baseline knew of a value before the
// reference day: its class (new, rare, infrequent, frequent), first and
// last sighting and days active of the profiles.BaselineDays before it.
func valueEvidence(set profiles.NetDim, value string, b profiles.Before, ref int64, learning time.Duration) map[string]any {
	ev := map[string]any{
		"set": set.String(), "value": value, "class": b.Class().String(), "daysActive": b.Days,
		"baselineDays": profiles.BaselineDays, "referenceDay": refDay(ref),
		"learningPeriod": learning.String(),
	}
	if b.Seen {
		ev["firstSeen"] = findings.Stamp(b.First)
		ev["lastSeen"] = findings.Stamp(b.Last)
	}
	return ev
}

// maxProfiledPorts bounds the ports a NetworkPortUnusual finding lists.
const maxProfiledPorts = 20

// profiledPorts lists the ports the entity used before day ref, the most
// active first (ties by value), at most maxProfiledPorts.
func profiledPorts(b *profiles.NetBaseline, ref int64) []string {
	type pv struct {
		v    string
		days int
	}
	var all []pv
	b.Ports.Each(ref, func(v string, x profiles.Before) { all = append(all, pv{v, x.Days}) })
	slices.SortStableFunc(all, func(a, b pv) int { return b.days - a.days })
	out := make([]string, 0, min(len(all), maxProfiledPorts))
	for _, p := range all[:min(len(all), maxProfiledPorts)] {
		out = append(out, p.v)
	}
	return out
}

func (e *Engine) networkPortUnusual(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, port string, ref int64) findings.Finding {
	sev := findings.SeverityMedium
	log4j := r.RemotePort == 389 || r.RemotePort == 1389
	if log4j {
		sev = findings.SeverityHigh
	}
	f := recordFinding(TypeNetworkPortUnusual, sev, n, ev, r, port)
	b := &n.Baseline
	ai := findings.AdditionalInfo{
		"unusual":         map[string]any{"port": int(r.RemotePort)},
		"unusualProtocol": findings.ProtocolName(r.Protocol),
		"localPort":       int(r.LocalPort), "remotePort": int(r.RemotePort),
		"outBytes":      r.Bytes,
		"baseline":      valueEvidence(profiles.NetPort, port, profiles.Before{}, ref, e.cfg.NetworkLearningPeriod),
		"profiledPorts": profiledPorts(b, ref),
	}
	if log4j {
		ai["context"] = log4jContext
	}
	f.Service.AdditionalInfo = ai
	because(&f, "a connection to a public host on a remote server port the instance never used before "+refDay(ref),
		"port", port, "remote", r.Remote.String())
	inst, remote, p := instanceLabel(n, ev), r.Remote.String(), strconv.Itoa(int(r.RemotePort))
	f.Title = "EC2 instance " + inst + " is communicating on an unusual server port " + p + "."
	f.Description = "EC2 instance " + inst + " is communicating with a remote host " + remote + " on an unusual server port " + p +
		" (" + port + "), which it has not used before."
	if log4j {
		f.Description += " Outbound LDAP to a public host is how Log4Shell payloads call back: possible log4j callback."
	}
	return f
}

func (e *Engine) unusualServerFinding(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, typ string, set profiles.NetDim,
	before profiles.Before, ref int64, active int, m intel.ResolverMatch) findings.Finding {
	remote := r.Remote.String()
	f := recordFinding(typ, findings.SeverityMedium, n, ev, r, remote)
	base := valueEvidence(set, remote, before, ref, e.cfg.NetworkLearningPeriod)
	base["activeServers"] = active
	ai := findings.AdditionalInfo{"unusual": remote, "baseline": base, "outBytes": r.Bytes}
	if m.List != "" {
		ai["resolverList"] = m.List
		ai["resolverEntry"] = m.Entry
	}
	f.Service.AdditionalInfo = ai
	inst := instanceLabel(n, ev)
	var what string
	switch typ {
	case TypeUnusualDNSResolver:
		what = "DNS on port " + strconv.Itoa(int(r.RemotePort)) + " to a public resolver"
		if active > 0 {
			base["recursiveResolverThreshold"] = resolverFanout
		}
		f.Title = "EC2 instance " + inst + " is communicating with an unusual DNS resolver."
		f.Description = "EC2 instance " + inst + " is communicating with " + remote +
			", a public DNS resolver it has no recent history with. This may be an attempt to evade DNS monitoring."
	case TypeUnusualDoHActivity:
		what = "DNS over HTTPS to a public DoH resolver"
		f.Title = "EC2 instance " + inst + " is performing unusual DNS over HTTPS (DoH) activity."
		f.Description = "EC2 instance " + inst + " is communicating with " + remote + " (" + m.Entry + " on list " + m.List +
			"), a public DNS-over-HTTPS resolver it has no recent history with. This may be an attempt to evade DNS monitoring."
	default:
		what = "TCP 853 (DNS over TLS) to a public host"
		f.Title = "EC2 instance " + inst + " is performing unusual DNS over TLS (DoT) activity."
		f.Description = "EC2 instance " + inst + " is communicating with " + remote +
			" on TCP port 853, DNS over TLS, with no recent history of it. This may be an attempt to evade DNS monitoring."
	}
	because(&f, what+" the instance used on none of the "+strconv.Itoa(profiles.BaselineDays)+" days before "+refDay(ref),
		"server", remote, "class", before.Class().String())
	return f
}

// spambot adds r, an outbound TCP 25 connection of an entity without port
// 25 history, to the mail windows.
func (e *Engine) spambot(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, out []findings.Finding) []findings.Finding {
	hits := n.ObserveMail(r.Remote, r.Time, r.Exemplar(), spambotWindow)
	w, ok := n.Baseline.Mail.Reached(netip.Addr{}, hits)
	if !ok {
		return out
	}
	fd := windowFinding(TypeSpambot, findings.SeverityMedium, &n.Header, ev, w.First, w.Last, w.Count, w.Crossed)
	fd.Resource = flowResource(n, ev, &w.Exemplar)
	fd.Service.Action = connectionAction(&w.Exemplar, true)
	fd.Service.ResourceRole = findings.RoleActor
	port := profiles.PortValue(protoTCP, smtpPort)
	fd.Service.AdditionalInfo = findings.AdditionalInfo{
		"distinctHosts": w.Distinct, "connections": w.Count, "window": spambotWindow.String(),
		"massMailing": w.Distinct >= spambotHosts, "massMailingThreshold": spambotHosts,
		"baseline": map[string]any{"set": "port", "value": port, "class": profiles.ClassNew.String(),
			"learningPeriod": e.cfg.NetworkLearningPeriod.String()},
	}
	because(&fd, "TCP 25 connections to public hosts by an instance with no prior port-25 history, within "+spambotWindow.String(),
		"distinctHosts", strconv.Itoa(w.Distinct), "latestRemote", w.Exemplar.Remote.String())
	inst, remote := instanceLabel(n, ev), w.Exemplar.Remote.String()
	fd.Title = "EC2 instance " + inst + " is communicating with remote host " + remote + " on TCP port 25."
	fd.Description = "EC2 instance " + inst + " is behaving in a manner that may indicate it is being used to send spam: it connected to port 25 of " +
		strconv.Itoa(w.Distinct) + " hosts within " + spambotWindow.String() + ", the latest " + remote + ", with no prior port-25 history."
	return append(out, fd)
}

// trafficVolume adds r's bytes to its host-day and raises the day's
// finding when its outbound bytes reach the threshold.
func (e *Engine) trafficVolume(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, learnEnd time.Time, out []findings.Finding) []findings.Finding {
	var sent, received uint64
	if r.Outbound {
		sent = r.Bytes
	} else {
		received = r.Bytes
	}
	b := &n.Baseline
	before, d, ok := b.AddVolume(r.Remote, r.Time, sent, received, r.Exemplar())
	// A day judged only when it starts after the learning period: then
	// every record of the day is judged alike.
	if !ok || time.Unix(d.Day*86400, 0).Before(learnEnd) {
		return out
	}
	hist := b.VolumeBefore(r.Remote, d.Day, volumeHistoryDays)
	threshold := max(volumeFactor*hist.Peak, volumeFloor)
	if d.Out < threshold {
		return out
	}
	crossed := 0
	if before.Out < threshold {
		crossed = 1
	}
	remote := r.Remote.String()
	fd := windowFinding(TypeTrafficVolumeUnusual, findings.SeverityMedium, &n.Header, ev, d.First, d.Last, d.Records, crossed, remote)
	fd.Resource = flowResource(n, ev, &d.Exemplar)
	fd.Service.Action = connectionAction(&d.Exemplar, true)
	fd.Service.ResourceRole = findings.RoleActor
	history := map[string]any{
		"historyDays": volumeHistoryDays, "daysWithTraffic": hist.Days, "peakDailyOutBytes": hist.Peak,
		"factor": volumeFactor, "floorBytes": volumeFloor, "thresholdBytes": threshold,
		"learningPeriod": e.cfg.NetworkLearningPeriod.String(),
	}
	if hist.Days > 0 {
		history["peakDay"] = refDay(hist.PeakDay)
	}
	fd.Service.AdditionalInfo = findings.AdditionalInfo{
		"outBytes": d.Out, "inBytes": d.In, "day": refDay(d.Day), "records": d.Records, "baseline": history,
	}
	because(&fd, "bytes sent to one remote host within a UTC day reach max(10 × the most sent to it on any of the 7 days before, 100 MB)",
		"remote", remote, "outBytes", strconv.FormatUint(d.Out, 10), "thresholdBytes", strconv.FormatUint(threshold, 10))
	inst := instanceLabel(n, ev)
	fd.Title = "EC2 instance " + inst + " is generating unusually large network traffic."
	fd.Description = "EC2 instance " + inst + " is generating unusually large amounts of network traffic to remote host " + remote +
		": " + strconv.FormatUint(d.Out, 10) + " bytes on " + refDay(d.Day) + ", against at most " + strconv.FormatUint(hist.Peak, 10) +
		" bytes a day in the week before."
	return append(out, fd)
}
