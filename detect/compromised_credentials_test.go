package detect

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

func TestParseLeakedKeys(t *testing.T) {
	l, err := ParseLeakedKeys(strings.NewReader("# leaked keys\n\nAKIAIOSFODNN7EXAMPLE # found in a public repository\n  AKIA2E0A8F3B244C9986\n"), "keys.txt")
	if err != nil {
		t.Fatal(err)
	}
	if note, ok := l.Lookup("AKIAIOSFODNN7EXAMPLE"); !ok || note != "found in a public repository" || l.Len() != 2 || l.Source() != "keys.txt" {
		t.Fatalf("%q %v %d", note, ok, l.Len())
	}
	if _, ok := l.Lookup("AKIA2E0A8F3B244C9986"); !ok {
		t.Fatal("second key missing")
	}
	var none *LeakedKeys
	if _, ok := none.Lookup("AKIAIOSFODNN7EXAMPLE"); ok || none.Len() != 0 {
		t.Fatal("a nil list holds a key")
	}
	for _, c := range []struct{ doc, want string }{
		{"AKIAIOSFODNN7EXAMPLE\nASIAIOSFODNN7EXAMPLE\n", "line 2: \"ASIAIOSFODNN7EXAMPLE\" is not a long-term access key id"},
		{"AKIAIOSFODNN7EXAMPL\n", "line 1"},
		{"akiaiosfodnn7example\n", "line 1"},
		{strings.Repeat("A", 2000) + "\n", "line 1 longer than"},
	} {
		if _, err := ParseLeakedKeys(strings.NewReader(c.doc), "bad.txt"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.30q: %v, want %q", c.doc, err, c.want)
		}
	}
	if _, err := LoadLeakedKeys("testdata/no-such-file"); err == nil {
		t.Error("a missing file loaded")
	}
}

// userCall is a call by IAM user compromised_user with key, from the
// Panther quarantine record, with fields set.
func userCall(t testing.TB, key string, set map[string]any) []byte {
	t.Helper()
	c := credCases(t, "AWS.IAM.AccessKeyCompromised")[0]
	var m map[string]any
	if err := json.Unmarshal(c.Log, &m); err != nil {
		t.Fatal(err)
	}
	m["userIdentity"].(map[string]any)["accessKeyId"] = key
	b, _ := json.Marshal(m)
	return rewrite(t, b, set)
}

