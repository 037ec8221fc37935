package detect

import (
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// AttackSequence:IAM/CompromisedCredentials (Critical): one credential
// went through several stages of an attack. GuardDuty's Extended Threat
// Detection chains the findings of a credential with weak signals of its
// calls over hours to days; vigil does the same over a window of
// SequenceWindow (24 hours) of event time.
//
// The signals of a call are
//
//   - the findings the catalogue and the custom detection rules raised for
//     it, whose tactic is the type's prefix (Recon → Discovery,
//     UnauthorizedAccess → Initial Access, Stealth and DefenseImpairment →
//     Defense Evasion, PenTest → attack tooling, ...; Policy types are
//     hygiene, not a stage, and count for none), and
//   - weak signals of the call itself: a successful high-risk API
//     (seqHighRiskAPIs: logging stopped or deleted, another user's access
//     key or password made, an administrator policy attached, snapshots
//     and images shared, a bucket policy put, ...).
//
// A window raises the finding when its signals span SequenceTactics (3)
// distinct tactics and at least one of them is a finding. Three, because
// two stages are everyday administration (create a user, attach a
// policy), and a finding, because a window of weak signals alone is an
// administrator's busy day; an attack that is found at one stage and
// also reconnoitres, persists or hides is what GuardDuty's sequences
// report. The window holds signals per credential, the access key id of
// the calls (a role session's key is the session), or the principal when
// a call has none.
//
// The window follows the package's pattern: one occurrence (count 1) when
// a window first reaches the threshold, updates (count 0) for its later
// signals, details from the window's state (profiles.Signals): the
// signals with their first time, finding id and API, the tactics with
// their MITRE ids, and their finding ids. A window counts only when its
// first half holds a signal, so that a sequence inside one half-window,
// which lies in two windows, counts once. GuardDuty puts the details in
// service.detection.sequence; vigil writes them in
// additionalInfo.sequence. The state is bounded (profiles.MaxSignalPanes
// credential half-windows of profiles.MaxPaneSignals signal kinds each).
//
// A global-service call (IAM, STS) is applied to the principal's profile
// in every region but raises its findings in one: its weak signal counts
// in every region's sequences, its findings in that region's.
//
// Aggregation key: (account, region, type, principal, credential).

// Attack-sequence window and threshold.
const (
	SequenceWindow  = 24 * time.Hour
	SequenceTactics = 3
)

// A tactic is a stage of an attack, as MITRE ATT&CK names them, plus
// attack tooling (a PenTest finding), which GuardDuty also chains.
type seqTactic uint8

const (
	seqDiscovery seqTactic = iota
	seqInitialAccess
	seqExecution
	seqPersistence
	seqPrivilegeEscalation
	seqDefenseEvasion
	seqCredentialAccess
	seqExfiltration
	seqImpact
	seqLateralMovement
	seqResourceDevelopment
	seqPenTest
	numSeqTactics
)

// seqTacticInfo names a tactic and its MITRE ATT&CK id.
var seqTacticInfo = [numSeqTactics]struct{ name, mitre string }{
	seqDiscovery:           {"Discovery", "TA0007"},
	seqInitialAccess:       {"Initial Access", "TA0001"},
	seqExecution:           {"Execution", "TA0002"},
	seqPersistence:         {"Persistence", "TA0003"},
	seqPrivilegeEscalation: {"Privilege Escalation", "TA0004"},
	seqDefenseEvasion:      {"Defense Evasion", "TA0005"},
	seqCredentialAccess:    {"Credential Access", "TA0006"},
	seqExfiltration:        {"Exfiltration", "TA0010"},
	seqImpact:              {"Impact", "TA0040"},
	seqLateralMovement:     {"Lateral Movement", "TA0008"},
	seqResourceDevelopment: {"Resource Development", "TA0042"},
	seqPenTest:             {"Attack tooling", ""},
}

// seqTypeTactics maps a finding type's prefix (its threat purpose) to a
// tactic.
var seqTypeTactics = map[string]seqTactic{
	"Recon":               seqDiscovery,
	"Discovery":           seqDiscovery,
	"UnauthorizedAccess":  seqInitialAccess,
	"InitialAccess":       seqInitialAccess,
	"Execution":           seqExecution,
	"Persistence":         seqPersistence,
	"PrivilegeEscalation": seqPrivilegeEscalation,
	"Stealth":             seqDefenseEvasion,
	"DefenseEvasion":      seqDefenseEvasion,
	"DefenseImpairment":   seqDefenseEvasion,
	"LateralMovement":     seqLateralMovement,
	"ResourceDevelopment": seqResourceDevelopment,
	"CredentialAccess":    seqCredentialAccess,
	"Exfiltration":        seqExfiltration,
	"Impact":              seqImpact,
	"PenTest":             seqPenTest,
}

// seqFindingTactic returns the tactic of a finding type.
func seqFindingTactic(typ string) (seqTactic, bool) {
	prefix, _, ok := strings.Cut(typ, ":")
	if !ok {
		return 0, false
	}
	t, ok := seqTypeTactics[prefix]
	return t, ok
}

// seqHighRiskAPI is a call that is a weak signal of a tactic when it
// succeeds; when is an extra condition on it, or nil.
type seqHighRiskAPI struct {
	tactic seqTactic
	when   func(ct *event.CloudTrail) bool
}

// seqHighRiskAPIs are keyed "<service>:<eventName>", the service without
// ".amazonaws.com". They are the calls Stratus Red Team and GuardDuty's
// sample sequences use for each stage, where the call itself, not only
// its volume, is the sign.
var seqHighRiskAPIs = map[string]seqHighRiskAPI{
	// Defense evasion: the account's logs stopped or cut.
	"cloudtrail:StopLogging":                            {tactic: seqDefenseEvasion},
	"cloudtrail:DeleteTrail":                            {tactic: seqDefenseEvasion},
	"cloudtrail:PutEventSelectors":                      {tactic: seqDefenseEvasion},
	"ec2:DeleteFlowLogs":                                {tactic: seqDefenseEvasion},
	"route53resolver:DeleteResolverQueryLogConfig":      {tactic: seqDefenseEvasion},
	"guardduty:DeleteDetector":                          {tactic: seqDefenseEvasion},
	"config:StopConfigurationRecorder":                  {tactic: seqDefenseEvasion},
	"config:DeleteConfigurationRecorder":                {tactic: seqDefenseEvasion},
	"organizations:LeaveOrganization":                   {tactic: seqDefenseEvasion},
	"bedrock:DeleteModelInvocationLoggingConfiguration": {tactic: seqDefenseEvasion},
	// Persistence: new ways in.
	"iam:CreateAccessKey":                  {tactic: seqPersistence, when: seqForAnotherUser},
	"iam:CreateLoginProfile":               {tactic: seqPersistence},
	"iam:CreateUser":                       {tactic: seqPersistence},
	"iam:UpdateAssumeRolePolicy":           {tactic: seqPersistence},
	"rolesanywhere:CreateTrustAnchor":      {tactic: seqPersistence},
	"lambda:AddPermission20150331v2":       {tactic: seqPersistence},
	"sts:GetFederationToken":               {tactic: seqPersistence},
	"ec2:CreateKeyPair":                    {tactic: seqPersistence},
	"ec2:ImportKeyPair":                    {tactic: seqPersistence},
	"iam:UpdateLoginProfile":               {tactic: seqPrivilegeEscalation, when: seqForAnotherUser},
	"iam:AttachUserPolicy":                 {tactic: seqPrivilegeEscalation, when: seqAdminPolicy},
	"iam:AttachRolePolicy":                 {tactic: seqPrivilegeEscalation, when: seqAdminPolicy},
	"iam:AttachGroupPolicy":                {tactic: seqPrivilegeEscalation, when: seqAdminPolicy},
	"ec2:GetPasswordData":                  {tactic: seqCredentialAccess},
	"ec2:DescribeInstanceAttribute":        {tactic: seqDiscovery, when: seqUserData},
	"s3:PutBucketPolicy":                   {tactic: seqExfiltration},
	"ec2:ModifySnapshotAttribute":          {tactic: seqExfiltration},
	"ec2:ModifyImageAttribute":             {tactic: seqExfiltration},
	"rds:ModifyDBSnapshotAttribute":        {tactic: seqExfiltration},
	"rds:ModifyDBClusterSnapshotAttribute": {tactic: seqExfiltration},
}

// seqForAnotherUser: the call names a user other than the caller.
func seqForAnotherUser(ct *event.CloudTrail) bool {
	u := ct.RequestParameters["userName"]
	return u != "" && u != seqCallerName(&ct.Identity)
}

// seqAdminPolicy: the policy attached is AdministratorAccess, or
// IAMFullAccess, which lets its holder grant itself anything.
func seqAdminPolicy(ct *event.CloudTrail) bool {
	arn := ct.RequestParameters["policyArn"]
	return strings.HasSuffix(arn, ":policy/AdministratorAccess") || strings.HasSuffix(arn, ":policy/IAMFullAccess")
}

// seqUserData: the attribute read is an instance's user data, where secrets
// and bootstrap scripts are.
func seqUserData(ct *event.CloudTrail) bool {
	return ct.RequestParameters["attribute"] == "userData"
}

func seqCallerName(id *event.Identity) string {
	if id.UserName != "" {
		return id.UserName
	}
	return id.SessionIssuerUserName
}

// seqMaxEventSignals bounds the signals of one call: its findings and one
// weak signal.
const seqMaxEventSignals = 8

// correlate runs the correlating detectors on a CloudTrail event after
// the others, with the occurrences they raised for it (out).
func (e *Engine) correlate(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	for i := range registry {
		if d := registry[i].correlate; d != nil {
			out = d(e, p, ev, out)
		}
	}
	return out
}

// attackSequence runs after the catalogue on every CloudTrail event, with
// the occurrences the event raised (out).
func (e *Engine) attackSequence(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	var buf [seqMaxEventSignals]profiles.Signal
	sigs := buf[:0]
	for i := range out {
		f := &out[i]
		if t, ok := seqFindingTactic(f.Type); ok && f.Type != TypeAttackSequence && len(sigs) < seqMaxEventSignals-1 {
			sigs = append(sigs, profiles.Signal{Tactic: uint8(t), Name: f.Type, FindingID: f.ID, API: ct.EventName})
		}
	}
	if ct.ErrorCode == "" {
		api := strings.TrimSuffix(ct.EventSource, ".amazonaws.com") + ":" + ct.EventName
		// A call already found for the same tactic (StopLogging) is
		// listed once, as its finding.
		if h, ok := seqHighRiskAPIs[api]; ok && (h.when == nil || h.when(ct)) &&
			!slices.ContainsFunc(sigs, func(s profiles.Signal) bool { return s.Tactic == uint8(h.tactic) }) {
			sigs = append(sigs, profiles.Signal{Tactic: uint8(h.tactic), Name: api, API: ct.EventName})
		}
	}
	if len(sigs) == 0 {
		return out
	}
	cred := ct.Identity.AccessKeyID
	t := ev.Time.UTC()
	hits := p.Signals.Observe(cred, t, sigs, SequenceWindow, p.LastEvent, SequenceTactics)
	w, ok := p.Signals.Reached(cred, hits)
	if !ok {
		return out
	}
	return append(out, e.sequenceFinding(p, ev, &w))
}

// sequenceFinding is the occurrence of window w.
func (e *Engine) sequenceFinding(p *profiles.Principal, ev *event.Event, w *profiles.SignalWindow) findings.Finding {
	f := windowFinding(TypeAttackSequence, findings.SeverityCritical, &p.Header, ev, w.First, w.Last, w.Count, w.Crossed, w.Credential)
	entity := entityKey(&p.Header, ev)
	f.Resource = findings.Resource{
		ResourceType:     findings.ResourceAccessKey,
		AccessKeyDetails: &findings.AccessKeyDetails{AccessKeyID: w.Credential, UserName: seqARNName(entity)},
	}
	// The action is the latest signal's call.
	var latest *profiles.Signal
	for i := range w.Signals {
		s := &w.Signals[i]
		if latest == nil || s.Last.After(latest.Last) || s.Last.Equal(latest.Last) && s.Name > latest.Name {
			latest = s
		}
	}
	f.Service.Action = findings.Action{ActionType: findings.ActionAWSAPICall, AwsAPICallAction: &findings.AwsAPICallAction{
		API: latest.API, AffectedResources: map[string]string{},
	}}
	f.Service.ResourceRole = findings.RoleTarget

	var tactics []map[string]string
	var names []string
	for t := range numSeqTactics {
		if w.Tactics&(1<<t) != 0 {
			tactics = append(tactics, map[string]string{"name": seqTacticInfo[t].name, "mitreTacticId": seqTacticInfo[t].mitre})
			names = append(names, seqTacticInfo[t].name)
		}
	}
	signals := make([]map[string]any, 0, len(w.Signals))
	var ids []string
	for _, s := range w.Signals {
		m := map[string]any{
			"name": s.Name, "tactic": seqTacticInfo[s.Tactic%uint8(numSeqTactics)].name,
			"firstSeenAt": findings.Stamp(s.First), "lastSeenAt": findings.Stamp(s.Last),
			"count": s.Count, "api": s.API,
		}
		if s.IsFinding() {
			m["type"], m["findingId"] = "FINDING", s.FindingID
			ids = append(ids, s.FindingID)
		} else {
			m["type"] = "CLOUD_TRAIL"
			m["indicator"] = "HIGH_RISK_API"
		}
		signals = append(signals, m)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	f.Service.AdditionalInfo = findings.AdditionalInfo{
		"sequence": map[string]any{
			"credential":  w.Credential,
			"principal":   entity,
			"windowStart": findings.Stamp(w.Start),
			"windowEnd":   findings.Stamp(w.Start.Add(SequenceWindow)),
			"tactics":     tactics,
			"signals":     signals,
			"findingIds":  ids,
		},
	}
	because(&f, "signals of "+itoa(bits.OnesCount16(w.Tactics))+" distinct tactics, at least "+itoa(SequenceTactics)+
		" with one a finding, by one credential within "+SequenceWindow.String(),
		"tactics", strings.Join(names, ", "), "signals", itoa(len(w.Signals)))
	who := w.Credential
	if who == "" {
		who = entity
	}
	f.Title = "A sequence of " + itoa(len(names)) + " attack stages was seen for credential " + who + "."
	f.Description = "Within " + SequenceWindow.String() + ", credential " + who + " of " + entity + " produced signals of " +
		strings.Join(names, ", ") + ". Findings chained with high-risk calls across stages suggest the credential is compromised."
	return f
}

// seqARNName returns the last part of an ARN's resource ("alice" of
// "arn:aws:iam::1:user/alice"), or s.
func seqARNName(s string) string {
	if i := strings.LastIndexAny(s, "/:"); i >= 0 && strings.HasPrefix(s, "arn:") {
		return s[i+1:]
	}
	return s
}
