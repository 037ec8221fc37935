package detect

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
	"github.com/vigil-sec/vigil/rules"
)

// Custom detection rules (spec §1.7): the rules of Config.Rules, loaded
// from --rules-dir and the built-in starter set (package rules), run on
// every CloudTrail event of a principal. A rule raises a finding of its
// own type and severity, as GuardDuty writes CloudTrail findings
// (callFinding): AccessKey resource, AWS_API_CALL action.
//
// GuardDuty aggregates the signals of rules that share a finding type into
// one finding, and so does vigil: the aggregation key is (account,
// region, type, principal), whichever rule matched. An event that several
// rules of one type match counts once, listing every rule in
// additionalInfo.customRules with the conditions it matched and the
// values observed.
//
// A rule with a threshold ("count N within D") counts its matching events
// per principal (and per value of its group-by field) in hopping windows
// of event time (profiles.RuleCounts, profiles/window.go): one occurrence
// when a window first holds N distinct events, updates (count 0) for its
// later events, with the details of the window (its latest call, first
// and last times, how many events) so that the finding does not depend on
// the order the events came in. Every event lies in two windows (they
// start every D/2), so a burst shorter than D/2 counts 2, and activity
// that goes on counts about 2 per D.
//
// The engine runs the rules after the built-in catalogue; their types are
// not in the catalogue (they are the user's), and Engine.Catalogue lists
// them beside it.

// maxObserved bounds an observed value quoted in additionalInfo.
const maxObserved = 256

// customRules runs the rule set on a CloudTrail event of p.
func (e *Engine) customRules(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	set := e.cfg.Rules
	ct := ev.CloudTrail
	if set == nil || ct == nil {
		return out
	}
	var buf [8]*rules.Rule
	matched := set.Matching(ct, buf[:0])
	if len(matched) == 0 {
		return out
	}
	for _, r := range matched {
		if r.Threshold != nil {
			out = e.ruleWindow(p, ev, r, out)
		}
	}
	// One occurrence per type of the single-event rules, in rule order.
	done := make([]bool, len(matched))
	for i, r := range matched {
		if r.Threshold != nil || done[i] {
			continue
		}
		var same []*rules.Rule
		for j := i; j < len(matched); j++ {
			if matched[j].Threshold == nil && matched[j].Type == r.Type {
				same, done[j] = append(same, matched[j]), true
			}
		}
		out = append(out, ruleFinding(p, ev, same))
	}
	return out
}

// ruleFinding is the occurrence of one event that rules of one type
// matched: the greatest severity of them, each listed with its
// conditions and what the event had.
func ruleFinding(p *profiles.Principal, ev *event.Event, rs []*rules.Rule) findings.Finding {
	ct := ev.CloudTrail
	sev := 0.0
	signals := make([]map[string]any, 0, len(rs))
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		sev = max(sev, r.Severity)
		ids = append(ids, r.ID)
		conds := make([]map[string]string, 0, len(r.Conditions))
		for i := range r.Conditions {
			c := &r.Conditions[i]
			m := map[string]string{"condition": c.String()}
			if v, ok := c.Observed(ct); ok {
				m["observed"] = clipText(v, maxObserved)
			}
			if a := c.ForeignAccount(ct); a != "" {
				m["foreignAccount"] = a
			}
			conds = append(conds, m)
		}
		signals = append(signals, map[string]any{
			"rule": r.ID, "file": r.File, "severity": r.Severity, "description": r.Description, "matched": conds,
		})
	}
	f := callFinding(rs[0].Type, sev, p, ev, nil)
	if f.Service.AdditionalInfo == nil {
		f.Service.AdditionalInfo = findings.AdditionalInfo{}
	}
	f.Service.AdditionalInfo["customRules"] = signals
	f.Title = ruleTitle(rs[0], len(rs), ct.EventName)
	f.Description = principalLabel(&ct.Identity) + " called " + ct.EventName + ", which custom rule " +
		strings.Join(ids, ", ") + " matched: " + rs[0].Description
	return f
}

