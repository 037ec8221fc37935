package detect

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
)

// callJSON is a CloudTrail management event of an IAM user, as CloudTrail
// writes it, with fields replaced or added by patch (nil deletes).
func callJSON(t *testing.T, source, name string, patch map[string]any) []byte {
	t.Helper()
	rec := map[string]any{
		"eventVersion": "1.10", "eventTime": "2026-03-08T21:44:02Z", "eventSource": source, "eventName": name,
		"awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.7", "eventType": "AwsApiCall",
		"userAgent":          "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.1.0-18-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off md/command#" + strings.ToLower(name),
		"recipientAccountId": "111122223333", "eventID": "5d8b1c3e-0000-4000-8000-" + strings.Repeat("0", 12),
		"managementEvent": true, "eventCategory": "Management", "readOnly": false,
		"userIdentity": map[string]any{"type": "IAMUser", "principalId": "AIDA3XFRBF23EXAMPLE1", "arn": "arn:aws:iam::111122223333:user/alice",
			"accountId": "111122223333", "accessKeyId": "AKIA3XFRBF23EXAMPLE1", "userName": "alice"},
	}
	for k, v := range patch {
		if v == nil {
			delete(rec, k)
		} else {
			rec[k] = v
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// raisedBy applies one event in a fresh world and returns its findings of
// type typ, each checked for GuardDuty's shape.
func raisedBy(t *testing.T, raw []byte, typ string) []findings.Finding {
	t.Helper()
	w := newWorld(DefaultConfig())
	got := ofType(w.apply(cloudTrailEvent(t, raw)), typ)
	for _, f := range got {
		checkFinding(t, f)
		if f.Resource.ResourceType != findings.ResourceAccessKey || f.Service.Action.AwsAPICallAction == nil {
			t.Errorf("%s: resource %s, action %+v", typ, f.Resource.ResourceType, f.Service.Action)
		}
	}
	return got
}

func TestPenTest(t *testing.T) {
	tests := []struct {
		name, ua, want string
	}{
		// The GuardDuty tester's forged agent on iam:GetUser (spec §1.2).
		{"tester kali", "aws-cli/2.23.6 md/awscrt#0.23.4 ua/2.1 os/linux#6.12.13-cloud-amd64 md/arch#x86_64 lang/python#3.12.9 md/pyimpl#CPython exec-env/CloudShell md/distrib#kali.2025 md/prompt#off md/command#iam.get-user", TypePenTestKaliLinux},
		{"boto3 on a kali kernel", "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69 Linux/6.6.9-kali1-amd64", TypePenTestKaliLinux},
		{"parrot kernel", "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/iam#1.31.1 Linux/6.5.0-13parrot1-amd64", TypePenTestParrotLinux},
		{"pentoo distrib", "aws-cli/2.15.30 ua/2.0 os/linux#6.6.13-pentoo md/arch#x86_64 lang/python#3.11.8 md/distrib#gentoo", TypePenTestPentooLinux},
		{"console on kali firefox", "Mozilla/5.0 (X11; Kali; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0", TypePenTestKaliLinux},
		{"debian cli", "aws-cli/2.15.30 ua/2.0 os/linux#6.1.0-18-amd64 md/arch#x86_64 md/distrib#debian.12 md/command#iam.get-user", ""},
		{"kali only in a command", "aws-cli/2.15.30 ua/2.0 os/linux#6.1.0-18-amd64 md/distrib#ubuntu.22 md/command#s3.cp kali-backups", ""},
		{"kali only in the execution environment", "aws-sdk-go/1.51.0 (go1.22.1; linux; amd64) exec-env/kali-prod-runner", ""},
		{"windows browser", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := callJSON(t, "iam.amazonaws.com", "GetUser", map[string]any{"userAgent": tt.ua, "errorCode": "AccessDenied"})
			var got []findings.Finding
			for _, d := range pentestDistributions {
				got = append(got, raisedBy(t, raw, d.typ)...)
			}
			switch {
			case tt.want == "" && len(got) != 0:
				t.Fatalf("raised%s", summary(got))
			case tt.want != "" && (len(got) != 1 || got[0].Type != tt.want || got[0].Severity != findings.SeverityMedium):
				t.Fatalf("raised%s, want one %s (Medium)", summary(got), tt.want)
			}
		})
	}
}

func TestShortTermRootCredentialUsage(t *testing.T) {
	root := func(assumed bool) []byte {
		ctx := map[string]any{"attributes": map[string]any{"mfaAuthenticated": "false"}}
		if assumed {
			ctx["assumedRoot"] = "true"
		}
		return callJSON(t, "s3.amazonaws.com", "DeleteBucketPolicy", map[string]any{
			"userIdentity": map[string]any{"type": "Root", "principalId": "222222222222", "arn": "arn:aws:iam::222222222222:root",
				"accountId": "222222222222", "accessKeyId": "ASIAEXAMPLEROOTSESS", "sessionContext": ctx},
			"recipientAccountId": "222222222222", "requestParameters": map[string]any{"bucketName": "locked-bucket"},
		})
	}
	for _, tt := range []struct {
		name              string
		assumed           bool
		short, longTerm   int
		titleContainsText string
	}{
		{"AssumeRoot session", true, 1, 0, "short-term root credentials"},
		{"root console session", false, 0, 1, "using root credentials"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			short := raisedBy(t, root(tt.assumed), TypeShortTermRootCredentialUsage)
			long := raisedBy(t, root(tt.assumed), TypeRootCredentialUsage)
			if len(short) != tt.short || len(long) != tt.longTerm {
				t.Fatalf("short-term %d, long-term %d; want %d, %d", len(short), len(long), tt.short, tt.longTerm)
			}
			if f := append(short, long...)[0]; f.Severity != findings.SeverityLow || !strings.Contains(f.Title, tt.titleContainsText) {
				t.Errorf("severity %g, title %q", f.Severity, f.Title)
			}
		})
	}
}

func TestPasswordPolicyChange(t *testing.T) {
	strong := map[string]any{"minimumPasswordLength": 16, "requireSymbols": true, "requireNumbers": true,
		"requireUppercaseCharacters": true, "requireLowercaseCharacters": true, "maxPasswordAge": 90, "passwordReusePrevention": 24}
	with := func(m map[string]any, k string, v any) map[string]any {
		m = maps.Clone(m)
		m[k] = v
		return m
	}
	for _, tt := range []struct {
		name, event, errorCode string
		params                 map[string]any
		want                   float64 // 0: no finding
	}{
		// The GuardDuty tester: update-account-password-policy --minimum-password-length 6.
		{"tester", "UpdateAccountPasswordPolicy", "", map[string]any{"minimumPasswordLength": 6}, findings.SeverityHigh},
		{"deleted", "DeleteAccountPasswordPolicy", "", nil, findings.SeverityMedium},
		{"denied attempt counts", "DeleteAccountPasswordPolicy", "AccessDenied", nil, findings.SeverityMedium},
		{"strong policy", "UpdateAccountPasswordPolicy", "", strong, findings.SeverityLow},
		{"no expiry is not weak", "UpdateAccountPasswordPolicy", "", with(strong, "maxPasswordAge", 0), findings.SeverityLow},
		{"no symbols", "UpdateAccountPasswordPolicy", "", with(strong, "requireSymbols", false), findings.SeverityMedium},
		{"length 10, no symbols, no numbers", "UpdateAccountPasswordPolicy", "", with(with(with(strong, "minimumPasswordLength", 10), "requireSymbols", false), "requireNumbers", false), findings.SeverityHigh},
		{"length 7", "UpdateAccountPasswordPolicy", "", with(strong, "minimumPasswordLength", 7), findings.SeverityHigh},
		{"reading the policy", "GetAccountPasswordPolicy", "", nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			patch := map[string]any{"requestParameters": tt.params}
			if tt.params == nil {
				patch["requestParameters"] = nil
			}
			if tt.errorCode != "" {
				patch["errorCode"] = tt.errorCode
			}
			got := raisedBy(t, callJSON(t, "iam.amazonaws.com", tt.event, patch), TypePasswordPolicyChange)
			switch {
			case tt.want == 0 && len(got) != 0:
				t.Fatalf("raised%s", summary(got))
			case tt.want != 0 && (len(got) != 1 || got[0].Severity != tt.want):
				t.Fatalf("raised%s, want severity %g", summary(got), tt.want)
			}
		})
	}
}

