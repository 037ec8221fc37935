package detect

import (
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// DefenseEvasion:IAMUser/BedrockLoggingDisabled (Medium): model-invocation
// logging for Amazon Bedrock was turned off, a successful
// bedrock:DeleteModelInvocationLoggingConfiguration, so that prompts and
// completions sent to the account's models are no longer recorded.
// Aggregation key: (account, region, type, principal).

const bedrockSource = "bedrock.amazonaws.com"

func (e *Engine) bedrockLoggingDisabled(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	if ct.EventSource != bedrockSource || ct.EventName != "DeleteModelInvocationLoggingConfiguration" || !succeeded(ct) {
		return out
	}
	f := callFinding(TypeBedrockLoggingDisabled, findings.SeverityMedium, p, ev, nil)
	because(&f, "a successful bedrock DeleteModelInvocationLoggingConfiguration", "api", ct.EventName)
	f.Title = "Amazon Bedrock model invocation logging was disabled."
	f.Description = "Model invocation logging for Amazon Bedrock was disabled by " + principalLabel(&ct.Identity) +
		". Invocations of the account's models are no longer recorded."
	return append(out, f)
}
