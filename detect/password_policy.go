package detect

import (
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Stealth:IAMUser/PasswordPolicyChange (Low, Medium or High): the
// account's password policy was changed or deleted, attempts included (as
// GuardDuty counts them), so that weak passwords become possible.
//
// GuardDuty grades the severity by how far the policy was weakened from
// the one before. vigil sees the change, not the policy in force before
// it (IAM's GetAccountPasswordPolicy is no CloudTrail event), so it grades
// the policy the call leaves against IAM's own baseline and CIS AWS
// Foundations 1.8–1.9:
//
//   - DeleteAccountPasswordPolicy: Medium (IAM's default policy: 8
//     characters, no other rule);
//   - UpdateAccountPasswordPolicy with a minimum length under 8, or
//     three or more of: length under 14, no symbols, no numbers, not both
//     letter cases: High;
//   - one or two of those: Medium;
//   - none: Low (a change to a strong policy, still reported, as GuardDuty
//     raises the type for changes it cannot grade).
//
// No expiry within 90 days and reuse prevention under 24 are named in the
// description but do not raise the severity: NIST SP 800-63B advises
// against forced expiry, so many sound policies have none.
//
// Aggregation key: (account, region, type, principal).

const iamSource = "iam.amazonaws.com"

func (e *Engine) passwordPolicyChange(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	if ct.EventSource != iamSource {
		return out
	}
	var severity float64
	var weak []string
	switch ct.EventName {
	case "DeleteAccountPasswordPolicy":
		severity, weak = findings.SeverityMedium, []string{"the policy was deleted (IAM's default allows 8-character passwords with no other rule)"}
	case "UpdateAccountPasswordPolicy":
		severity, weak = gradePasswordPolicy(ct.RequestParameters)
	default:
		return out
	}
	f := callFinding(TypePasswordPolicyChange, severity, p, ev, nil)
	verb := "changed"
	if ct.ErrorCode != "" {
		verb = "was attempted to be changed (" + ct.ErrorCode + ")"
	}
	because(&f, ct.EventName+" (attempts count): severity by the weaknesses of the policy it leaves",
		"weaknesses", strings.Join(weak, "; "), "errorCode", ct.ErrorCode)
	f.Title = "Account password policy " + verb + "."
	f.Description = "The account password policy " + verb + " by " + principalLabel(&ct.Identity) + " calling " + ct.EventName + "."
	if len(weak) > 0 {
		f.Description += " Weaker than recommended: " + strings.Join(weak, "; ") + "."
	}
	return append(out, f)
}

// gradePasswordPolicy grades the policy an UpdateAccountPasswordPolicy
// sets (its request parameters) and lists its weaknesses.
func gradePasswordPolicy(params map[string]string) (severity float64, weak []string) {
	num := func(k string) (int, bool) {
		n, err := strconv.Atoi(params[k])
		return n, err == nil
	}
	on := func(k string) bool { return strings.EqualFold(params[k], "true") }
	length, ok := num("minimumPasswordLength")
	if !ok {
		length = 6 // IAM's value when the call leaves it out
	}
	if length < 14 {
		weak = append(weak, "minimum length "+strconv.Itoa(length)+" (14 recommended)")
	}
	for _, rule := range []struct{ key, what string }{
		{"requireSymbols", "no symbol required"},
		{"requireNumbers", "no number required"},
	} {
		if !on(rule.key) {
			weak = append(weak, rule.what)
		}
	}
	if !on("requireUppercaseCharacters") || !on("requireLowercaseCharacters") {
		weak = append(weak, "upper- and lower-case letters not both required")
	}
	core := len(weak)
	if age, ok := num("maxPasswordAge"); !ok || age == 0 || age > 90 {
		weak = append(weak, "passwords do not expire within 90 days")
	}
	if reuse, _ := num("passwordReusePrevention"); reuse < 24 {
		weak = append(weak, "fewer than 24 previous passwords barred from reuse")
	}
	switch {
	case length < 8 || core >= 3:
		return findings.SeverityHigh, weak
	case core > 0:
		return findings.SeverityMedium, weak
	}
	return findings.SeverityLow, weak
}
