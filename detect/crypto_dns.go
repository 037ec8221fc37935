package detect

import (
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// CryptoCurrency:EC2/BitcoinTool.B!DNS (High, ACTOR, DNS_REQUEST): the
// entity queried a domain associated with crypto-currency mining — a
// mining pool, a pool proxy or a browser-miner host. Unwanted miners are
// the most common payload on compromised instances. The query name or one
// of its parent domains must be on a crypto list of Intel (the
// built-in set holds the maltrail, NoCoin and panther-analysis lists, and
// the GuardDuty tester's crypto.guarddutyc2activityb.com as "vigil-test").
// Every matching query is an occurrence (Rank 1, details from the query
// alone); they aggregate.
//
// additionalInfo.threatListName and threatNames, and
// evidence.threatIntelligenceDetails, name the list and the entry that
// matched. Aggregation key: (account, region, type, entity, query
// name) (spec §4.2 "EC2 ACTOR, threat-intel domain").

func (e *Engine) cryptoDNS(n *profiles.Network, ev *event.Event, out []findings.Finding) []findings.Finding {
	set := e.Intel()
	if set == nil {
		return out
	}
	q := ev.DNS
	name := queryName(q)
	match, list, ok := set.CryptoDomain(name)
	if !ok {
		return out
	}
	_, domain, _ := registrable(name)
	account, region := placement(&n.Header, ev)
	f := findings.New(TypeBitcoinToolDNS, findings.SeverityHigh, account, region, ev.Time, entityKey(&n.Header, ev), name)
	f.Resource = instanceResource(q.InstanceID, findings.NetworkInterface{VpcID: q.VPCID}, q.SrcAddr)
	f.Service.Action = dnsAction(name, domain, q.Transport, q.AccountID, q.FirewallAction == "BLOCK")
	f.Service.ResourceRole = findings.RoleActor
	f.Service.AdditionalInfo = findings.AdditionalInfo{
		"threatListName": list, "threatNames": []string{match}, "threatName": "CryptoCurrency", "domain": match,
	}
	f.Service.Evidence = &findings.Evidence{ThreatIntelligenceDetails: []findings.ThreatIntelligenceDetail{{
		ThreatListName: list, ThreatNames: []string{match},
	}}}
	inst := instanceLabel(n, ev)
	f.Title = "Bitcoin-related domain name queried by EC2 instance " + inst + "."
	f.Description = "EC2 instance " + inst + " is querying a domain name that is associated with Bitcoin-related activity: " +
		name + " matches " + match + " on threat list " + list + "."
	return append(out, f)
}
