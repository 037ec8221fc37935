package detect

import (
	"math"
	"time"

	"github.com/vigil-sec/vigil/awsranges"
	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/inventory"
	"github.com/vigil-sec/vigil/profiles"
	"github.com/vigil-sec/vigil/rules"
)

// Config holds the detectors' inputs and thresholds. The zero value of a
// threshold or window means its default; New clamps thresholds to what the
// profile windows can count (profiles.MaxWindowKeys).
//
// A window of length W is a hopping window of event time: windows of
// length W start every W/2, so every event lies in two, and any activity
// within W/2 lies whole in one (profiles/window.go). "Within W" below
// means within one such window.
type Config struct {
	// Intel is the initial threat-intelligence set of the threat-list
	// detectors (the IAMUser TorIPCaller and MaliciousIPCaller types,
	// CryptoCurrency:EC2/BitcoinTool.B!DNS); Engine.SetIntel replaces it
	// while the engine runs. Nil disables them.
	Intel *intel.Set

	// Rules are the custom detection rules (custom_rules.go). Nil runs
	// none; DefaultConfig sets the starter rules.
	Rules *rules.Set

	// Geo tells the network, country and location of caller addresses
	// (baselines, ConsoleLoginSuccess.B, remoteIpDetails). Nil knows
	// nothing: the detectors that need it degrade as their files say.
	Geo *geoip.DB

	// AWSRanges is AWS's published address space (--aws-ip-ranges): it
	// tells the InstanceCredentialExfiltration types whether a caller is
	// inside AWS. Nil takes the bundled subset, which cannot tell that an
	// address is outside AWS (instance_credentials.go).
	AWSRanges *awsranges.Ranges
	// Inventory is the EC2 inventory file (--inventory): which addresses
	// and interfaces belong to which instance. Flow orientation and
	// instanceDetails use it beside what CloudTrail teaches. Nil knows
	// nothing.
	Inventory *inventory.Index
	// AffiliatedAccounts are the accounts of the deployment's organisation
	// (--affiliated-accounts): InstanceCredentialExfiltration.InsideAWS
	// from one of them is Medium, and says affiliated.
	AffiliatedAccounts []string
	// LeakedKeys are access key ids known to be leaked (--leaked-keys):
	// CredentialAccess:IAMUser/CompromisedCredentials fires on their use.
	// Nil knows none (compromised_credentials.go).
	LeakedKeys *LeakedKeys

	// GlobalFindings says where a finding caused by an event of a global
	// service (IAM, STS, sign-in, ...) is raised. Ingest broadcasts such an
	// event to every enabled region, and every region's profile learns
	// from it (spec §4.9). GlobalFindingsOnce, the default (""), raises
	// its findings once, in the region the event is logged in, listing
	// Regions in additionalInfo.regions; GlobalFindingsPerRegion raises
	// them in every region, as GuardDuty does.
	GlobalFindings string
	// Regions are the enabled regions global-service events are broadcast
	// to. When the region an event is logged in is not one of them, its
	// findings go to the first. Empty: the logged region, whatever it is.
	Regions []string

	// LearningPeriod is how long after a principal's first event, in event
	// time, its baseline only learns: no *:IAMUser/AnomalousBehavior
	// finding is raised for its calls before that (spec §4.8). It is at
	// least AnomalyWindow. AnomalyWindow groups one principal's anomalous
	// calls into one finding per tactic (hopping windows, spec §2.8; see
	// anomalous_behavior.go); it is at most profiles.WindowLateness, the
	// time panes stay live after their windows end.
	LearningPeriod time.Duration
	AnomalyWindow  time.Duration

	// NetworkLearningPeriod is how long after a network entity's first
	// record, in event time, its baseline (profiles.NetBaseline) only
	// learns: no NetworkPortUnusual, TrafficVolumeUnusual, Spambot,
	// UnusualDNSResolver or UnusualDoH/DoTActivity finding before that
	// (network_baseline.go). It is at least a day.
	NetworkLearningPeriod time.Duration

	// PortscanWindow and PortscanPorts: Recon:EC2/Portscan fires when the
	// entity probes at least PortscanPorts distinct ports of one remote host
	// within PortscanWindow of event time. A probe is an outbound
	// connection attempt that was rejected or carried at most
	// PortscanProbePackets packets (a SYN, a retransmission, the
	// handshake-and-reset of a connect scan).
	PortscanWindow       time.Duration
	PortscanPorts        int
	PortscanProbePackets uint64

	// SSHWindow and the SSH thresholds: UnauthorizedAccess:EC2/SSHBruteForce
	// fires as TARGET when one remote host opens at least
	// SSHInboundAttempts distinct accepted connections to local port 22
	// within SSHWindow, and as ACTOR when the entity opens at least
	// SSHOutboundAttempts connections to port 22 of one remote host, or
	// reaches port 22 of at least SSHFanoutHosts distinct hosts, within
	// SSHWindow.
	SSHWindow           time.Duration
	SSHInboundAttempts  int
	SSHOutboundAttempts int
	SSHFanoutHosts      int

	// DNS tunnelling: Trojan:EC2/DNSDataExfiltration fires when the entity
	// queries at least DNSTunnelNames distinct encoded-looking names under
	// one registrable domain within DNSTunnelWindow. A name looks encoded
	// when a label left of the registrable domain has at least
	// DNSTunnelMinLabel characters and either holds characters a host name
	// cannot (base64 '+', '/', '=', raw bytes) or mixes letters and digits
	// like encoded data (see encodedLabel). Registrable domains in
	// DNSTunnelAllow are never counted: services that look names up by
	// hash, by design. Nil allows none; DefaultConfig sets
	// DefaultDNSTunnelAllow().
	DNSTunnelWindow   time.Duration
	DNSTunnelNames    int
	DNSTunnelMinLabel int
	DNSTunnelAllow    []string

	// Denial of service (denial_of_service.go): the
	// Backdoor:EC2/DenialOfService.* types fire when the entity sends one
	// publicly routable host, in one protocol class, at least
	// DoSPacketsPerSecond packets a second on average over DoSWindow (and
	// at least DoSMinPackets); TCP and UDP other than DNS from at least
	// DoSSourcePorts distinct local ports.
	DoSWindow           time.Duration
	DoSPacketsPerSecond int
	DoSMinPackets       uint64
	DoSSourcePorts      int

	// Impact:EC2/PortSweep (port_sweep.go) fires when the entity probes one
	// remote port on at least PortSweepHosts distinct public hosts within
	// PortSweepWindow (a probe as for Portscan).
	PortSweepWindow time.Duration
	PortSweepHosts  int
}

