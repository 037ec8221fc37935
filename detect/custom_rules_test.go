package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
	"github.com/vigil-sec/vigil/rules"
)

// Finding types of the starter rules (rules/starter).
const (
	ctSecrets      = "CredentialAccess:SecretsManager/CredentialsFromPasswordStores"
	ctPasswordData = "CredentialAccess:EC2/UnsecuredCredentials"
	ctAccountManip = "Persistence:IAM/AccountManipulation"
	ctPublicSSH    = "Persistence:EC2/ExternalRemoteServices"
	ctEC2Share     = "Exfiltration:EC2/TransferDataToCloudAccount"
	ctRDSShare     = "Exfiltration:RDS/TransferDataToCloudAccount"
	ctS3Repl       = "Exfiltration:S3/TransferDataToCloudAccount"
	ctFlowLogs     = "DefenseImpairment:EC2/DisableOrModifyTools"
	ctDNSLogs      = "DefenseImpairment:Route53Resolver/DisableOrModifyTools"
	ctLeaveOrg     = "DefenseImpairment:Organizations/ModifyCloudResourceHierarchy"
	ctNoMFA        = "InitialAccess:IAM/ValidAccounts"
	ctSSHKey       = "LateralMovement:EC2/RemoteServices"
)

// customTypes returns the findings of custom-rule types (not in the
// built-in catalogue), merged by id.
func customFindings(occ []findings.Finding) []findings.Finding {
	builtin := map[string]bool{}
	for _, t := range Catalogue() {
		builtin[t.Type] = true
	}
	return aggregate(slices.DeleteFunc(slices.Clone(occ), func(f findings.Finding) bool { return builtin[f.Type] }))
}

// signals returns the rule ids of a finding's additionalInfo.customRules.
func signals(t *testing.T, f findings.Finding) []string {
	t.Helper()
	var ids []string
	list, ok := f.Service.AdditionalInfo["customRules"].([]map[string]any)
	if !ok || len(list) == 0 {
		t.Fatalf("%s: no customRules in additionalInfo: %#v", f.Type, f.Service.AdditionalInfo)
	}
	for _, s := range list {
		ids = append(ids, s["rule"].(string))
	}
	return ids
}

