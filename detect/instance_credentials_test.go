package detect

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/awsranges"
	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// testRanges is a complete list (as one loaded with --aws-ip-ranges)
// holding the AWS addresses of the test records: 18.236.0.0/15 (the
// Stratus detonation's us-west-2 address), 52.40.0.0/14 and 54.74.0.0/15
// as AWS's file lists them.
func testRanges(t testing.TB) *awsranges.Ranges {
	t.Helper()
	r, err := awsranges.Parse(strings.NewReader(`{"createDate":"2026-11-30-21-13-09","prefixes":[
		{"ip_prefix":"18.236.0.0/15","region":"us-west-2","service":"EC2","network_border_group":"us-west-2"},
		{"ip_prefix":"52.40.0.0/14","region":"us-west-2","service":"EC2","network_border_group":"us-west-2"},
		{"ip_prefix":"54.74.0.0/15","region":"eu-west-1","service":"EC2","network_border_group":"eu-west-1"}]}`), "test ranges")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// credCases returns the panther-analysis cases of
// testdata/panther_credentials_s3.jsonl for rules.
func credCases(t testing.TB, rules ...string) []pantherCase {
	t.Helper()
	var out []pantherCase
	for _, l := range readLines(t, "panther_credentials_s3.jsonl") {
		var c pantherCase
		if err := json.Unmarshal(l, &c); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(rules, c.RuleID) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no cases for %v", rules)
	}
	return out
}

// rewrite returns the record raw with top-level fields set (nil deletes).
func rewrite(t testing.TB, raw []byte, set map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stolenCalls returns the calls the Stratus detonation made with the
// instance's stolen credentials, from addr ("" keeps the logged one).
func stolenCalls(t testing.TB, addr string) [][]byte {
	t.Helper()
	var recs []json.RawMessage
	if err := json.Unmarshal(readTestdata(t, "stratus.credential-access.ec2-steal-instance-credentials.json"), &recs); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, r := range recs {
		if !strings.Contains(string(r), `:assumed-role/`) {
			continue
		}
		if addr != "" {
			r = rewrite(t, r, map[string]any{"sourceIPAddress": addr})
		}
		out = append(out, r)
	}
	if len(out) != 2 {
		t.Fatalf("%d calls with the instance's credentials, want 2", len(out))
	}
	return out
}

// readTestdata returns a testdata file.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func instanceTypes(occ []findings.Finding) []findings.Finding {
	return append(ofType(occ, TypeInstanceCredsOutsideAWS), ofType(occ, TypeInstanceCredsInsideAWS)...)
}

func TestInstanceCredentialsStratus(t *testing.T) {
	const instance = "i-786a3A8B5C0d92eF4"
	for _, c := range []struct {
		name   string
		addr   string // "" keeps the detonation's
		ranges bool   // a complete list, else the bundled subset
		want   int
	}{
		// The detonation's address is AWS's (us-west-2 EC2), and nothing
		// tells the instance's own public address: vigil cannot tell the
		// thief from the instance, and stays silent.
		{"as logged, bundled subset", "", false, 0},
		{"as logged, complete list", "", true, 0},
		// The same calls from an address outside AWS.
		{"outside AWS, complete list", "203.0.113.50", true, 1},
		// Not in the bundled subset, which is not AWS's whole list.
		{"outside AWS, bundled subset", "203.0.113.50", false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if c.ranges {
				cfg.AWSRanges = testRanges(t)
			}
			w := newWorld(cfg)
			for _, r := range stolenCalls(t, c.addr) {
				w.apply(cloudTrailEvent(t, r))
			}
			got := aggregate(instanceTypes(w.occ))
			if len(got) != c.want {
				t.Fatalf("%d findings, want %d:%s", len(got), c.want, summary(got))
			}
			if c.want == 0 {
				return
			}
			f := got[0]
			checkFinding(t, f)
			a := f.Service.Action.AwsAPICallAction
			if f.Type != TypeInstanceCredsOutsideAWS || f.Severity != findings.SeverityHigh || f.Service.Count != 2 ||
				a.AffectedResources["AWS::EC2::Instance"] != instance || a.RemoteIPDetails == nil || a.RemoteIPDetails.IPAddressV4 != "203.0.113.50" {
				b, _ := json.MarshalIndent(f, "", "  ")
				t.Fatalf("finding:\n%s", b)
			}
			info := f.Service.AdditionalInfo["instanceCredentials"].(map[string]any)
			if info["instanceId"] != instance || info["callerAddress"] != "203.0.113.50" || info["ec2RoleDelivery"] != "1.0" ||
				!strings.Contains(info["why"].(string), "203.0.113.50 is outside AWS (not in AWS's ranges, test ranges") {
				t.Fatalf("evidence: %v", info)
			}
		})
	}
}

