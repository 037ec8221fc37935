// Package detect is vigil's detector catalogue: the GuardDuty finding
// types it raises from CloudTrail management events, VPC flow logs and
// Route 53 Resolver query logs, one file per detector.
//
// Detectors are pure functions of (event, profile, intel, clock) where the
// clock is the event's own time (design invariant 4): the same profile
// state and event always give the same findings, with no wall clock, no
// randomness and no dependence on map iteration order.
//
// More than that, the findings of an entity do not depend on the order of
// its events (same input, same output): merged with findings.Merge, the
// occurrences raised by a set of events are the same in any order. A
// single-event detector's occurrence depends on its event only. A window
// detector raises one occurrence (count 1) for a window when the window's
// set of distinct keys first reaches the threshold, and an update (count
// 0) for every later event added to it; an occurrence's details are a
// function of the window's state only (its panes and their exemplars, see
// profiles/window.go) and its Rank is the window's event count, so after
// all events the merged finding is the one of the final windows. The
// profile documents when that is exact (caps and lateness horizons).
package detect

import (
	"slices"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Finding types raised by the catalogue (spec §1); registry in
// catalogue.go lists them with their sources, severities and triggers.
const (
	TypeCloudTrailLoggingDisabled     = "Stealth:IAMUser/CloudTrailLoggingDisabled"
	TypeRootCredentialUsage           = "Policy:IAMUser/RootCredentialUsage"
	TypeShortTermRootCredentialUsage  = "Policy:IAMUser/ShortTermRootCredentialUsage"
	TypePenTestKaliLinux              = "PenTest:IAMUser/KaliLinux"
	TypePenTestParrotLinux            = "PenTest:IAMUser/ParrotLinux"
	TypePenTestPentooLinux            = "PenTest:IAMUser/PentooLinux"
	TypePasswordPolicyChange          = "Stealth:IAMUser/PasswordPolicyChange"
	TypeBedrockLoggingDisabled        = "DefenseEvasion:IAMUser/BedrockLoggingDisabled"
	TypeAccountBlockPublicAccessOff   = "Policy:S3/AccountBlockPublicAccessDisabled"
	TypeBucketBlockPublicAccessOff    = "Policy:S3/BucketBlockPublicAccessDisabled"
	TypeS3ServerAccessLoggingOff      = "Stealth:S3/ServerAccessLoggingDisabled"
	TypeReconTorIPCaller              = "Recon:IAMUser/TorIPCaller"
	TypeUnauthorizedTorIPCaller       = "UnauthorizedAccess:IAMUser/TorIPCaller"
	TypeReconMaliciousIPCaller        = "Recon:IAMUser/MaliciousIPCaller"
	TypeUnauthorizedMaliciousIPCaller = "UnauthorizedAccess:IAMUser/MaliciousIPCaller"
	TypePortscan                      = "Recon:EC2/Portscan"
	TypeSSHBruteForce                 = "UnauthorizedAccess:EC2/SSHBruteForce"
	TypeDNSDataExfiltration           = "Trojan:EC2/DNSDataExfiltration"
	TypeBitcoinToolDNS                = "CryptoCurrency:EC2/BitcoinTool.B!DNS"
)

// Engine runs the detector catalogue. It holds only configuration, so one
// Engine may serve any number of entity actors concurrently; each profile
// must be used by one goroutine at a time.
type Engine struct {
	cfg     Config
	allow   map[string]bool // DNSTunnelAllow
	regions []string        // Regions, sorted, for additionalInfo.regions
}

// New returns an engine with configuration cfg (zero thresholds take their
// defaults).
func New(cfg Config) *Engine {
	cfg = cfg.normalize()
	e := &Engine{cfg: cfg, allow: make(map[string]bool, len(cfg.DNSTunnelAllow))}
	for _, d := range cfg.DNSTunnelAllow {
		e.allow[d] = true
	}
	e.regions = slices.Sorted(slices.Values(cfg.Regions))
	return e
}

// Config returns the engine's configuration after defaults and clamping.
func (e *Engine) Config() Config { return e.cfg }

// readyFlows is how many oriented flow records Apply expects at most from
// one event without allocating: the event's own and a few parked ones.
const readyFlows = 4

// Apply updates profile p with ev and returns the finding occurrences ev
// raises, at most one per finding id (occurrences of one id merged with
// findings.Merge), in catalogue order, or nil. They include those of
// parked flow records that ev's addresses oriented.
//
// applied is false when ev changed nothing: a CloudTrail event the
// principal already applied (a duplicate, see profiles.EventIDs), an event
// for another kind of entity than p's, or a nil profile or event. The
// caller counts it as a duplicate.
func (e *Engine) Apply(p profiles.Profile, ev *event.Event) (occ []findings.Finding, applied bool) {
	if p == nil || ev == nil || (ev.Kind != event.KindUnknown && ev.Kind != p.Kind()) {
		return nil, false
	}
	var out []findings.Finding
	switch p := p.(type) {
	case *profiles.Principal:
		if !p.Observe(ev) {
			return nil, false
		}
		ct := ev.CloudTrail
		if ct == nil {
			return nil, true
		}
		if ct.Global && !e.globalHome(ev) {
			return nil, true
		}
		for i := range registry {
			if d := registry[i].principal; d != nil {
				out = d(e, p, ev, out)
			}
		}
		if ct.Global && e.cfg.GlobalFindings != GlobalFindingsPerRegion {
			e.listRegions(out)
		}
	case *profiles.Network:
		var buf [readyFlows]profiles.OrientedFlow
		ready := p.Observe(ev, buf[:0])
		for i := range ready {
			for j := range registry {
				if d := registry[j].flow; d != nil {
					out = d(e, p, ev, &ready[i], out)
				}
			}
		}
		if ev.DNS != nil {
			for i := range registry {
				if d := registry[i].dns; d != nil {
					out = d(e, p, ev, out)
				}
			}
		}
	default:
		return nil, false
	}
	if len(out) > 1 {
		out = findings.MergeByID(out)
	}
	return out, true
}

// placement returns the account and region a finding belongs to: the
// profile's (an entity is regional), or the event's when the profile
// leaves them empty.
func placement(h *profiles.Header, ev *event.Event) (account, region string) {
	account, region = h.Account, h.Region
	if account == "" {
		account = ev.Account
	}
	if region == "" {
		region = ev.Region
	}
	return account, region
}

// entityKey is the entity part of an aggregation key: the profile's entity
// (an instance id, an ENI id, a principal ARN), or the event's.
func entityKey(h *profiles.Header, ev *event.Event) string {
	if h.Entity != "" {
		return h.Entity
	}
	return ev.Entity
}

// windowFinding starts the occurrence of the windows an event reached
// (profiles.Windows.Reached): seen from the windows' first to their last
// event (createdAt is the first), counted once per window the event made
// reach its threshold (crossed), an update (count 0) otherwise, ranked by
// the window's event count.
func windowFinding(typ string, sev float64, h *profiles.Header, ev *event.Event, first, last time.Time, count uint64, crossed int, key ...string) findings.Finding {
	account, region := placement(h, ev)
	f := findings.New(typ, sev, account, region, last, append([]string{entityKey(h, ev)}, key...)...)
	f.Service.EventFirstSeen = findings.Stamp(first)
	f.CreatedAt = f.Service.EventFirstSeen
	f.Service.Count = crossed
	f.Rank = count
	return f
}
