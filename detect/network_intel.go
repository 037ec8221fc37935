package detect

import (
	"slices"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/profiles"
)

// Threat-intel types on flows (spec §1.4): a connection between the
// entity and a publicly routable address on a list of the engine's threat
// lists (Intel; a trusted list wins over every list). The remote address
// decides:
//
//   - Backdoor:EC2/C&CActivity.B (High): a C&C server (c2 lists), or a
//     Log4j-related host (log4j lists; additionalInfo.threatName "Log4j
//     Related", as GuardDuty's, with the list that holds it as
//     threatListName: Amazon's own list is not public);
//   - CryptoCurrency:EC2/BitcoinTool.B (High): a mining pool (the
//     addresses of the crypto-currency lists);
//   - Trojan:EC2/BlackholeTraffic (Medium): a black-hole (sink-hole)
//     server;
//   - Trojan:EC2/DropPoint (Medium): a host that collects stolen data;
//   - UnauthorizedAccess:EC2/TorClient (High): a Tor relay or directory
//     authority. The relay lists carry no flags, so a guard cannot be told
//     from another relay: any relay the entity connects to counts, which
//     is what a client does first (its guards, the authorities);
//   - UnauthorizedAccess:EC2/MaliciousIPCaller.Custom (Medium): an address
//     on a customer threat list, in either direction: ACTOR when the
//     entity opened the connection, TARGET when the remote host did.
//
// These are ACTOR types (the entity reached out, rejected attempts
// included: it still tried), raised by the records of connections the
// entity opened: the records of both directions of such a connection
// count, the replies too. A connection the remote host opened raises
// none of them but MaliciousIPCaller.Custom (a C&C server connecting in
// is not the instance talking to it), and TorRelay:
//
//   - UnauthorizedAccess:EC2/TorRelay (High): the entity acts as a Tor
//     relay. Heuristic, from what the flows show: a Tor relay that is not
//     an exit opens an accepted connection to the entity (relays open
//     connections to other relays, to extend circuits through them; a
//     client never receives them, and a non-exit relay carries no user's
//     traffic to ordinary servers), or the entity's own address is on the
//     relay list (seen when the flow log records a public local address).
//     Exits opening connections are Tor users reaching a service, not a
//     sign of a relay.
//
// Every matching record is an occurrence (Rank 1, details from the record
// alone); they aggregate by (account, region, type, entity, remote
// address), and for MaliciousIPCaller.Custom also the role, spec §4.2;
// TorRelay by (account, region, type, entity): the relays are many.
// Evidence: additionalInfo.threatListName, threatNames and threatName,
// and evidence.threatIntelligenceDetails, name the list and the entry (an
// address or a network) that matched; additionalInfo.connection says who
// opened it.

// flowThreat describes the finding of one kind of list on flows.
type flowThreat struct {
	typ    string
	sev    float64
	threat string // additionalInfo.threatName
	title  string // "… is communicating with " + title
}

var flowThreats = map[intel.IPKind]flowThreat{
	intel.CommandControl: {TypeCCActivityB, findings.SeverityHigh, "CommandAndControl", "a known command and control server"},
	intel.Log4j:          {TypeCCActivityB, findings.SeverityHigh, "Log4j Related", "a host related to Log4j exploitation"},
	intel.CryptoMining:   {TypeBitcoinTool, findings.SeverityHigh, "CryptoCurrency", "an IP address associated with Bitcoin-related activity"},
	intel.Sinkhole:       {TypeBlackholeTraffic, findings.SeverityMedium, "BlackHole", "a black hole IP address"},
	intel.DropPoint:      {TypeDropPoint, findings.SeverityMedium, "DropPoint", "a drop point IP address that holds stolen data"},
	intel.TorRelay:       {TypeTorClient, findings.SeverityHigh, "TorRelay", "a Tor guard or directory authority"},
	intel.Custom:         {TypeCustomIPCallerEC2, findings.SeverityMedium, "CustomThreatList", "an IP address on a custom threat list"},
}

// localOpened reports whether the entity opened the record's connection:
// an outbound record its source opened, or an inbound reply.
func localOpened(r *profiles.OrientedFlow) bool {
	return r.Outbound == initiated(&r.FlowRecord)
}