func TestInstanceCredentialsPanther(t *testing.T) {
	// vigil's expectation per case, where it differs from the Panther
	// rule's: the Amazon-ASN address is inside AWS, and the instance's
	// own public address is unknown (the rule alerts on any address that
	// is not EC2's); ssmmessages is not exempt (GuardDuty's rule has no
	// such exception: the SSM agent calls it from the instance).
	want := map[string]int{
		"IMDS Credentials Used From Public IP":                1,
		"IMDS Credentials Used From Amazon.com ASN Source IP": 0,
		"SSM Messages Service Source":                         1,
	}
	for _, c := range credCases(t, "AWS.CloudTrail.IMDSCredentialExfiltration") {
		t.Run(c.TestName, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.AWSRanges = testRanges(t)
			w := newWorld(cfg)
			got := instanceTypes(w.apply(cloudTrailEvent(t, c.Log)))
			n, ok := want[c.TestName]
			if !ok && !c.ExpectedAlert {
				n = 0
			}
			if len(got) != n {
				t.Fatalf("%d findings, want %d:%s", len(got), n, summary(got))
			}
			for _, f := range got {
				checkFinding(t, f)
				if f.Type != TypeInstanceCredsOutsideAWS {
					t.Errorf("type %s", f.Type)
				}
			}
		})
	}
}

// instanceCall is a call by instance i-0abcdef1234567890's credentials,
// from the Panther record, with fields set.
func instanceCall(t testing.TB, set map[string]any) *event.Event {
	t.Helper()
	c := credCases(t, "AWS.CloudTrail.IMDSCredentialExfiltration")[0]
	if c.TestName != "IMDS Credentials Used From Public IP" {
		t.Fatalf("first case is %q", c.TestName)
	}
	return cloudTrailEvent(t, rewrite(t, c.Log, set))
}