func TestBedrockLoggingDisabledPanther(t *testing.T) {
	want := map[string]int{
		"AWS.Bedrock.DeleteModelInvocationLoggingConfiguration/Model Invocation Logging Configuration Deleted": 1,
		"AWS.Bedrock.DeleteModelInvocationLoggingConfiguration/List Guardrails":                                0,
	}
	runPantherCases(t, TypeBedrockLoggingDisabled, want, []string{"AWS.Bedrock.DeleteModelInvocationLoggingConfiguration"},
		func(t *testing.T, got []findings.Finding) {
			for _, f := range got {
				checkFinding(t, f)
				if f.Severity != findings.SeverityMedium {
					t.Errorf("severity %g", f.Severity)
				}
			}
		})
	raw := callJSON(t, "bedrock.amazonaws.com", "DeleteModelInvocationLoggingConfiguration", map[string]any{"errorCode": "AccessDeniedException"})
	if got := raisedBy(t, raw, TypeBedrockLoggingDisabled); len(got) != 0 {
		t.Errorf("a denied call raised%s", summary(got))
	}
}

func TestS3SettingsPanther(t *testing.T) {
	check := func(t *testing.T, got []findings.Finding) {
		for _, f := range got {
			checkFinding(t, f)
			if b := f.Resource.S3BucketDetails; len(b) != 1 || b[0].Arn != "arn:aws:s3:::"+b[0].Name ||
				f.Service.Action.AwsAPICallAction.AffectedResources["AWS::S3::Bucket"] != b[0].Name {
				t.Errorf("bucket details %+v, affected %v", b, f.Service.Action.AwsAPICallAction.AffectedResources)
			}
		}
	}
	runPantherCases(t, TypeBucketBlockPublicAccessOff, map[string]int{
		"AWS.S3.DeletePublicAccessBlock/Public Access Block Deleted Successfully": 1,
		"AWS.S3.DeletePublicAccessBlock/Public Access Block Deletion Failed":      0,
		"AWS.S3.DeletePublicAccessBlock/Different S3 Event":                       0, // a put with no configuration: S3 refuses it
		"AWS.S3.DeletePublicAccessBlock/Non-S3 Event":                             0,
	}, []string{"AWS.S3.DeletePublicAccessBlock"}, check)
	runPantherCases(t, TypeS3ServerAccessLoggingOff, map[string]int{
		"AWS.S3.DisableBucketLogging/Bucket Logging Disabled Successfully": 1,
		"AWS.S3.DisableBucketLogging/Bucket Logging Disabled - Failed":     0,
		"AWS.S3.DisableBucketLogging/Bucket Logging Enabled":               0,
		"AWS.S3.DisableBucketLogging/Logging Field Missing":                0,
	}, []string{"AWS.S3.DisableBucketLogging"}, check)
}

