package sources

import (
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/event"
)

func TestIsGlobal(t *testing.T) {
	for _, tt := range []struct {
		source, region string
		want           bool
	}{
		{"iam.amazonaws.com", "us-east-1", true},
		{"sts.amazonaws.com", "us-east-1", true},
		{"sts.amazonaws.com", "eu-west-1", false}, // regional endpoint
		{"signin.amazonaws.com", "us-east-1", true},
		{"signin.amazonaws.com", "eu-central-1", false},
		{"cloudfront.amazonaws.com", "us-east-1", true},
		{"route53.amazonaws.com", "us-east-1", true},
		{"route53domains.amazonaws.com", "us-east-1", true},
		{"organizations.amazonaws.com", "us-east-1", true},
		{"waf.amazonaws.com", "us-east-1", true},
		{"shield.amazonaws.com", "us-east-1", true},
		{"health.amazonaws.com", "us-east-1", true},
		{"support.amazonaws.com", "us-east-1", true},
		{"account.amazonaws.com", "us-east-1", true},
		{"ce.amazonaws.com", "us-east-1", true},
		{"budgets.amazonaws.com", "us-east-1", true},
		{"artifact.amazonaws.com", "us-east-1", true},
		{"trustedadvisor.amazonaws.com", "us-east-1", true},
		{"globalaccelerator.amazonaws.com", "us-west-2", false},
		{"sso.amazonaws.com", "us-east-1", false},
		{"wafv2.amazonaws.com", "us-east-1", false},
		{"ec2.amazonaws.com", "us-east-1", false},
		{"s3.amazonaws.com", "us-east-1", false},
		{"iam.amazonaws.com", "", false},
	} {
		ct := &event.CloudTrail{EventSource: tt.source, AWSRegion: tt.region}
		if got := IsGlobal(ct); got != tt.want {
			t.Errorf("IsGlobal(%s in %s) = %v", tt.source, tt.region, got)
		}
	}
	if IsGlobal(nil) {
		t.Error("IsGlobal(nil)")
	}
	// On decoded events.
	var d CloudTrailDecoder
	evs, _, err := decodeAll(d.Decode, ctEvent(t, nil)) // iam ListUsers in us-east-1
	if err != nil || !IsGlobal(evs[0].CloudTrail) {
		t.Fatalf("decoded IAM event not global: %v", err)
	}
	evs, _, _ = decodeAll(d.Decode, readTestdata(t, "cloudtrail/stratus.aws.defense-evasion.cloudtrail-stop.json"))
	if IsGlobal(evs[0].CloudTrail) {
		t.Fatal("StopLogging is regional")
	}
}

func TestCommercialRegions(t *testing.T) {
	if len(CommercialRegions) < 30 {
		t.Fatalf("only %d regions", len(CommercialRegions))
	}
	seen := map[string]bool{}
	for _, r := range CommercialRegions {
		if seen[r] || !validRegion(r) || strings.HasPrefix(r, "cn-") || strings.HasPrefix(r, "us-gov-") {
			t.Errorf("bad region %q", r)
		}
		seen[r] = true
	}
	for _, r := range []string{"us-east-1", "eu-west-1", "ap-southeast-7", "mx-central-1", "il-central-1", "ca-west-1"} {
		if !seen[r] {
			t.Errorf("missing %s", r)
		}
	}
}

func TestParseRegions(t *testing.T) {
	for in, want := range map[string][]string{
		"":                                 CommercialRegions,
		"all":                              CommercialRegions,
		" ALL ":                            CommercialRegions,
		"us-east-1":                        {"us-east-1"},
		" eu-west-1 , us-east-1,eu-west-1": {"eu-west-1", "us-east-1"},
		"us-gov-west-1,cn-north-1":         {"us-gov-west-1", "cn-north-1"},
	} {
		got, err := ParseRegions(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseRegions(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"us-east-1,", ",", "US-EAST-1", "us_east_1", "useast1", "-us-east-1", "us--east-1", "all,us-east-1", "us-east-1;eu-west-1"} {
		if got, err := ParseRegions(in); err == nil {
			t.Errorf("ParseRegions(%q) = %v, want error", in, got)
		}
	}
	// The result is a copy.
	got, _ := ParseRegions("")
	got[0] = "changed"
	if CommercialRegions[0] == "changed" {
		t.Fatal("ParseRegions returned CommercialRegions itself")
	}
}
