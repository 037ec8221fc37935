package detect

import (
	"encoding/json"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
)

func TestCryptoDNSPanther(t *testing.T) {
	cases := pantherCases(t, "AWS.DNS.Crypto.Domain")
	if len(cases) != 8 {
		t.Fatalf("%d Route 53 cases, want 8", len(cases))
	}
	for _, c := range cases {
		t.Run(c.TestName, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			got := ofType(w.apply(dnsEventJSON(t, c.Log)), TypeBitcoinToolDNS)
			if want := map[bool]int{true: 1, false: 0}[c.ExpectedAlert]; len(got) != want {
				t.Fatalf("%d findings, want %d:%s", len(got), want, summary(got))
			}
			for _, f := range got {
				checkFinding(t, f)
				if f.Service.AdditionalInfo["threatListName"] != "panther_crypto_mining" {
					t.Errorf("threatListName = %v", f.Service.AdditionalInfo["threatListName"])
				}
				if f.Resource.InstanceDetails.InstanceID != "i-0abc234" {
					t.Errorf("instance = %q", f.Resource.InstanceDetails.InstanceID)
				}
			}
		})
	}
}

func TestCryptoDNSTester(t *testing.T) {
	w := newWorld(DefaultConfig())
	got := w.apply(dnsQuery(dnsStart, scanner, localIP, "crypto.guarddutyc2activityb.com."))
	if len(got) != 1 || got[0].Type != TypeBitcoinToolDNS {
		t.Fatalf("tester query raised:%s", summary(got))
	}
	f := got[0]
	checkFinding(t, f)
	a := f.Service.Action.DNSRequestAction
	ev := f.Service.Evidence
	if f.Severity != findings.SeverityHigh || f.Service.ResourceRole != findings.RoleActor ||
		a.Domain != "crypto.guarddutyc2activityb.com" || a.DomainWithSuffix != "guarddutyc2activityb.com" ||
		a.VpcOwnerAccountID != "111122223333" || f.Service.AdditionalInfo["threatListName"] != "vigil-test" ||
		ev == nil || len(ev.ThreatIntelligenceDetails) != 1 || ev.ThreatIntelligenceDetails[0].ThreatListName != "vigil-test" ||
		f.Resource.InstanceDetails.InstanceID != scanner || f.Resource.InstanceDetails.NetworkInterfaces[0].PrivateIPAddress != localIP {
		b, _ := json.MarshalIndent(f, "", "  ")
		t.Fatalf("finding:\n%s", b)
	}
	if want := "Bitcoin-related domain name queried by EC2 instance " + scanner + "."; f.Title != want {
		t.Errorf("title = %q, want %q", f.Title, want)
	}
	// The tester's C&C domains are not crypto indicators.
	for _, name := range []string{"guarddutyc2activityb.com", "c2.guarddutyc2activityb.com"} {
		if got := ofType(w.apply(dnsQuery(dnsStart, scanner, localIP, name)), TypeBitcoinToolDNS); len(got) != 0 {
			t.Errorf("%s raised:%s", name, summary(got))
		}
	}
}

func TestCryptoDNSIntel(t *testing.T) {
	custom, err := intel.LoadFS(fstest.MapFS{"corp-miners.txt": {Data: []byte("pool.corp-miner.example.com\n")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		set  *intel.Set
		q    string
		list string
	}{
		{"no intel", nil, "pool.minexmr.com", ""},
		{"custom list", custom, "eu.pool.corp-miner.example.com", "corp-miners"},
		{"custom list lacks the built-in entries", custom, "pool.minexmr.com", ""},
		{"built-in", intel.Default(), "xmr-eu1.pool.minexmr.com", "maltrail_crypto_mining"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Intel = tc.set
			w := newWorld(cfg)
			got := w.apply(dnsQuery(dnsStart, scanner, localIP, tc.q))
			if (tc.list == "") != (len(got) == 0) {
				t.Fatalf("%d findings:%s", len(got), summary(got))
			}
			if len(got) == 1 && got[0].Service.AdditionalInfo["threatListName"] != tc.list {
				t.Errorf("threatListName = %v, want %s", got[0].Service.AdditionalInfo["threatListName"], tc.list)
			}
		})
	}
}

func TestCryptoDNSAggregation(t *testing.T) {
	w := newWorld(DefaultConfig())
	for i := range 5 {
		w.apply(dnsQuery(dnsStart.Add(time.Duration(i)*time.Minute), scanner, localIP, "pool.minexmr.com"))
	}
	w.apply(dnsQuery(dnsStart, scanner, localIP, "xmr.pool.minergate.com"))
	w.apply(dnsQuery(dnsStart, "i-0another0instance", "10.0.1.99", "pool.minexmr.com"))
	agg := aggregate(w.occ)
	if len(agg) != 3 {
		t.Fatalf("%d findings, want 3 (two names on one instance, one on another):%s", len(agg), summary(agg))
	}
	counts := map[int]int{}
	for _, f := range agg {
		counts[f.Service.Count]++
	}
	if counts[5] != 1 || counts[1] != 2 {
		t.Errorf("counts = %v, want one finding of 5 and two of 1", counts)
	}
}

// TestCryptoDNSUnnamedSource: a query from a source without an instance id
// (a resolver endpoint, a container) is keyed by its address.
func TestCryptoDNSUnnamedSource(t *testing.T) {
	rec := []byte(`{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-0123456789abcdef0",
	 "query_timestamp":"2026-03-08T21:41:07Z","query_name":"pool.minexmr.com.","query_type":"A","query_class":"IN","rcode":"NOERROR",
	 "answers":[],"srcaddr":"10.0.3.9","srcport":"53422","transport":"TCP","srcids":{}}`)
	w := newWorld(DefaultConfig())
	ev := dnsEventJSON(t, rec)
	if ev.Entity != "ip:10.0.3.9" {
		t.Fatalf("entity %q", ev.Entity)
	}
	got := w.apply(ev)
	if len(got) != 1 {
		t.Fatalf("%d findings", len(got))
	}
	f := got[0]
	checkFinding(t, f)
	d := f.Resource.InstanceDetails
	if f.Title != "Bitcoin-related domain name queried by EC2 instance 10.0.3.9." || d.InstanceID != "" ||
		len(d.NetworkInterfaces) != 1 || d.NetworkInterfaces[0].PrivateIPAddress != "10.0.3.9" ||
		f.Service.Action.DNSRequestAction.Protocol != "TCP" {
		b, _ := json.MarshalIndent(f, "", "  ")
		t.Fatalf("finding:\n%s", b)
	}
}
