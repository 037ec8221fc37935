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
	// Custom marks the type of custom detection rules (Engine.Catalogue),
	// and Rules lists the rules that raise it.
	Custom bool     `json:"custom,omitempty"`
	Rules  []string `json:"rules,omitempty"`
}

// A family is the detector of one file: the types it raises, and the
// function the engine calls for each event of its source. Exactly one of
// principal, flow, dns and correlate is set.
type family struct {
	types []TypeInfo
	// principal runs on every CloudTrail event after the principal's
	// profile took it.
	principal func(*Engine, *profiles.Principal, *event.Event, []findings.Finding) []findings.Finding
	// flow runs on every flow record once its direction is known.
	flow func(*Engine, *profiles.Network, *event.Event, *profiles.OrientedFlow, []findings.Finding) []findings.Finding
	// dns runs on every DNS query.
	dns func(*Engine, *profiles.Network, *event.Event, []findings.Finding) []findings.Finding
	// correlate runs on every CloudTrail event after every other detector,
	// with the occurrences they raised for it (attack sequences).
	correlate func(*Engine, *profiles.Principal, *event.Event, []findings.Finding) []findings.Finding
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
	{principal: (*Engine).s3PublicAccess, types: []TypeInfo{{
		Type: TypeBucketAnonymousAccessGranted, Source: "cloudtrail", Severity: findings.SeverityHigh,
		Aggregation: "account, region, principal, bucket",
		Trigger:     "`PutBucketPolicy` with an Allow statement to every principal that no condition pins, or `PutBucketAcl`/`CreateBucket` granting the AllUsers group (or canned ACL `public-read`, `public-read-write`)",
	}, {
		Type: TypeBucketPublicAccessGranted, Source: "cloudtrail", Severity: findings.SeverityHigh,
		Aggregation: "account, region, principal, bucket",
		Trigger:     "`PutBucketAcl`/`CreateBucket` granting the AuthenticatedUsers group (every AWS account), or canned ACL `authenticated-read`",
	}}},
	{principal: (*Engine).instanceCredentials, types: []TypeInfo{{
		Type: TypeInstanceCredsOutsideAWS, Source: "cloudtrail", Severity: findings.SeverityHigh,
		Aggregation: "account, region, role, instance, caller address",
		Trigger:     "an EC2 instance's instance-profile credentials used from a public address outside AWS's ranges (`--aws-ip-ranges`, or Amazon's ASNs) that is not the instance's",
	}, {
		Type: TypeInstanceCredsInsideAWS, Source: "cloudtrail", Severity: findings.SeverityHigh, Variable: true,
		Aggregation: "account, region, role, instance, caller address or remote account",
		Trigger:     "an EC2 instance's credentials used through another account's VPC endpoint (Medium if affiliated), or from an AWS address that is none of the instance's known public addresses",
	}}},
	{principal: (*Engine).compromisedCredentials, types: []TypeInfo{{
		Type: TypeCompromisedCredentials, Source: "cloudtrail", Severity: findings.SeverityHigh,
		Aggregation: "account, region, principal, access key",
		Trigger:     "a long-term access key listed in `--leaked-keys`, or quarantined by AWS (`AWSCompromisedKeyQuarantine*`), used by anyone but AWS",
	}}},
	{principal: (*Engine).consoleLoginSuccess, types: []TypeInfo{{
		Type: TypeConsoleLoginSuccessB, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal",
		Trigger:     "two successful `ConsoleLogin`s of one IAM or root user within 2 hours from places over 500 km apart, faster than 1,000 km/h (needs the GeoIP city database)",
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
	}, {
		Type: TypeReconCustomIPCaller, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal, caller address",
		Trigger:     "a List, Describe or Get call from an address or network on a customer threat list (`--intel-dir` `custom/`)",
	}, {
		Type: TypeUnauthorizedCustomIPCaller, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal, caller address",
		Trigger:     "any other call from an address or network on a customer threat list",
	}}},
	{principal: (*Engine).anomalousBehavior, types: []TypeInfo{{
		Type: TypeAnomalousCredentialAccess, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal",
		Trigger:     "`GetPasswordData`, `GetSecretValue`, `BatchGetSecretValue` or `GenerateDbAuthToken` new or rare for the principal (on at most 1 of the 30 days before) with an unusual user agent, network, country, user type or hour, or failing where calls rarely fail; after `--learning-period`; calls of one tactic within an hour are one finding",
	}, {
		Type: TypeAnomalousDefenseEvasion, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal",
		Trigger:     "an API that stops logging or monitoring or opens a firewall (`StopLogging`, `DeleteFlowLogs`, `AuthorizeSecurityGroupIngress`, ...) new or rare for the principal (on at most 1 of the 30 days before) with an unusual user agent, network, country, user type or hour, or failing where calls rarely fail; after `--learning-period`; calls of one tactic within an hour are one finding",
	}, {
		Type: TypeAnomalousDiscovery, Source: "cloudtrail", Severity: findings.SeverityLow,
		Aggregation: "account, region, principal",
		Trigger:     "a List, Describe or Get API (`DescribeInstances`, `GetCallerIdentity`, ...) new or rare for the principal (on at most 1 of the 30 days before) with an unusual user agent, network, country, user type or hour, or failing where calls rarely fail; after `--learning-period`; calls of one tactic within an hour are one finding",
	}, {
		Type: TypeAnomalousExfiltration, Source: "cloudtrail", Severity: findings.SeverityHigh,
		Aggregation: "account, region, principal",
		Trigger:     "an API that copies or shares S3 data, snapshots, images or databases (`PutBucketReplication`, `ModifySnapshotAttribute`, ...) new or rare for the principal (on at most 1 of the 30 days before) with an unusual user agent, network, country, user type or hour, or failing where calls rarely fail; after `--learning-period`; calls of one tactic within an hour are one finding",
	}, {
		Type: TypeAnomalousImpact, Source: "cloudtrail", Severity: findings.SeverityHigh,
		Aggregation: "account, region, principal",
		Trigger:     "an API that deletes, rewrites or runs resources (`DeleteSecurityGroup`, `PutBucketPolicy`, `RunInstances`, `InvokeModel`, ...) new or rare for the principal (on at most 1 of the 30 days before) with an unusual user agent, network, country, user type or hour, or failing where calls rarely fail; after `--learning-period`; calls of one tactic within an hour are one finding",
	}, {
		Type: TypeAnomalousInitialAccess, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal",
		Trigger:     "a token or session API (`StartSession`, `GetAuthorizationToken`, `GetFederationToken`, `AssumeRole`, ...) new or rare for the principal (on at most 1 of the 30 days before) with an unusual user agent, network, country, user type or hour, or failing where calls rarely fail; after `--learning-period`; calls of one tactic within an hour are one finding",
	}, {
		Type: TypeAnomalousPersistence, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal",
		Trigger:     "an API that creates credentials, identities or code (`CreateAccessKey`, `ImportKeyPair`, `ModifyInstanceAttribute`, ...) new or rare for the principal (on at most 1 of the 30 days before) with an unusual user agent, network, country, user type or hour, or failing where calls rarely fail; after `--learning-period`; calls of one tactic within an hour are one finding",
	}, {
		Type: TypeAnomalousPrivilegeEscalation, Source: "cloudtrail", Severity: findings.SeverityMedium,
		Aggregation: "account, region, principal",
		Trigger:     "an API that changes IAM policies, roles or users (`AttachUserPolicy`, `PutUserPolicy`, `UpdateLoginProfile`, ...) new or rare for the principal (on at most 1 of the 30 days before) with an unusual user agent, network, country, user type or hour, or failing where calls rarely fail; after `--learning-period`; calls of one tactic within an hour are one finding",
	}}},
	{flow: (*Engine).portscan, types: []TypeInfo{{
		Type: TypePortscan, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance",
		Trigger:     "an instance opening connections to many ports of one host within a window",
	}}},
	{flow: (*Engine).bruteForce, types: []TypeInfo{{
		Type: TypeSSHBruteForce, Source: "vpcflow", Severity: findings.SeverityLow, Variable: true,
		Aggregation: "account, region, instance, role",
		Trigger:     "many SSH connections from one host to the instance (TARGET, Low) or by the instance to one or many hosts (ACTOR, High)",
	}, {
		Type: TypeRDPBruteForce, Source: "vpcflow", Severity: findings.SeverityLow, Variable: true,
		Aggregation: "account, region, instance, role",
		Trigger:     "many RDP (TCP 3389) connections from one host to the instance (TARGET, Low) or by the instance to one or many hosts (ACTOR, High)",
	}, {
		Type: TypeWinRMBruteForce, Source: "vpcflow", Severity: findings.SeverityLow, Variable: true,
		Aggregation: "account, region, instance, role",
		Trigger:     "many WinRM (TCP 5985/5986) connections from one host to the instance (TARGET, Low) or by the instance to one or many hosts (ACTOR, High)",
	}}},
	{flow: (*Engine).portSweep, types: []TypeInfo{{
		Type: TypePortSweep, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance",
		Trigger:     "an instance probing one port on 30 or more public hosts within 5 minutes (DNS and NTP excepted)",
	}}},
	{flow: (*Engine).denialOfService, types: []TypeInfo{{
		Type: TypeDoSDNS, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance",
		Trigger:     "outbound DNS (port 53) to one public host at 1,000+ packets/s over 2 minutes",
	}, {
		Type: TypeDoSTCP, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance",
		Trigger:     "outbound TCP to one public host at 1,000+ packets/s over 2 minutes from 64+ local ports",
	}, {
		Type: TypeDoSUDP, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance",
		Trigger:     "outbound UDP (not DNS) to one public host at 1,000+ packets/s over 2 minutes from 64+ local ports",
	}, {
		Type: TypeDoSUDPOnTCPPorts, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance",
		Trigger:     "outbound UDP to one public host on a port only TCP services use (80, 22, 25, 445, 8080, ...) at 1,000+ packets/s over 2 minutes",
	}, {
		Type: TypeDoSUnusualProtocol, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance",
		Trigger:     "outbound traffic to one public host in a protocol other than TCP, UDP, ICMP and IPsec (IGMP, GRE, ...) at 1,000+ packets/s over 2 minutes",
	}}},
	{flow: (*Engine).portProbe, types: []TypeInfo{{
		Type: TypePortProbeUnprotected, Source: "vpcflow", Severity: findings.SeverityLow, Variable: true,
		Aggregation: "account, region, instance, Elasticsearch port or not",
		Trigger:     "an inbound connection from a known mass scanner (maltrail list, or `--intel-dir` scanner/) accepted on a port of the instance; High on 9200/9300 (Elasticsearch)",
	}, {
		Type: TypePortProbeEMRUnprotected, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance",
		Trigger:     "the same on an EMR service port (8088, 8443, 8890, 8998, 9443, 9870, 16010, 18080, 19888, 20888, 50070)",
	}}},
	{flow: (*Engine).beaconing, types: []TypeInfo{{
		Type: TypeBeaconing, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, remote host, UTC day",
		Trigger:     "vigil's own type: connections the instance opens to one public host are regular in time and size (RITA-style beacon score ≥ 0.85, timing score ≥ 0.9, at least 24 connections over 30 minutes); not DNS, NTP or AWS service ranges",
	}}},
	{flow: (*Engine).networkBaseline, types: []TypeInfo{{
		Type: TypeNetworkPortUnusual, Source: "vpcflow", Severity: findings.SeverityMedium, Variable: true,
		Aggregation: "account, region, instance, protocol/port",
		Trigger:     "a connection the instance opens to a public host on a remote server port it never used before (after `--network-learning-period`); High on 389/1389 with context \"Possible log4j callback\"",
	}, {
		Type: TypeTrafficVolumeUnusual, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, remote host",
		Trigger:     "bytes the instance sends to one public host within a UTC day reach max(10 × its most to that host on any of the 7 days before, 100 MB); AWS service ranges other than EC2 not counted",
	}, {
		Type: TypeSpambot, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance",
		Trigger:     "outbound TCP 25 to public hosts by an instance with no prior port-25 history; distinct hosts per hour in additionalInfo (10 or more: massMailing)",
	}, {
		Type: TypeUnusualDNSResolver, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, resolver",
		Trigger:     "DNS (UDP/TCP 53) to a public server the instance used on none of the 30 days before; not for an instance resolving recursively (16 or more active DNS servers)",
	}, {
		Type: TypeUnusualDoHActivity, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, resolver",
		Trigger:     "TCP 443 to a public DNS-over-HTTPS resolver (built-in list, or `--intel-dir` doh/) the instance used on none of the 30 days before",
	}, {
		Type: TypeUnusualDoTActivity, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, server",
		Trigger:     "TCP 853 (DNS over TLS) to a public host the instance used on none of the 30 days before",
	}}},
	{dns: (*Engine).dnsExfiltration, types: []TypeInfo{{
		Type: TypeDNSDataExfiltration, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, registrable domain",
		Trigger:     "30 distinct names under one registered domain within 10 minutes whose labels look encoded (long, high-entropy, base32/64), or are data-bearing TXT/NULL queries; reverse zones, popular and cloud domains, anti-virus lookups skipped",
	}}},
	{dns: (*Engine).cryptoDNS, types: []TypeInfo{{
		Type: TypeBitcoinToolDNS, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, domain",
		Trigger:     "a query for a domain on the crypto-mining list",
	}}},
	{dns: (*Engine).dgaDomainRequest, types: []TypeInfo{{
		Type: TypeDGADomainRequestB, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance",
		Trigger:     "4 distinct registered domains within an hour whose label the DGA model (logistic regression over character n-grams, trained by `make train`) scores as generated; popular domains skipped",
	}}},
	{dns: (*Engine).domainReputation, types: []TypeInfo{{
		Type: TypeMaliciousDomainReputation, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, registered domain",
		Trigger:     "an answer that is a sinkhole, or NXDOMAIN for an unpopular domain the DGA model scores 0.99 or more",
	}, {
		Type: TypeBitcoinDomainReputation, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, registered domain",
		Trigger:     "a mining name (pool, xmr, stratum, ...) under a dynamic-DNS, free-subdomain, abused-TLD or random-looking domain not on the crypto lists",
	}, {
		Type: TypeAbusedDomainReputation, Source: "dns", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, registered domain",
		Trigger:     "a name under a dynamic-DNS provider or a free-subdomain suffix (free TLDs, public tunnel services)",
	}, {
		Type: TypeSuspiciousDomainReputation, Source: "dns", Severity: findings.SeverityLow,
		Aggregation: "account, region, instance, registered domain",
		Trigger:     "an unpopular registered domain (not in the OpenDNS top 10,000) under one of the most abused TLDs, or random-looking (DGA score 0.7+) and first queried by the instance after a week",
	}}},
	{flow: (*Engine).networkIntel, types: []TypeInfo{{
		Type: TypeCCActivityB, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, remote address",
		Trigger:     "a connection the instance opens to a public address on a C&C list (maltrail, or `--intel-dir`); threatName `Log4j Related` for the Log4j list",
	}, {
		Type: TypeBitcoinTool, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, remote address",
		Trigger:     "a connection the instance opens to a mining pool's address (the crypto-mining lists' addresses)",
	}, {
		Type: TypeBlackholeTraffic, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, remote address",
		Trigger:     "a connection the instance opens to a black-hole (sink-hole) address",
	}, {
		Type: TypeDropPoint, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, remote address",
		Trigger:     "a connection the instance opens to a host known to collect stolen data (info-stealer panels, skimmer collectors)",
	}, {
		Type: TypeTorClient, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, remote address",
		Trigger:     "a connection the instance opens to a Tor relay or directory authority (the relay lists have no guard flag: any relay counts)",
	}, {
		Type: TypeTorRelay, Source: "vpcflow", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance",
		Trigger:     "a Tor relay that is not an exit opens an accepted connection to the instance, or the instance's own address is a listed relay",
	}, {
		Type: TypeCustomIPCallerEC2, Source: "vpcflow", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, remote address, role",
		Trigger:     "a connection with an address on a customer threat list: ACTOR when the instance opened it, TARGET when the remote host did",
	}}},
	{dns: (*Engine).dnsIntel, types: []TypeInfo{{
		Type: TypeCCActivityBDNS, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, domain",
		Trigger:     "a query for a domain on a C&C list (or under one); threatName `Log4j Related` for the Log4j list",
	}, {
		Type: TypeDriveByDNS, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, domain",
		Trigger:     "a query for a drive-by download source (exploit kits, traffic-distribution systems)",
	}, {
		Type: TypeDropPointDNS, Source: "dns", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, domain",
		Trigger:     "a query for a host known to collect stolen data",
	}, {
		Type: TypePhishingDNS, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, domain",
		Trigger:     "a query for a phishing domain",
	}, {
		Type: TypeDGADomainC, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, domain",
		Trigger:     "a query for a known DGA-generated domain (from feeds)",
	}, {
		Type: TypeBlackholeDNS, Source: "dns", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, domain",
		Trigger:     "a query answered with a black-hole address or a CNAME into a sink-hole domain, or for a listed sink-hole domain",
	}, {
		Type: TypeMetadataDNSRebind, Source: "dns", Severity: findings.SeverityHigh,
		Aggregation: "account, region, instance, domain",
		Trigger:     "a query answered with 169.254.169.254 or fd00:ec2::254 (DNS rebinding toward the metadata service), AWS's own `instance-data` and `.internal` names excepted",
	}, {
		Type: TypeMaliciousDomainCustom, Source: "dns", Severity: findings.SeverityMedium,
		Aggregation: "account, region, instance, domain",
		Trigger:     "a query for a domain on a customer threat list (customer IP lists do not apply to DNS)",
	}}},
	{correlate: (*Engine).attackSequence, types: []TypeInfo{{
		Type: TypeAttackSequence, Source: "cloudtrail", Severity: findings.SeverityCritical,
		Aggregation: "account, region, principal, credential",
		Trigger:     "one credential's findings and high-risk calls span 3 or more attack tactics (one a finding) within 24 hours",
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
