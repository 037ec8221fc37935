// Package eval measures vigil's detection on labelled public data: it
// turns the data sets (Stratus Red Team detonations, panther-analysis rule
// tests, flow and DNS captures, benign lists) into units of records with
// the finding types each must and must not raise, and scores the findings
// a node raised for them. `vigil eval` replays the units through a node in
// the process and prints the report.
package eval

import "fmt"

// Finding types the labels name. They are GuardDuty's names: a type the
// catalogue does not raise yet is still expected where GuardDuty would
// raise it, and shows as missed.
const (
	typeCloudTrailLoggingDisabled = "Stealth:IAMUser/CloudTrailLoggingDisabled"
	typeRootCredentialUsage       = "Policy:IAMUser/RootCredentialUsage"
	typeBedrockLoggingDisabled    = "DefenseEvasion:IAMUser/BedrockLoggingDisabled"
	typeBucketBPADisabled         = "Policy:S3/BucketBlockPublicAccessDisabled"
	typeS3AccessLoggingDisabled   = "Stealth:S3/ServerAccessLoggingDisabled"
	typeInstanceCredentialOutside = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
	typePortscan                  = "Recon:EC2/Portscan"
	typeSSHBruteForce             = "UnauthorizedAccess:EC2/SSHBruteForce"
	typeDNSDataExfiltration       = "Trojan:EC2/DNSDataExfiltration"
	typeBitcoinToolDNS            = "CryptoCurrency:EC2/BitcoinTool.B!DNS"
	typeAttackSequence            = "AttackSequence:IAM/CompromisedCredentials"
)

// label is what a technique or rule is expected to raise, and why.
type label struct {
	Types  []string
	Reason string
}

// anomalyOnly is the reason of the techniques GuardDuty would flag only
// with its anomaly model, which needs a learned baseline of the principal
// that one detonation in a fresh account does not give.
const anomalyOnly = "GuardDuty flags it only as %s:IAMUser/AnomalousBehavior (a learned baseline); no rule type matches the calls"

