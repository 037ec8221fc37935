package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-sec/vigil/event"
)

const exampleRule = `
rules:
  - id: SecretsBurst
    type: CredentialAccess:SecretsManager/CredentialsFromPasswordStores
    severity: Medium
    description: Many secret reads.
    match:
      eventSource: secretsmanager.amazonaws.com
      eventName: [GetSecretValue, BatchGetSecretValue]
      errorCode: {absent: true}
    threshold:
      count: 5
      within: 5m
      groupBy: awsRegion
`

func TestParseExample(t *testing.T) {
	f, err := Parse("x.yaml", []byte(exampleRule))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rules) != 1 {
		t.Fatalf("%d rules", len(f.Rules))
	}
	r := f.Rules[0]
	if r.ID != "SecretsBurst" || r.Severity != 5 || r.File != "x.yaml" || len(r.Conditions) != 3 ||
		r.Threshold == nil || r.Threshold.Count != 5 || r.Threshold.Within != 5*time.Minute || r.Threshold.GroupBy != "awsRegion" {
		t.Fatalf("parsed %+v %+v", r, r.Threshold)
	}
	want := []string{"eventSource equals secretsmanager.amazonaws.com", "eventName in [GetSecretValue, BatchGetSecretValue]", "errorCode absent"}
	for i, c := range r.Conditions {
		if c.String() != want[i] {
			t.Errorf("condition %d: %q, want %q", i, c.String(), want[i])
		}
	}
	// The same rule as JSON, with the threshold's short form.
	j := `{"rules":[{"id":"SecretsBurst","type":"CredentialAccess:SecretsManager/CredentialsFromPasswordStores",
	  "severity":5,"description":"Many secret reads.","match":{"eventSource":"secretsmanager.amazonaws.com",
	  "eventName":{"in":["GetSecretValue","BatchGetSecretValue"]},"errorCode":{"absent":true}},"threshold":"count 5 within 5m"}]}`
	g, err := Parse("x.json", []byte(j))
	if err != nil {
		t.Fatal(err)
	}
	if g.Rules[0].Threshold.Count != 5 || len(g.Rules[0].Conditions) != 3 {
		t.Fatalf("JSON: %+v", g.Rules[0])
	}
}

