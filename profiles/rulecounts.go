package profiles

import (
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// RuleCounts is a principal's state for the custom detection rules that
// count ("count N within D"): per such rule, hopping windows of the rule's
// window (window.go), grouped by the value of the rule's group-by field,
// whose keys are hashes of the events' ids, so that a window counts
// distinct events and a replayed event counts once.
//
// Caps: MaxCountedRules rules, each with at most MaxRuleGroupPanes panes
// (groups × half-windows), so at most 32 × 32 panes of 40 to 700 bytes
// encoded. A full pane list drops its least pane by (last event time,
// group, index), as window.go says; the rule list keeps the
// MaxCountedRules least rule ids (a bottom-K set: the same rules whatever
// the order of events), which the rule loader's own cap on rules with a
// threshold (rules.MaxThresholdRules) makes exact.
type RuleCounts struct {
	// Rules are sorted by Rule.
	Rules []RuleWindows `json:"rules,omitempty"`
}

// RuleWindows are the windows of one rule.
type RuleWindows struct {
	Rule    string       `json:"rule"`
	Windows CountWindows `json:"windows"`
}

// CountWindows count distinct events (by id hash) per group-by value.
type CountWindows = Windows[RuleGroup, uint32, CallExemplar]

// RuleGroup is the value of a rule's group-by field ("" without one).
type RuleGroup string

// Compare orders groups as strings.
func (g RuleGroup) Compare(o RuleGroup) int { return strings.Compare(string(g), string(o)) }

// Caps of RuleCounts.
const (
	MaxCountedRules   = 32
	MaxRuleGroupPanes = 32
	// MaxRuleIDLen bounds a rule id (rules.MaxIDLen).
	MaxRuleIDLen = 64
)

// CallExemplar is what a rule pane keeps of the call at its last event
// time: what a finding shows of the API call and the credentials that made
// it (see FlowExemplar for how it is chosen).
type CallExemplar struct {
	EventName   string `json:"eventName"`
	EventSource string `json:"eventSource"`
	SourceIP    string `json:"sourceIp,omitempty"`
	UserAgent   string `json:"userAgent,omitempty"`
	ErrorCode   string `json:"errorCode,omitempty"`
	// The identity: userIdentity's type, user name (or the session
	// issuer's), principal id and access key id.
	UserType    string `json:"userType,omitempty"`
	UserName    string `json:"userName,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
}

// CallExemplarOf returns the exemplar of a CloudTrail event, its strings
// cut to the profile's bounds.
func CallExemplarOf(ct *event.CloudTrail) CallExemplar {
	return CallExemplar{
		EventName: clip(ct.EventName, MaxValueLen), EventSource: clip(ct.EventSource, MaxValueLen),
		SourceIP: clip(ct.SourceIP, MaxValueLen), UserAgent: clip(ct.UserAgent, MaxValueLen),
		ErrorCode: clip(ct.ErrorCode, MaxValueLen), UserType: clip(ct.Identity.Type, MaxIDLen),
		UserName:    clip(principalName(&ct.Identity), MaxIDLen),
		PrincipalID: clip(ct.Identity.PrincipalID, MaxIDLen), AccessKeyID: clip(ct.Identity.AccessKeyID, MaxIDLen),
	}
}

func (x *CallExemplar) strs() []string {
	return []string{x.EventName, x.EventSource, x.SourceIP, x.UserAgent, x.ErrorCode, x.UserType, x.UserName, x.PrincipalID, x.AccessKeyID}
}

// Compare orders exemplars field by field.
func (x CallExemplar) Compare(y CallExemplar) int { return compareStrings(x.strs(), y.strs()) }

// kept copies the strings of x that differ from prev's: they come from a
// decoded event.
func (x CallExemplar) kept(prev *CallExemplar) CallExemplar {
	x.EventName = keepString(x.EventName, prev.EventName)
	x.EventSource = keepString(x.EventSource, prev.EventSource)
	x.SourceIP = keepString(x.SourceIP, prev.SourceIP)
	x.UserAgent = keepString(x.UserAgent, prev.UserAgent)
	x.ErrorCode = keepString(x.ErrorCode, prev.ErrorCode)
	x.UserType = keepString(x.UserType, prev.UserType)
	x.UserName = keepString(x.UserName, prev.UserName)
	x.PrincipalID = keepString(x.PrincipalID, prev.PrincipalID)
	x.AccessKeyID = keepString(x.AccessKeyID, prev.AccessKeyID)
	return x
}

func (x *CallExemplar) encode(e *encoder, prev *CallExemplar) {
	e.strRef(x.EventName, prev.EventName)
	e.strRef(x.EventSource, prev.EventSource)
	e.strRef(x.SourceIP, prev.SourceIP)
	e.strRef(x.UserAgent, prev.UserAgent)
	e.strRef(x.ErrorCode, prev.ErrorCode)
	e.strRef(x.UserType, prev.UserType)
	e.strRef(x.UserName, prev.UserName)
	e.strRef(x.PrincipalID, prev.PrincipalID)
	e.strRef(x.AccessKeyID, prev.AccessKeyID)
}

func (x *CallExemplar) decode(d *decoder, prev *CallExemplar) {
	x.EventName = d.strRef("exemplar eventName", MaxValueLen, prev.EventName)
	x.EventSource = d.strRef("exemplar eventSource", MaxValueLen, prev.EventSource)
	x.SourceIP = d.strRef("exemplar sourceIp", MaxValueLen, prev.SourceIP)
	x.UserAgent = d.strRef("exemplar userAgent", MaxValueLen, prev.UserAgent)
	x.ErrorCode = d.strRef("exemplar errorCode", MaxValueLen, prev.ErrorCode)
	x.UserType = d.strRef("exemplar userType", MaxIDLen, prev.UserType)
	x.UserName = d.strRef("exemplar userName", MaxIDLen, prev.UserName)
	x.PrincipalID = d.strRef("exemplar principalId", MaxIDLen, prev.PrincipalID)
	x.AccessKeyID = d.strRef("exemplar accessKeyId", MaxIDLen, prev.AccessKeyID)
}

// ObserveRuleCount adds CloudTrail event ev, which matched rule, to the
// rule's windows of length window under group (cut to MaxValueLen), and
// returns the windows and what the event did to the two that contain it
// (see Windows.Reached). threshold is at most MaxWindowKeys. The windows
// are nil when the rule is not counted: its id is longer than
// MaxRuleIDLen, or MaxCountedRules lesser ids are counted already.
func (p *Principal) ObserveRuleCount(rule, group, key string, ev *event.Event, window time.Duration, threshold int) (*CountWindows, [2]WindowHit) {
	var hits [2]WindowHit
	ct := ev.CloudTrail
	if ct == nil || len(rule) > MaxRuleIDLen {
		return nil, hits
	}
	rc := &p.RuleCounts
	i, ok := slices.BinarySearchFunc(rc.Rules, rule, func(w RuleWindows, id string) int { return strings.Compare(w.Rule, id) })
	if !ok {
		if len(rc.Rules) >= MaxCountedRules {
			if i == len(rc.Rules) {
				return nil, hits
			}
			rc.Rules = rc.Rules[:len(rc.Rules)-1] // the greatest id goes
		}
		rc.Rules = slices.Insert(rc.Rules, i, RuleWindows{Rule: strings.Clone(rule)})
	}
	w := &rc.Rules[i].Windows
	if key == "" {
		key = ct.EventID
	} else {
		key = "=" + key // a counted value never equals an event id
	}
	if key == "" { // CloudTrail always sets it; a hand-made event may not
		key = ev.Time.UTC().Format(time.RFC3339Nano) + "/" + ct.EventName
	}
	g := RuleGroup(clip(group, MaxValueLen))
	hits = w.observe(g, uint32(HashEventID(key)), ev.Time.UTC(), CallExemplarOf(ct), window, p.LastEvent,
		min(threshold, MaxWindowKeys), MaxRuleGroupPanes)
	return w, hits
}

// encode writes the rules with panes not yet forgotten.
func (rc *RuleCounts) encode(e *encoder, latest time.Time) {
	live := func(w *CountWindows) bool {
		if w.Hop <= 0 {
			return false
		}
		floor := liveFloor(latest, w.Hop)
		for i := range w.Panes {
			if w.Panes[i].Index >= floor {
				return true
			}
		}
		return false
	}
	n := 0
	for i := range rc.Rules {
		if live(&rc.Rules[i].Windows) {
			n++
		}
	}
	e.count(n)
	for i := range rc.Rules {
		r := &rc.Rules[i]
		if !live(&r.Windows) {
			continue
		}
		e.str(r.Rule)
		r.Windows.encode(e, latest, func(g RuleGroup) { e.str(string(g)) },
			func(x, prev *CallExemplar) { x.encode(e, prev) })
	}
}

// decodeRuleCounts reads what encode wrote: rules sorted by id, at most
// MaxCountedRules.
func decodeRuleCounts(d *decoder, latest time.Time) RuleCounts {
	var rc RuleCounts
	n := d.count("ruleCounts", MaxCountedRules)
	if n == 0 || d.Err != nil {
		return rc
	}
	rc.Rules = make([]RuleWindows, n)
	for i := range rc.Rules {
		r := &rc.Rules[i]
		r.Rule = d.str("ruleCounts rule", MaxRuleIDLen)
		if d.Err == nil && i > 0 && rc.Rules[i-1].Rule >= r.Rule {
			d.Failf("ruleCounts: rules not sorted")
		}
		r.Windows.decode(d, "ruleCounts panes", latest, MaxRuleGroupPanes,
			func() RuleGroup { return RuleGroup(d.str("ruleCounts group", MaxValueLen)) },
			func(x, prev *CallExemplar) { x.decode(d, prev) })
		if d.Err != nil {
			return RuleCounts{}
		}
	}
	return rc
}

// maxRuleCountsSize bounds the encoded rule windows: per rule its id and
// panes, each pane a group, its counted keys and a call exemplar (an
// upper estimate).
const maxRuleCountsSize = 8 + MaxCountedRules*(MaxRuleIDLen+8+MaxRuleGroupPanes*(MaxValueLen+40+MaxWindowKeys*5+6*MaxIDLen))
