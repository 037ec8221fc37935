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
	TypeBucketAnonymousAccessGranted  = "Policy:S3/BucketAnonymousAccessGranted"
	TypeBucketPublicAccessGranted     = "Policy:S3/BucketPublicAccessGranted"
	TypeInstanceCredsOutsideAWS       = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
	TypeInstanceCredsInsideAWS        = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS"
	TypeCompromisedCredentials        = "CredentialAccess:IAMUser/CompromisedCredentials"
	TypeConsoleLoginSuccessB          = "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B"
	TypeAnomalousCredentialAccess     = "CredentialAccess:IAMUser/AnomalousBehavior"
	TypeAnomalousDefenseEvasion       = "DefenseEvasion:IAMUser/AnomalousBehavior"
	TypeAnomalousDiscovery            = "Discovery:IAMUser/AnomalousBehavior"
	TypeAnomalousExfiltration         = "Exfiltration:IAMUser/AnomalousBehavior"
	TypeAnomalousImpact               = "Impact:IAMUser/AnomalousBehavior"
	TypeAnomalousInitialAccess        = "InitialAccess:IAMUser/AnomalousBehavior"
	TypeAnomalousPersistence          = "Persistence:IAMUser/AnomalousBehavior"
	TypeAnomalousPrivilegeEscalation  = "PrivilegeEscalation:IAMUser/AnomalousBehavior"
	TypeReconTorIPCaller              = "Recon:IAMUser/TorIPCaller"
	TypeUnauthorizedTorIPCaller       = "UnauthorizedAccess:IAMUser/TorIPCaller"
	TypeReconMaliciousIPCaller        = "Recon:IAMUser/MaliciousIPCaller"
	TypeUnauthorizedMaliciousIPCaller = "UnauthorizedAccess:IAMUser/MaliciousIPCaller"
	TypeReconCustomIPCaller           = "Recon:IAMUser/MaliciousIPCaller.Custom"
	TypeUnauthorizedCustomIPCaller    = "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"
	TypePortscan                      = "Recon:EC2/Portscan"
	TypeSSHBruteForce                 = "UnauthorizedAccess:EC2/SSHBruteForce"
	TypeRDPBruteForce                 = "UnauthorizedAccess:EC2/RDPBruteForce"
	TypeWinRMBruteForce               = "Impact:EC2/WinRMBruteForce"
	TypePortSweep                     = "Impact:EC2/PortSweep"
	TypeDoSDNS                        = "Backdoor:EC2/DenialOfService.Dns"
	TypeDoSTCP                        = "Backdoor:EC2/DenialOfService.Tcp"
	TypeDoSUDP                        = "Backdoor:EC2/DenialOfService.Udp"
	TypeDoSUDPOnTCPPorts              = "Backdoor:EC2/DenialOfService.UdpOnTcpPorts"
	TypeDoSUnusualProtocol            = "Backdoor:EC2/DenialOfService.UnusualProtocol"
	TypePortProbeUnprotected          = "Recon:EC2/PortProbeUnprotectedPort"
	TypePortProbeEMRUnprotected       = "Recon:EC2/PortProbeEMRUnprotectedPort"
	TypeDNSDataExfiltration           = "Trojan:EC2/DNSDataExfiltration"
	TypeBitcoinToolDNS                = "CryptoCurrency:EC2/BitcoinTool.B!DNS"
	TypeDGADomainRequestB             = "Trojan:EC2/DGADomainRequest.B"
	TypeAbusedDomainReputation        = "Impact:EC2/AbusedDomainRequest.Reputation"
	TypeBitcoinDomainReputation       = "Impact:EC2/BitcoinDomainRequest.Reputation"
	TypeMaliciousDomainReputation     = "Impact:EC2/MaliciousDomainRequest.Reputation"
	TypeSuspiciousDomainReputation    = "Impact:EC2/SuspiciousDomainRequest.Reputation"
	TypeAttackSequence                = "AttackSequence:IAM/CompromisedCredentials"
	TypeCCActivityB                   = "Backdoor:EC2/C&CActivity.B"
	TypeBitcoinTool                   = "CryptoCurrency:EC2/BitcoinTool.B"
	TypeBlackholeTraffic              = "Trojan:EC2/BlackholeTraffic"
	TypeDropPoint                     = "Trojan:EC2/DropPoint"
	TypeTorClient                     = "UnauthorizedAccess:EC2/TorClient"
	TypeTorRelay                      = "UnauthorizedAccess:EC2/TorRelay"
	TypeCustomIPCallerEC2             = "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"
	TypeCCActivityBDNS                = "Backdoor:EC2/C&CActivity.B!DNS"
	TypeDriveByDNS                    = "Trojan:EC2/DriveBySourceTraffic!DNS"
	TypeDropPointDNS                  = "Trojan:EC2/DropPoint!DNS"
	TypePhishingDNS                   = "Trojan:EC2/PhishingDomainRequest!DNS"
	TypeDGADomainC                    = "Trojan:EC2/DGADomainRequest.C!DNS"
	TypeBlackholeDNS                  = "Trojan:EC2/BlackholeTraffic!DNS"
	TypeMetadataDNSRebind             = "UnauthorizedAccess:EC2/MetadataDNSRebind"
	TypeMaliciousDomainCustom         = "Impact:EC2/MaliciousDomainRequest.Custom"
	TypeNetworkPortUnusual            = "Behavior:EC2/NetworkPortUnusual"
	TypeTrafficVolumeUnusual          = "Behavior:EC2/TrafficVolumeUnusual"
	TypeSpambot                       = "Backdoor:EC2/Spambot"
	TypeBeaconing                     = "Backdoor:EC2/Beaconing"
	TypeUnusualDNSResolver            = "DefenseEvasion:EC2/UnusualDNSResolver"
	TypeUnusualDoHActivity            = "DefenseEvasion:EC2/UnusualDoHActivity"
	TypeUnusualDoTActivity            = "DefenseEvasion:EC2/UnusualDoTActivity"
)

// Engine runs the detector catalogue. It holds only configuration, so one
// Engine may serve any number of entity actors concurrently; each profile
// must be used by one goroutine at a time.
type Engine struct {
	cfg     Config
	allow   map[string]bool // DNSTunnelAllow
	regions []string        // Regions, sorted, for additionalInfo.regions
	intel   intelHolder     // the threat lists in force, see SetIntel
	dns     *dnsModels      // the DGA model and reputation lists (dga.go)
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
	e.dns = newDNSModels()
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
		// The baseline learns every event, global ones in every region,
		// before the detectors that a region may skip.
		p.Baseline.Observe(e.baselineCall(ev))
		if ct.Global && !e.globalHome(ev) {
			// Its findings are raised in its home region, while its weak
			// signals count in every region's attack sequences.
			return e.correlate(p, ev, nil), true
		}
		for i := range registry {
			if d := registry[i].principal; d != nil {
				out = d(e, p, ev, out)
			}
		}
		out = e.customRules(p, ev, out)
		if ct.Global && e.cfg.GlobalFindings != GlobalFindingsPerRegion {
			e.listRegions(out)
		}
	case *profiles.Network:
		var buf [readyFlows]profiles.OrientedFlow
		// The inventory file's facts first: they hold before any event.
		ready := p.LearnInventory(e.cfg.Inventory.Facts(p.Entity), buf[:0])
		ready = p.Observe(ev, ready)
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
	if p, ok := p.(*profiles.Principal); ok && ev.CloudTrail != nil {
		out = e.correlate(p, ev, out)
	}
	e.enrich(out)
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