func (e *Engine) networkIntel(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, out []findings.Finding) []findings.Finding {
	set := e.Intel()
	if set == nil {
		return out
	}
	opened := localOpened(r)
	matches := set.IP(r.Remote)
	var exit, relay bool
	var seen []string // a type once per record: Log4j before C&C
	for _, m := range orderedMatches(matches) {
		exit = exit || m.Kind == intel.TorExit
		relay = relay || m.Kind == intel.TorRelay
		t, ok := flowThreats[m.Kind]
		if !ok || slices.Contains(seen, t.typ) || (!opened && m.Kind != intel.Custom) {
			continue
		}
		seen = append(seen, t.typ)
		role := findings.RoleActor
		if !opened {
			role = findings.RoleTarget
		}
		out = append(out, e.flowIntelFinding(n, ev, r, t, m, role, opened))
	}
	if !opened && relay && !exit && r.Action == event.ActionAccept {
		m := matchOf(matches, intel.TorRelay)
		out = append(out, e.torRelayFinding(n, ev, r, m, "relay "+r.Remote.String()+" ("+m.Entry+" on list "+m.List+
			", not an exit) opened a connection to the instance's port "+itoa(int(r.LocalPort))))
	} else if own := set.IP(r.Local); len(own) > 0 {
		if m := matchOf(own, intel.TorRelay); m.List != "" {
			out = append(out, e.torRelayFinding(n, ev, r, m, "the instance's address "+r.Local.String()+
				" is a listed Tor relay ("+m.Entry+" on list "+m.List+")"))
		}
	}
	return out
}

// orderedMatches puts Log4j matches before C&C ones, so that a Log4j host
// on both lists is reported as Log4j related.
func orderedMatches(ms []intel.IPMatch) []intel.IPMatch {
	for i, m := range ms {
		if m.Kind == intel.Log4j && i > 0 {
			out := append([]intel.IPMatch{m}, ms[:i]...)
			return append(out, ms[i+1:]...)
		}
	}
	return ms
}

func matchOf(ms []intel.IPMatch, k intel.IPKind) intel.IPMatch {
	for _, m := range ms {
		if m.Kind == k {
			return m
		}
	}
	return intel.IPMatch{}
}

// flowIntelFinding is the occurrence of one record matching m.
func (e *Engine) flowIntelFinding(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow,
	t flowThreat, m intel.IPMatch, role string, opened bool) findings.Finding {
	account, region := placement(&n.Header, ev)
	key := []string{entityKey(&n.Header, ev), r.Remote.String()}
	if t.typ == TypeCustomIPCallerEC2 {
		key = append(key, role)
	}
	sev := t.sev
	f := findings.New(t.typ, sev, account, region, r.Time, key...)
	x := r.Exemplar()
	f.Resource = flowResource(n, ev, &x)
	f.Service.Action = connectionAction(&x, r.Outbound)
	f.Service.ResourceRole = role
	who := "the instance opened it"
	if !opened {
		who = "the remote host opened it"
	}
	f.Service.AdditionalInfo = findings.AdditionalInfo{
		"threatListName": m.List, "threatNames": []string{m.Entry}, "threatName": t.threat, "connection": who,
	}
	f.Service.Evidence = &findings.Evidence{ThreatIntelligenceDetails: []findings.ThreatIntelligenceDetail{{
		ThreatListName: m.List, ThreatNames: []string{m.Entry},
	}}}
	inst := instanceLabel(n, ev)
	f.Title = "EC2 instance " + inst + " is communicating with " + t.title + "."
	if t.typ == TypeCustomIPCallerEC2 && !opened {
		f.Title = "EC2 instance " + inst + " is contacted by " + t.title + "."
	}
	f.Description = "EC2 instance " + inst + " is communicating with " + r.Remote.String() + " on port " +
		itoa(int(r.RemotePort)) + " (" + who + "): " + m.Entry + " is on threat list " + m.List + "."
	return f
}

func (e *Engine) torRelayFinding(n *profiles.Network, ev *event.Event, r *profiles.OrientedFlow, m intel.IPMatch, why string) findings.Finding {
	account, region := placement(&n.Header, ev)
	// Being a relay is the instance's role, not a peer's: one finding per
	// instance, showing the latest relay.
	f := findings.New(TypeTorRelay, findings.SeverityHigh, account, region, r.Time, entityKey(&n.Header, ev))
	x := r.Exemplar()
	f.Resource = flowResource(n, ev, &x)
	f.Service.Action = connectionAction(&x, r.Outbound)
	f.Service.ResourceRole = findings.RoleActor
	f.Service.AdditionalInfo = findings.AdditionalInfo{
		"threatListName": m.List, "threatNames": []string{m.Entry}, "threatName": "TorRelay", "reason": why,
	}
	f.Service.Evidence = &findings.Evidence{ThreatIntelligenceDetails: []findings.ThreatIntelligenceDetail{{
		ThreatListName: m.List, ThreatNames: []string{m.Entry},
	}}}
	inst := instanceLabel(n, ev)
	f.Title = "EC2 instance " + inst + " is acting as a Tor relay."
	f.Description = "EC2 instance " + inst + " is communicating with IP address " + r.Remote.String() +
		" on the Tor Anonymizing Proxy network in a way that suggests it is a relay: " + why + "."
	return f
}