func TestCompromisedCredentials(t *testing.T) {
	const leaked, other = "AKIAIOSFODNN7EXAMPLE", "AKIA2E0A8F3B244C9986"
	list, err := ParseLeakedKeys(strings.NewReader(leaked+" # found in a public gist\n"), "leaked.txt")
	if err != nil {
		t.Fatal(err)
	}
	describe := func(key, id, at string, set map[string]any) []byte {
		s := map[string]any{"eventName": "DescribeInstances", "eventSource": "ec2.amazonaws.com", "eventID": id, "eventTime": at,
			"sourceIPAddress": "203.0.113.50", "requestParameters": nil}
		for k, v := range set {
			s[k] = v
		}
		return userCall(t, key, s)
	}
	t.Run("listed key", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.LeakedKeys = list
		w := newWorld(cfg)
		got := ofType(w.apply(cloudTrailEvent(t, describe(leaked, "e1", "2018-09-28T19:00:00Z", nil))), TypeCompromisedCredentials)
		if len(got) != 1 || got[0].Severity != findings.SeverityHigh {
			t.Fatalf("listed key:%s", summary(got))
		}
		checkFinding(t, got[0])
		ev := got[0].Service.AdditionalInfo["leakedKey"].(map[string]any)["evidence"].([]string)
		if len(ev) != 1 || !strings.Contains(ev[0], "leaked.txt (found in a public gist)") || got[0].Resource.AccessKeyDetails.AccessKeyID != leaked {
			t.Fatalf("evidence %v", ev)
		}
		if got := ofType(w.apply(cloudTrailEvent(t, describe(other, "e2", "2018-09-28T19:00:00Z", nil))), TypeCompromisedCredentials); len(got) != 0 {
			t.Fatalf("unlisted key:%s", summary(got))
		}
		// An AWS service acting with the key is not a use by anyone.
		svc := describe(leaked, "e3", "2018-09-28T19:00:00Z", map[string]any{"sourceIPAddress": "cloudformation.amazonaws.com"})
		if got := ofType(w.apply(cloudTrailEvent(t, svc)), TypeCompromisedCredentials); len(got) != 0 {
			t.Fatalf("service call:%s", summary(got))
		}
	})
	t.Run("quarantined by AWS", func(t *testing.T) {
		// The real quarantine record (PutUserPolicy AWSCompromisedKeyQuarantineV3
		// logged under the user's own identity, at 2020-04-10T06:22:08Z):
		// the key the user used before it is leaked, from then on.
		w := newWorld(DefaultConfig())
		before := cloudTrailEvent(t, describe(leaked, "e0", "2020-04-09T10:00:00Z", nil))
		if got := ofType(w.apply(before), TypeCompromisedCredentials); len(got) != 0 {
			t.Fatalf("before the quarantine:%s", summary(got))
		}
		q := cloudTrailEvent(t, userCall(t, leaked, nil))
		if got := ofType(w.apply(q), TypeCompromisedCredentials); len(got) != 0 {
			t.Fatalf("the quarantine itself:%s", summary(got))
		}
		p := w.profile(q).(*profiles.Principal)
		if p.Credentials.QuarantinedAt.IsZero() {
			t.Fatal("quarantine not recorded")
		}
		got := ofType(w.apply(cloudTrailEvent(t, describe(leaked, "e1", "2020-04-10T07:00:00Z", nil))), TypeCompromisedCredentials)
		if len(got) != 1 {
			t.Fatalf("after the quarantine:%s", summary(got))
		}
		if ev := got[0].Service.AdditionalInfo["leakedKey"].(map[string]any)["evidence"].([]string); !strings.Contains(ev[0], "AWSCompromisedKeyQuarantine policy on the user at 2020-04-10T06:22:08Z") {
			t.Fatalf("evidence %v", ev)
		}
		// A key first used after the quarantine is a new one.
		if got := ofType(w.apply(cloudTrailEvent(t, describe(other, "e2", "2020-04-11T08:00:00Z", nil))), TypeCompromisedCredentials); len(got) != 0 {
			t.Fatalf("new key:%s", summary(got))
		}
		// The state survives a restart.
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var q2 profiles.Principal
		if err := q2.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !q2.Credentials.QuarantinedAt.Equal(p.Credentials.QuarantinedAt) || len(q2.Credentials.Keys) != 2 {
			t.Fatalf("after a restart: %+v", q2.Credentials)
		}
	})
	t.Run("denied by the quarantine", func(t *testing.T) {
		w := newWorld(DefaultConfig())
		denied := describe(leaked, "e1", "2018-09-28T19:00:00Z", map[string]any{"eventName": "RunInstances", "errorCode": "Client.UnauthorizedOperation",
			"errorMessage": "You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/compromised_user is not authorized to perform: ec2:RunInstances with an explicit deny in an identity-based policy: arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"})
		if got := ofType(w.apply(cloudTrailEvent(t, denied)), TypeCompromisedCredentials); len(got) != 1 {
			t.Fatalf("denied call:%s", summary(got))
		}
	})
	t.Run("panther", func(t *testing.T) {
		// Neither record is a use of a known-leaked key: the quarantine is
		// the marker, and the AttachUserPolicy one is made by a role for
		// another user (it reaches the role's profile, not the user's).
		for _, c := range credCases(t, "AWS.IAM.AccessKeyCompromised", "AWS.CloudTrail.IAMCompromisedKeyQuarantine") {
			w := newWorld(DefaultConfig())
			if ev, err := decodeCloudTrail(c.Log); err == nil {
				if got := ofType(w.apply(ev), TypeCompromisedCredentials); len(got) != 0 {
					t.Errorf("%s:%s", c.TestName, summary(got))
				}
			}
		}
	})
}

// FuzzParseLeakedKeys: any input is refused with an error or gives a list
// of valid long-term key ids only.
func FuzzParseLeakedKeys(f *testing.F) {
	f.Add("AKIAIOSFODNN7EXAMPLE # note\n")
	f.Add("# comment\n\nAKIA2E0A8F3B244C9986\r\nAKIAIOSFODNN7EXAMPLE#x\n")
	f.Add("ASIAIOSFODNN7EXAMPLE\n")
	f.Add("AKIAIOSFODNN7EXAMPLE # \xff\xfe\n")
	f.Fuzz(func(t *testing.T, doc string) {
		l, err := ParseLeakedKeys(strings.NewReader(doc), "fuzz")
		if err != nil {
			return
		}
		for k, note := range l.notes {
			if !isLongTermKeyID(k) || len(note) > maxLeakedNote || !utf8.ValidString(note) {
				t.Fatalf("accepted %q with note %q", k, note)
			}
		}
	})
}
