package sources

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-sec/vigil/event"
)

// globalRegion is where CloudTrail logs the events of global services.
const globalRegion = "us-east-1"

// isGlobalSource reports whether src is the event source of a service whose
// control plane is global and logged in us-east-1. GuardDuty replays such
// events into every enabled region so each regional profile sees the
// principal's IAM, STS and sign-in activity; IsGlobal tells ingest which
// events to broadcast.
//
// Left out on purpose: regional services with a us-east-1-only API (wafv2
// with CLOUDFRONT scope, ACM for CloudFront), services whose global control
// plane lives in another region (Global Accelerator and Network Manager log
// in us-west-2), and IAM Identity Center (sso, identitystore), which logs in
// its instance's home region.
func isGlobalSource(src string) bool {
	switch src {
	case "iam.amazonaws.com",
		"sts.amazonaws.com",    // us-east-1 calls cannot be told from the global endpoint: treated as global
		"signin.amazonaws.com", // ConsoleLogin and friends, when logged in us-east-1
		"cloudfront.amazonaws.com",
		"route53.amazonaws.com",
		"route53domains.amazonaws.com",
		"organizations.amazonaws.com",
		"waf.amazonaws.com", // WAF Classic (global)
		"shield.amazonaws.com",
		"health.amazonaws.com",
		"support.amazonaws.com",
		"trustedadvisor.amazonaws.com",
		"account.amazonaws.com",
		"billing.amazonaws.com",
		"billingconsole.amazonaws.com",
		"ce.amazonaws.com",
		"budgets.amazonaws.com",
		"cur.amazonaws.com",
		"payments.amazonaws.com",
		"tax.amazonaws.com",
		"invoicing.amazonaws.com",
		"freetier.amazonaws.com",
		"artifact.amazonaws.com":
		return true
	}
	return false
}

// IsGlobal reports whether ct is an event of a global service, logged in
// us-east-1, that ingest should feed to every enabled region.
func IsGlobal(ct *event.CloudTrail) bool {
	return ct != nil && ct.AWSRegion == globalRegion && isGlobalSource(ct.EventSource)
}

// CommercialRegions lists the AWS commercial-partition regions (partition
// "aws"; not China, GovCloud or the European Sovereign Cloud).
var CommercialRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"af-south-1",
	"ap-east-1", "ap-east-2",
	"ap-south-1", "ap-south-2",
	"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
	"ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
	"ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2",
	"eu-west-1", "eu-west-2", "eu-west-3",
	"eu-south-1", "eu-south-2",
	"eu-north-1",
	"il-central-1",
	"me-south-1", "me-central-1",
	"mx-central-1",
	"sa-east-1",
}

// ParseRegions parses a comma-separated --regions flag. "" and "all" mean
// CommercialRegions (a copy). Names are trimmed and de-duplicated in order;
// a name must look like a region (lower-case letters, digits and inner
// dashes) but need not be in CommercialRegions, so new, opt-in and
// non-commercial regions can be named.
func ParseRegions(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "all") {
		return slices.Clone(CommercialRegions), nil
	}
	var out []string
	for r := range strings.SplitSeq(s, ",") {
		r = strings.TrimSpace(r)
		if !validRegion(r) {
			return nil, fmt.Errorf("regions: invalid region %q", r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func validRegion(r string) bool {
	if r == "" || len(r) > 32 || r[0] == '-' || r[len(r)-1] == '-' || !strings.Contains(r, "-") {
		return false
	}
	for i := range len(r) {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') || c == '-' && r[i-1] == '-' {
			return false
		}
	}
	return true
}
