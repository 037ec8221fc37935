package detect

import (
	"strings"

	"github.com/vigil-sec/vigil/findings"
)

// The API-to-tactic categories of the AnomalousBehavior finding types
// (spec §1.2): an anomalous call is reported under the tactic of its API,
// and a window's calls under the tactic of each. Tactics are numbered by
// risk, the riskiest first, as spec §2.8 suggests picking a finding's
// primary API: Impact, Exfiltration, CredentialAccess,
// PrivilegeEscalation, Persistence, DefenseEvasion, InitialAccess,
// Discovery. The anomaly panes keep their riskiest calls by that number.
type tactic uint8

const (
	tacticImpact tactic = iota
	tacticExfiltration
	tacticCredentialAccess
	tacticPrivilegeEscalation
	tacticPersistence
	tacticDefenseEvasion
	tacticInitialAccess
	tacticDiscovery
	numTactics
)

// tacticInfo is a tactic's finding type, default severity and name as
// titles write it.
var tacticInfo = [numTactics]struct {
	typ      string
	severity float64
	name     string
}{
	tacticImpact:              {TypeAnomalousImpact, findings.SeverityHigh, "Impact"},
	tacticExfiltration:        {TypeAnomalousExfiltration, findings.SeverityHigh, "Exfiltration"},
	tacticCredentialAccess:    {TypeAnomalousCredentialAccess, findings.SeverityMedium, "CredentialAccess"},
	tacticPrivilegeEscalation: {TypeAnomalousPrivilegeEscalation, findings.SeverityMedium, "PrivilegeEscalation"},
	tacticPersistence:         {TypeAnomalousPersistence, findings.SeverityMedium, "Persistence"},
	tacticDefenseEvasion:      {TypeAnomalousDefenseEvasion, findings.SeverityMedium, "DefenseEvasion"},
	tacticInitialAccess:       {TypeAnomalousInitialAccess, findings.SeverityMedium, "InitialAccess"},
	tacticDiscovery:           {TypeAnomalousDiscovery, findings.SeverityLow, "Discovery"},
}