// Defaults. Why these values is documented beside each detector
// (portscan.go, ssh_bruteforce.go, dns_exfiltration.go).
const (
	DefaultPortscanWindow       = 5 * time.Minute
	DefaultPortscanPorts        = 25
	DefaultPortscanProbePackets = 3

	DefaultSSHWindow           = 10 * time.Minute
	DefaultSSHInboundAttempts  = 10
	DefaultSSHOutboundAttempts = 20
	DefaultSSHFanoutHosts      = 30

	DefaultDNSTunnelWindow   = 10 * time.Minute
	DefaultDNSTunnelNames    = 30
	DefaultDNSTunnelMinLabel = 20

	DefaultDoSWindow           = 2 * time.Minute
	DefaultDoSPacketsPerSecond = 1000
	DefaultDoSMinPackets       = 60000
	DefaultDoSSourcePorts      = 64

	DefaultPortSweepWindow = 5 * time.Minute
	DefaultPortSweepHosts  = 30

	// DefaultLearningPeriod is the short end of the 7 to 14 days spec §4.8
	// suggests: a week shows a person's working days and a job's cycle.
	DefaultLearningPeriod = 7 * 24 * time.Hour
	DefaultAnomalyWindow  = time.Hour

	// DefaultNetworkLearningPeriod is a week, as for principals: a week
	// shows an instance's daily and weekly jobs.
	DefaultNetworkLearningPeriod = 7 * 24 * time.Hour
)

// DefaultDNSTunnelAllow returns the default Config.DNSTunnelAllow: the
// registrable domains of services whose clients encode hashes or addresses
// in query names on purpose — anti-virus and reputation lookups (Sophos,
// ESET, McAfee GTI, Team Cymru's malware hash registry) and DNS block
// lists (Spamhaus, SURBL, Barracuda).
func DefaultDNSTunnelAllow() []string {
	return []string{
		"sophosxl.net", "e5.sk", "mcafee.com", "cymru.com",
		"spamhaus.org", "spamhaus.net", "surbl.org", "barracudacentral.org",
	}
}