// Every refusal names the file, the line, the rule and the key at fault.
func TestParseErrors(t *testing.T) {
	rule := func(body string) string {
		return "rules:\n  - id: R1\n    type: Persistence:IAM/AccountManipulation\n    severity: High\n    description: d\n" + body
	}
	match := "    match:\n      eventName: CreateUser\n"
	tests := []struct {
		name, src, want string
	}{
		{"unknown top key", "rulez: []\n", `x.yaml:1: rulez: unknown key`},
		{"unknown rule key", rule(match + "    sevirity: 3\n"), `x.yaml:8: rule R1: sevirity: unknown key`},
		{"no id", "rules:\n  - type: Persistence:IAM/X\n", `x.yaml:2: id: missing`},
		{"bad id", "rules:\n  - id: 'a b'\n", `rule a b: id: "a b" is not an id`},
		{"bad type", strings.Replace(rule(match), "Persistence:IAM/AccountManipulation", "Persistence-IAM", 1), `rule R1: type: "Persistence-IAM" is not of the form`},
		{"unknown tactic", strings.Replace(rule(match), "Persistence:", "Persistance:", 1), `rule R1: type: unknown tactic "Persistance"`},
		{"bad severity", strings.Replace(rule(match), "High", "11", 1), `rule R1: severity: "11" is neither`},
		{"no match", rule(""), `rule R1: match: missing`},
		{"empty match", rule("    match: {}\n"), `rule R1: match: no condition`},
		{"unknown field", rule("    match:\n      eventNam: CreateUser\n"), `x.yaml:7: rule R1: match.eventNam: unknown field`},
		{"unknown operator", rule("    match:\n      eventName: {inn: [A]}\n"), `rule R1: match.eventName.inn: unknown key`},
		{"deep parameter", rule("    match:\n      requestParameters.a.b.c.d.e.f.g: x\n"), `deeper than 6 levels`},
		{"index past the kept elements", rule("    match:\n      requestParameters.a.items.16.b: x\n"), `list index past 15`},
		{"leading wildcard", rule("    match:\n      requestParameters.*.b: x\n"), `a wildcard must follow the name of a list`},
		{"wildcard after an index", rule("    match:\n      requestParameters.a.0.*: x\n"), `a wildcard must follow the name of a list`},
		{"three wildcards in a rule", rule("    match:\n      requestParameters.a.*.b: x\n      requestParameters.c.*.d.*.e: y\n"), `more than 2 distinct wildcards`},
		{"wildcard in another field", rule("    match:\n      requestParameters.userName: {notEqualsField: requestParameters.users.*}\n"), `allowed only in the field a condition tests`},
		{"wildcard groupBy", rule(match + "    threshold: {count: 2, within: 5m, groupBy: requestParameters.a.*.b}\n"), `allowed only in the field a condition tests`},
		{"unknown distinct field", rule(match + "    threshold: {count: 2, within: 5m, distinct: secret}\n"), `threshold.distinct: "secret": unknown field`},
		{"bad cidr", rule("    match:\n      sourceIPAddress: {cidr: 10.0.0.0/33}\n"), `match.sourceIPAddress.cidr: "10.0.0.0/33" is not an address`},
		{"bad number", rule("    match:\n      requestParameters.fromPort: {atMost: x}\n"), `"x" is not a number`},
		{"bad other field", rule("    match:\n      requestParameters.userName: {notEqualsField: user}\n"), `notEqualsField: "user": unknown field`},
		{"empty prefix", rule("    match:\n      userAgent: {prefix: ''}\n"), `matches everything`},
		{"count too high", rule(match + "    threshold: count 65 within 5m\n"), `threshold.count: "65": want a whole number from 2 to 64`},
		{"count one", rule(match + "    threshold: {count: 1, within: 5m}\n"), `threshold.count: "1"`},
		{"window too long", rule(match + "    threshold: count 5 within 48h\n"), `threshold.within: "48h"`},
		{"bad threshold form", rule(match + "    threshold: five in 5m\n"), `threshold: want "count N within DURATION"`},
		{"alias", "rules: &x []\ndisable: *x\n", `disable: aliases are not allowed`},
		{"two documents", "rules: []\n---\nrules: []\n", `more than one YAML document`},
		{"not yaml", "rules: [\n", `not YAML or JSON`},
		{"repeated key", rule(match + "    severity: Low\n"), `severity: repeated key`},
		{"list of maps as value", rule("    match:\n      eventName: [{a: b}]\n"), `match.eventName: want a scalar`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseBounds(t *testing.T) {
	big := "rules: []\n# " + strings.Repeat("x", MaxFileSize) + "\n"
	if _, err := Parse("big.yaml", []byte(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
	var b strings.Builder
	b.WriteString("rules:\n  - id: R\n    type: Impact:S3/X\n    severity: 3\n    description: d\n    match:\n      eventName: [")
	for i := range MaxValues + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("a")
	}
	b.WriteString("]\n")
	if _, err := Parse("many.yaml", []byte(b.String())); err == nil || !strings.Contains(err.Error(), "want 1 to 1024 values") {
		t.Errorf("many values: %v", err)
	}
}

func TestNewJoinsFiles(t *testing.T) {
	one := func(id string) string {
		return "rules:\n  - id: " + id + "\n    type: Impact:S3/X\n    severity: 3\n    description: d\n    match:\n      eventName: A\n"
	}
	a, _ := Parse("a.yaml", []byte(one("R1")))
	b, _ := Parse("b.yaml", []byte(one("R1")))
	if _, err := New(a, b); err == nil || !strings.Contains(err.Error(), "b.yaml: rule R1: id already used by a rule of a.yaml") {
		t.Errorf("duplicate id: %v", err)
	}
	d, err := Parse("d.yaml", []byte("disable: [R1, R9]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(a, d); err == nil || !strings.Contains(err.Error(), `no rule has the id "R9"`) {
		t.Errorf("unknown disabled id: %v", err)
	}
	d, _ = Parse("d.yaml", []byte("disable: [R1]\n"))
	s, err := New(a, d)
	if err != nil || s.Len() != 0 {
		t.Errorf("disabled rule: %v, %d rules", err, s.Len())
	}
	// Threshold rules are capped.
	var b2 strings.Builder
	b2.WriteString("rules:\n")
	for i := range MaxThresholdRules + 1 {
		b2.WriteString("  - id: T" + string(rune('A'+i/26)) + string(rune('a'+i%26)) +
			"\n    type: Impact:S3/X\n    severity: 3\n    description: d\n    match: {eventName: A}\n    threshold: count 2 within 1m\n")
	}
	f, err := Parse("t.yaml", []byte(b2.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(f); err == nil || !strings.Contains(err.Error(), "rules with a threshold") {
		t.Errorf("threshold cap: %v", err)
	}
}

func TestLoadDirAndStarter(t *testing.T) {
	s := Starter()
	if s.Len() < 10 {
		t.Fatalf("%d starter rules", s.Len())
	}
	for _, r := range s.Rules() {
		if !strings.HasPrefix(r.File, "starter/") || CheckType(r.Type) != nil {
			t.Errorf("starter rule %s from %s type %s", r.ID, r.File, r.Type)
		}
	}
	dir := t.TempDir()
	user := exampleRule + "disable: [EC2PasswordDataBurst]\n"
	if err := os.WriteFile(filepath.Join(dir, "mine.yml"), []byte(user), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a rule file"), 0o644)
	got, err := LoadDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != s.Len() { // one added, one disabled
		t.Errorf("%d rules, want %d", got.Len(), s.Len())
	}
	for _, r := range got.Rules() {
		if r.ID == "EC2PasswordDataBurst" {
			t.Error("disabled starter rule loaded")
		}
	}
	if got, err := LoadDir(dir, false); err == nil {
		t.Errorf("disabling a starter rule without the starter set loaded: %d rules", got.Len())
	}
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"rules":[{"id":"X"}]}`), 0o644)
	if _, err := LoadDir(dir, true); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "bad.json")+":1: rule X: type: missing") {
		t.Errorf("bad file: %v", err)
	}
	fsys := fstest.MapFS{"a.yaml": {Data: []byte(exampleRule)}}
	if got, err := Load(fsys, false); err != nil || got.Len() != 1 {
		t.Errorf("Load: %v", err)
	}
}

func ct(name string, params map[string]string) *event.CloudTrail {
	return &event.CloudTrail{
		EventName: name, EventSource: "ec2.amazonaws.com", RecipientAccount: "111122223333",
		SourceIP: "198.51.100.7", RequestParameters: params,
		Identity: event.Identity{Type: "IAMUser", UserName: "alice", AccountID: "111122223333"},
	}
}

// role is a call by the session "session" of a role, naming user.
func role(session, user string) *event.CloudTrail {
	c := ct("UpdateLoginProfile", map[string]string{"userName": user})
	c.Identity = event.Identity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/IAM/" + session}
	return c
}

func TestOperators(t *testing.T) {
	tests := []struct {
		match string
		ev    *event.CloudTrail
		want  bool
	}{
		{"eventName: A", ct("A", nil), true},
		{"eventName: A", ct("B", nil), false},
		{"eventName: [A, B]", ct("B", nil), true},
		{"eventName: {notIn: [A]}", ct("B", nil), true},
		{"eventName: {notIn: [A]}", ct("A", nil), false},
		{"errorCode: {notIn: [AccessDenied]}", ct("A", nil), true},
		{"errorCode: {absent: true}", ct("A", nil), true},
		{"errorCode: {absent: false}", ct("A", nil), false},
		{"errorCode: {present: true}", ct("A", nil), false},
		{"userAgent: {prefix: aws-cli}", ct("A", nil), false},
		{"eventSource: {prefix: [s3., ec2.]}", ct("A", nil), true},
		{"userIdentity.userName: {contains: lic}", ct("A", nil), true},
		{"sourceIPAddress: {cidr: [198.51.100.0/24]}", ct("A", nil), true},
		{"sourceIPAddress: {cidr: 10.0.0.0/8}", ct("A", nil), false},
		{"requestParameters.cidrIp: {covers: 0.0.0.0/0}", ct("A", map[string]string{"cidrIp": "208.236.235.254/0"}), true},
		{"requestParameters.cidrIp: {covers: 0.0.0.0/0}", ct("A", map[string]string{"cidrIp": "10.0.0.0/8"}), false},
		{"requestParameters.cidrIp: {cidr: 10.0.0.0/8}", ct("A", map[string]string{"cidrIp": "10.1.0.0/16"}), true},
		{"requestParameters.cidrIp: {cidr: 10.0.0.0/8}", ct("A", map[string]string{"cidrIp": "0.0.0.0/0"}), false},
		{"requestParameters.fromPort: {atMost: 22}", ct("A", map[string]string{"fromPort": "0"}), true},
		{"requestParameters.fromPort: {atMost: 22, atLeast: 1}", ct("A", map[string]string{"fromPort": "0"}), false},
		{"requestParameters.fromPort: {atLeast: 22}", ct("A", nil), false},
		{"requestParameters.userName: {notEqualsField: userIdentity.userName}", ct("A", map[string]string{"userName": "bob"}), true},
		{"requestParameters.userName: {notEqualsField: userIdentity.userName}", ct("A", map[string]string{"userName": "alice"}), false},
		{"requestParameters.userName: {notEqualsField: userIdentity.userName}", ct("A", nil), false},
		{"requestParameters.p: {foreignAccount: true}", ct("A", map[string]string{"p": `{"AWS":"arn:aws:iam::444455556666:root"}`}), true},
		{"requestParameters.p: {foreignAccount: true}", ct("A", map[string]string{"p": `{"AWS":"arn:aws:iam::111122223333:root"}`}), false},
		{"requestParameters.p: {foreignAccount: true}", ct("A", map[string]string{"p": `{"n":"1111222233334444"}`}), false},
		{"readOnly: 'false'", ct("A", nil), true},
		{"requestParameters.userName: {notEqualsField: [userIdentity.userName, userIdentity.sessionName]}", role("alice", "alice"), false},
		{"requestParameters.userName: {notEqualsField: [userIdentity.userName, userIdentity.sessionName]}", role("alice", "bob"), true},
		{"userIdentity.sessionName: alice", role("alice", "x"), true},
		// List elements by index, and by wildcard.
		{"requestParameters.valuesToAdd.0: all", ct("A", map[string]string{"valuesToAdd.0": "all"}), true},
		{"requestParameters.valuesToAdd.*: all", ct("A", map[string]string{"valuesToAdd.0": "444455556666", "valuesToAdd.1": "all"}), true},
		{"requestParameters.valuesToAdd.*: all", ct("A", map[string]string{"valuesToRemove.0": "all"}), false},
		{"requestParameters.valuesToAdd.*: {foreignAccount: true}", ct("A", map[string]string{"valuesToAdd.0": "111122223333", "valuesToAdd.1": "444455556666"}), true},
		{"requestParameters.valuesToAdd.*: {foreignAccount: true}", ct("A", map[string]string{"valuesToAdd.0": "111122223333"}), false},
		{"requestParameters.a.items.*.group: all", ct("A", map[string]string{"a.items.0.userId": "444455556666", "a.items.1.group": "all"}), true},
		{"requestParameters.a.items.*.group: all", ct("A", map[string]string{"a.items.10.group": "all"}), true},
		{"requestParameters.a.items.*.group: all", ct("A", map[string]string{"a.items.0x.group": "all", "a.items": "all"}), false},
		{"requestParameters.a.items.*.group: all", ct("A", nil), false},
		// Accounts of one's organization left out, element by element.
		{"requestParameters.valuesToAdd.*: {foreignAccount: true, notIn: ['444455556666']}", ct("A", map[string]string{"valuesToAdd.0": "444455556666"}), false},
		{"requestParameters.valuesToAdd.*: {foreignAccount: true, notIn: ['444455556666']}",
			ct("A", map[string]string{"valuesToAdd.0": "444455556666", "valuesToAdd.1": "555566667777"}), true},
		// Conditions sharing a wildcard hold for the same element.
		{"\n      requestParameters.p.items.*.fromPort: {atMost: 22}\n      requestParameters.p.items.*.toPort: {atLeast: 22}",
			ct("A", map[string]string{"p.items.0.fromPort": "443", "p.items.0.toPort": "443", "p.items.1.fromPort": "22", "p.items.1.toPort": "22"}), true},
		{"\n      requestParameters.p.items.*.fromPort: {atMost: 22}\n      requestParameters.p.items.*.toPort: {atLeast: 22}",
			ct("A", map[string]string{"p.items.0.fromPort": "0", "p.items.0.toPort": "21", "p.items.1.fromPort": "23", "p.items.1.toPort": "80"}), false},
		{"\n      requestParameters.p.items.*.toPort: 22\n      requestParameters.p.items.*.r.items.*.cidrIp: {covers: 0.0.0.0/0}",
			ct("A", map[string]string{"p.items.0.toPort": "22", "p.items.0.r.items.0.cidrIp": "10.0.0.0/8", "p.items.0.r.items.1.cidrIp": "0.0.0.0/0"}), true},
		{"\n      requestParameters.p.items.*.toPort: 22\n      requestParameters.p.items.*.r.items.*.cidrIp: {covers: 0.0.0.0/0}",
			ct("A", map[string]string{"p.items.0.toPort": "22", "p.items.0.r.items.0.cidrIp": "10.0.0.0/8", "p.items.1.toPort": "443", "p.items.1.r.items.0.cidrIp": "0.0.0.0/0"}), false},
		// Absent is of an element the event has.
		{"requestParameters.a.items.*.group: {absent: true}", ct("A", map[string]string{"a.items.0.userId": "444455556666"}), true},
		{"requestParameters.a.items.*.group: {absent: true}", ct("A", map[string]string{"a.items.0.group": "all"}), false},
	}
	for _, tt := range tests {
		src := "rules:\n  - id: R\n    type: Impact:S3/X\n    severity: 3\n    description: d\n    match: {" + tt.match + "}\n"
		if strings.HasPrefix(tt.match, "\n") { // a block mapping
			src = "rules:\n  - id: R\n    type: Impact:S3/X\n    severity: 3\n    description: d\n    match:" + tt.match + "\n"
		}
		f, err := Parse("x.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", tt.match, err)
		}
		s, _ := New(f)
		if got := len(s.Matching(tt.ev, nil)) == 1; got != tt.want {
			t.Errorf("%s on %s %v: %v, want %v", tt.match, tt.ev.EventName, tt.ev.RequestParameters, got, tt.want)
		}
	}
}

// Matching uses the eventName index and the unindexed rules together, in
// id order.
func TestMatchingOrder(t *testing.T) {
	src := `rules:
  - {id: C, type: Impact:S3/X, severity: 3, description: d, match: {eventName: A}}
  - {id: A, type: Impact:S3/X, severity: 3, description: d, match: {sourceIPAddress: {cidr: 198.51.100.0/24}}}
  - {id: B, type: Impact:S3/X, severity: 3, description: d, match: {eventName: [A, B]}}
  - {id: D, type: Impact:S3/X, severity: 3, description: d, match: {eventName: A, eventSource: {in: [x]}}}
  - {id: E, type: Impact:S3/X, severity: 3, description: d, match: {eventName: {in: [A]}, userAgent: {absent: true}}}
`
	f, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := New(f)
	var ids []string
	for _, r := range s.Matching(ct("A", nil), nil) {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "A,B,C,E" {
		t.Errorf("matched %v", ids)
	}
	if got := s.Types(); len(got) != 1 || got[0] != "Impact:S3/X" {
		t.Errorf("types %v", got)
	}
}

// The evidence of a wildcard condition is the value of the element the
// rule matched: not the first element of the list.
func TestWildcardObserved(t *testing.T) {
	src := `
rules:
  - id: Shared
    type: Exfiltration:EC2/TransferDataToCloudAccount
    severity: 5
    description: d
    match:
      requestParameters.p.add.items.*.userId: {foreignAccount: true}
      requestParameters.p.add.items.*.note: x
`
	f, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := New(f)
	ev := ct("A", map[string]string{
		"p.add.items.0.userId": "555566667777", "p.add.items.0.note": "y",
		"p.add.items.1.userId": "444455556666", "p.add.items.1.note": "x",
	})
	rs := s.Matching(ev, nil)
	if len(rs) != 1 {
		t.Fatal("no match")
	}
	c := &rs[0].Conditions[0]
	if v, ok := c.Observed(ev); !ok || v != "444455556666" || c.ForeignAccount(ev) != "444455556666" {
		t.Errorf("observed %q %v, foreign %q", v, ok, c.ForeignAccount(ev))
	}
	if !c.Match(ev) || c.String() != "requestParameters.p.add.items.*.userId foreignAccount" {
		t.Errorf("condition alone: %v %s", c.Match(ev), c.String())
	}
}