// apiTactics names the tactic of the APIs GuardDuty gives as examples of
// each category (spec §1.2) and of those the Stratus Red Team techniques
// of the same tactics call; an API is named without its service unless
// the name alone is ambiguous ("<service>:<name>" entries win). The rest
// fall to apiTacticByVerb.
var apiTactics = map[string]tactic{
	// Credential access: exactly GuardDuty's list.
	"GetPasswordData": tacticCredentialAccess, "GetSecretValue": tacticCredentialAccess,
	"BatchGetSecretValue": tacticCredentialAccess, "GenerateDbAuthToken": tacticCredentialAccess,

	// Defence evasion: logging, monitoring and guard rails turned off, and
	// firewalls opened (MITRE T1562.007).
	"StopLogging": tacticDefenseEvasion, "DeleteTrail": tacticDefenseEvasion, "UpdateTrail": tacticDefenseEvasion,
	"PutEventSelectors": tacticDefenseEvasion, "DeleteFlowLogs": tacticDefenseEvasion,
	"DeleteLogGroup": tacticDefenseEvasion, "DeleteLogStream": tacticDefenseEvasion,
	"DisableAlarmActions": tacticDefenseEvasion, "DeleteAlarms": tacticDefenseEvasion,
	"DeleteDetector": tacticDefenseEvasion, "UpdateDetector": tacticDefenseEvasion,
	"DisassociateFromMasterAccount": tacticDefenseEvasion, "DisassociateFromAdministratorAccount": tacticDefenseEvasion,
	"DeleteMembers": tacticDefenseEvasion, "StopMonitoringMembers": tacticDefenseEvasion,
	"CreateFilter": tacticDefenseEvasion, "UpdateFilter": tacticDefenseEvasion,
	"DeleteIPSet": tacticDefenseEvasion, "UpdateIPSet": tacticDefenseEvasion, "CreateIPSet": tacticDefenseEvasion,
	"DeleteResolverQueryLogConfig": tacticDefenseEvasion, "DisassociateResolverQueryLogConfig": tacticDefenseEvasion,
	"StopConfigurationRecorder": tacticDefenseEvasion, "DeleteConfigurationRecorder": tacticDefenseEvasion,
	"DeleteDeliveryChannel": tacticDefenseEvasion, "DeleteConfigRule": tacticDefenseEvasion,
	"DisableSecurityHub": tacticDefenseEvasion, "DisableEbsEncryptionByDefault": tacticDefenseEvasion,
	"DeleteModelInvocationLoggingConfiguration": tacticDefenseEvasion, "PutBucketLogging": tacticDefenseEvasion,
	"LeaveOrganization": tacticDefenseEvasion, "DeleteWebACL": tacticDefenseEvasion,
	"AuthorizeSecurityGroupIngress": tacticDefenseEvasion, "AuthorizeSecurityGroupEgress": tacticDefenseEvasion,
	"ModifySecurityGroupRules": tacticDefenseEvasion, "DeleteAccountPasswordPolicy": tacticDefenseEvasion,
	"UpdateAccountPasswordPolicy": tacticDefenseEvasion, "DeletePublicAccessBlock": tacticDefenseEvasion,
	"PutPublicAccessBlock": tacticDefenseEvasion, "PutAccountPublicAccessBlock": tacticDefenseEvasion,

	// Discovery: reads, and the reconnaissance favourite that needs no
	// permission.
	"GetCallerIdentity": tacticDiscovery, "GetAccountAuthorizationDetails": tacticDiscovery,

	// Exfiltration: control-plane collection on S3, snapshots, images and
	// databases.
	"PutBucketReplication": tacticExfiltration, "CreateSnapshot": tacticExfiltration, "CreateSnapshots": tacticExfiltration,
	"CopySnapshot": tacticExfiltration, "ModifySnapshotAttribute": tacticExfiltration,
	"CreateDBSnapshot": tacticExfiltration, "CopyDBSnapshot": tacticExfiltration, "ModifyDBSnapshotAttribute": tacticExfiltration,
	"CreateDBClusterSnapshot": tacticExfiltration, "CopyDBClusterSnapshot": tacticExfiltration,
	"ModifyDBClusterSnapshotAttribute": tacticExfiltration, "RestoreDBInstanceFromDBSnapshot": tacticExfiltration,
	"RestoreDBClusterFromSnapshot": tacticExfiltration, "StartExportTask": tacticExfiltration,
	"ModifyImageAttribute": tacticExfiltration, "CopyImage": tacticExfiltration, "CreateImage": tacticExfiltration,
	"CreateInstanceExportTask": tacticExfiltration, "CreateStoreImageTask": tacticExfiltration,
	"CreateExportTask": tacticExfiltration, "SharedSnapshotCopyInitiated": tacticExfiltration,

	// Impact: destruction, policy rewrites and resource hijacking
	// (instances and models run on the victim's bill).
	"DeleteSecurityGroup": tacticImpact, "UpdateUser": tacticImpact, "PutBucketPolicy": tacticImpact,
	"DeleteBucketPolicy": tacticImpact, "PutBucketAcl": tacticImpact, "DeleteBucket": tacticImpact,
	"TerminateInstances": tacticImpact, "DeleteDBInstance": tacticImpact, "DeleteDBCluster": tacticImpact,
	"DeleteVolume": tacticImpact, "DeleteDBSnapshot": tacticImpact, "DeleteSnapshot": tacticImpact,
	"ScheduleKeyDeletion": tacticImpact, "DisableKey": tacticImpact, "DeleteBackupVault": tacticImpact,
	"DeleteRecoveryPoint": tacticImpact, "PutBucketVersioning": tacticImpact, "PutBucketLifecycle": tacticImpact,
	"PutBucketLifecycleConfiguration": tacticImpact, "PutBucketEncryption": tacticImpact,
	"RunInstances": tacticImpact, "InvokeModel": tacticImpact, "InvokeModelWithResponseStream": tacticImpact,
	"Converse": tacticImpact, "ConverseStream": tacticImpact, "PutFoundationModelEntitlement": tacticImpact,
	"PutUseCaseForModelAccess": tacticImpact, "CreateFoundationModelAgreement": tacticImpact,

	// Initial access: tokens and sessions.
	"StartSession": tacticInitialAccess, "ResumeSession": tacticInitialAccess, "TerminateSession": tacticInitialAccess,
	"GetAuthorizationToken": tacticInitialAccess, "GetFederationToken": tacticInitialAccess,
	"GetSessionToken": tacticInitialAccess, "GetSigninToken": tacticInitialAccess, "ConsoleLogin": tacticInitialAccess,
	"AssumeRole": tacticInitialAccess, "AssumeRoleWithSAML": tacticInitialAccess,
	"AssumeRoleWithWebIdentity": tacticInitialAccess, "GetRoleCredentials": tacticInitialAccess,
	"SendSSHPublicKey": tacticInitialAccess, "SendSerialConsoleSSHPublicKey": tacticInitialAccess,
	"SendCommand": tacticInitialAccess,

	// Persistence: new credentials, identities, code and trust.
	"CreateAccessKey": tacticPersistence, "ImportKeyPair": tacticPersistence, "CreateKeyPair": tacticPersistence,
	"ModifyInstanceAttribute": tacticPersistence, "CreateUser": tacticPersistence, "CreateLoginProfile": tacticPersistence,
	"CreateRole": tacticPersistence, "UpdateAssumeRolePolicy": tacticPersistence,
	"CreateFunction": tacticPersistence, "UpdateFunctionCode": tacticPersistence,
	"UpdateFunctionConfiguration": tacticPersistence, "AddPermission": tacticPersistence,
	"PublishLayerVersion": tacticPersistence, "AddLayerVersionPermission": tacticPersistence,
	"CreateTrustAnchor": tacticPersistence, "rolesanywhere:CreateProfile": tacticPersistence,
	"CreateOpenIDConnectProvider": tacticPersistence, "CreateSAMLProvider": tacticPersistence,
	"CreateServiceSpecificCredential": tacticPersistence, "UploadSSHPublicKey": tacticPersistence,
	"EnableSerialConsoleAccess": tacticPersistence,

	// Privilege escalation: changes to IAM policies, roles and users.
	"AssociateIamInstanceProfile": tacticPrivilegeEscalation, "ReplaceIamInstanceProfileAssociation": tacticPrivilegeEscalation,
	"AddUserToGroup": tacticPrivilegeEscalation, "PutUserPolicy": tacticPrivilegeEscalation,
	"PutRolePolicy": tacticPrivilegeEscalation, "PutGroupPolicy": tacticPrivilegeEscalation,
	"AttachUserPolicy": tacticPrivilegeEscalation, "AttachRolePolicy": tacticPrivilegeEscalation,
	"AttachGroupPolicy": tacticPrivilegeEscalation, "CreatePolicyVersion": tacticPrivilegeEscalation,
	"SetDefaultPolicyVersion": tacticPrivilegeEscalation, "UpdateLoginProfile": tacticPrivilegeEscalation,
	"DeleteUserPermissionsBoundary": tacticPrivilegeEscalation, "DeleteRolePermissionsBoundary": tacticPrivilegeEscalation,
	"PutUserPermissionsBoundary": tacticPrivilegeEscalation, "PutRolePermissionsBoundary": tacticPrivilegeEscalation,
	"AddRoleToInstanceProfile": tacticPrivilegeEscalation, "CreateInstanceProfile": tacticPrivilegeEscalation,
}

