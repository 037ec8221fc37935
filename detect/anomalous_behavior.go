package detect

import (
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// The eight *:IAMUser/AnomalousBehavior types (spec §1.2, §2): a
// principal calls an API it rarely or never calls, in circumstances it is
// not seen in. The baseline (profiles.Baseline) learns every CloudTrail
// event of the principal, in every region the event reaches, before any
// detector runs (Engine.Apply).
//
// The rule. A call at time t is anomalous when, against the baseline of
// the days before its reference day R (the UTC day of the start of its
// half-window minus one window: the day of t, or the day before for the
// calls of the first window after midnight),
//
//   - its API belongs to a tactic (api_tactics.go) and is new or rare for
//     the principal: active on at most profiles.RareDays of the
//     profiles.BaselineDays days before R; and
//   - at least one other dimension of the call is unusual: its user-agent
//     family, network (ASN), country, user type or hour of day was not
//     seen on any of those days, or the call failed while fewer than one
//     in ten of the principal's calls of those days failed.
//
// A rare API alone is what people do now and then, and a new network
// alone is a trip or a new ISP; GuardDuty's examples (spec §2.2) pair an
// unusual API with an unusual network or client, and so does this rule.
// No finding is raised during the principal's learning period
// (Config.LearningPeriod, from its first event in event time) nor for
// calls AWS services make on its behalf. A role's sessions share the
// role's baseline, so a new session of a known role is judged by the
// role's habits: its session name and key are no dimension.
//
// Grouping. The anomalous calls of one tactic within Config.AnomalyWindow
// (hopping windows, profiles/anomaly_panes.go) make one finding: its
// primary API (action.awsApiCallAction, first in anomalousAPIs) is the
// window's earliest call, the others follow by time. GuardDuty names a
// group of calls by its riskiest tactic; here each tactic of a burst has
// its finding, because a finding's type cannot change once raised: a
// window whose Discovery call arrives before its CredentialAccess call
// would otherwise raise a Discovery finding that another order does not.
// Aggregation key: (account, region, type, principal); count is the
// number of half-windows with calls of the tactic.
//
// Exactness. A call is judged on the baseline of the days before R, and
// the window's details are a function of its panes and of that baseline:
// the occurrence of every anomalous call carries the state of its
// tactic's window — of the two holding it, the greater by (last call,
// calls) — with eventLastSeen its last call and Rank its call count, so
// the merged finding is the one of the final windows, and each anomalous
// call raises exactly one occurrence. That is exact, whatever the order,
// while every event arrives before any event more than one AnomalyWindow
// later in event time (then the days before R are complete when a call of
// the window is judged, since R's midnight is at least a window before
// it, and so is the principal's first event when the learning period
// ends), and no baseline dimension or pane list overflows its cap.
//
// Not profiled: the account as a whole (GuardDuty's *AccountProfiling
// keys; vigil's entities are principals, and an account-wide profile would
// funnel every event of an account through one actor), the principal
// name within a role, and cities (the country is the finer place kept).
func (e *Engine) anomalousBehavior(p *profiles.Principal, ev *event.Event, out []findings.Finding) []findings.Finding {
	ct := ev.CloudTrail
	t := ev.Time.UTC()
	if t.Before(p.FirstEvent.Add(e.cfg.LearningPeriod)) || byService(ct) {
		return out
	}
	tac, ok := apiTactic(ct.EventSource, ct.EventName)
	if !ok {
		return out
	}
	c, ok := p.Baseline.LastCall(t)
	if !ok {
		c = e.baselineCall(ev)
	}
	window := e.cfg.AnomalyWindow
	ref := profiles.Day(profiles.AnomalyPaneStart(t, window).Add(-window))
	api := p.Baseline.APIs.Before(c.API, ref)
	if api.Days > profiles.RareDays {
		return out
	}
	var buf [8]profiles.Unusual
	unusual := buf[:0]
	for d := profiles.DimUserAgent; d <= profiles.DimHour; d++ {
		v := c.Value(d)
		if v == "" {
			continue
		}
		if b := p.Baseline.Usage(d).Before(v, ref); b.Days == 0 {
			u := profiles.Unusual{Dim: d, Value: v}
			if b.Seen {
				u.FirstSeen, u.LastSeen = b.First, b.Last
			}
			unusual = append(unusual, u)
		}
	}
	if c.Failed {
		if calls, failures, _ := p.Baseline.Activity(ref); failures*10 < calls || calls == 0 {
			unusual = append(unusual, profiles.Unusual{Dim: profiles.DimErrorRate, Value: ct.ErrorCode, Calls: calls, Failures: failures})
		}
	}
	if len(unusual) == 0 {
		return out
	}
	call := profiles.AnomalousCall{
		Tactic: uint8(tac), API: c.API, Outcome: ct.ErrorCode, At: t,
		SourceIP: ct.SourceIP, UserAgent: ct.UserAgent, AccessKeyID: ct.Identity.AccessKeyID,
		PrincipalID: ct.Identity.PrincipalID, UserType: ct.Identity.Type, Days: uint8(api.Days),
	}
	if api.Seen {
		call.FirstSeen, call.LastSeen = api.First, api.Last
	}
	idx, crossed, ok := p.Baseline.Anomalies.Observe(call, unusual, window, p.LastEvent)
	if !ok {
		return out
	}
	// Of the two windows holding the call, the greater by (last call,
	// calls): the merge of their occurrences, built once (see
	// profiles.Windows.Reached).
	w, _ := p.Baseline.Anomalies.Window(uint8(tac), idx-1)
	if hi, _ := p.Baseline.Anomalies.Window(uint8(tac), idx); hi.Last.After(w.Last) || hi.Last.Equal(w.Last) && hi.Count > w.Count {
		w = hi
	}
	count := 0
	if crossed {
		count = 1
	}
	return append(out, e.anomalyFinding(p, ev, &w, tac, count))
}

// byService reports whether an AWS service made the call for the
// principal (a service event, or a call invoked by or sent from a
// service): not the principal's own behaviour.
func byService(ct *event.CloudTrail) bool {
	return ct.EventType == "AwsServiceEvent" || ct.Identity.Type == "AWSService" || ct.Identity.InvokedBy != "" ||
		strings.HasSuffix(ct.SourceIP, ".amazonaws.com") || ct.SourceIP == "AWS Internal"
}

// anomalyFinding is the occurrence of tactic tt of window w.
func (e *Engine) anomalyFinding(p *profiles.Principal, ev *event.Event, w *profiles.AnomalyWindow, tt tactic, count int) findings.Finding {
	info := tacticInfo[tt]
	account, region := placement(&p.Header, ev)
	f := findings.New(info.typ, info.severity, account, region, w.Last, entityKey(&p.Header, ev))
	f.Service.EventFirstSeen = findings.Stamp(w.First)
	f.CreatedAt = f.Service.EventFirstSeen
	f.Service.Count = count
	f.Rank = w.Count

	calls := orderCalls(w.Calls)
	prim := calls[0]
	svc, name, _ := strings.Cut(prim.API, ":")
	user := entityName(entityKey(&p.Header, ev))
	ct := &event.CloudTrail{
		EventName: name, EventSource: svc + ".amazonaws.com", ErrorCode: prim.Outcome,
		SourceIP: prim.SourceIP, UserAgent: prim.UserAgent,
		Identity: event.Identity{Type: prim.UserType, PrincipalID: prim.PrincipalID, AccessKeyID: prim.AccessKeyID, UserName: user},
	}
	f.Resource = accessKeyResource(ct)
	f.Service.Action = apiCallAction(ct, nil)
	f.Service.ResourceRole = findings.RoleTarget

	// The baseline the profiles are classed on: the days before the
	// reference day of the window's last call.
	window := e.cfg.AnomalyWindow
	ref := profiles.Day(profiles.AnomalyPaneStart(w.Last, window).Add(-window))
	ai := findings.AdditionalInfo{
		"anomalies":        map[string]string{"anomalousAPIs": anomalousAPIs(calls)},
		"profiledBehavior": profiledBehavior(&p.Baseline, ref),
		"unusualBehavior":  unusualBehavior(&p.Baseline, calls, w.Unusual, ref),
		"baselineEvidence": baselineEvidence(calls, w, ref, window, e.cfg.LearningPeriod),
	}
	if prim.UserAgent != "" {
		ai["userAgent"] = map[string]string{"fullUserAgent": prim.UserAgent, "userAgentCategory": userAgentCategory(prim.UserAgent)}
	}
	f.Service.AdditionalInfo = ai
	var unusual []string
	for _, u := range w.Unusual {
		unusual = append(unusual, u.Dim.String()+" "+valueLabel(u.Dim, u.Value))
	}
	because(&f, "an API of the "+info.name+" tactic new or rare for the principal, with a context it was not seen in, within "+window.String(),
		"primaryAPI", prim.API, "class", profiles.ClassOf(int(prim.Days), !prim.FirstSeen.IsZero()).String(),
		"unusual", strings.Join(unusual, ", "))
	label := prim.UserType + " : " + user
	f.Title = "User " + label + " is anomalously invoking APIs commonly used in " + info.name + " tactics."
	f.Description = "APIs commonly used in " + info.name + " tactics were invoked by user " + label +
		", under anomalous circumstances. Such activity is not typically seen from this user."
	return f
}

// orderCalls returns the calls of a window as a finding lists them, by
// (time, API, outcome): the first is the primary API.
func orderCalls(calls []profiles.AnomalousCall) []profiles.AnomalousCall {
	out := slices.Clone(calls)
	slices.SortFunc(out, func(a, b profiles.AnomalousCall) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if c := strings.Compare(a.API, b.API); c != 0 {
			return c
		}
		return strings.Compare(a.Outcome, b.Outcome)
	})
	return out
}