// Every Stratus Red Team detonation in testdata raises exactly the
// custom-rule findings listed (none for the others): real attacks the
// starter rules catch, and real attacks of other kinds they leave alone.
func TestStarterRulesStratus(t *testing.T) {
	type want struct {
		typ   string
		rules string // comma-separated rule ids of the finding
		count int    // occurrences counted
	}
	expect := map[string][]want{
		"credential-access.secretsmanager-retrieve-secrets": {{ctSecrets, "SecretsManagerSecretsBurst", 2}},
		"credential-access.ec2-get-password-data":           {{ctPasswordData, "EC2PasswordDataBurst", 2}},
		"persistence.iam-create-user-login-profile":         {{ctAccountManip, "IAMUserLoginProfileCreatedForOtherUser", 1}},
		"persistence.iam-backdoor-user":                     {{ctAccountManip, "IAMAccessKeyCreatedForOtherUser", 1}},
		"persistence.iam-create-admin-user": {{ctAccountManip, "IAMAccessKeyCreatedForOtherUser", 1},
			{"PrivilegeEscalation:IAM/AccountManipulation", "AdminPolicyAttachedToUser", 1}},
		"execution.ec2-user-data":                                 {{"Persistence:EC2/BootOrLogonInitializationScripts", "EC2UserDataModified", 1}},
		"persistence.lambda-backdoor-function":                    {{"Persistence:Lambda/AccountManipulation", "LambdaFunctionPublicAccess", 1}},
		"persistence.rolesanywhere-create-trust-anchor":           {{"Persistence:RolesAnywhere/AccountManipulation", "RolesAnywhereTrustAnchorCreated", 1}},
		"privilege-escalation.iam-update-user-login-profile":      {{ctAccountManip, "IAMUserLoginProfileUpdatedForOtherUser", 1}},
		"defense-evasion.organizations-leave":                     {{ctLeaveOrg, "OrganizationLeaveAttempt", 1}},
		"exfiltration.ec2-share-ebs-snapshot":                     {{ctEC2Share, "EBSSnapshotSharedWithOtherAccount", 1}},
		"exfiltration.ec2-share-ami":                              {{ctEC2Share, "AMISharedWithOtherAccount", 1}},
		"exfiltration.rds-share-snapshot":                         {{ctRDSShare, "RDSSnapshotSharedWithOtherAccount", 1}},
		"exfiltration.ec2-security-group-open-port-22-ingress":    {{ctPublicSSH, "EC2SecurityGroupPublicSSH", 1}},
		"lateral-movement.ec2-instance-connect":                   {{ctSSHKey, "EC2InstanceSSHKeyPushed", 3}},
		"lateral-movement.ec2-serial-console-send-ssh-public-key": {{ctSSHKey, "EC2InstanceSSHKeyPushed", 3}},
		"defense-evasion.vpc-remove-flow-logs":                    {{ctFlowLogs, "VPCFlowLogsDeleted", 1}},
		"defense-evasion.dns-delete-logs":                         {{ctDNSLogs, "DNSQueryLogsDeleted", 1}},
		"initial-access.console-login-without-mfa":                {{ctNoMFA, "ConsoleLoginWithoutMFA", 1}},
		// The backdoor's trust policy is pretty-printed: the foreign
		// account lies past byte 256, and the decoder keeps the document
		// whole.
		"persistence.iam-backdoor-role": {{ctAccountManip, "IAMRoleTrustPolicyExternalAccount", 1}},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "stratus.*.json"))
	if len(files) < len(expect) {
		t.Fatalf("%d Stratus files", len(files))
	}
	for _, path := range files {
		technique := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "stratus."), ".json")
		t.Run(technique, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := customFindings(w.applyAll(stratusEvents(t, filepath.Base(path))))
			wants := expect[technique]
			if len(got) != len(wants) {
				t.Fatalf("%d custom findings, want %d:%s", len(got), len(wants), summary(got))
			}
			for i, f := range got {
				checkFinding(t, f)
				wt := wants[i]
				if f.Type != wt.typ || strings.Join(signals(t, f), ",") != wt.rules || f.Service.Count != wt.count {
					t.Errorf("got %s %v count %d, want %s %s count %d", f.Type, signals(t, f), f.Service.Count, wt.typ, wt.rules, wt.count)
				}
				if f.Resource.ResourceType != findings.ResourceAccessKey || f.Service.Action.AwsAPICallAction == nil {
					t.Errorf("resource %s, action %+v", f.Resource.ResourceType, f.Service.Action)
				}
			}
		})
	}
}

