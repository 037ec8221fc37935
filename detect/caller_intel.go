package detect

import (
	"net/netip"
	"strings"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/profiles"
)

// Callers on threat lists (spec §1.2), Medium, for any call, failed or
// not, whose sourceIPAddress is an address on an IP list of Config.Intel
// (a trusted list wins):
//
//   - Recon:IAMUser/TorIPCaller and UnauthorizedAccess:IAMUser/TorIPCaller:
//     a Tor exit relay;
//   - Recon:IAMUser/MaliciousIPCaller and
//     UnauthorizedAccess:IAMUser/MaliciousIPCaller: a malicious address.
//
// Recon when the API only reads — its name begins with List, Describe or
// Get, as GuardDuty splits them — and UnauthorizedAccess otherwise. A
// caller that is an AWS service ("Domain" caller) is never matched.
// additionalInfo.threatListName and evidence.threatIntelligenceDetails
// name the list and the entry that matched. Aggregation key: (account,
// region, type, principal, caller address).

func (e *Engine) callerIntel(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	if e.cfg.Intel == nil || ct.SourceIP == "" {
		return out
	}
	addr, err := netip.ParseAddr(ct.SourceIP)
	if err != nil {
		return out
	}
	matches := e.cfg.Intel.IP(addr)
	if len(matches) == 0 {
		return out
	}
	recon := isReadAPI(ct.EventName)
	for _, m := range matches {
		var typ, what, threat string
		switch {
		case m.Kind == intel.TorExit && recon:
			typ, what, threat = TypeReconTorIPCaller, "a Tor exit node", "TorExitNode"
		case m.Kind == intel.TorExit:
			typ, what, threat = TypeUnauthorizedTorIPCaller, "a Tor exit node", "TorExitNode"
		case recon:
			typ, what, threat = TypeReconMaliciousIPCaller, "a known malicious IP address", "MaliciousIP"
		default:
			typ, what, threat = TypeUnauthorizedMaliciousIPCaller, "a known malicious IP address", "MaliciousIP"
		}
		f := callFinding(typ, findings.SeverityMedium, p, ev, nil, addr.String())
		f.Service.AdditionalInfo = findings.AdditionalInfo{"threatListName": m.List}
		if ua := userAgentInfo(ct); ua != nil {
			f.Service.AdditionalInfo["userAgent"] = ua["userAgent"]
		}
		f.Service.Evidence = &findings.Evidence{ThreatIntelligenceDetails: []findings.ThreatIntelligenceDetail{{
			ThreatListName: m.List, ThreatNames: []string{threat},
		}}}
		f.Title = "API " + ct.EventName + " was invoked from " + what + "."
		f.Description = "API " + ct.EventName + " was invoked by " + principalLabel(&ct.Identity) + " from " + addr.String() +
			", " + what + " (" + m.Entry + " on list " + m.List + ")."
		out = append(out, f)
	}
	return out
}

// isReadAPI reports whether an API only reads: GuardDuty's "lists or
// describes resources" (Recon) against everything else.
func isReadAPI(name string) bool {
	for _, prefix := range []string{"List", "Describe", "Get"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}