// anomalousAPIs writes calls as GuardDuty does (spec §2.2):
// "<eventSource>:[<API>:<outcome> , ...] , <eventSource2>:[...]", services
// in order of their first call, outcome "success" or the error code.
func anomalousAPIs(calls []profiles.AnomalousCall) string {
	var services []string
	byService := map[string][]string{}
	for _, c := range calls {
		svc, name, _ := strings.Cut(c.API, ":")
		outcome := c.Outcome
		if outcome == "" {
			outcome = "success"
		}
		if _, ok := byService[svc]; !ok {
			services = append(services, svc)
		}
		byService[svc] = append(byService[svc], name+":"+outcome)
	}
	parts := make([]string, len(services))
	for i, svc := range services {
		parts[i] = svc + ".amazonaws.com:[" + strings.Join(byService[svc], " , ") + "]"
	}
	return strings.Join(parts, " , ")
}

// maxProfiled is how many values a profiledBehavior list names, as the
// console's "Historical APIs" view shows at most 20 (spec §2.3).
const maxProfiled = 20

// profiledBehavior lists the principal's values by class before day ref
// (spec §2.2): the GuardDuty keys for APIs, user agents and ASNs of the
// user identity, and vigil's own for its other dimensions. The account
// profile keys are left out: vigil keeps no account-wide baseline.
func profiledBehavior(b *profiles.Baseline, ref int64) map[string]string {
	out := map[string]string{}
	for _, d := range []struct {
		dim  profiles.Dim
		name string
	}{
		{profiles.DimAPI, "APIs"}, {profiles.DimUserAgent, "UserAgents"}, {profiles.DimASN, "ASNs"},
		{profiles.DimUserType, "UserTypes"}, {profiles.DimCountry, "Countries"}, {profiles.DimHour, "Hours"},
	} {
		type seen struct {
			label string
			days  int
		}
		var byClass [3][]seen // rare, infrequent, frequent
		b.Usage(d.dim).Each(ref, func(v string, before profiles.Before) {
			byClass[before.Class()-profiles.ClassRare] = append(byClass[before.Class()-profiles.ClassRare], seen{valueLabel(d.dim, v), before.Days})
		})
		for i, class := range []string{"rare", "infrequent", "frequent"} {
			l := byClass[i]
			slices.SortStableFunc(l, func(a, b seen) int {
				if a.days != b.days {
					return b.days - a.days
				}
				return strings.Compare(a.label, b.label)
			})
			var labels []string
			for _, s := range l {
				if !slices.Contains(labels, s.label) {
					labels = append(labels, s.label)
				}
				if len(labels) == maxProfiled {
					break
				}
			}
			sep := " , "
			if d.dim == profiles.DimASN {
				sep = " "
			}
			out[class+"Profiled"+d.name+"UserIdentityProfiling"] = strings.Join(labels, sep)
		}
	}
	return out
}

