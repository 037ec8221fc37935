package detect

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

func TestRootCredentialUsagePanther(t *testing.T) {
	// Our expectation per panther-analysis test case, with the reason
	// where it differs from the Panther rule's.
	want := map[string]int{
		"AWS.Root.Activity/Root Activity":                                      1,
		"AWS.Root.Activity/Successful Root Login":                              1,
		"AWS.Root.Activity/IAMUser Activity":                                   0,
		"AWS.Root.Activity/Root User Failed Activity":                          0, // redacted event, no identity
		"AWS.Root.Activity/Root Activity - CreateServiceLinkedRole":            1, // Panther suppresses it; GuardDuty counts any root request
		"AWS.Root.Activity/Root Read-Only Enumeration":                         1, // same: reads with root credentials are root usage
		"AWS.Console.RootLogin/Successful Root Login":                          1,
		"AWS.Console.RootLogin/Non-Login Event":                                0,
		"AWS.Console.RootLoginFailed/Failed Root Login":                        0, // a failed sign-in did not use the credentials
		"AWS.Console.RootLoginFailed/Successful Login":                         1,
		"AWS.Console.RootLoginFailed/Non-Login Event":                          0,
		"AWS.CloudTrail.RootAccessKeyCreated/Root Access Key Created":          1, // invokedBy signin.amazonaws.com: the console
		"AWS.CloudTrail.RootAccessKeyCreated/Root Created Access Key For User": 1,
		"AWS.CloudTrail.RootPasswordChanged/Root Password Changed":             1,
		"AWS.CloudTrail.RootPasswordChanged/Root Password Change Failed":       1, // the root session made the (failed) request
	}
	rules := []string{"AWS.Root.Activity", "AWS.Console.RootLogin", "AWS.Console.RootLoginFailed",
		"AWS.CloudTrail.RootAccessKeyCreated", "AWS.CloudTrail.RootPasswordChanged"}
	runPantherCases(t, TypeRootCredentialUsage, want, rules, func(t *testing.T, got []findings.Finding) {
		for _, f := range got {
			checkFinding(t, f)
			if f.Severity != findings.SeverityLow || f.Resource.AccessKeyDetails.UserType != "Root" ||
				!strings.HasPrefix(f.Title, "The API ") || !strings.HasSuffix(f.Title, " was invoked using root credentials.") {
				b, _ := json.MarshalIndent(f, "", "  ")
				t.Fatalf("finding:\n%s", b)
			}
		}
	})
}

// TestRootCredentialUsageScenario replays panther-analysis' compromised
// root credentials scenario: the victim's and the attacker's CloudTrail.
func TestRootCredentialUsageScenario(t *testing.T) {
	w := newWorld(DefaultConfig())
	for _, l := range readLines(t, "panther_compromised_root_cloudtrail.jsonl") {
		var rec struct {
			Log json.RawMessage `json:"log"`
		}
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatal(err)
		}
		w.apply(cloudTrailEvent(t, rec.Log))
	}
	root := ofType(w.occ, TypeRootCredentialUsage)
	// Victim: 3 successful sign-ins and SetContactAddress. Attacker: 3
	// failed sign-ins (no finding), 1 successful, a failed StopLogging, and
	// 6 IAM calls made as root. The attacker's RunInstances is made as the
	// IAM user it created.
	if len(root) != 12 {
		t.Fatalf("%d root usage occurrences, want 12:%s", len(root), summary(root))
	}
	agg := aggregate(root)
	if len(agg) != 1 || agg[0].Service.Count != 12 {
		t.Fatalf("aggregated into %d findings:%s", len(agg), summary(agg))
	}
	f := agg[0]
	// The details are those of the latest root call by event time.
	if f.AccountID != "493859302102" || f.Service.Action.AwsAPICallAction.API != "AttachUserPolicy" {
		t.Errorf("aggregated finding: account %s api %s", f.AccountID, f.Service.Action.AwsAPICallAction.API)
	}
	// The victim's file lists its sign-ins newest first: createdAt is still
	// the earliest occurrence, not the first processed, and the seen times
	// span them all.
	for name, got := range map[string]findings.Timestamp{
		"createdAt": f.CreatedAt, "eventFirstSeen": f.Service.EventFirstSeen,
		"eventLastSeen": f.Service.EventLastSeen, "updatedAt": f.UpdatedAt,
	} {
		want := map[string]string{
			"createdAt": "2020-10-15T06:00:00Z", "eventFirstSeen": "2020-10-15T06:00:00Z",
			"eventLastSeen": "2020-11-01T08:39:02Z", "updatedAt": "2020-11-01T08:39:02Z",
		}[name]
		if !got.Equal(parseTime(want)) {
			t.Errorf("%s = %v, want %s", name, got, want)
		}
	}
	// The attacker's StopLogging failed: no logging-disabled finding.
	if got := ofType(w.occ, TypeCloudTrailLoggingDisabled); len(got) != 0 {
		t.Errorf("failed StopLogging raised:%s", summary(got))
	}
}