// The Panther rule tests of the same behaviours, with what the starter
// rules raise for each (rule ids, "" for nothing). Where it differs from
// Panther's own label the comment says why.
func TestStarterRulesPanther(t *testing.T) {
	want := map[string]string{
		"AWS.CloudTrail.AttemptToLeaveOrg/Failed Attempt to Leave Org":        "OrganizationLeaveAttempt",
		"AWS.Console.LoginWithoutMFA/No MFA Login - IAM User":                 "ConsoleLoginWithoutMFA",
		"AWS.Console.LoginWithoutMFA/No MFA Login - IAM User Unknown Account": "ConsoleLoginWithoutMFA",
		"AWS.Console.LoginWithoutMFA/No MFA Login - Root User":                "ConsoleLoginWithoutMFA",
		// Panther looks the user up in its SAML and new-user tables; a
		// rule sees one event: an IAM user without MFA is one.
		"AWS.Console.LoginWithoutMFA/MFA Login - SAML":                             "ConsoleLoginWithoutMFA",
		"AWS.Console.LoginWithoutMFA/No MFA Login - New User":                      "ConsoleLoginWithoutMFA",
		"AWS.Console.LoginWithoutMFA/MFA Login":                                    "",
		"AWS.Console.LoginWithoutMFA/No MFA - Login Failed":                        "",
		"AWS.Console.LoginWithoutMFA/No MFA - authenticated from session with MFA": "",
		"AWS.Console.LoginWithoutMFA/AWS SSOv2 Login":                              "",
		"AWS.Console.LoginWithoutMFA/AssumeRole from MFA User Session":             "",
		"AWS.Console.LoginWithoutMFA/No MFA - IAM Role and External IDP":           "",
		// Port 443 to a /16, and SSH to one address: not SSH to the world.
		"AWS.EC2.ManualSecurityGroupChange/AWS Console - Ingress SG Authorization": "",
		"AWS.EC2.SecurityGroupModified/Security Group Modified":                    "",
		// SSH to 0.0.0.0/0 in the ipPermissions list form.
		"AWS.EC2.ManualSecurityGroupChange/Go Script Authorize Ingress":                                "EC2SecurityGroupPublicSSHRange",
		"AWS.EC2.ManualSecurityGroupChange/AWS Console - Ingress SG Authorization Error":               "",
		"AWS.EC2.SecurityGroupModified/Error Mofidying Security Group":                                 "",
		"AWS.EC2.MultiInstanceConnect/Public SSH Key Sent Successfully - Counts Toward Threshold":      "EC2InstanceSSHKeyPushed",
		"AWS.EC2.MultiInstanceConnect/Public SSH Key Sent Successfully to Same Instance - Also Counts": "EC2InstanceSSHKeyPushed",
		"AWS.EC2.MultiInstanceConnect/Public SSH Key Not Sent Successfully":                            "",
		"AWS.IAM.BackdoorRole/IAM Role Policy Updated to Allow Internet Access":                        "IAMRoleTrustPolicyPublic",
		"AWS.IAM.BackdoorRole/IAM Role Policy Updated Without Internet Access":                         "",
		"AWS.IAM.BackdoorRole/IAM Role Policy Updated With No Policy Document":                         "",
		// Panther's rule is of DeleteBucketReplication; a new replication
		// naming no destination account raises at Low severity.
		"AWS.S3.DeleteBucketReplication/Different S3 Event": "S3BucketReplicationConfigured",
		// One denied read is no burst.
		"AWS.SecretsManager.RetrieveSecrets/GetSecretValue Denied":            "",
		"AWS.CloudTrail.SnapshotMadePublic/Snapshot Made Publicly Accessible": "EBSSnapshotSharedPublicly",
		// Another account than the event's (111122223333 is not
		// 123456789012).
		"AWS.CloudTrail.SnapshotMadePublic/Snapshot Mader Available to Single Person": "EBSSnapshotSharedWithOtherAccount",
		// Group "none" names no one.
		"AWS.CloudTrail.SnapshotMadePublic/Snapshot Not Made Publicly Accessible":       "",
		"AWS.CloudTrail.AMIModifiedForPublicAccess/AMI Made Public":                     "AMISharedPublicly",
		"AWS.CloudTrail.AMIModifiedForPublicAccess/AMI Not Made Public":                 "",
		"AWS.CloudTrail.AMIModifiedForPublicAccess/AMI Launch Permissions Not Modified": "",
		// "bob" is no account id.
		"AWS.CloudTrail.AMIModifiedForPublicAccess/AMI Added to User":                    "",
		"AWS.CloudTrail.AMIModifiedForPublicAccess/Error Making AMI Public":              "",
		"AWS.CloudTrail.AMIModifiedForPublicAccess/Access Granted To Unknown User":       "AMISharedWithOtherAccount",
		"AWS.RDS.SnapshotShared/Snapshot shared with another account":                    "RDSSnapshotSharedWithOtherAccount",
		"AWS.RDS.SnapshotShared/Snapshot shared with no accounts":                        "",
		"AWS.CloudTrail.SnapshotMadePublic/Error Making Snapshot Publicly Accessible":    "",
		"AWS.User.Login.Profile.Modified/ChangeOwnPassword":                              "",
		"AWS.User.Login.Profile.Modified/User changed password for other":                "IAMUserLoginProfileUpdatedForOtherUser",
		"AWS.User.Login.Profile.Modified/User changed password for other reset required": "",
		"AWS.VPCFlow.LogsDeleted/Logs Deleted":                                           "VPCFlowLogsDeleted",
	}
	seen := 0
	for _, l := range readLines(t, "custom_rules_panther.jsonl") {
		var c pantherCase
		if err := json.Unmarshal(l, &c); err != nil {
			t.Fatal(err)
		}
		name := c.RuleID + "/" + c.TestName
		t.Run(name, func(t *testing.T) {
			rule, ok := want[name]
			if !ok {
				t.Fatal("case not listed")
			}
			seen++
			var got []findings.Finding
			if ev, err := decodeCloudTrail(c.Log); err == nil {
				got = customFindings(newWorld(DefaultConfig()).apply(ev))
			} else {
				t.Logf("dead-lettered: %v", err) // as ingest would: no finding
			}
			var ids []string
			for _, f := range got {
				checkFinding(t, f)
				ids = append(ids, signals(t, f)...)
			}
			if strings.Join(ids, ",") != rule {
				t.Errorf("raised %v, want %q (Panther expects an alert: %v)", ids, rule, c.ExpectedAlert)
			}
		})
	}
	if seen != len(want) {
		t.Errorf("%d cases run, %d listed", seen, len(want))
	}
}

