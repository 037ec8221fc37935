package detect

import (
	"fmt"
	"strings"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// TypeInfo describes one finding type the catalogue raises. The README's
// detection table and the admin endpoint's GET /api/v1/finding-types are
// made from it.
type TypeInfo struct {
	Type string `json:"type"`
	// Source is the log it is detected in: cloudtrail, vpcflow or dns.
	Source string `json:"source"`
	// Severity is the default severity; Variable says a finding may carry
	// another one (TARGET and ACTOR roles, how far a policy was weakened).
	Severity      float64 `json:"severity"`
	SeverityLabel string  `json:"severityLabel"`
	Variable      bool    `json:"variableSeverity,omitempty"`
	// Aggregation lists what the finding id is made of: occurrences with
	// the same values are one finding whose count grows.
	Aggregation string `json:"aggregationKey"`
	// Trigger says in one line what raises it.
	Trigger string `json:"trigger"`
}

// A family is the detector of one file: the types it raises, and the
// function the engine calls for each event of its source. Exactly one of
// principal, flow and dns is set.
type family struct {
	types []TypeInfo
	// principal runs on every CloudTrail event after the principal's
	// profile took it.
	principal func(*Engine, *profiles.Principal, *event.Event, []findings.Finding) []findings.Finding
	// flow runs on every flow record once its direction is known.
	flow func(*Engine, *profiles.Network, *event.Event, *profiles.OrientedFlow, []findings.Finding) []findings.Finding
	// dns runs on every DNS query.
	dns func(*Engine, *profiles.Network, *event.Event, []findings.Finding) []findings.Finding
}

// registry is the catalogue, in the order the engine runs it. Adding a
// finding type is its detector's file and an entry here.
var registry = []family{
	{principal: (*Engine).cloudTrailLoggingDisabled, types: []TypeInfo{{
		Type: TypeCloudTrailLoggingDisabled, Source: "cloudtrail", Severity: findings.SeverityLow,
		Aggregation: "account, region, principal, trail",
		Trigger:     "a successful `StopLogging` or `DeleteTrail`, or an `UpdateTrail` that stops logging global-service events",
	}}},
	{principal: (*Engine).rootCredentialUsage, types: []TypeInfo{{
		Type: TypeRootCredentialUsage, Source: "cloudtrail", Severity: findings.SeverityLow,
		Aggregation: "account, region, principal",
		Trigger:     "an API call made with the root user's long-term credentials (not an AWS service acting, not a failed sign-in)",
	}, {
		Type: TypeShortTermRootCredentialUsage, Source: "cloudtrail", Severity: findings.SeverityLow,
		Aggregation: "account, region, principal",
		Trigger:     "an API call made with short-term root credentials issued by `sts:AssumeRoot`",
	}}},
	{principal: (*Engine).pentest, types: []TypeInfo{{
		Type: TypePenTestKaliLinux, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal",
		Trigger:     "an API call whose user agent names Kali Linux as the operating system",
	}, {
		Type: TypePenTestParrotLinux, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal",
		Trigger:     "an API call whose user agent names Parrot Security OS as the operating system",
	}, {
		Type: TypePenTestPentooLinux, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal",
		Trigger:     "an API call whose user agent names Pentoo as the operating system",
	}}},
	{principal: (*Engine).passwordPolicyChange, types: []TypeInfo{{
		Type: TypePasswordPolicyChange, Source: "cloudtrail", Severity: findings.SeverityLow, Variable: true,
		Aggregation: "account, region, principal",
		Trigger:     "`UpdateAccountPasswordPolicy` or `DeleteAccountPasswordPolicy`, attempts included; Medium or High by how weak the policy left is",
	}}},
	{principal: (*Engine).bedrockLoggingDisabled, types: []TypeInfo{{
		Type: TypeBedrockLoggingDisabled, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal",
		Trigger:     "a successful `DeleteModelInvocationLoggingConfiguration` (Bedrock)",
	}}},
	{principal: (*Engine).s3Settings, types: []TypeInfo{{
		Type: TypeAccountBlockPublicAccessOff, Source: "cloudtrail", Severity: findings.SeverityLow,
		Aggregation: "account, region, principal",
		Trigger:     "the account's S3 Block Public Access deleted, or put with a flag false",
	}, {
		Type: TypeBucketBlockPublicAccessOff, Source: "cloudtrail", Severity: findings.SeverityLow,
		Aggregation: "account, region, principal, bucket",
		Trigger:     "a bucket's S3 Block Public Access deleted, or put with a flag false",
	}, {
		Type: TypeS3ServerAccessLoggingOff, Source: "cloudtrail", Severity: findings.SeverityLow,
		Aggregation: "account, region, principal, bucket",
		Trigger:     "`PutBucketLogging` with no `LoggingEnabled`: the bucket's access logs stop",
	}}},
	{principal: (*Engine).callerIntel, types: []TypeInfo{{
		Type: TypeReconTorIPCaller, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal, caller address",
		Trigger:     "a List, Describe or Get call from a Tor exit relay (bundled or `--intel-dir` list)",
	}, {
		Type: TypeUnauthorizedTorIPCaller, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal, caller address",
		Trigger:     "any other call from a Tor exit relay",
	}, {
		Type: TypeReconMaliciousIPCaller, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal, caller address",
		Trigger:     "a List, Describe or Get call from an address on a malicious-IP list (ipsum, or `--intel-dir`)",
	}, {
		Type: TypeUnauthorizedMaliciousIPCaller, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal, caller address",
		Trigger:     "any other call from an address on a malicious-IP list",
	}}},
	{flow: (*Engine).portscan, types: []TypeInfo{{
		Type: TypePortscan, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance",
		Trigger:     "an instance opening connections to many ports of one host within a window",
	}}},
	{flow: (*Engine).sshBruteForce, types: []TypeInfo{{
		Type: TypeSSHBruteForce, Source: "vpcflow", Severity: findings.SeverityLow, Variable: true,
		Aggregation: "account, region, instance, role",
		Trigger:     "many SSH connections from one host to the instance (TARGET, Low) or by the instance to one or many hosts (ACTOR, High)",
	}}},
	{dns: (*Engine).dnsExfiltration, types: []TypeInfo{{
		Type: TypeDNSDataExfiltration, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, registrable domain",
		Trigger:     "many long, high-entropy queries under one domain within a window (tunnelling)",
	}}},
	{dns: (*Engine).cryptoDNS, types: []TypeInfo{{
		Type: TypeBitcoinToolDNS, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, domain",
		Trigger:     "a query for a domain on the crypto-mining list",
	}}},
}

// Catalogue returns every finding type the engine raises, in registry
// order.
func Catalogue() []TypeInfo {
	var out []TypeInfo
	for _, f := range registry {
		for _, t := range f.types {
			t.SeverityLabel = findings.SeverityLabel(t.Severity)
			out = append(out, t)
		}
	}
	return out
}

// sourceNames are the sources as the README's table names them.
var sourceNames = map[string]string{"cloudtrail": "CloudTrail", "vpcflow": "VPC flow", "dns": "DNS"}

// MarkdownTable returns the catalogue as the README's detection table.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| finding type | source | severity | aggregated by | what raises it |\n|---|---|---|---|---|\n")
	for _, t := range Catalogue() {
		sev := fmt.Sprintf("%s (%g)", t.SeverityLabel, t.Severity)
		if t.Variable {
			sev += "\\*"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", t.Type, sourceNames[t.Source], sev, t.Aggregation, t.Trigger)
	}
	return b.String()
}
