package detect

import (
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/profiles"
)

// Callers on threat lists (spec §1.2, §4.4), Medium, for any call, failed
// or not, whose sourceIPAddress is a publicly routable address on an IP
// list of the engine's threat lists (Intel; a trusted list wins over every
// list, built-in or the customer's):
//
//   - Recon:IAMUser/TorIPCaller and UnauthorizedAccess:IAMUser/TorIPCaller:
//     a Tor exit relay;
//   - Recon:IAMUser/MaliciousIPCaller and
//     UnauthorizedAccess:IAMUser/MaliciousIPCaller: a malicious address;
//   - Recon:IAMUser/MaliciousIPCaller.Custom and
//     UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom: an address or
//     network on a customer threat list.
//
// Recon when the API only reads — its name begins with List, Describe or
// Get, as GuardDuty splits them — and UnauthorizedAccess otherwise. A
// caller that is an AWS service ("Domain" caller) is never matched. One
// finding per kind of list: the first list of the kind by name, its most
// specific entry.
//
// Evidence: additionalInfo.threatListName and threatNames, and
// evidence.threatIntelligenceDetails, name the list and the entry (the
// address or the network) that matched; additionalInfo.threatName says
// what the list lists. Aggregation key: (account, region, type,
// principal, caller address).

// intelHolder holds the threat lists that replaced Config.Intel while the
// engine runs; nil until SetIntel.
type intelHolder struct {
	p atomic.Pointer[intelRef]
}

type intelRef struct{ set *intel.Set }

// SetIntel replaces the engine's threat lists: events applied after it
// returns are matched against set (nil turns the threat-list detectors
// off). It is safe to call while other goroutines apply events; each
// event sees one set whole. Config().Intel keeps the initial set.
func (e *Engine) SetIntel(set *intel.Set) {
	e.intel.p.Store(&intelRef{set})
}

// Intel returns the threat lists in force: the last SetIntel's, or
// Config.Intel.
func (e *Engine) Intel() *intel.Set {
	if r := e.intel.p.Load(); r != nil {
		return r.set
	}
	return e.cfg.Intel
}

// callerThreat describes the findings of one kind of IP list.
var callerThreat = [...]struct {
	recon, unauthorized, what, threat string
}{
	intel.TorExit:   {TypeReconTorIPCaller, TypeUnauthorizedTorIPCaller, "a Tor exit node", "TorExitNode"},
	intel.Malicious: {TypeReconMaliciousIPCaller, TypeUnauthorizedMaliciousIPCaller, "a known malicious IP address", "MaliciousIP"},
	intel.Custom:    {TypeReconCustomIPCaller, TypeUnauthorizedCustomIPCaller, "an IP address on a custom threat list", "CustomThreatList"},
}

func (e *Engine) callerIntel(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	set := e.Intel()
	if set == nil || ct.SourceIP == "" {
		return out
	}
	addr, err := netip.ParseAddr(ct.SourceIP)
	if err != nil {
		return out
	}
	matches := set.IP(addr)
	if len(matches) == 0 {
		return out
	}
	recon := isReadAPI(ct.EventName)
	for _, m := range matches {
		if int(m.Kind) >= len(callerThreat) || callerThreat[m.Kind].recon == "" {
			continue
		}
		c := callerThreat[m.Kind]
		typ := c.unauthorized
		if recon {
			typ = c.recon
		}
		f := callFinding(typ, findings.SeverityMedium, p, ev, nil, addr.String())
		if f.Service.AdditionalInfo == nil {
			f.Service.AdditionalInfo = findings.AdditionalInfo{}
		}
		f.Service.AdditionalInfo["threatListName"] = m.List
		f.Service.AdditionalInfo["threatNames"] = []string{m.Entry}
		f.Service.AdditionalInfo["threatName"] = c.threat
		f.Service.Evidence = &findings.Evidence{ThreatIntelligenceDetails: []findings.ThreatIntelligenceDetail{{
			ThreatListName: m.List, ThreatNames: []string{m.Entry},
		}}}
		f.Title = "API " + ct.EventName + " was invoked from " + c.what + "."
		f.Description = "API " + ct.EventName + " was invoked by " + principalLabel(&ct.Identity) + " from " + addr.String() +
			", " + c.what + " (" + m.Entry + " on list " + m.List + ")."
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
