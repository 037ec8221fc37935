package detect

import (
	"testing"
)

// TestRuleFindingsSayWhy: every rule finding carries additionalInfo.reason
// with the condition that held and the event values it held on.
func TestRuleFindingsSayWhy(t *testing.T) {
	rootID := map[string]any{"userIdentity": map[string]any{"type": "Root", "principalId": "111122223333",
		"arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLEROOT00001"}}
	tests := []struct {
		typ, source, name string
		patch             map[string]any
		key, value        string // one observed value the reason must show
	}{
		{TypePenTestKaliLinux, "iam.amazonaws.com", "GetUser",
			map[string]any{"userAgent": "aws-cli/2.23.6 md/awscrt#0.23.4 ua/2.0 os/linux#6.12.13-cloud-amd64 md/distrib#kali.2025"},
			"userAgentOS", "linux#6.12.13-cloud-amd64 kali.2025"},
		{TypeRootCredentialUsage, "ec2.amazonaws.com", "DescribeInstances", rootID, "userIdentityType", "Root"},
		{TypePasswordPolicyChange, "iam.amazonaws.com", "UpdateAccountPasswordPolicy",
			map[string]any{"requestParameters": map[string]any{"minimumPasswordLength": 6}},
			"weaknesses", "minimum length 6 (14 recommended); no symbol required; no number required; upper- and lower-case letters not both required; passwords do not expire within 90 days; fewer than 24 previous passwords barred from reuse"},
		{TypeCloudTrailLoggingDisabled, "cloudtrail.amazonaws.com", "StopLogging",
			map[string]any{"requestParameters": map[string]any{"name": "management-events"}}, "trail", "management-events"},
		{TypeBedrockLoggingDisabled, "bedrock.amazonaws.com", "DeleteModelInvocationLoggingConfiguration", nil,
			"api", "DeleteModelInvocationLoggingConfiguration"},
		{TypeBucketBlockPublicAccessOff, "s3.amazonaws.com", "PutBucketPublicAccessBlock",
			map[string]any{"requestParameters": map[string]any{"bucketName": "logs", "PublicAccessBlockConfiguration": map[string]any{
				"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": false, "RestrictPublicBuckets": true}}},
			"BlockPublicPolicy", "false"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			got := raisedBy(t, callJSON(t, tt.source, tt.name, tt.patch), tt.typ)
			if len(got) != 1 {
				t.Fatalf("%d findings, want 1", len(got))
			}
			r, ok := got[0].Service.AdditionalInfo["reason"].(map[string]any)
			if !ok || r["condition"] == "" {
				t.Fatalf("no additionalInfo.reason: %v", got[0].Service.AdditionalInfo)
			}
			if seen, _ := r["observed"].(map[string]string); seen[tt.key] != tt.value {
				t.Errorf("reason.observed[%s] = %q, want %q (reason %v)", tt.key, seen[tt.key], tt.value, r)
			}
		})
	}
}