// The Stratus backdoor role's trust policy, pretty-printed as the AWS
// CLI sends it from a file, names the foreign account past byte 256: the
// decoder keeps the document whole and the rule names that account. The
// account's own id is no external principal, and a "*" principal is seen
// however it is spelt.
func TestTrustPolicyExternalAccount(t *testing.T) {
	w := newWorld(DefaultConfig())
	got := customFindings(w.applyAll(stratusEvents(t, "stratus.persistence.iam-backdoor-role.json")))
	if len(got) != 1 || strings.Join(signals(t, got[0]), ",") != "IAMRoleTrustPolicyExternalAccount" || got[0].Severity != findings.SeverityHigh {
		t.Fatalf("got %s", summary(got))
	}
	b, _ := json.Marshal(got[0].Service.AdditionalInfo)
	if !bytes.Contains(b, []byte(`"foreignAccount":"193672423079"`)) {
		t.Errorf("evidence does not name the account: %s", b)
	}
	own := callJSON(t, "iam.amazonaws.com", "UpdateAssumeRolePolicy", map[string]any{
		"requestParameters": map[string]any{"roleName": "r", "policyDocument": `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`},
	})
	if got := raisedBy(t, own, ctAccountManip); len(got) != 0 {
		t.Errorf("own account: %s", summary(got))
	}
	public := callJSON(t, "iam.amazonaws.com", "UpdateAssumeRolePolicy", map[string]any{
		"requestParameters": map[string]any{"roleName": "r", "policyDocument": "{\n  \"Statement\": [{\"Effect\": \"Allow\",\n    \"Principal\" : {\"AWS\": [\"\\u002a\"]}, \"Action\": \"sts:AssumeRole\"}]\n}"},
	})
	if got := raisedBy(t, public, ctAccountManip); len(got) != 1 || strings.Join(signals(t, got[0]), ",") != "IAMRoleTrustPolicyPublic" {
		t.Errorf("public: %s", summary(got))
	}
}

