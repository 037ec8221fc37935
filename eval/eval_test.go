package eval

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
)

// fixture is the labelled set cmd/vigil's test replays.
var fixture = filepath.Join("..", "cmd", "vigil", "testdata", "eval")

func TestLoad(t *testing.T) {
	c, err := Load([]string{fixture})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Unit{}
	accounts := map[string]bool{}
	for _, u := range c.Units {
		byName[u.Set+" "+u.Name] = u
		if accounts[u.Account] || len(u.Account) != 12 {
			t.Errorf("%s %s: account %q", u.Set, u.Name, u.Account)
		}
		accounts[u.Account] = true
		for _, r := range u.Records {
			if !bytes.Contains(r.Value, []byte(u.Account)) {
				t.Errorf("%s %s: record not moved to %s: %s", u.Set, u.Name, u.Account, r.Value)
				break
			}
		}
	}
	for name, want := range map[string]struct {
		expect, forbid string
		benign         bool
	}{
		"stratus aws.defense-evasion.cloudtrail-event-selectors":                {},
		"stratus aws.defense-evasion.vpc-remove-flow-logs":                      {expect: "DefenseImpairment:EC2/DisableOrModifyTools"},
		"stratus aws.defense-evasion.cloudtrail-stop":                           {expect: typeCloudTrailLoggingDisabled},
		"panther AWS.CloudTrail.Stopped/CloudTrail Was Started":                 {forbid: typeCloudTrailLoggingDisabled},
		"panther AWS.CloudTrail.Stopped/CloudTrail Was Stopped":                 {expect: typeCloudTrailLoggingDisabled},
		"panther AWS.Root.Activity/Root Activity - CreateServiceLinkedRole":     {expect: typeRootCredentialUsage},
		"panther AWS.CloudTrail.EventSelectorsDisabled/Event Selector Disabled": {},
		"netrack-dns iodine":               {expect: typeDNSDataExfiltration},
		"netrack-dns plain":                {benign: true},
		"panther compromised-root-creds":   {expect: strings.Join(PantherScenario.Types, ",")},
		"dns-captures iodine":              {expect: typeDNSDataExfiltration},
		"uqo-honeypot source 83.69.135.28": {expect: typeSSHBruteForce},
		"uqo-honeypot legitimate sessions": {benign: true},
	} {
		u := byName[name]
		if u == nil {
			t.Errorf("no unit %q", name)
			continue
		}
		if strings.Join(u.Expect, ",") != want.expect || strings.Join(u.Forbid, ",") != want.forbid || u.Benign != want.benign {
			t.Errorf("%s: expect %v forbid %v benign %v, want %+v", name, u.Expect, u.Forbid, u.Benign, want)
		}
		if len(u.Records) == 0 {
			t.Errorf("%s: no records", name)
		}
	}
	if n := len(c.Units); n != 29 {
		t.Errorf("%d units", n)
	}
}

func TestScore(t *testing.T) {
	units := []*Unit{
		{Set: SetStratus, Name: "hit", Account: "900000000000", Expect: []string{"A"}},
		{Set: SetStratus, Name: "miss", Account: "900000000001", Expect: []string{"A"}},
		{Set: SetStratus, Name: "none", Account: "900000000002"},
		{Set: SetPanther, Name: "forbidden", Account: "900000000003", Forbid: []string{"A"}},
		{Set: SetBenign, Name: "benign", Account: "900000000004", Benign: true},
	}
	for _, u := range units {
		u.Records = []Record{{Source: event.SourceCloudTrail}}
	}
	raise := func(account, typ string) findings.Finding { return findings.Finding{AccountID: account, Type: typ} }
	r := Score(&Corpus{Units: units}, []findings.Finding{
		raise("900000000000", "A"), raise("900000000000", "B"), // B: other
		raise("900000000002", "B"), // other
		raise("900000000003", "A"), // false
		raise("900000000004", "C"), // false
		raise("999999999999", "A"), // no unit
	}, []string{"A", "B", "C", "D"})
	rows := map[string]TypeRow{}
	for _, x := range r.Types {
		rows[x.Type] = x
	}
	want := map[string]TypeRow{
		"A": {Type: "A", Implemented: true, Expected: 2, Detected: 1, Missed: 1, False: 1},
		"B": {Type: "B", Implemented: true, Other: 2},
		"C": {Type: "C", Implemented: true, False: 1},
		"D": {Type: "D", Implemented: true},
	}
	for k, w := range want {
		if rows[k] != w {
			t.Errorf("%s: %+v, want %+v", k, rows[k], w)
		}
	}
	if r.Totals.Expected != 2 || r.Totals.False != 2 || r.Totals.Other != 2 || len(r.Missed) != 1 || len(r.False) != 2 || len(r.ExpectedNone) != 1 {
		t.Errorf("totals %+v, missed %v, false %v, none %v", r.Totals, r.Missed, r.False, r.ExpectedNone)
	}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil || !strings.Contains(b.String(), "total") {
		t.Errorf("table: %v\n%s", err, b.String())
	}
}

func TestSizes(t *testing.T) {
	var s []int
	for i := 1; i <= 200; i++ {
		s = append(s, i)
	}
	if got := Sizes(s); got != (ProfileSizes{Count: 200, Median: 100, P99: 198, Max: 200}) {
		t.Errorf("%+v", got)
	}
	if got := Sizes(nil); got != (ProfileSizes{}) {
		t.Errorf("%+v", got)
	}
}