// valueLabel writes a baseline value as the finding's lists do: an API by
// its name, an ASN as GuardDuty writes it, a user type in upper snake
// case.
func valueLabel(d profiles.Dim, v string) string {
	switch d {
	case profiles.DimAPI:
		_, name, _ := strings.Cut(v, ":")
		return name
	case profiles.DimASN:
		return asnLabel(v)
	case profiles.DimUserType:
		return upperSnake(v)
	}
	return v
}

// unusualBehavior lists what was not seen before (spec §2.2): the
// window's APIs new to the principal and its unusual context values.
func unusualBehavior(b *profiles.Baseline, calls []profiles.AnomalousCall, unusual []profiles.Unusual, ref int64) map[string]string {
	var apis []string
	for _, c := range calls {
		_, name, _ := strings.Cut(c.API, ":")
		if c.FirstSeen.IsZero() && !slices.Contains(apis, name) {
			apis = append(apis, name)
		}
	}
	lists := map[profiles.Dim][]string{}
	for _, u := range unusual {
		lists[u.Dim] = append(lists[u.Dim], valueLabel(u.Dim, u.Value))
	}
	_, _, days := b.Activity(ref)
	out := map[string]string{
		"unusualAPIsUserIdentityProfiling":       strings.Join(apis, " , "),
		"unusualUserAgentsUserIdentityProfiling": strings.Join(lists[profiles.DimUserAgent], " , "),
		"unusualASNsUserIdentityProfiling":       strings.Join(lists[profiles.DimASN], " "),
		"unusualUserTypesUserIdentityProfiling":  strings.Join(lists[profiles.DimUserType], " , "),
		"unusualCountriesUserIdentityProfiling":  strings.Join(lists[profiles.DimCountry], " , "),
		"unusualHoursUserIdentityProfiling":      strings.Join(lists[profiles.DimHour], " , "),
		"unusualErrorsUserIdentityProfiling":     strings.Join(lists[profiles.DimErrorRate], " , "),
		"isUnusualUserIdentity":                  "false",
	}
	if days == 0 {
		out["isUnusualUserIdentity"] = "true"
	}
	return out
}