// StratusLabels maps a Stratus Red Team AWS technique (the detonation
// log's name, "aws.<tactic>.<name>") to the finding types a detonation
// must raise: GuardDuty's rule types, and the types of its custom
// detection rules (spec §1.7). Techniques no rule catches expect none;
// any finding they raise is listed as "other", not false: they are
// attacks.
var StratusLabels = map[string]label{
	"credential-access.ec2-get-password-data":                 {[]string{"CredentialAccess:EC2/UnsecuredCredentials"}, rule("EC2PasswordDataRetrieved", "GetPasswordData")},
	"credential-access.ec2-steal-instance-credentials":        {[]string{typeInstanceCredentialOutside}, "the instance role's session credentials are used from the detonating machine, outside AWS"},
	"credential-access.secretsmanager-batch-retrieve-secrets": {nil, fmt.Sprintf(anomalyOnly, "CredentialAccess")},
	"credential-access.secretsmanager-retrieve-secrets":       {nil, fmt.Sprintf(anomalyOnly, "CredentialAccess")},
	"credential-access.ssm-retrieve-securestring-parameters":  {nil, fmt.Sprintf(anomalyOnly, "CredentialAccess")},
	"defense-evasion.cloudtrail-delete":                       {[]string{typeCloudTrailLoggingDisabled}, "a successful DeleteTrail"},
	"defense-evasion.cloudtrail-event-selectors":              {nil, "PutEventSelectors that drop management events: " + fmt.Sprintf(anomalyOnly, "DefenseEvasion")},
	"defense-evasion.cloudtrail-stop":                         {[]string{typeCloudTrailLoggingDisabled}, "a successful StopLogging"},
	"defense-evasion.dns-delete-logs":                         {[]string{"DefenseImpairment:Route53Resolver/DisableOrModifyTools"}, rule("DNSQueryLogsDeleted", "DeleteResolverQueryLogConfig")},
	"defense-evasion.organizations-leave":                     {[]string{"DefenseImpairment:Organizations/ModifyCloudResourceHierarchy"}, rule("OrganizationLeaveAttempt", "LeaveOrganization")},
	"defense-evasion.vpc-remove-flow-logs":                    {[]string{"DefenseImpairment:EC2/DisableOrModifyTools"}, rule("VPCFlowLogsDeleted", "DeleteFlowLogs")},
	"discovery.ec2-download-user-data":                        {nil, fmt.Sprintf(anomalyOnly, "Discovery")},
	"execution.ec2-launch-unusual-instances":                  {nil, "RunInstances of unusual types: no CloudTrail type (runtime and malware plans only)"},
	"execution.ec2-user-data":                                 {[]string{"Persistence:EC2/BootOrLogonInitializationScripts"}, rule("EC2UserDataModified", "ModifyInstanceAttribute of userData")},
	"execution.ssm-send-command":                              {nil, "SSM commands: no CloudTrail type (runtime monitoring sees the commands)"},
	"execution.ssm-start-session":                             {nil, fmt.Sprintf(anomalyOnly, "InitialAccess")},
	"exfiltration.ec2-security-group-open-port-22-ingress":    {[]string{"Persistence:EC2/ExternalRemoteServices"}, rule("EC2SecurityGroupPublicSSH", "AuthorizeSecurityGroupIngress of port 22 from 0.0.0.0/0")},
	"exfiltration.ec2-share-ami":                              {[]string{"Exfiltration:EC2/TransferDataToCloudAccount"}, rule("AMIExternalAccess", "ModifyImageAttribute adding an external account")},
	"exfiltration.ec2-share-ebs-snapshot":                     {[]string{"Exfiltration:EC2/TransferDataToCloudAccount"}, rule("EBSSnapshotExternalAccess", "ModifySnapshotAttribute adding an external account")},
	"exfiltration.rds-share-snapshot":                         {[]string{"Exfiltration:RDS/TransferDataToCloudAccount"}, rule("RDSSnapshotPubliclyShared", "ModifyDBSnapshotAttribute")},
	"impact.bedrock-invoke-model":                             {nil, "model invocations: no CloudTrail type"},
	"initial-access.console-login-without-mfa":                {[]string{"InitialAccess:IAM/ValidAccounts"}, rule("ConsoleLoginWithoutMFA", "ConsoleLogin without MFA")},
	"lateral-movement.ec2-instance-connect":                   {[]string{"LateralMovement:EC2/RemoteServices"}, rule("EC2InstanceSSHKeyPushed", "SendSSHPublicKey")},
	"lateral-movement.ec2-serial-console-send-ssh-public-key": {[]string{"LateralMovement:EC2/RemoteServices"}, rule("EC2InstanceSSHKeyPushed", "SendSerialConsoleSSHPublicKey")},
	"persistence.iam-backdoor-role":                           {[]string{"Persistence:IAM/AccountManipulation"}, rule("IAMRoleTrustPolicyModified", "UpdateAssumeRolePolicy")},
	"persistence.iam-backdoor-user":                           {[]string{"Persistence:IAM/AccountManipulation"}, rule("IAMAccessKeyCreated", "CreateAccessKey")},
	"persistence.iam-create-admin-user": {[]string{"Persistence:IAM/AccountManipulation", "PrivilegeEscalation:IAM/AccountManipulation"},
		rule("IAMAccessKeyCreated and AdminPolicyAttachedToUser", "CreateAccessKey, AttachUserPolicy of AdministratorAccess")},
	"persistence.iam-create-backdoor-role":               {[]string{"PrivilegeEscalation:IAM/AccountManipulation"}, rule("AdminPolicyAttachedToRole", "AttachRolePolicy of AdministratorAccess")},
	"persistence.iam-create-user-login-profile":          {[]string{"Persistence:IAM/AccountManipulation"}, rule("IAMUserLoginProfileCreated", "CreateLoginProfile")},
	"persistence.lambda-backdoor-function":               {[]string{"Persistence:Lambda/AccountManipulation"}, rule("LambdaFunctionPublicAccess", "AddPermission to principal *")},
	"persistence.lambda-layer-extension":                 {nil, fmt.Sprintf(anomalyOnly, "Persistence")},
	"persistence.lambda-overwrite-code":                  {nil, fmt.Sprintf(anomalyOnly, "Persistence")},
	"persistence.rolesanywhere-create-trust-anchor":      {[]string{"Persistence:RolesAnywhere/AccountManipulation"}, rule("RolesAnywhereTrustAnchorCreated", "CreateTrustAnchor")},
	"persistence.sts-federation-token":                   {nil, fmt.Sprintf(anomalyOnly, "InitialAccess")},
	"privilege-escalation.iam-update-user-login-profile": {[]string{"Persistence:IAM/AccountManipulation"}, rule("IAMUserLoginProfileUpdated", "UpdateLoginProfile")},
}

