package profiles

import (
	"strings"

	"github.com/vigil-sec/vigil/event"
)

// Principal is the profile of an IAM user, an IAM role (its sessions
// aggregate under the role) or the root user of an account, built from
// CloudTrail management events.
type Principal struct {
	Header
	// Type is the latest userIdentity.type (IAMUser, AssumedRole, Root, ...).
	Type string `json:"type"`
	// UserName is the user name, or the role name for role sessions.
	UserName string `json:"userName,omitempty"`
	// ARN and PrincipalID are the latest caller identity (the session ARN
	// for role sessions).
	ARN         string `json:"arn,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
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
}

// NewPrincipal returns the empty profile of a principal.
func NewPrincipal(account, region, entity string) *Principal {
	return &Principal{Header: newHeader(account, region, entity)}
}

// Kind returns event.KindPrincipal.
func (p *Principal) Kind() event.EntityKind { return event.KindPrincipal }

// Observe updates the profile with ev. Only CloudTrail events change more
// than the header.
func (p *Principal) Observe(ev *event.Event) {
	t := ev.Time.UTC()
	p.observe(t)
	ct := ev.CloudTrail
	if ct == nil {
		return
	}
	id := &ct.Identity
	if id.Type != "" {
		keep(&p.Type, id.Type, MaxIDLen)
	}
	if name := principalName(id); name != "" {
		keep(&p.UserName, name, MaxIDLen)
	}
	if id.ARN != "" {
		keep(&p.ARN, id.ARN, MaxIDLen)
	}
	if id.PrincipalID != "" {
		keep(&p.PrincipalID, id.PrincipalID, MaxIDLen)
	}
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
}

// principalName is the user name of an identity: userName, or the session
// issuer's name for role sessions.
func principalName(id *event.Identity) string {
	if id.UserName != "" {
		return id.UserName
	}
	return id.SessionIssuerUserName
}

// MarshalBinary returns the compact encoding of p.
func (p *Principal) MarshalBinary() ([]byte, error) {
	e := newEncoder(event.KindPrincipal, &p.Header)
	e.str(p.Type)
	e.str(p.UserName)
	e.str(p.ARN)
	e.str(p.PrincipalID)
	e.uvarint(p.Errors)
	p.APIs.encode(&e)
	p.SourceIPs.encode(&e)
	p.UserAgents.encode(&e)
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
	q.ARN = d.str("arn", MaxIDLen)
	q.PrincipalID = d.str("principalId", MaxIDLen)
	q.Errors = d.Uvarint()
	q.APIs = decodeSeenSet(&d, "apis", MaxAPIs, MaxValueLen)
	q.SourceIPs = decodeSeenSet(&d, "sourceIps", MaxSourceIPs, MaxValueLen)
	q.UserAgents = decodeSeenSet(&d, "userAgents", MaxUserAgents, MaxValueLen)
	if err := d.finish("principal"); err != nil {
		return err
	}
	*p = q
	return nil
}