func TestRootCredentialUsageRules(t *testing.T) {
	root := func(mod string) []byte {
		return []byte(`{"eventTime": "2026-03-08T21:44:02Z", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
		 "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.9", "userAgent": "aws-cli/2.15", "eventType": "AwsApiCall",
		 "recipientAccountId": "111122223333",
		 "userIdentity": {"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root",
		   "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEROOTKEY01"` + mod + `}}`)
	}
	for _, tc := range []struct {
		name   string
		record []byte
		want   int
	}{
		{"root access key", root(""), 1},
		{"console action (invokedBy signin)", root(`, "invokedBy": "signin.amazonaws.com"`), 1},
		{"AssumeRoot session", root(`, "sessionContext": {"assumedRoot": "true"}`), 0},
		{"action by an AWS service", root(`, "invokedBy": "cloudformation.amazonaws.com"`), 0},
		{"AWS internal", root(`, "invokedBy": "AWS Internal"`), 0},
		{"service event", []byte(strings.Replace(string(root("")), `"AwsApiCall"`, `"AwsServiceEvent"`, 1)), 0},
		{"IAM user", []byte(strings.Replace(string(root("")), `"type": "Root"`, `"type": "IAMUser"`, 1)), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			if got := ofType(w.apply(cloudTrailEvent(t, tc.record)), TypeRootCredentialUsage); len(got) != tc.want {
				t.Fatalf("%d findings, want %d:%s", len(got), tc.want, summary(got))
			}
		})
	}
}

// TestGlobalFindings: a global-service event arrives once per enabled
// region and every region's profile learns from it, but its finding is
// raised once, in the region it is logged in (or the first enabled one),
// listing the regions; per-region mode raises one in every region.
func TestGlobalFindings(t *testing.T) {
	rec := []byte(`{"eventTime": "2026-03-08T21:44:02Z", "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
	 "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.9", "eventType": "AwsConsoleSignIn", "recipientAccountId": "111122223333",
	 "responseElements": {"ConsoleLogin": "Success"},
	 "userIdentity": {"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"}}`)
	all := []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	for _, tc := range []struct {
		mode    string
		regions []string
		want    []string // regions of the findings
		listed  string   // additionalInfo.regions, as JSON
	}{
		{"", all, []string{"us-east-1"}, `["ap-southeast-2","eu-west-1","us-east-1"]`},
		{GlobalFindingsOnce, all[1:], []string{"eu-west-1"}, `["ap-southeast-2","eu-west-1"]`},
		{GlobalFindingsPerRegion, all, all, ``},
	} {
		cfg := DefaultConfig()
		cfg.GlobalFindings, cfg.Regions = tc.mode, tc.regions
		w := newWorld(cfg)
		var got []string
		for _, region := range tc.regions {
			ev := cloudTrailEvent(t, rec)
			ev.Region = region // ingest's broadcast copy
			for _, f := range w.apply(ev) {
				got = append(got, f.Region)
				listed, _ := json.Marshal(f.Service.AdditionalInfo["regions"])
				if tc.listed == "" && f.Service.AdditionalInfo["regions"] != nil || tc.listed != "" && string(listed) != tc.listed {
					t.Errorf("mode %q: additionalInfo.regions %s, want %s", tc.mode, listed, tc.listed)
				}
			}
			if p := w.profiles[ev.Key()].(*profiles.Principal); p.LastEvent.IsZero() {
				t.Errorf("mode %q: the %s profile did not learn from the event", tc.mode, region)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("mode %q: findings in %v, want %v", tc.mode, got, tc.want)
		}
	}
	if _, err := ParseGlobalFindings("everywhere"); err == nil {
		t.Error("ParseGlobalFindings accepted an unknown mode")
	}
}