func TestBlockPublicAccess(t *testing.T) {
	config := func(off ...string) map[string]any {
		c := map[string]any{"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}
		for _, f := range publicAccessFlags {
			c[f] = true
		}
		for _, f := range off {
			c[f] = false
		}
		return c
	}
	for _, tt := range []struct {
		name, event, errorCode string
		params                 map[string]any
		typ                    string
		want                   int
	}{
		{"bucket: all flags on", "PutBucketPublicAccessBlock", "", map[string]any{"bucketName": "b1", "PublicAccessBlockConfiguration": config()}, TypeBucketBlockPublicAccessOff, 0},
		{"bucket: public policies allowed", "PutBucketPublicAccessBlock", "", map[string]any{"bucketName": "b1", "PublicAccessBlockConfiguration": config("BlockPublicPolicy", "RestrictPublicBuckets")}, TypeBucketBlockPublicAccessOff, 1},
		{"bucket: a flag left out is off", "PutBucketPublicAccessBlock", "", map[string]any{"bucketName": "b1", "PublicAccessBlockConfiguration": map[string]any{"BlockPublicAcls": true}}, TypeBucketBlockPublicAccessOff, 1},
		{"account: deleted", "DeleteAccountPublicAccessBlock", "", map[string]any{"accountId": "111122223333"}, TypeAccountBlockPublicAccessOff, 1},
		{"account: put all on", "PutAccountPublicAccessBlock", "", map[string]any{"PublicAccessBlockConfiguration": config()}, TypeAccountBlockPublicAccessOff, 0},
		{"account: put with ACLs allowed", "PutAccountPublicAccessBlock", "", map[string]any{"PublicAccessBlockConfiguration": config("IgnorePublicAcls")}, TypeAccountBlockPublicAccessOff, 1},
		{"account: denied", "DeleteAccountPublicAccessBlock", "AccessDenied", nil, TypeAccountBlockPublicAccessOff, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			patch := map[string]any{"requestParameters": tt.params}
			if tt.errorCode != "" {
				patch["errorCode"] = tt.errorCode
			}
			got := raisedBy(t, callJSON(t, "s3.amazonaws.com", tt.event, patch), tt.typ)
			if len(got) != tt.want {
				t.Fatalf("raised%s, want %d", summary(got), tt.want)
			}
			if tt.want == 1 && got[0].Severity != findings.SeverityLow {
				t.Errorf("severity %g", got[0].Severity)
			}
		})
	}
}