// rule is the reason of a type raised by one of GuardDuty's custom
// detection rules (opt-in there; vigil's starter rules run by default).
func rule(signal, call string) string {
	return "custom detection rule " + signal + ": " + call
}

// PantherRules maps the panther-analysis rules that correspond to a
// finding type: a test case expected to alert must raise the type, one
// expected not to must not raise it (a false finding). The cases of other
// rules are replayed too; what they raise is listed as "other".
var PantherRules = map[string]label{
	"AWS.CloudTrail.Stopped":                                {[]string{typeCloudTrailLoggingDisabled}, "StopLogging or DeleteTrail that succeeded"},
	"AWS.Root.Activity":                                     {[]string{typeRootCredentialUsage}, "calls made with the root user's credentials"},
	"AWS.Console.RootLogin":                                 {[]string{typeRootCredentialUsage}, "a successful root console sign-in is a call with root credentials"},
	"AWS.CloudTrail.RootAccessKeyCreated":                   {[]string{typeRootCredentialUsage}, "the root user made an access key"},
	"AWS.CloudTrail.RootPasswordChanged":                    {[]string{typeRootCredentialUsage}, "the root user changed its password"},
	"AWS.Bedrock.DeleteModelInvocationLoggingConfiguration": {[]string{typeBedrockLoggingDisabled}, "the same call"},
	"AWS.S3.DeletePublicAccessBlock":                        {[]string{typeBucketBPADisabled}, "a bucket's Block Public Access deleted"},
	"AWS.S3.DisableBucketLogging":                           {[]string{typeS3AccessLoggingDisabled}, "PutBucketLogging without LoggingEnabled"},
	"AWS.DNS.Crypto.Domain":                                 {[]string{typeBitcoinToolDNS}, "a query for a crypto-mining domain"},
}

// PantherCases overrides the rule's label for single test cases where
// GuardDuty's finding differs from the Panther rule's alert.
var PantherCases = map[string]label{
	"AWS.Root.Activity/Root Activity - CreateServiceLinkedRole": {[]string{typeRootCredentialUsage},
		"Panther suppresses service-linked role creation; GuardDuty counts any request made with root credentials"},
	"AWS.Root.Activity/Root Read-Only Enumeration": {[]string{typeRootCredentialUsage},
		"reads made with root credentials are root usage to GuardDuty"},
	"AWS.CloudTrail.RootAccessKeyCreated/Root Created Access Key For User": {[]string{typeRootCredentialUsage},
		"the root user made the call, whoever's key it made"},
	"AWS.CloudTrail.RootPasswordChanged/Root Password Change Failed": {[]string{typeRootCredentialUsage},
		"the root session made the request, which failed"},
}

// PantherScenario labels panther-analysis's compromised root credentials
// scenario (test_scenarios/compromised-root-creds), victim and attacker
// together: one root principal, no access key.
var PantherScenario = label{
	Types: []string{typeRootCredentialUsage, "InitialAccess:IAM/ValidAccounts", "Persistence:IAM/AccountManipulation", typeAttackSequence},
	Reason: "root calls (RootCredentialUsage); a root console sign-in without MFA (custom rule ConsoleLoginWithoutMFA); access keys made " +
		"(custom rule IAMAccessKeyCreated); and within 10 hours one credential signs in, creates a user and its key and attaches " +
		"IAMFullAccess: initial access, persistence and privilege escalation, an attack sequence",
}
