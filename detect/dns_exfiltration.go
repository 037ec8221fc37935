package detect

import (
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Trojan:EC2/DNSDataExfiltration (High, ACTOR, DNS_REQUEST): the entity
// tunnels data through DNS — it encodes data in the labels of queries to
// one domain whose authoritative name server the attacker runs. Every
// query of a tunnel carries new data, so the names are distinct, long and
// random-looking, all under one registrable domain (the AWS tester sends
// 929 of them with ~60-character base64 labels).
//
// A query counts when a label left of its registrable domain (eTLD+1,
// Public Suffix List, so "x.elb.amazonaws.com" style cloud names are their
// own registrable domain and never count) looks encoded (encodedLabel, 20+
// characters). The finding fires when one registrable domain receives 30
// distinct such names within a 10-minute window of event time (hopping
// windows that start every 5 minutes, see profiles/window.go). The tunnels
// read for calibration (netrack dns2tcp, iodine and dnscapy captures, the
// iodine and dns2tcp pcaps) send 40 to thousands of them a minute. Benign
// random-looking names are rare: 0.24% of the Umbrella top 100k, none of
// the OpenDNS lists or the netrack benign capture, and at most 60 under
// any one registrable domain across that whole list (azure.net) — resolved
// by one host in a row at 10 a second, the list raises nothing.
// Repeated lookups of one name (a polling client) count once. Domains in
// Config.DNSTunnelAllow (reputation lookups that hash by design) never
// count. Each window that reaches the threshold counts one occurrence, so
// a tunnel counts about two per 10 minutes it stays open; the details are
// the window's latest query.
//
// Aggregation key: (account, region, type, entity, registrable domain).

func (e *Engine) dnsExfiltration(n *profiles.Network, ev *event.Event, out []findings.Finding) []findings.Finding {
	q := ev.DNS
	name := queryName(q)
	sub, domain, ok := registrable(name)
	if !ok || sub == "" || e.allow[domain] || !encodedName(sub, e.cfg.DNSTunnelMinLabel) {
		return out
	}
	ex := profiles.DNSExemplar{
		Name: name, Src: q.SrcAddr.Unmap().WithZone(""), VPC: q.VPCID, Owner: q.AccountID,
		Transport: q.Transport, Blocked: q.FirewallAction == "BLOCK",
	}
	hits := n.ObserveDNSTunnel(domain, fnv32a(name), ev.Time.UTC(), ex, e.cfg.DNSTunnelWindow, e.cfg.DNSTunnelNames)
	w, ok := n.DNSTunnel.Reached(profiles.Domain(domain), hits)
	if !ok {
		return out
	}
	x := &w.Exemplar
	f := windowFinding(TypeDNSDataExfiltration, findings.SeverityHigh, &n.Header, ev, w.First, w.Last, w.Count, w.Crossed, domain)
	f.Resource = instanceResource(instanceID(n, ev), findings.NetworkInterface{VpcID: x.VPC}, x.Src)
	f.Service.Action = dnsAction(x.Name, domain, x.Transport, x.Owner, x.Blocked)
	f.Service.ResourceRole = findings.RoleActor
	inst := instanceLabel(n, ev)
	f.Title = "Data exfiltration through DNS queries from EC2 instance " + inst + "."
	f.Description = "EC2 instance " + inst + " queried " + itoa(w.Distinct) + " distinct names under " + domain +
		" within minutes whose labels look like encoded data. DNS tunnelling tools carry data this way to a name server the attacker controls."
	return append(out, f)
}