// The sharing, replication and ingress rules read whom a permission
// names from the request's lists: additions only, each element on its
// own. An account of the same AWS Organization is another account (no
// organization is configured); the event's own account is not.
func TestStarterRulesListParameters(t *testing.T) {
	snapshot := func(perm map[string]any) []byte {
		return callJSON(t, "ec2.amazonaws.com", "ModifySnapshotAttribute", map[string]any{"requestParameters": map[string]any{
			"attributeType": "CREATE_VOLUME_PERMISSION", "snapshotId": "snap-041993b54a9b3af6f", "createVolumePermission": perm}})
	}
	items := func(kv ...string) map[string]any {
		var l []any
		for i := 0; i < len(kv); i += 2 {
			l = append(l, map[string]any{kv[i]: kv[i+1]})
		}
		return map[string]any{"items": l}
	}
	rds := func(params map[string]any) []byte {
		params["dBSnapshotIdentifier"], params["attributeName"] = "exfiltration", "restore"
		return callJSON(t, "rds.amazonaws.com", "ModifyDBSnapshotAttribute", map[string]any{"requestParameters": params})
	}
	replication := func(rule any) []byte {
		return callJSON(t, "s3.amazonaws.com", "PutBucketReplication", map[string]any{"requestParameters": map[string]any{
			"bucketName": "reports", "Host": "reports.s3.eu-west-1.amazonaws.com", "replication": "",
			"ReplicationConfiguration": map[string]any{"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "Role": "arn:aws:iam::111122223333:role/replication", "Rule": rule}}})
	}
	destination := func(account string) map[string]any {
		d := map[string]any{"Bucket": "arn:aws:s3:::exfil"}
		if account != "" {
			d["Account"], d["AccessControlTranslation"] = account, map[string]any{"Owner": "Destination"}
		}
		return map[string]any{"ID": "r", "Status": "Enabled", "Priority": 1, "Filter": map[string]any{"Prefix": ""}, "DeleteMarkerReplication": map[string]any{"Status": "Disabled"}, "Destination": d}
	}
	ingress := func(perms ...map[string]any) []byte {
		l := make([]any, len(perms))
		for i, p := range perms {
			l[i] = p
		}
		return callJSON(t, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", map[string]any{"requestParameters": map[string]any{
			"groupId": "sg-0d921df5d84f7270a", "ipPermissions": map[string]any{"items": l}}})
	}
	perm := func(proto string, from, to int, v4, v6 string) map[string]any {
		p := map[string]any{"ipProtocol": proto, "fromPort": from, "toPort": to, "groups": map[string]any{}, "prefixListIds": map[string]any{},
			"ipRanges": map[string]any{}, "ipv6Ranges": map[string]any{}}
		if v4 != "" {
			p["ipRanges"] = map[string]any{"items": []any{map[string]any{"cidrIp": "10.0.0.0/8"}, map[string]any{"cidrIp": v4}}}
		}
		if v6 != "" {
			p["ipv6Ranges"] = map[string]any{"items": []any{map[string]any{"cidrIpv6": v6}}}
		}
		return p
	}
	tests := []struct {
		name    string
		rec     []byte
		typ     string
		rules   string // "" for no finding
		foreign string // the account the evidence names
	}{
		{"snapshot public", snapshot(map[string]any{"add": items("group", "all")}), ctEC2Share, "EBSSnapshotSharedPublicly", ""},
		{"snapshot made private", snapshot(map[string]any{"remove": items("group", "all")}), ctEC2Share, "", ""},
		{"snapshot unshared", snapshot(map[string]any{"remove": items("userId", "444455556666")}), ctEC2Share, "", ""},
		{"snapshot shared with own account", snapshot(map[string]any{"add": items("userId", "111122223333")}), ctEC2Share, "", ""},
		{"snapshot shared with own and an organization account", snapshot(map[string]any{"add": items("userId", "111122223333", "userId", "444455556666")}),
			ctEC2Share, "EBSSnapshotSharedWithOtherAccount", "444455556666"},
		{"snapshot public and shared", snapshot(map[string]any{"add": items("userId", "444455556666", "group", "all"), "remove": items("userId", "555566667777")}),
			ctEC2Share, "EBSSnapshotSharedPublicly,EBSSnapshotSharedWithOtherAccount", "444455556666"},
		{"AMI public", callJSON(t, "ec2.amazonaws.com", "ModifyImageAttribute", map[string]any{"requestParameters": map[string]any{
			"attributeType": "launchPermission", "imageId": "ami-0123", "launchPermission": map[string]any{"add": items("group", "all")}}}), ctEC2Share, "AMISharedPublicly", ""},
		{"AMI made private", callJSON(t, "ec2.amazonaws.com", "ModifyImageAttribute", map[string]any{"requestParameters": map[string]any{
			"attributeType": "launchPermission", "imageId": "ami-0123", "launchPermission": map[string]any{"remove": items("group", "all")}}}), ctEC2Share, "", ""},
		{"RDS public", rds(map[string]any{"valuesToAdd": []any{"all"}}), ctRDSShare, "RDSSnapshotSharedPublicly", ""},
		{"RDS made private", rds(map[string]any{"valuesToRemove": []any{"all", "444455556666"}}), ctRDSShare, "", ""},
		{"RDS shared with own account", rds(map[string]any{"valuesToAdd": []any{"111122223333"}}), ctRDSShare, "", ""},
		{"replication to another account", replication(destination("444455556666")), ctS3Repl, "S3BucketReplicationConfigured,S3BucketReplicationToOtherAccount", "444455556666"},
		{"replication rules to another account", replication([]any{destination(""), destination("444455556666")}), ctS3Repl,
			"S3BucketReplicationConfigured,S3BucketReplicationRulesToOtherAccount", "444455556666"},
		{"replication to own account", replication(destination("111122223333")), ctS3Repl, "S3BucketReplicationConfigured", ""},
		{"SSH to the IPv4 internet", ingress(perm("tcp", 22, 22, "0.0.0.0/0", "")), ctPublicSSH, "EC2SecurityGroupPublicSSHRange", ""},
		{"SSH to the IPv6 internet", ingress(perm("tcp", 20, 23, "", "::/0")), ctPublicSSH, "EC2SecurityGroupPublicSSHRangeIPv6", ""},
		{"all traffic to the internet", ingress(perm("-1", -1, -1, "0.0.0.0/0", "")), ctPublicSSH, "EC2SecurityGroupPublicAllTrafficRange", ""},
		{"SSH to a network, HTTPS to the internet", ingress(perm("tcp", 22, 22, "", ""), perm("tcp", 443, 443, "0.0.0.0/0", "::/0")), ctPublicSSH, "", ""},
		{"SSH to a /1", ingress(perm("tcp", 22, 22, "128.0.0.0/1", "")), ctPublicSSH, "", ""},
		{"UDP 22 to the internet", ingress(perm("udp", 22, 22, "0.0.0.0/0", "")), ctPublicSSH, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := raisedBy(t, tt.rec, tt.typ)
			if tt.rules == "" {
				if len(got) != 0 {
					t.Fatalf("raised %s", summary(got))
				}
				return
			}
			if len(got) != 1 || strings.Join(signals(t, got[0]), ",") != tt.rules {
				t.Fatalf("got %s, want %s", summary(got), tt.rules)
			}
			b, _ := json.Marshal(got[0].Service.AdditionalInfo)
			if tt.foreign != "" && !bytes.Contains(b, []byte(`"foreignAccount":"`+tt.foreign+`"`)) {
				t.Errorf("evidence does not name %s: %s", tt.foreign, b)
			}
		})
	}
}

// A threshold rule's finding is the same whatever the order of its
// events, and a profile restarted from its encoding in the middle counts
// on: the Stratus burst of 20 secret reads, shuffled, split by a restart.
func TestThresholdRuleOrderAndRestart(t *testing.T) {
	evs := stratusEvents(t, "stratus.credential-access.secretsmanager-retrieve-secrets.json")
	var want []byte
	for seed := range 6 {
		order := slices.Clone(evs)
		rand.New(rand.NewPCG(uint64(seed), 7)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		w := newWorld(DefaultConfig())
		var occ []findings.Finding
		for i, ev := range order {
			if i == len(order)/2 { // restart: the profile from its bytes
				p := w.profile(ev).(*profiles.Principal)
				b, err := p.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				q := &profiles.Principal{}
				if err := q.UnmarshalBinary(b); err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(q.RuleCounts.Rules, p.RuleCounts.Rules, func(a, b profiles.RuleWindows) bool {
					return a.Rule == b.Rule && len(a.Windows.Panes) == len(b.Windows.Panes)
				}) {
					t.Fatalf("rule counts after decoding: %+v, want %+v", q.RuleCounts, p.RuleCounts)
				}
				w.profiles[ev.Key()] = q
			}
			occ = append(occ, w.apply(ev)...)
		}
		got := ofType(aggregate(occ), ctSecrets)
		if len(got) != 1 {
			t.Fatalf("seed %d: %d findings", seed, len(got))
		}
		b, err := json.Marshal(got[0])
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = b
			info := got[0].Service.AdditionalInfo["customRules"].([]map[string]any)[0]
			win := info["window"].(map[string]any)
			if win["events"] != 20 || info["threshold"].(map[string]any)["count"] != 10 {
				t.Errorf("evidence %v", info)
			}
			var first, last time.Time
			for _, ev := range evs {
				if ev.CloudTrail.EventName != "GetSecretValue" {
					continue
				}
				if first.IsZero() || ev.Time.Before(first) {
					first = ev.Time
				}
				if ev.Time.After(last) {
					last = ev.Time
				}
			}
			if got[0].Service.EventFirstSeen != findings.Stamp(first) || got[0].Service.EventLastSeen != findings.Stamp(last) {
				t.Errorf("seen %v to %v, want %v to %v", got[0].Service.EventFirstSeen, got[0].Service.EventLastSeen, first, last)
			}
			continue
		}
		if !bytes.Equal(b, want) {
			t.Errorf("seed %d: finding differs:\n%s\nwant\n%s", seed, b, want)
		}
	}
}

// loadRules parses one rule file for a test.
func loadRules(t *testing.T, src string) *rules.Set {
	t.Helper()
	f, err := rules.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s, err := rules.New(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A threshold grouped by a field counts each value apart; below the count
// nothing is raised; the window forgets.
func TestThresholdRuleGroupBy(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rules = loadRules(t, `
rules:
  - id: ManyKeysPushed
    type: LateralMovement:EC2/RemoteServices
    severity: 6
    description: SSH keys pushed to one instance again and again.
    match:
      eventName: SendSSHPublicKey
      errorCode: {absent: true}
    threshold: {count: 3, within: 10m, groupBy: requestParameters.instanceId}
`)
	push := func(at, instance string, n int) []byte {
		return callJSON(t, "ec2-instance-connect.amazonaws.com", "SendSSHPublicKey", map[string]any{
			"eventTime": at, "eventID": "00000000-0000-4000-8000-" + strings.Repeat("0", 10) + string(rune('a'+n/26)) + string(rune('a'+n%26)),
			"requestParameters": map[string]any{"instanceId": instance, "instanceOSUser": "ec2-user"},
		})
	}
	w := newWorld(cfg)
	var occ []findings.Finding
	n := 0
	apply := func(at, instance string) {
		occ = append(occ, w.apply(cloudTrailEvent(t, push(at, instance, n)))...)
		n++
	}
	apply("2026-03-08T10:00:00Z", "i-1")
	apply("2026-03-08T10:00:10Z", "i-2")
	apply("2026-03-08T10:00:20Z", "i-1")
	apply("2026-03-08T10:00:30Z", "i-3")
	if len(occ) != 0 {
		t.Fatalf("below the count: %s", summary(occ))
	}
	apply("2026-03-08T10:00:40Z", "i-1") // third push to i-1
	if raised(occ) != 2 {                // both windows holding the burst
		t.Fatalf("raised %d:%s", raised(occ), summary(occ))
	}
	f := aggregate(occ)[0]
	info := f.Service.AdditionalInfo["customRules"].([]map[string]any)[0]
	if th := info["threshold"].(map[string]any); th["group"] != "i-1" || th["groupBy"] != "requestParameters.instanceId" || f.Severity != 6 {
		t.Errorf("evidence %v severity %v", info, f.Severity)
	}
	// Far later, the count starts over.
	occ = nil
	apply("2026-03-08T14:00:00Z", "i-1")
	apply("2026-03-08T14:00:01Z", "i-1")
	if len(occ) != 0 {
		t.Errorf("window did not forget: %s", summary(occ))
	}
}

// TestThresholdRuleDistinct: the starter secrets-burst rule counts
// distinct secrets, so a service re-reading its one secret never fires and
// ten secrets read within minutes do.
func TestThresholdRuleDistinct(t *testing.T) {
	read := func(n int, secret string) []byte {
		return callJSON(t, "secretsmanager.amazonaws.com", "GetSecretValue", map[string]any{
			"eventTime":         fmt.Sprintf("2026-03-08T10:%02d:%02dZ", n/60, n%60),
			"eventID":           fmt.Sprintf("00000000-0000-4000-8000-%012d", n),
			"requestParameters": map[string]any{"secretId": secret},
		})
	}
	w := newWorld(DefaultConfig())
	var occ []findings.Finding
	for n := range 60 {
		occ = append(occ, ofType(w.apply(cloudTrailEvent(t, read(n, "prod/db"))), "CredentialAccess:SecretsManager/CredentialsFromPasswordStores")...)
	}
	if len(occ) != 0 {
		t.Fatalf("60 reads of one secret raised:%s", summary(occ))
	}
	for n := range 10 {
		occ = append(occ, ofType(w.apply(cloudTrailEvent(t, read(100+n, fmt.Sprintf("prod/app-%d", n)))), "CredentialAccess:SecretsManager/CredentialsFromPasswordStores")...)
	}
	if raised(occ) == 0 {
		t.Fatal("ten distinct secrets raised nothing")
	}
	info := aggregate(occ)[0].Service.AdditionalInfo["customRules"].([]map[string]any)[0]
	if th := info["threshold"].(map[string]any); th["distinct"] != "requestParameters.secretId" {
		t.Errorf("evidence %v", info)
	}
}

// Two rules of one type matching one event make one occurrence naming
// both, with the greater severity.
func TestRulesOfOneTypeShareAFinding(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rules = loadRules(t, `
rules:
  - {id: A, type: "Impact:S3/DataDestruction", severity: 4, description: First., match: {eventName: DeleteBucket}}
  - {id: B, type: "Impact:S3/DataDestruction", severity: Critical, description: Second., match: {eventSource: s3.amazonaws.com, sourceIPAddress: {cidr: 203.0.113.0/24}}}
`)
	w := newWorld(cfg)
	got := w.apply(cloudTrailEvent(t, callJSON(t, "s3.amazonaws.com", "DeleteBucket", map[string]any{"requestParameters": map[string]any{"bucketName": "b"}})))
	got = ofType(got, "Impact:S3/DataDestruction")
	if len(got) != 1 || got[0].Service.Count != 1 || got[0].Severity != findings.SeverityCritical || strings.Join(signals(t, got[0]), ",") != "A,B" {
		t.Fatalf("got %s", summary(got))
	}
	checkFinding(t, got[0])
	b, _ := json.Marshal(got[0].Service.AdditionalInfo)
	for _, s := range []string{`"condition":"sourceIPAddress cidr [203.0.113.0/24]"`, `"observed":"203.0.113.7"`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("evidence lacks %s: %s", s, b)
		}
	}
}

func TestEngineCatalogueAndCheckRules(t *testing.T) {
	e := New(DefaultConfig())
	cat := e.Catalogue()
	if len(cat) <= len(Catalogue()) {
		t.Fatal("no custom types in the engine's catalogue")
	}
	var manip *TypeInfo
	for i := range cat[len(Catalogue()):] {
		ti := &cat[len(Catalogue())+i]
		if !ti.Custom || ti.Source != "cloudtrail" || ti.Trigger == "" || len(ti.Rules) == 0 || ti.SeverityLabel == "" {
			t.Errorf("incomplete custom entry %+v", ti)
		}
		if ti.Type == ctAccountManip {
			manip = ti
		}
	}
	if manip == nil || !manip.Variable || manip.Severity != findings.SeverityHigh || len(manip.Rules) != 5 {
		t.Errorf("Persistence:IAM/AccountManipulation entry %+v", manip)
	}
	if len(New(Config{}).Catalogue()) != len(Catalogue()) {
		t.Error("no rules, yet custom types")
	}
	bad := loadRules(t, `rules: [{id: X, type: "Stealth:IAMUser/CloudTrailLoggingDisabled", severity: 2, description: d, match: {eventName: StopLogging}}]`)
	if err := CheckRules(bad); err == nil || !strings.Contains(err.Error(), "built-in finding type") {
		t.Errorf("built-in type: %v", err)
	}
	if s, err := LoadRules("", false); s != nil || err != nil {
		t.Errorf("no rules: %v %v", s, err)
	}
	if s, err := LoadRules("", true); err != nil || s.Len() == 0 {
		t.Errorf("starter: %v", err)
	}
	if _, err := LoadRules(t.TempDir()+"/missing", true); err == nil {
		t.Error("missing directory loaded")
	}
}

// The rules see the decoded event as ingest hands it over, after the
// event codec.
func TestCustomRulesAfterCodec(t *testing.T) {
	ev := stratusEvents(t, "stratus.defense-evasion.vpc-remove-flow-logs.json")[0]
	b, err := ev.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back event.Event
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got := customFindings(newWorld(DefaultConfig()).apply(&back)); len(got) != 1 || got[0].Type != ctFlowLogs {
		t.Fatalf("got %s", summary(got))
	}
}
