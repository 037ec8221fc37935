package profiles

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// principalWithRuleCounts has windows of two rules, one grouped.
func principalWithRuleCounts() *Principal {
	p := NewPrincipal("143434273843", "us-east-1", "arn:aws:iam::143434273843:user/christophe")
	for i := range 5 {
		ev := withID(ctEvent(t0.Add(time.Duration(i)*time.Second), "secretsmanager.amazonaws.com", "GetSecretValue", "86.245.153.234", "aws-cli/2", ""),
			fmt.Sprintf("id-%d", i))
		p.Observe(ev)
		p.ObserveRuleCount("SecretsBurst", "", "", ev, 10*time.Minute, 3)
		p.ObserveRuleCount("PerRegion", []string{"us-east-1", "eu-west-1"}[i%2], "", ev, time.Hour, 2)
	}
	return p
}

func TestRuleCountsThreshold(t *testing.T) {
	p := NewPrincipal("1", "us-east-1", "arn:aws:iam::1:user/a")
	var crossed int
	for i := range 4 {
		ev := withID(ctEvent(t0.Add(time.Duration(i)*time.Second), "s", "A", "", "", ""), fmt.Sprint(i))
		p.Observe(ev)
		w, hits := p.ObserveRuleCount("R", "", "", ev, 10*time.Minute, 3)
		win, ok := w.Reached("", hits)
		if ok != (i >= 2) {
			t.Fatalf("event %d: reached %v", i, ok)
		}
		crossed += win.Crossed
		if ok && (win.Distinct != i+1 || win.Exemplar.EventName != "A" || win.Exemplar.UserName != "christophe") {
			t.Errorf("event %d: window %+v", i, win)
		}
	}
	if crossed != 2 { // the two windows holding the burst, once each
		t.Errorf("crossed %d times", crossed)
	}
	// The same event again counts once.
	ev := withID(ctEvent(t0, "s", "A", "", "", ""), "0")
	w, hits := p.ObserveRuleCount("R", "", "", ev, 10*time.Minute, 3)
	if win, _ := w.Reached("", hits); win.Distinct != 4 || win.Crossed != 0 {
		t.Errorf("replayed event: %+v", win)
	}
}

func TestRuleCountsEncoding(t *testing.T) {
	p := principalWithRuleCounts()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q Principal
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.RuleCounts, p.RuleCounts) {
		t.Errorf("decoded\n%+v\nwant\n%+v", q.RuleCounts, p.RuleCounts)
	}
	// Forgotten windows are not written.
	late := withID(ctEvent(t0.Add(48*time.Hour), "s", "B", "", "", ""), "late")
	p.Observe(late)
	b, _ = p.MarshalBinary()
	q = Principal{}
	if err := q.UnmarshalBinary(b); err != nil || len(q.RuleCounts.Rules) != 0 {
		t.Errorf("stale windows kept: %v %+v", err, q.RuleCounts)
	}
}

// The rule list keeps the least MaxCountedRules ids, whatever the order.
func TestRuleCountsCap(t *testing.T) {
	ids := make([]string, MaxCountedRules+3)
	for i := range ids {
		ids[i] = fmt.Sprintf("R%02d", i)
	}
	run := func(order []string) []string {
		p := NewPrincipal("1", "us-east-1", "arn:aws:iam::1:user/a")
		ev := withID(ctEvent(t0, "s", "A", "", "", ""), "e")
		p.Observe(ev)
		for _, id := range order {
			p.ObserveRuleCount(id, "", "", ev, time.Minute, 2)
		}
		var got []string
		for _, r := range p.RuleCounts.Rules {
			got = append(got, r.Rule)
		}
		return got
	}
	rev := make([]string, len(ids))
	for i, id := range ids {
		rev[len(ids)-1-i] = id
	}
	a, b := run(ids), run(rev)
	if !reflect.DeepEqual(a, b) || len(a) != MaxCountedRules || a[len(a)-1] != ids[MaxCountedRules-1] {
		t.Errorf("kept %v and %v", a, b)
	}
}

func FuzzUnmarshalRuleCounts(f *testing.F) {
	fuzzUnmarshal(f, event.KindPrincipal, principalWithRuleCounts())
}