// DefaultConfig returns the default thresholds and the built-in threat
// lists (intel.Default).
func DefaultConfig() Config {
	return Config{
		Intel:                intel.Default(),
		Rules:                rules.Starter(),
		PortscanWindow:       DefaultPortscanWindow,
		PortscanPorts:        DefaultPortscanPorts,
		PortscanProbePackets: DefaultPortscanProbePackets,
		SSHWindow:            DefaultSSHWindow,
		SSHInboundAttempts:   DefaultSSHInboundAttempts,
		SSHOutboundAttempts:  DefaultSSHOutboundAttempts,
		SSHFanoutHosts:       DefaultSSHFanoutHosts,
		DNSTunnelWindow:      DefaultDNSTunnelWindow,
		DNSTunnelNames:       DefaultDNSTunnelNames,
		DNSTunnelMinLabel:    DefaultDNSTunnelMinLabel,
		DNSTunnelAllow:       DefaultDNSTunnelAllow(),
		DoSWindow:            DefaultDoSWindow,
		DoSPacketsPerSecond:  DefaultDoSPacketsPerSecond,
		DoSMinPackets:        DefaultDoSMinPackets,
		DoSSourcePorts:       DefaultDoSSourcePorts,
		PortSweepWindow:      DefaultPortSweepWindow,
		PortSweepHosts:       DefaultPortSweepHosts,
		LearningPeriod:       DefaultLearningPeriod,
		AnomalyWindow:        DefaultAnomalyWindow,
	}
}

// normalize fills zero values with defaults and clamps thresholds into
// what the profile windows hold.
func (c Config) normalize() Config {
	dur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	num := func(v *int, def, max int) {
		if *v <= 0 {
			*v = def
		}
		*v = min(*v, max)
	}
	dur(&c.PortscanWindow, DefaultPortscanWindow)
	num(&c.PortscanPorts, DefaultPortscanPorts, profiles.MaxWindowPorts)
	if c.PortscanProbePackets == 0 {
		c.PortscanProbePackets = DefaultPortscanProbePackets
	}
	dur(&c.SSHWindow, DefaultSSHWindow)
	num(&c.SSHInboundAttempts, DefaultSSHInboundAttempts, profiles.MaxWindowPorts)
	num(&c.SSHOutboundAttempts, DefaultSSHOutboundAttempts, profiles.MaxWindowPorts)
	num(&c.SSHFanoutHosts, DefaultSSHFanoutHosts, profiles.MaxFanoutAddrs)
	dur(&c.DNSTunnelWindow, DefaultDNSTunnelWindow)
	num(&c.DNSTunnelNames, DefaultDNSTunnelNames, profiles.MaxWindowNames)
	num(&c.DNSTunnelMinLabel, DefaultDNSTunnelMinLabel, 63)
	dur(&c.DoSWindow, DefaultDoSWindow)
	c.DoSWindow = min(c.DoSWindow, profiles.WindowLateness)
	num(&c.DoSPacketsPerSecond, DefaultDoSPacketsPerSecond, math.MaxInt32)
	if c.DoSMinPackets == 0 {
		c.DoSMinPackets = DefaultDoSMinPackets
	}
	num(&c.DoSSourcePorts, DefaultDoSSourcePorts, profiles.MaxWindowKeys)
	dur(&c.PortSweepWindow, DefaultPortSweepWindow)
	num(&c.PortSweepHosts, DefaultPortSweepHosts, profiles.MaxWindowKeys)
	dur(&c.AnomalyWindow, DefaultAnomalyWindow)
	c.AnomalyWindow = min(c.AnomalyWindow, profiles.WindowLateness)
	dur(&c.LearningPeriod, DefaultLearningPeriod)
	c.LearningPeriod = max(c.LearningPeriod, c.AnomalyWindow)
	dur(&c.NetworkLearningPeriod, DefaultNetworkLearningPeriod)
	c.NetworkLearningPeriod = max(c.NetworkLearningPeriod, 24*time.Hour)
	return c
}