// verbTactics classes the APIs apiTactics does not name by their verb, the
// way GuardDuty describes its categories (spec §1.2): reads are Discovery;
// deletes, updates and puts Impact; creates, imports and modifications
// Persistence; disabling DefenseEvasion. Other verbs (Tag, Encrypt,
// Decrypt, Invoke, ...) belong to no category: such calls are learned but
// never anomalous.
var verbTactics = []struct {
	verb   string
	tactic tactic
}{
	{"List", tacticDiscovery}, {"Describe", tacticDiscovery}, {"Get", tacticDiscovery},
	{"BatchGet", tacticDiscovery}, {"Search", tacticDiscovery}, {"Lookup", tacticDiscovery},
	{"Delete", tacticImpact}, {"Terminate", tacticImpact}, {"Update", tacticImpact}, {"Put", tacticImpact},
	{"Remove", tacticImpact}, {"Revoke", tacticImpact}, {"Stop", tacticImpact}, {"Reset", tacticImpact},
	{"Create", tacticPersistence}, {"Import", tacticPersistence}, {"Register", tacticPersistence},
	{"Add", tacticPersistence}, {"Attach", tacticPersistence}, {"Associate", tacticPersistence},
	{"Modify", tacticPersistence}, {"Enable", tacticPersistence}, {"Upload", tacticPersistence},
	{"Disable", tacticDefenseEvasion}, {"Deactivate", tacticDefenseEvasion},
}

// apiTactic returns the tactic of API name of service (an eventSource
// such as "iam.amazonaws.com"), or false when it has none. Lambda's
// versioned names ("UpdateFunctionCode20150331v2") are read without their
// version.
func apiTactic(service, name string) (tactic, bool) {
	name = unversioned(name)
	svc := strings.TrimSuffix(service, ".amazonaws.com")
	if t, ok := apiTactics[svc+":"+name]; ok {
		return t, true
	}
	if t, ok := apiTactics[name]; ok {
		return t, true
	}
	for _, v := range verbTactics {
		if len(name) > len(v.verb) && strings.HasPrefix(name, v.verb) && isUpper(name[len(v.verb)]) {
			return v.tactic, true
		}
	}
	return 0, false
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// unversioned drops an API version suffix of eight digits and an optional
// "v<n>" ("AddPermission20150331v2" is AddPermission).
func unversioned(name string) string {
	s := name
	if i := strings.LastIndexByte(s, 'v'); i > 0 && i < len(s)-1 && allDigits(s[i+1:]) {
		s = s[:i]
	}
	if len(s) > 8 && allDigits(s[len(s)-8:]) {
		return s[:len(s)-8]
	}
	return name
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
