package detect

import (
	"time"

	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/profiles"
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
	// Intel is the threat-intelligence set of the threat-list detectors
	// (CryptoCurrency:EC2/BitcoinTool.B!DNS). Nil disables them.
	Intel *intel.Set

	// Geo tells the network, country and location of caller addresses
	// (baselines, ConsoleLoginSuccess.B, remoteIpDetails). Nil knows
	// nothing: the detectors that need it degrade as their files say.
	Geo *geoip.DB

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
	return c
}
