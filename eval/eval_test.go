package eval

import (
	"bytes"
	"fmt"
	"os"
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

// TestDGA finds the dga/ directory under a path, evaluates the model on a
// tiny copy of the lists, and says the data is absent without them.
func TestDGA(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	if err := os.MkdirAll(filepath.Join(data, "dga"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	if c.DGADir != data {
		t.Fatalf("DGADir %q, want %q", c.DGADir, data)
	}
	if r, absent, err := DGA(c.DGADir); r != nil || err != nil || !strings.Contains(absent, "not found") {
		t.Errorf("no lists: %v, %q, %v", r, absent, err)
	}
	if r, absent, err := DGA(""); r != nil || err != nil || absent == "" {
		t.Errorf("no dir: %v, %q, %v", r, absent, err)
	}

	// A few generated and benign domains, some in the held-back split.
	var generated, benign []string
	for i := 0; len(generated) < 40 || len(benign) < 40; i++ {
		g := fmt.Sprintf("xq%dzkvtrwpl%djh.com", i, i*7)
		b := fmt.Sprintf("shop%d.com", i)
		if len(generated) < 40 {
			generated = append(generated, g)
		}
		if len(benign) < 40 {
			benign = append(benign, b)
		}
	}
	files := map[string]string{
		"dga/baderj_dga_examples_capped5k.csv": "family,variant_file,domain\n" + "fam,f.txt," + strings.Join(generated, "\nfam,f.txt,") + "\n",
		"dga/chrmor_dga_domains_sample.csv":    "class,family,domain\nlegit,alexa,google.com\n",
	}
	for _, f := range []string{"umbrella-top-100k", "alexa2016-top-100000-domains", "opendns-top-domains", "opendns-random-domains"} {
		files["benign_domains/"+f+".txt"] = strings.Join(benign, "\n") + "\n"
	}
	if err := os.MkdirAll(filepath.Join(data, "benign_domains"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(data, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, absent, err := DGA(data)
	if err != nil || r == nil || absent != "" {
		t.Fatalf("%v, %q, %v", r, absent, err)
	}
	if r.Test.Positives == 0 || r.Test.Negatives == 0 {
		t.Errorf("held-back split %+v", r.Test)
	}
	var b bytes.Buffer
	if err := (&Report{DGA: r}).WriteTable(&b); err != nil || !strings.Contains(b.String(), "precision") {
		t.Errorf("table: %v\n%s", err, b.String())
	}
}