// baselineEvidence says why the calls are anomalous (evidence): the rule,
// the window, and per anomalous API and unusual value what the baseline
// knew of it before the reference day — first and last seen, days active
// and class.
func baselineEvidence(calls []profiles.AnomalousCall, w *profiles.AnomalyWindow, ref int64, window, learning time.Duration) map[string]any {
	day := func(d int64) string { return time.Unix(d*86400, 0).UTC().Format(time.DateOnly) }
	stamp := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	}
	apis := make([]map[string]any, len(calls))
	for i, c := range calls {
		outcome := c.Outcome
		if outcome == "" {
			outcome = "success"
		}
		apis[i] = map[string]any{
			"api": c.API, "outcome": outcome, "tactic": tacticInfo[c.Tactic%uint8(numTactics)].name,
			"class": profiles.ClassOf(int(c.Days), !c.FirstSeen.IsZero()).String(), "daysActive": c.Days,
			"firstSeen": stamp(c.FirstSeen), "lastSeen": stamp(c.LastSeen), "calledAt": stamp(c.At),
		}
	}
	unusual := make([]map[string]any, len(w.Unusual))
	for i, u := range w.Unusual {
		m := map[string]any{"feature": u.Dim.String(), "value": valueLabel(u.Dim, u.Value)}
		if u.Dim == profiles.DimErrorRate {
			m["baselineCalls"], m["baselineFailures"] = u.Calls, u.Failures
		} else {
			m["class"] = profiles.ClassOf(0, !u.FirstSeen.IsZero()).String()
			m["daysActive"] = 0
			m["firstSeen"], m["lastSeen"] = stamp(u.FirstSeen), stamp(u.LastSeen)
		}
		unusual[i] = m
	}
	return map[string]any{
		"rule": "an API of the tactic new or rare for the principal (active on at most 1 of the 30 days before the reference day), " +
			"called with a user agent, network, country, user type or hour not seen on any of those days, or failing where calls rarely fail",
		"baseline":       day(ref-profiles.BaselineDays) + " to " + day(ref-1),
		"window":         map[string]any{"length": window.String(), "firstCall": stamp(w.First), "lastCall": stamp(w.Last), "calls": w.Count},
		"learningPeriod": learning.String(),
		"anomalousAPIs":  apis,
		"unusualValues":  unusual,
	}
}

// entityName is the last part of a principal's ARN: a user or role name,
// or "root".
func entityName(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// upperSnake writes a user type as GuardDuty's profiles do: IAMUser is
// IAM_USER, AssumedRole ASSUMED_ROLE, AWSService AWS_SERVICE.
func upperSnake(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i > 0 && isUpper(c) && (!isUpper(s[i-1]) || i+1 < len(s) && !isUpper(s[i+1])) {
			b.WriteByte('_')
		}
		b.WriteString(strings.ToUpper(string(c)))
	}
	return b.String()
}
