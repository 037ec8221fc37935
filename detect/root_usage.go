package detect

import (
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Policy:IAMUser/RootCredentialUsage (Low): a request was made with the
// account's root user credentials. AWS recommends never using them for
// everyday work, so any use is worth a look, and an attacker holding them
// holds the account. Policy:IAMUser/ShortTermRootCredentialUsage (Low) is
// the same for the restricted, short-term root credentials sts:AssumeRoot
// issues (centralized root access): a session of a few minutes, for a
// privileged task on a member account. Either is raised when
// userIdentity.type is Root and
//
//   - eventType is not AwsServiceEvent and invokedBy names no AWS service:
//     those are actions AWS services take in the account, not uses of the
//     root credentials. invokedBy "signin.amazonaws.com" or
//     "console.amazonaws.com" is kept: that is the root user working in
//     the console (panther-analysis' root-access-key test case is such an
//     event),
//   - it is not a failed sign-in (eventType AwsConsoleSignIn with a
//     failure): wrong credentials are not a use of the root credentials.
//
// The session is an AssumeRoot one when the decoder saw its marker
// (event.Identity.AssumedRoot). Failed API calls made with root
// credentials count: the credentials were used. Aggregation key: (account,
// region, type, principal).

func (e *Engine) rootCredentialUsage(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	id := &ct.Identity
	if id.Type != "Root" || ct.EventType == "AwsServiceEvent" {
		return out
	}
	switch id.InvokedBy {
	case "", "signin.amazonaws.com", "console.amazonaws.com":
	default:
		return out
	}
	if ct.EventType == "AwsConsoleSignIn" && (ct.ConsoleLogin == "Failure" || ct.ErrorCode != "" || ct.ErrorMessage != "") {
		return out // a failed sign-in: the credentials were not accepted
	}
	typ, which := TypeRootCredentialUsage, "root credentials"
	if id.AssumedRoot {
		typ, which = TypeShortTermRootCredentialUsage, "short-term root credentials issued by sts:AssumeRoot"
	}
	f := callFinding(typ, findings.SeverityLow, p, ev, nil)
	from := ""
	if ct.SourceIP != "" {
		from = " from " + ct.SourceIP
	}
	because(&f, "userIdentity.type is Root and the call was not made by an AWS service", "userIdentityType", id.Type,
		"invokedBy", id.InvokedBy, "eventType", ct.EventType, "accessKeyId", id.AccessKeyID)
	f.Title = "The API " + ct.EventName + " was invoked using " + which + "."
	f.Description = "The API " + ct.EventName + " was invoked using " + which + from +
		". The root user has unrestricted access to the account; AWS recommends using it only for the few tasks that require it."
	return append(out, f)
}
