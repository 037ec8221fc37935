package detect

import (
	"encoding/json"
	"testing"

	"github.com/vigil-sec/vigil/findings"
)

func TestCloudTrailLoggingDisabledStratus(t *testing.T) {
	for _, tc := range []struct {
		file  string
		want  int
		api   string
		trail string
	}{
		// Real detonations: positives.
		{"stratus.defense-evasion.cloudtrail-stop.json", 1, "StopLogging", "stratus-red-team-ct-stop-trail-buykxbqejv"},
		{"stratus.defense-evasion.cloudtrail-delete.json", 1, "DeleteTrail", "stratus-red-team-cloudtraild-trail-kvrwohmiai"},
		// Other defence-evasion and persistence techniques: negatives.
		// Event selectors that drop management events are a different
		// technique with no GuardDuty finding of this type.
		{file: "stratus.defense-evasion.cloudtrail-event-selectors.json"},
		{file: "stratus.defense-evasion.vpc-remove-flow-logs.json"},
		{file: "stratus.defense-evasion.dns-delete-logs.json"},
		{file: "stratus.persistence.iam-backdoor-user.json"},
		{file: "stratus.exfiltration.ec2-security-group-open-port-22-ingress.json"},
		{file: "stratus.privilege-escalation.iam-update-user-login-profile.json"},
		{file: "stratus.initial-access.console-login-without-mfa.json"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := ofType(w.applyAll(stratusEvents(t, tc.file)), TypeCloudTrailLoggingDisabled)
			if len(got) != tc.want {
				t.Fatalf("%d findings, want %d:%s", len(got), tc.want, summary(got))
			}
			if tc.want == 0 {
				return
			}
			f := got[0]
			checkFinding(t, f)
			a := f.Service.Action.AwsAPICallAction
			if f.Severity != findings.SeverityLow || f.Resource.ResourceType != findings.ResourceAccessKey ||
				f.Service.Action.ActionType != findings.ActionAWSAPICall || a == nil || a.API != tc.api ||
				a.ServiceName != "cloudtrail.amazonaws.com" || a.AffectedResources["AWS::CloudTrail::Trail"] != tc.trail ||
				f.Resource.AccessKeyDetails.UserName != "christophe" || f.Resource.AccessKeyDetails.UserType != "IAMUser" {
				b, _ := json.MarshalIndent(f, "", "  ")
				t.Fatalf("finding:\n%s", b)
			}
			if a.CallerType != "Remote IP" || a.RemoteIPDetails == nil || a.RemoteIPDetails.IPAddressV4 == "" {
				t.Errorf("caller = %q %+v", a.CallerType, a.RemoteIPDetails)
			}
		})
	}
}

func TestCloudTrailLoggingDisabledPanther(t *testing.T) {
	// Our expectation per panther-analysis test case: the rules that
	// alert on a stopped trail agree with GuardDuty; the others (event
	// selectors, DNS query-log and flow-log deletion) are different
	// findings.
	want := map[string]int{
		"AWS.CloudTrail.Stopped/CloudTrail Was Stopped":                  1,
		"AWS.CloudTrail.Stopped/CloudTrail Was Started":                  0,
		"AWS.CloudTrail.Stopped/Error Stopping CloudTrail":               0, // failed: no finding
		"AWS.CloudTrail.EventSelectorsDisabled/Event Selector Disabled":  0,
		"AWS.CloudTrail.EventSelectorsDisabled/Event Selector Enabled":   0,
		"AWS.CloudTrail.EventSelectorsDisabled/Uninteresting Event Type": 0,
		"AWS.CloudTrail.DNSLogsDeleted/Logs Deleted":                     0,
		"AWS.VPCFlow.LogsDeleted/Logs Deleted":                           0,
	}
	rules := []string{"AWS.CloudTrail.Stopped", "AWS.CloudTrail.EventSelectorsDisabled",
		"AWS.CloudTrail.DNSLogsDeleted", "AWS.VPCFlow.LogsDeleted"}
	runPantherCases(t, TypeCloudTrailLoggingDisabled, want, rules, func(t *testing.T, got []findings.Finding) {
		if len(got) == 1 {
			// The trail is named by ARN: the finding names the trail.
			if tr := got[0].Service.Action.AwsAPICallAction.AffectedResources["AWS::CloudTrail::Trail"]; tr != "example-trail" {
				t.Errorf("trail = %q, want example-trail", tr)
			}
			if u := got[0].Resource.AccessKeyDetails; u.UserType != "AssumedRole" || u.UserName != "Tester" {
				t.Errorf("accessKeyDetails = %+v", u)
			}
		}
	})
}