func TestInstanceCredentialsInsideAWS(t *testing.T) {
	const instance = "i-0abcdef1234567890"
	viaEndpoint := func(account string) map[string]any {
		return map[string]any{"sourceIPAddress": "10.8.1.20", "vpcEndpointId": "vpce-0a1b2c3d4e5f60789", "vpcEndpointAccountId": account}
	}
	t.Run("another account's VPC endpoint", func(t *testing.T) {
		for _, c := range []struct {
			affiliated []string
			severity   float64
		}{{nil, findings.SeverityHigh}, {[]string{"444455556666"}, findings.SeverityMedium}} {
			cfg := DefaultConfig()
			cfg.AffiliatedAccounts = c.affiliated
			w := newWorld(cfg)
			got := instanceTypes(w.apply(instanceCall(t, viaEndpoint("444455556666"))))
			if len(got) != 1 || got[0].Type != TypeInstanceCredsInsideAWS || got[0].Severity != c.severity {
				t.Fatalf("affiliated %v: %v", c.affiliated, summary(got))
			}
			checkFinding(t, got[0])
			rad := got[0].Service.Action.AwsAPICallAction.RemoteAccountDetails
			if rad == nil || rad.AccountID != "444455556666" || rad.Affiliated != (c.affiliated != nil) {
				t.Fatalf("remoteAccountDetails %+v", rad)
			}
		}
	})
	t.Run("own VPC endpoint", func(t *testing.T) {
		w := newWorld(DefaultConfig())
		ev := instanceCall(t, viaEndpoint("123456789012"))
		if got := instanceTypes(w.apply(ev)); len(got) != 0 {
			t.Fatalf("findings:%s", summary(got))
		}
		in := w.profile(ev).(*profiles.Principal).Credentials.Instance(instance)
		if in == nil || len(in.Addrs) != 1 || in.Addrs[0].Addr != "10.8.1.20" || in.Addrs[0].Via != profiles.ViaVPCEndpoint {
			t.Fatalf("instance state %+v", in)
		}
	})
	t.Run("address not the instance's", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.AWSRanges = testRanges(t)
		w := newWorld(cfg)
		from := func(addr string) []findings.Finding {
			return instanceTypes(w.apply(instanceCall(t, map[string]any{"sourceIPAddress": addr, "eventID": "call-from-" + addr})))
		}
		// Before the instance's public address is known: silent.
		if got := from("52.42.146.205"); len(got) != 0 {
			t.Fatalf("unknown instance address:%s", summary(got))
		}
		// The instance gives itself an Elastic IP (EC2-Classic form, with
		// publicIp), which its calls then come from.
		assoc := instanceCall(t, map[string]any{"eventName": "AssociateAddress", "eventID": "assoc",
			"requestParameters": map[string]any{"instanceId": instance, "publicIp": "54.74.1.10"}, "responseElements": map[string]any{"_return": true}})
		w.apply(assoc)
		if got := from("54.74.1.10"); len(got) != 0 {
			t.Fatalf("the instance's own address:%s", summary(got))
		}
		got := from("18.236.253.47")
		if len(got) != 1 || got[0].Type != TypeInstanceCredsInsideAWS || got[0].Severity != findings.SeverityHigh {
			t.Fatalf("another AWS address:%s", summary(got))
		}
		checkFinding(t, got[0])
		info := got[0].Service.AdditionalInfo["instanceCredentials"].(map[string]any)
		known := info["knownAddresses"].([]map[string]any)
		if len(known) != 1 || known[0]["address"] != "54.74.1.10" || !slices.Equal(known[0]["learnedFrom"].([]string), []string{"AssociateAddress"}) ||
			!strings.Contains(info["why"].(string), "none of the instance's known public addresses") {
			t.Fatalf("evidence %v", info)
		}
		if got[0].Service.Action.AwsAPICallAction.RemoteAccountDetails != nil {
			t.Fatal("a remote account was made up")
		}
	})
}

func TestInstanceCredentialsRunInstances(t *testing.T) {
	// A real RunInstances response: the launched instance's private
	// address is learned by the profile of the principal that launched it.
	c := credCases(t, "AWS.EC2.Monitoring")[0]
	ev := cloudTrailEvent(t, c.Log)
	if got := ev.CloudTrail.RequestParameters[event.ParamInstances]; got != "i-0d7e4b9be8a0de6ea 111.111.111.111" {
		t.Fatalf("instances %q", got)
	}
	w := newWorld(DefaultConfig())
	w.apply(ev)
	in := w.profile(ev).(*profiles.Principal).Credentials.Instance("i-0d7e4b9be8a0de6ea")
	if in == nil || in.Via != profiles.ViaRunInstances || len(in.Addrs) != 1 || in.Addrs[0].Addr != "111.111.111.111" {
		t.Fatalf("instance state %+v", in)
	}
}

func TestInstanceCredentialsOrder(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AWSRanges = testRanges(t)
	calls := stolenCalls(t, "203.0.113.50")
	var evs []*event.Event
	for _, r := range calls {
		evs = append(evs, cloudTrailEvent(t, r))
	}
	fwd, rev := newWorld(cfg), newWorld(cfg)
	fwd.applyAll(evs)
	for i := len(evs) - 1; i >= 0; i-- {
		rev.apply(evs[i])
	}
	a, b := aggregate(instanceTypes(fwd.occ)), aggregate(instanceTypes(rev.occ))
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if len(a) != 1 || string(ja) != string(jb) {
		t.Fatalf("order changed the findings:\n%s\n%s", ja, jb)
	}
}

func TestIsInstanceID(t *testing.T) {
	for s, want := range map[string]bool{
		"i-0abcdef1234567890": true, "i-12345678": true, "i-786a3A8B5C0d92eF4": true,
		"i-123": false, "i-0abcdef123456789g": false, "session": false, "": false, "i-": false,
	} {
		if isInstanceID(s) != want {
			t.Errorf("%q: %v", s, !want)
		}
	}
}
