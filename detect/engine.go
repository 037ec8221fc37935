// Package detect is vigil's detector catalogue: the GuardDuty finding
// types it raises from CloudTrail management events, VPC flow logs and
// Route 53 Resolver query logs, one file per detector.
//
// Detectors are pure functions of (event, profile, intel, clock) where the
// clock is the event's own time (design invariant 4): the same profile
// state and event always give the same findings, with no wall clock, no
// randomness and no dependence on map iteration order. Engine.Apply
// updates an entity's profile with one event and returns the finding
// occurrences the event raises; aggregating occurrences into stored
// findings (findings.Finding.Merge) is the caller's job.
package detect

import (
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Finding types raised by the catalogue (spec §1).
const (
	TypeCloudTrailLoggingDisabled = "Stealth:IAMUser/CloudTrailLoggingDisabled"
	TypeRootCredentialUsage       = "Policy:IAMUser/RootCredentialUsage"
	TypePortscan                  = "Recon:EC2/Portscan"
	TypeSSHBruteForce             = "UnauthorizedAccess:EC2/SSHBruteForce"
	TypeDNSDataExfiltration       = "Trojan:EC2/DNSDataExfiltration"
	TypeBitcoinToolDNS            = "CryptoCurrency:EC2/BitcoinTool.B!DNS"
)

// Engine runs the detector catalogue. It holds only configuration, so one
// Engine may serve any number of entity actors concurrently; each profile
// must be used by one goroutine at a time.
type Engine struct {
	cfg   Config
	allow map[string]bool // DNSTunnelAllow
}

// New returns an engine with configuration cfg (zero thresholds take their
// defaults).
func New(cfg Config) *Engine {
	cfg = cfg.normalize()
	e := &Engine{cfg: cfg, allow: make(map[string]bool, len(cfg.DNSTunnelAllow))}
	for _, d := range cfg.DNSTunnelAllow {
		e.allow[d] = true
	}
	return e
}

// Config returns the engine's configuration after defaults and clamping.
func (e *Engine) Config() Config { return e.cfg }

// Apply updates profile p with ev and returns the finding occurrences ev
// raises, in catalogue order, or nil. An event for another kind of entity
// than p's is ignored.
func (e *Engine) Apply(p profiles.Profile, ev *event.Event) []findings.Finding {
	if p == nil || ev == nil || (ev.Kind != event.KindUnknown && ev.Kind != p.Kind()) {
		return nil
	}
	var out []findings.Finding
	switch p := p.(type) {
	case *profiles.Principal:
		p.Observe(ev)
		ct := ev.CloudTrail
		if ct == nil {
			return nil
		}
		if ct.Global && e.cfg.GlobalEventRegion != "" && ev.Region != e.cfg.GlobalEventRegion {
			return nil
		}
		out = e.cloudTrailLoggingDisabled(p, ev, out)
		out = e.rootCredentialUsage(p, ev, out)
	case *profiles.Network:
		p.Observe(ev)
		switch {
		case ev.Flow != nil:
			f := ev.Flow
			if f.LogStatus != event.StatusOK || !f.Src.IsValid() || !f.Dst.IsValid() {
				return nil
			}
			o := p.Orient(f)
			out = e.portscan(p, ev, o, out)
			out = e.sshBruteForce(p, ev, o, out)
		case ev.DNS != nil:
			out = e.dnsExfiltration(p, ev, out)
			out = e.cryptoDNS(p, ev, out)
		}
	}
	return out
}

// placement returns the account and region a finding of ev belongs to:
// the event's, or the profile's when the event leaves them empty.
func placement(h *profiles.Header, ev *event.Event) (account, region string) {
	account, region = ev.Account, ev.Region
	if account == "" {
		account = h.Account
	}
	if region == "" {
		region = h.Region
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