// ctJSON is a CloudTrail record for the cases the data sets lack.
func ctJSON(name, errorCode, params string) []byte {
	if params == "" {
		params = "null"
	}
	ec := ""
	if errorCode != "" {
		ec = `"errorCode": "` + errorCode + `",`
	}
	return []byte(`{"eventVersion": "1.10", "eventTime": "2026-03-08T21:44:02Z", "eventSource": "cloudtrail.amazonaws.com",
	 "eventName": "` + name + `", "awsRegion": "us-east-1", "sourceIPAddress": "cloudformation.amazonaws.com",
	 "userAgent": "cloudformation.amazonaws.com", ` + ec + ` "requestParameters": ` + params + `,
	 "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
	 "userIdentity": {"type": "AssumedRole", "principalId": "AROA3XFRBF23EXAMPLE1:deploy", "arn": "arn:aws:sts::111122223333:assumed-role/deployer/deploy",
	   "accountId": "111122223333", "accessKeyId": "ASIA3XFRBF23EXAMPLE2",
	   "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/deployer", "userName": "deployer"}}}}`)
}

func TestCloudTrailLoggingDisabledRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		record []byte
		want   int
	}{
		{"UpdateTrail dropping global services", ctJSON("UpdateTrail", "", `{"name": "main", "includeGlobalServiceEvents": false}`), 1},
		{"UpdateTrail keeping global services", ctJSON("UpdateTrail", "", `{"name": "main", "includeGlobalServiceEvents": true, "isMultiRegionTrail": false}`), 0},
		{"UpdateTrail of the bucket", ctJSON("UpdateTrail", "", `{"name": "main", "s3BucketName": "logs"}`), 0},
		{"failed UpdateTrail", ctJSON("UpdateTrail", "AccessDenied", `{"name": "main", "includeGlobalServiceEvents": false}`), 0},
		{"failed DeleteTrail", ctJSON("DeleteTrail", "TrailNotFoundException", `{"name": "main"}`), 0},
		{"StartLogging", ctJSON("StartLogging", "", `{"name": "main"}`), 0},
		{"CreateTrail", ctJSON("CreateTrail", "", `{"name": "main"}`), 0},
		{"StopLogging by a service, no name", ctJSON("StopLogging", "", ""), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := ofType(w.apply(cloudTrailEvent(t, tc.record)), TypeCloudTrailLoggingDisabled)
			if len(got) != tc.want {
				t.Fatalf("%d findings, want %d:%s", len(got), tc.want, summary(got))
			}
			for _, f := range got {
				checkFinding(t, f)
				if a := f.Service.Action.AwsAPICallAction; a.CallerType != "Domain" || a.DomainDetails.Domain != "cloudformation.amazonaws.com" {
					t.Errorf("caller = %q %+v, want Domain cloudformation.amazonaws.com", a.CallerType, a.DomainDetails)
				}
			}
		})
	}
}

func TestCloudTrailLoggingDisabledAggregation(t *testing.T) {
	w := newWorld(DefaultConfig())
	stop := func(param string) string {
		got := ofType(w.apply(cloudTrailEvent(t, ctJSON("StopLogging", "", `{"name": "`+param+`"}`))), TypeCloudTrailLoggingDisabled)
		if len(got) != 1 {
			t.Fatalf("StopLogging %s: %d findings", param, len(got))
		}
		return got[0].ID
	}
	byName := stop("main")
	byARN := stop("arn:aws:cloudtrail:us-east-1:111122223333:trail/main")
	other := stop("audit")
	if byName != byARN {
		t.Error("a trail named by ARN and by name aggregate apart")
	}
	if byName == other {
		t.Error("two trails aggregate together")
	}
	agg := aggregate(w.occ)
	if len(agg) != 2 || agg[0].Service.Count+agg[1].Service.Count != 3 {
		t.Fatalf("aggregated %d findings:%s", len(agg), summary(agg))
	}
}