// ruleWindow counts an event that threshold rule r matched and returns
// the occurrence of the windows it reached.
func (e *Engine) ruleWindow(p *profiles.Principal, ev *event.Event, r *rules.Rule, out []findings.Finding) []findings.Finding {
	th := r.Threshold
	group := th.Group(ev.CloudTrail)
	w, hits := p.ObserveRuleCount(r.ID, group, th.Key(ev.CloudTrail), ev, th.Within, th.Count)
	if w == nil {
		return out
	}
	win, ok := w.Reached(profiles.RuleGroup(group), hits)
	if !ok {
		return out
	}
	x := &win.Exemplar
	call := &event.Event{
		Source: event.SourceCloudTrail, Time: win.Last, Account: ev.Account, Region: ev.Region,
		Kind: event.KindPrincipal, Entity: ev.Entity,
		CloudTrail: &event.CloudTrail{
			EventName: x.EventName, EventSource: x.EventSource, SourceIP: x.SourceIP, UserAgent: x.UserAgent,
			ErrorCode: x.ErrorCode,
			Identity:  event.Identity{Type: x.UserType, UserName: x.UserName, PrincipalID: x.PrincipalID, AccessKeyID: x.AccessKeyID},
		},
	}
	f := callFinding(r.Type, r.Severity, p, call, nil)
	f.Service.EventFirstSeen = findings.Stamp(win.First)
	f.CreatedAt = f.Service.EventFirstSeen
	f.Service.Count = win.Crossed
	f.Rank = win.Count
	conds := make([]string, len(r.Conditions))
	for i := range r.Conditions {
		conds[i] = r.Conditions[i].String()
	}
	threshold := map[string]any{"count": th.Count, "within": th.Within.String()}
	if th.Distinct != "" {
		threshold["distinct"] = th.Distinct
	}
	if th.GroupBy != "" {
		threshold["groupBy"], threshold["group"] = th.GroupBy, string(win.Group)
	}
	if f.Service.AdditionalInfo == nil {
		f.Service.AdditionalInfo = findings.AdditionalInfo{}
	}
	f.Service.AdditionalInfo["customRules"] = []map[string]any{{
		"rule": r.ID, "file": r.File, "severity": r.Severity, "description": r.Description,
		"conditions": conds, "threshold": threshold,
		"window": map[string]any{
			"start":  findings.Stamp(win.Start),
			"end":    findings.Stamp(win.Start.Add(2 * w.Hop)),
			"events": win.Distinct,
			"calls":  win.Count,
		},
	}}
	f.Title = ruleTitle(r, 1, x.EventName)
	who := strings.TrimSpace(x.UserType + " " + x.UserName)
	f.Description = fmt.Sprintf("%s made %d calls matching custom rule %s (threshold %d within %s) between %s and %s, the latest %s: %s",
		who, win.Distinct, r.ID, th.Count, th.Within, win.First.UTC().Format(time.RFC3339), win.Last.UTC().Format(time.RFC3339),
		x.EventName, r.Description)
	return append(out, f)
}

// ruleTitle names what a rule saw: its description's first sentence.
func ruleTitle(r *rules.Rule, n int, api string) string {
	t := r.Description
	if i := strings.Index(t, ". "); i >= 0 {
		t = t[:i+1]
	}
	t = clipText(t, 200)
	if n > 1 {
		t += " (" + strconv.Itoa(n) + " custom rules matched " + api + ")"
	}
	return t
}

// clipText cuts s to at most n bytes at a rune boundary.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

// LoadRules returns the rule set of --rules-dir (dir, "" for none) and,
// when starter is set, the starter rules; nil when that is nothing. A rule
// whose type is a built-in finding type is refused: its findings would
// mix with the built-in detector's under another aggregation.
func LoadRules(dir string, starter bool) (*rules.Set, error) {
	var set *rules.Set
	var err error
	switch {
	case dir != "":
		set, err = rules.LoadDir(dir, starter)
	case starter:
		set = rules.Starter()
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("custom rules: %w", err)
	}
	if err := CheckRules(set); err != nil {
		return nil, err
	}
	return set, nil
}

// CheckRules refuses a rule set whose rules raise a built-in type.
func CheckRules(set *rules.Set) error {
	for _, r := range set.Rules() {
		for _, t := range Catalogue() {
			if t.Type == r.Type {
				return fmt.Errorf("custom rules: %s: rule %s: type %s is a built-in finding type; give the rule its own", r.File, r.ID, r.Type)
			}
		}
	}
	return nil
}

// Catalogue returns the finding types the engine raises: the built-in
// catalogue, then one entry per finding type of its custom rules, sorted,
// with the rules that raise it. The admin endpoint's GET
// /api/v1/finding-types serves it.
func (e *Engine) Catalogue() []TypeInfo {
	out := Catalogue()
	rs := e.cfg.Rules.Rules()
	for _, typ := range e.cfg.Rules.Types() {
		t := TypeInfo{Type: typ, Source: "cloudtrail", Aggregation: "account, region, principal", Custom: true}
		var trig []string
		for _, r := range rs {
			if r.Type != typ {
				continue
			}
			if t.Severity != 0 && t.Severity != r.Severity {
				t.Variable = true
			}
			t.Severity = max(t.Severity, r.Severity)
			t.Rules = append(t.Rules, r.ID)
			what := r.Description
			if r.Threshold != nil {
				what += fmt.Sprintf(" (%d within %s)", r.Threshold.Count, r.Threshold.Within)
			}
			trig = append(trig, "custom rule "+r.ID+": "+what)
		}
		slices.Sort(t.Rules)
		t.Trigger = strings.Join(trig, "; ")
		t.SeverityLabel = findings.SeverityLabel(t.Severity)
		out = append(out, t)
	}
	return out
}
