package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/eval"
)

// TestEval replays the small labelled set of testdata/eval (see its
// SOURCE.md) through `vigil eval` and checks the report's counts: the
// detonations and rule tests that must raise a type do, the rule tests
// expected not to alert and the benign DNS and SSH traffic raise nothing,
// the principal and network profiles are measured, and the DGA model is
// reported as not evaluated (the set has no dga/ lists).
func TestEval(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	if err := runEval(ctx, []string{"--json", "testdata/eval"}, &out, &errOut); err != nil {
		t.Fatalf("vigil eval: %v\n%s", err, errOut.String())
	}
	var rep eval.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	got := map[string]eval.TypeRow{}
	for _, r := range rep.Types {
		x := r
		x.Implemented = false
		got[r.Type] = x
	}
	// Units expected to raise each type, and how many at least did (all
	// of them, but where a detector is still being built).
	want := map[string][2]int{
		"Stealth:IAMUser/CloudTrailLoggingDisabled":  {2, 2},
		"DefenseImpairment:EC2/DisableOrModifyTools": {1, 1},
		"Policy:IAMUser/RootCredentialUsage":         {4, 4},
		"InitialAccess:IAM/ValidAccounts":            {1, 1},
		"Persistence:IAM/AccountManipulation":        {1, 0},
		"AttackSequence:IAM/CompromisedCredentials":  {1, 1},
		"Trojan:EC2/DNSDataExfiltration":             {2, 1},
		"UnauthorizedAccess:EC2/SSHBruteForce":       {3, 3},
	}
	for typ, w := range want {
		g := got[typ]
		if g.Expected != w[0] || g.Detected < w[1] || g.Detected+g.Missed != g.Expected {
			t.Errorf("%s: got %+v, want %d expected, %d or more detected", typ, g, w[0], w[1])
		}
	}
	for typ, g := range got {
		if _, ok := want[typ]; !ok && g.Expected > 0 {
			t.Errorf("unexpected row %+v", g)
		}
	}
	if rep.Totals.False != 0 {
		t.Errorf("false findings: %+v", rep.False)
	}
	sets := map[string]int{}
	for _, s := range rep.Sets {
		sets[s.Set] = s.Units
	}
	if sets[eval.SetStratus] != 3 || sets[eval.SetPanther] != 11 || sets[eval.SetNetrack] != 2 || sets[eval.SetCaptures] != 1 || sets[eval.SetHoneypot] != 12 {
		t.Errorf("units per set %v", sets)
	}
	if len(rep.ExpectedNone) != 1 {
		t.Errorf("expected-none techniques %+v", rep.ExpectedNone)
	}
	if p := rep.Profiles; p.Count == 0 || p.Median <= 0 || p.P99 < p.Median {
		t.Errorf("principal profiles %+v", p)
	}
	if p := rep.NetworkProfiles; p.Count == 0 || p.Median <= 0 || p.P99 < p.Median {
		t.Errorf("network profiles %+v", p)
	}
	if rep.DGA != nil || rep.DGAAbsent == "" {
		t.Errorf("DGA %+v, absent %q: want absent", rep.DGA, rep.DGAAbsent)
	}

	// The text table says the same.
	out.Reset()
	if err := runEval(ctx, []string{"testdata/eval"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Stealth:IAMUser/CloudTrailLoggingDisabled", "total", "principal profiles:", "network profiles:",
		"DGA model (Trojan:EC2/DGADomainRequest.B): not evaluated, labelled data absent", "aws.defense-evasion.cloudtrail-event-selectors"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}
