package detect

import (
	"strings"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Stealth:IAMUser/CloudTrailLoggingDisabled (Low): a principal turned a
// CloudTrail trail off. Attackers do this first so their next calls go
// unrecorded. The finding is raised for a successful (no errorCode)
//
//   - StopLogging or DeleteTrail, and
//   - UpdateTrail with includeGlobalServiceEvents=false, which stops the
//     trail logging IAM, STS and other global-service calls.
//
// Failed attempts are not findings (GuardDuty raises it only for a
// successful call). Two ways of disabling a trail are not detected: an
// UpdateTrail that points the trail at a bucket that drops the logs (the
// request looks like any other update), and deleting the trail's S3 bucket
// (that needs the trail-to-bucket inventory vigil does not keep). Neither
// is PutEventSelectors with includeManagementEvents=false: that is a
// nested request parameter the event model does not carry, and GuardDuty
// has no finding for it.
//
// Aggregation key: (account, region, type, principal, trail name).

const cloudTrailSource = "cloudtrail.amazonaws.com"

func (e *Engine) cloudTrailLoggingDisabled(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	if ct.EventSource != cloudTrailSource || ct.ErrorCode != "" {
		return out
	}
	switch ct.EventName {
	case "StopLogging", "DeleteTrail":
	case "UpdateTrail":
		if !strings.EqualFold(ct.RequestParameters["includeGlobalServiceEvents"], "false") {
			return out
		}
	default:
		return out
	}
	trail := trailName(ct.RequestParameters["name"])
	var affected map[string]string
	if trail != "" {
		affected = map[string]string{"AWS::CloudTrail::Trail": trail}
	}
	f := callFinding(TypeCloudTrailLoggingDisabled, findings.SeverityLow, p, ev, affected, trail)
	because(&f, "a successful StopLogging or DeleteTrail, or an UpdateTrail setting includeGlobalServiceEvents false",
		"api", ct.EventName, "trail", trail, "includeGlobalServiceEvents", ct.RequestParameters["includeGlobalServiceEvents"])
	who := principalLabel(&ct.Identity)
	f.Title = "AWS CloudTrail trail " + trail + " was disabled."
	f.Description = "AWS CloudTrail trail " + trail + " was disabled by " + who + " calling " + ct.EventName +
		". Disabling a trail stops it recording API activity; if this is not expected, the credentials may be compromised."
	return append(out, f)
}

// trailName returns the name of a trail given by name or ARN
// ("arn:aws:cloudtrail:us-west-2:123456789012:trail/main" → "main"), so a
// trail aggregates the same however the call named it.
func trailName(s string) string {
	if strings.HasPrefix(s, "arn:") {
		if i := strings.Index(s, ":trail/"); i >= 0 {
			return s[i+len(":trail/"):]
		}
	}
	return s
}