func TestCallerIntel(t *testing.T) {
	set, err := intel.LoadFS(fstest.MapFS{
		"tor/exits.txt":        {Data: []byte("185.220.101.1\n")},
		"malicious/feed.txt":   {Data: []byte("185.220.101.1\n45.148.10.0/24\n198.51.100.7\n")},
		"trusted-partners.txt": {Data: []byte("198.51.100.7\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Intel = set
	types := []string{TypeReconTorIPCaller, TypeUnauthorizedTorIPCaller, TypeReconMaliciousIPCaller, TypeUnauthorizedMaliciousIPCaller}
	for _, tt := range []struct {
		name, source, event, ip string
		want                    []string
	}{
		// The GuardDuty tester: torify awscurl … s3 ListBuckets.
		{"tor list", "s3.amazonaws.com", "ListBuckets", "185.220.101.1", []string{TypeReconTorIPCaller, TypeReconMaliciousIPCaller}},
		{"tor write", "iam.amazonaws.com", "CreateUser", "185.220.101.1", []string{TypeUnauthorizedTorIPCaller, TypeUnauthorizedMaliciousIPCaller}},
		{"malicious network, describe", "ec2.amazonaws.com", "DescribeInstances", "45.148.10.33", []string{TypeReconMaliciousIPCaller}},
		{"malicious network, run", "ec2.amazonaws.com", "RunInstances", "45.148.10.33", []string{TypeUnauthorizedMaliciousIPCaller}},
		{"trusted beats the threat list", "ec2.amazonaws.com", "RunInstances", "198.51.100.7", nil},
		{"clean address", "ec2.amazonaws.com", "RunInstances", "203.0.113.7", nil},
		{"an AWS service calling", "ec2.amazonaws.com", "RunInstances", "autoscaling.amazonaws.com", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(cfg)
			occ := w.apply(cloudTrailEvent(t, callJSON(t, tt.source, tt.event, map[string]any{"sourceIPAddress": tt.ip})))
			var got []string
			for _, typ := range types {
				for _, f := range ofType(occ, typ) {
					checkFinding(t, f)
					ti := f.Service.Evidence.ThreatIntelligenceDetails
					if f.Severity != findings.SeverityMedium || len(ti) != 1 || ti[0].ThreatListName != f.Service.AdditionalInfo["threatListName"] {
						t.Errorf("%s: severity %g, evidence %+v, additionalInfo %v", typ, f.Severity, ti, f.Service.AdditionalInfo)
					}
					got = append(got, typ)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("raised %v, want %v", got, tt.want)
			}
		})
	}
}

func TestContainsFold(t *testing.T) {
	for _, tt := range []struct {
		s, sub string
		want   bool
	}{
		{"os/linux#6.1-KALI1", "kali", true},
		{"Kali", "kali", true},
		{"kal", "kali", false},
		{"", "kali", false},
		{"K@LI k`li", "kali", false}, // '@'|0x20 is '`': the pre-check is not the test
		{"md/distrib#ParRot", "parrot", true},
	} {
		if got := containsFold(tt.s, tt.sub); got != tt.want {
			t.Errorf("containsFold(%q, %q) = %v", tt.s, tt.sub, got)
		}
	}
}

func BenchmarkPenTestUserAgent(b *testing.B) {
	ua := "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.1.0-18-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off md/command#ec2.describe-instances"
	for b.Loop() {
		for _, d := range pentestDistributions {
			if containsFold(ua, d.name) {
				b.Fatal("matched")
			}
		}
	}
}
