package profiles

import (
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// Principal is the profile of an IAM user, an IAM role (its sessions
// aggregate under the role) or the root user of an account, built from
// CloudTrail management events.
//
// Every field is a function of the set of events applied, not of their
// order: counts are sums, times are mins and maxes, the identity is the
// one of the latest event by (event time, values), and the bounded sets
// keep their greatest entries by (last seen, value). It is exact while no
// set overflows its cap (see SeenSet and EventIDs).
type Principal struct {
	Header
	// Type is userIdentity.type (IAMUser, AssumedRole, Root, ...).
	Type string `json:"type"`
	// UserName is the user name, or the role name for role sessions.
	UserName string `json:"userName,omitempty"`
	// ARN and PrincipalID are the caller identity (the session ARN for
	// role sessions).
	ARN         string `json:"arn,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
	// IdentitySeen is the event time of the identity above. The four
	// fields are one group, taken from the latest event that has any of
	// them, ties broken by the greater (Type, UserName, ARN, PrincipalID),
	// so that they always come from one event.
	IdentitySeen time.Time `json:"identitySeen"`
	// Errors counts calls that failed (errorCode set).
	Errors uint64 `json:"errors"`
	// APIs are the APIs called, as "<service>:<eventName>" with the
	// service's ".amazonaws.com" dropped ("cloudtrail:StopLogging").
	APIs SeenSet `json:"apis"`
	// SourceIPs are sourceIPAddress values: addresses, or service host
	// names for calls AWS services made on the principal's behalf.
	SourceIPs SeenSet `json:"sourceIps"`
	// UserAgents are the userAgent values, cut to MaxValueLen.
	UserAgents SeenSet `json:"userAgents"`
	// EventIDs are the recently applied events, to drop duplicates.
	EventIDs EventIDs `json:"recentEventIds"`
	// ConsoleLogins are the recent successful console sign-ins (see
	// ConsoleLogins).
	ConsoleLogins ConsoleLogins `json:"consoleLogins,omitempty"`
	// Baseline is the behavioural baseline the anomaly detectors compare
	// calls with, and their windows (see Baseline).
	Baseline Baseline `json:"baseline"`
	// Credentials are the instances whose credentials a role issues and a
	// user's long-term keys (see Credentials).
	Credentials Credentials `json:"credentials"`
	// RuleCounts are the windows of custom rules with a threshold.
	RuleCounts RuleCounts `json:"ruleCounts"`
	// Signals are the attack-sequence signals per credential and
	// half-window (see Signals).
	Signals Signals `json:"signals"`
}

// NewPrincipal returns the empty profile of a principal.
func NewPrincipal(account, region, entity string) *Principal {
	return &Principal{Header: newHeader(account, region, entity)}
}

// Kind returns event.KindPrincipal.
func (p *Principal) Kind() event.EntityKind { return event.KindPrincipal }

// IsDuplicate reports whether ev is a CloudTrail event the profile already
// applied (see EventIDs).
func (p *Principal) IsDuplicate(ev *event.Event) bool {
	ct := ev.CloudTrail
	if ct == nil || ct.EventID == "" {
		return false
	}
	_, dup := p.EventIDs.search(ev.Time.UTC(), HashEventID(ct.EventID), p.LastEvent)
	return dup
}

// Observe updates the profile with ev and reports whether it did: a
// duplicate (IsDuplicate) leaves the profile unchanged. Only CloudTrail
// events change more than the header.
func (p *Principal) Observe(ev *event.Event) bool {
	t := ev.Time.UTC()
	ct := ev.CloudTrail
	var h uint64
	var at int
	if ct != nil && ct.EventID != "" {
		h = HashEventID(ct.EventID)
		var dup bool
		if at, dup = p.EventIDs.search(t, h, p.LastEvent); dup {
			return false
		}
	}
	p.observe(t)
	if ct == nil {
		return true
	}
	if ct.EventID != "" {
		p.EventIDs.add(at, t, h, p.LastEvent)
	}
	p.observeIdentity(&ct.Identity, t)
	if ct.ErrorCode != "" {
		p.Errors++
	}
	if ct.EventName != "" {
		api := strings.TrimSuffix(ct.EventSource, ".amazonaws.com") + ":" + ct.EventName
		p.APIs.observe(clip(api, MaxValueLen), t, MaxAPIs)
	}
	if ct.SourceIP != "" {
		p.SourceIPs.observe(clip(ct.SourceIP, MaxValueLen), t, MaxSourceIPs)
	}
	if ct.UserAgent != "" {
		p.UserAgents.observe(clip(ct.UserAgent, MaxValueLen), t, MaxUserAgents)
	}
	p.ConsoleLogins.observe(ct, t)
	return true
}

// observeIdentity takes the identity of an event at t if it is later than
// the one kept, by (time, values).
func (p *Principal) observeIdentity(id *event.Identity, t time.Time) {
	typ, name := clip(id.Type, MaxIDLen), clip(principalName(id), MaxIDLen)
	arn, pid := clip(id.ARN, MaxIDLen), clip(id.PrincipalID, MaxIDLen)
	if typ == "" && name == "" && arn == "" && pid == "" {
		return
	}
	if c := t.Compare(p.IdentitySeen); c < 0 || c == 0 && compareStrings(
		[]string{typ, name, arn, pid}, []string{p.Type, p.UserName, p.ARN, p.PrincipalID}) <= 0 {
		return
	}
	p.IdentitySeen = t
	keep(&p.Type, typ, MaxIDLen)
	keep(&p.UserName, name, MaxIDLen)
	keep(&p.ARN, arn, MaxIDLen)
	keep(&p.PrincipalID, pid, MaxIDLen)
}

// compareStrings compares two tuples of strings of the same length.
func compareStrings(a, b []string) int {
	for i := range a {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// principalName is the user name of an identity: userName, or the session
// issuer's name for role sessions.
func principalName(id *event.Identity) string {
	if id.UserName != "" {
		return id.UserName
	}
	return id.SessionIssuerUserName
}

// MarshalBinary returns the compact encoding of p. Times are relative to
// the latest event time, and an ARN equal to the entity (an IAM user's) is
// a reference.
func (p *Principal) MarshalBinary() ([]byte, error) {
	e := newEncoder(event.KindPrincipal, &p.Header)
	e.str(p.Type)
	e.str(p.UserName)
	e.strRef(p.ARN, p.Entity)
	e.str(p.PrincipalID)
	e.timeRel(p.IdentitySeen, p.LastEvent)
	e.uvarint(p.Errors)
	p.APIs.encode(&e, p.LastEvent)
	p.SourceIPs.encode(&e, p.LastEvent)
	p.UserAgents.encode(&e, p.LastEvent)
	p.EventIDs.encode(&e, p.LastEvent)
	p.ConsoleLogins.encode(&e, p.LastEvent)
	p.Baseline.encode(&e, p.LastEvent)
	p.Credentials.encode(&e, p.LastEvent)
	p.RuleCounts.encode(&e, p.LastEvent)
	p.Signals.encode(&e, p.LastEvent)
	return e.b, nil
}

// UnmarshalBinary replaces p with the principal encoded in b. On error p
// is left unchanged.
func (p *Principal) UnmarshalBinary(b []byte) error {
	d := newDecoder(b)
	var q Principal
	d.header(event.KindPrincipal, &q.Header)
	q.Type = d.str("type", MaxIDLen)
	q.UserName = d.str("userName", MaxIDLen)
	q.ARN = d.strRef("arn", MaxIDLen, q.Entity)
	q.PrincipalID = d.str("principalId", MaxIDLen)
	q.IdentitySeen = d.timeRel(q.LastEvent)
	q.Errors = d.Uvarint()
	q.APIs = decodeSeenSet(&d, "apis", MaxAPIs, MaxValueLen, q.LastEvent)
	q.SourceIPs = decodeSeenSet(&d, "sourceIps", MaxSourceIPs, MaxValueLen, q.LastEvent)
	q.UserAgents = decodeSeenSet(&d, "userAgents", MaxUserAgents, MaxValueLen, q.LastEvent)
	q.EventIDs = decodeEventIDs(&d, q.LastEvent)
	q.ConsoleLogins = decodeConsoleLogins(&d, q.LastEvent)
	q.Baseline = decodeBaseline(&d, q.LastEvent)
	q.Credentials = decodeCredentials(&d, q.LastEvent)
	q.RuleCounts = decodeRuleCounts(&d, q.LastEvent)
	q.Signals = decodeSignals(&d, q.LastEvent)
	if err := d.finish("principal"); err != nil {
		return err
	}
	*p = q
	return nil
}
