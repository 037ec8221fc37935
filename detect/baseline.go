package detect

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/profiles"
)

// baselineCall is what a principal's baseline learns of a CloudTrail
// event (profiles.Baseline): its API, user-agent family, caller network
// and country (from Config.Geo: empty without the databases, or for a
// caller that is an AWS service), user type and outcome.
func (e *Engine) baselineCall(ev *event.Event) profiles.Call {
	ct := ev.CloudTrail
	c := profiles.Call{
		At:        ev.Time,
		UserAgent: userAgentCategory(ct.UserAgent),
		UserType:  ct.Identity.Type,
		Failed:    ct.ErrorCode != "",
	}
	if ct.EventName != "" {
		c.API = strings.TrimSuffix(ct.EventSource, ".amazonaws.com") + ":" + unversioned(ct.EventName)
	}
	if addr, err := netip.ParseAddr(ct.SourceIP); err == nil {
		if info, ok := e.cfg.Geo.Lookup(addr); ok {
			if info.ASN != 0 {
				c.ASN = strconv.FormatUint(uint64(info.ASN), 10) + " " + info.Org
			}
			c.Country = info.Country
		}
	}
	return c
}

// asnLabel writes an ASN value of the baseline ("<number> <org>") as
// GuardDuty does: "asnNumber: <n> asnOrg: <org>".
func asnLabel(v string) string {
	n, org, _ := strings.Cut(v, " ")
	return "asnNumber: " + n + " asnOrg: " + org
}

// userAgentCategory is the family of a user agent, as GuardDuty's
// userAgentCategory names it (spec §2.2): the client (aws-cli, Boto3,
// Botocore, aws-sdk-go, Terraform, ...), "browser" for a web browser,
// "AWS Internal", "AWS Console", "AwsSignin" or "AWS Service" for AWS's own
// callers, else the first product token without its version or a
// trailing run id ("stratus-red-team_<uuid>" is stratus-red-team), or
// "OTHER" when that is an id itself. Versions, operating systems and
// build strings are dropped, so an upgrade is not a new client.
func userAgentCategory(ua string) string {
	ua = strings.TrimSpace(strings.TrimPrefix(ua, "["))
	switch {
	case ua == "":
		return ""
	case ua == "AWS Internal":
		return ua
	case strings.Contains(ua, "Terraform/") || strings.Contains(ua, "terraform-provider-aws"):
		return "Terraform"
	case strings.HasPrefix(ua, "Mozilla/") || ua == "Mozilla":
		return "browser"
	case strings.HasPrefix(ua, "aws-internal/"):
		if i := strings.IndexByte(ua, ' '); i > 0 {
			return ua[:i]
		}
		return ua
	case ua == "signin.amazonaws.com":
		return "AwsSignin"
	case strings.HasSuffix(ua, ".amazonaws.com") && !strings.ContainsAny(ua, " /"):
		if strings.HasPrefix(ua, "console.") {
			return "AWS Console"
		}
		return "AWS Service"
	}
	tok := ua
	if i := strings.IndexAny(tok, "/ (,;"); i >= 0 {
		tok = tok[:i]
	}
	if i := strings.IndexByte(tok, '_'); i > 0 && looksLikeID(tok[i+1:]) {
		tok = tok[:i]
	}
	switch lower := strings.ToLower(tok); {
	case tok == "" || looksLikeID(tok):
		return "OTHER"
	case lower == "boto3":
		return "Boto3"
	case lower == "botocore":
		return "Botocore"
	}
	if len(tok) > 64 {
		tok = tok[:64]
	}
	return tok
}

// looksLikeID reports whether s is a run or request id: at least 8 hex
// digits and dashes.
func looksLikeID(s string) bool {
	if len(s) < 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '-') {
			return false
		}
	}
	return true
}
