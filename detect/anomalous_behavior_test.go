package detect

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/geoip/geoiptest"
	"github.com/vigil-sec/vigil/profiles"
)

// orderConfig is the configuration of the order tests that shuffle a
// whole log: anomaly detection is off (a learning period longer than any
// test log), since whether a call is anomalous depends on the calls of the
// days before it, which an unbounded shuffle may apply after it (see
// anomalous_behavior.go). The baselines still learn, and must come out
// byte-identical; TestAnomalousBehaviorOrder shuffles within the bound.
func orderConfig() Config {
	cfg := DefaultConfig()
	cfg.LearningPeriod = 100 * 365 * 24 * time.Hour
	return cfg
}

// benignUA is the CLI of the benign history.
const benignUA = "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.1.0-18-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off"

// benignAPIs are the calls of an administrator's or a job's ordinary day.
var benignAPIs = [][2]string{
	{"sts.amazonaws.com", "GetCallerIdentity"}, {"ec2.amazonaws.com", "DescribeInstances"},
	{"ec2.amazonaws.com", "DescribeSecurityGroups"}, {"s3.amazonaws.com", "ListBuckets"},
	{"cloudwatch.amazonaws.com", "GetMetricData"}, {"logs.amazonaws.com", "DescribeLogGroups"},
	{"ssm.amazonaws.com", "DescribeInstanceInformation"}, {"iam.amazonaws.com", "ListUsers"},
}

// history builds the benign past of the principal of template (a real
// CloudTrail record of a detonation): days days before day0, a call of
// every benign API each working hour (09:00 to 17:00 UTC) from the office
// address with the office CLI. A role's calls come from a new session
// every day, as instance profiles and CI jobs renew theirs.
func history(t testing.TB, template json.RawMessage, day0 time.Time, days int) []*event.Event {
	t.Helper()
	var evs []*event.Event
	for d := days; d >= 1; d-- {
		for h := 9; h <= 17; h++ {
			for i, api := range benignAPIs {
				at := day0.AddDate(0, 0, -d).Add(time.Duration(h)*time.Hour + time.Duration(i*3)*time.Minute)
				evs = append(evs, benignCall(t, template, at, api[0], api[1], fmt.Sprintf("s%d", d)))
			}
		}
	}
	return evs
}

// benignCall is template with its time, API and context replaced.
func benignCall(t testing.TB, template json.RawMessage, at time.Time, source, name, session string) *event.Event {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal(template, &rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"errorCode", "errorMessage", "requestParameters", "responseElements", "resources", "additionalEventData"} {
		delete(rec, k)
	}
	rec["eventTime"] = at.UTC().Format(time.RFC3339)
	rec["eventSource"], rec["eventName"] = source, name
	rec["userAgent"], rec["sourceIPAddress"] = benignUA, "198.51.100.7"
	rec["eventID"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", at.Unix())
	rec["readOnly"] = true
	if id, ok := rec["userIdentity"].(map[string]any); ok && id["type"] == "AssumedRole" {
		arn := id["arn"].(string)
		id["arn"] = arn[:strings.LastIndexByte(arn, '/')+1] + session
		id["accessKeyId"] = "ASIA" + strings.ToUpper(session) + "EXAMPLE"
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return cloudTrailEvent(t, b)
}

// detonation returns the records and events of a Stratus detonation log,
// in time order, and the principal whose anomalous calls it holds: the
// entity of its first record of the technique (not an AssumeRole of the
// operator).
func detonation(t testing.TB, name string) (recs []json.RawMessage, evs []*event.Event) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		evs = append(evs, cloudTrailEvent(t, r))
	}
	idx := make([]int, len(evs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return evs[a].Time.Compare(evs[b].Time) })
	sortedRecs, sortedEvs := make([]json.RawMessage, len(idx)), make([]*event.Event, len(idx))
	for i, j := range idx {
		sortedRecs[i], sortedEvs[i] = recs[j], evs[j]
	}
	return sortedRecs, sortedEvs
}

// attackerGeo places the detonations' (anonymised) caller addresses in a
// hosting network abroad and the benign history's in the office's.
func attackerGeo(t testing.TB) *geoip.DB {
	return geoiptest.Open(t,
		geoiptest.Entry{Prefix: "198.51.100.0/24", Info: geoip.Info{ASN: 64500, Org: "EXAMPLE-OFFICE", Country: "DE"}},
		geoiptest.Entry{Prefix: "240.0.0.0/4", Info: geoip.Info{ASN: 64666, Org: "EXAMPLE-HOSTING", Country: "NL"}},
		geoiptest.Entry{Prefix: "200.0.0.0/5", Info: geoip.Info{ASN: 64667, Org: "EXAMPLE-VPS", Country: "BR"}},
	)
}

// TestAnomalousBehaviorTypes: each of the eight types from a real Stratus
// Red Team detonation (its own records, times and anonymised addresses),
// after two weeks of benign history of the same principal built from the
// detonation's own first record. Without the history the principal is in
// its learning period: nothing is raised.
func TestAnomalousBehaviorTypes(t *testing.T) {
	for _, tc := range []struct {
		file, typ, primary string
		geo                bool
	}{
		{"stratus.credential-access.secretsmanager-retrieve-secrets.json", TypeAnomalousCredentialAccess, "GetSecretValue", true},
		{"stratus.defense-evasion.vpc-remove-flow-logs.json", TypeAnomalousDefenseEvasion, "DeleteFlowLogs", false},
		{"stratus.discovery.ec2-download-user-data.json", TypeAnomalousDiscovery, "DescribeInstanceAttribute", false},
		{"stratus.exfiltration.ec2-share-ebs-snapshot.json", TypeAnomalousExfiltration, "ModifySnapshotAttribute", false},
		{"stratus.impact.bedrock-invoke-model.json", TypeAnomalousImpact, "PutUseCaseForModelAccess", false},
		{"stratus.execution.ssm-start-session.json", TypeAnomalousInitialAccess, "StartSession", true},
		{"stratus.persistence.iam-backdoor-user.json", TypeAnomalousPersistence, "CreateAccessKey", false},
		{"stratus.privilege-escalation.iam-update-user-login-profile.json", TypeAnomalousPrivilegeEscalation, "UpdateLoginProfile", false},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			recs, evs := detonation(t, tc.file)
			cfg := DefaultConfig()
			if tc.geo {
				cfg.Geo = attackerGeo(t)
			}
			// The principal of the technique: the last record's.
			tmpl := recs[len(recs)-1]
			entity := evs[len(evs)-1].Entity
			day0 := evs[0].Time.Truncate(24 * time.Hour)

			fresh := newWorld(cfg)
			for _, f := range fresh.applyAll(evs) {
				if strings.HasSuffix(f.Type, "/AnomalousBehavior") {
					t.Fatalf("raised %s during the learning period", f.Type)
				}
			}

			w := newWorld(cfg)
			w.applyAll(history(t, tmpl, day0, 14))
			if n := len(anomalies(w.occ)); n != 0 {
				t.Fatalf("benign history raised %d anomaly occurrences:%s", n, summary(anomalies(w.occ)))
			}
			got := aggregate(anomalies(w.applyAll(evs)))
			var mine []findings.Finding
			for _, f := range got {
				checkFinding(t, f)
				if f.Resource.AccessKeyDetails == nil || f.Service.Action.AwsAPICallAction == nil {
					t.Fatalf("%s: no access key or action", f.Type)
				}
				if f.Type == tc.typ {
					mine = append(mine, f)
				}
			}
			if len(mine) != 1 {
				t.Fatalf("%d %s findings, want 1:%s", len(mine), tc.typ, summary(got))
			}
			f := mine[0]
			ai := f.Service.AdditionalInfo
			apis := ai["anomalies"].(map[string]string)["anomalousAPIs"]
			if got := f.Service.Action.AwsAPICallAction.API; got != tc.primary || !strings.Contains(apis, tc.primary+":") {
				t.Errorf("primary API %s, want %s; anomalousAPIs %q", got, tc.primary, apis)
			}
			if f.Service.Count < 1 || f.Severity != tacticSeverity(tc.typ) {
				t.Errorf("count %d severity %g", f.Service.Count, f.Severity)
			}
			unusual := ai["unusualBehavior"].(map[string]string)
			if unusual["unusualUserAgentsUserIdentityProfiling"] != "stratus-red-team" && !strings.HasPrefix(tc.file, "stratus.persistence.sts") {
				t.Errorf("unusual user agents %q", unusual["unusualUserAgentsUserIdentityProfiling"])
			}
			if tc.geo && !strings.Contains(unusual["unusualASNsUserIdentityProfiling"], "asnNumber: 6466") {
				t.Errorf("unusual ASNs %q", unusual["unusualASNsUserIdentityProfiling"])
			}
			profiled := ai["profiledBehavior"].(map[string]string)
			if !strings.Contains(profiled["frequentProfiledAPIsUserIdentityProfiling"], "DescribeInstances") ||
				profiled["frequentProfiledUserAgentsUserIdentityProfiling"] != "aws-cli" {
				t.Errorf("profiled behaviour %v", profiled)
			}
			if tc.geo && profiled["frequentProfiledASNsUserIdentityProfiling"] != "asnNumber: 64500 asnOrg: EXAMPLE-OFFICE" {
				t.Errorf("profiled ASNs %q", profiled["frequentProfiledASNsUserIdentityProfiling"])
			}
			ev := ai["baselineEvidence"].(map[string]any)
			if calls := ev["anomalousAPIs"].([]map[string]any); len(calls) == 0 || calls[0]["class"] != "new" {
				t.Errorf("evidence %v", ev)
			}
			if !strings.Contains(f.Title, entityName(entity)) {
				t.Errorf("title %q does not name %s", f.Title, entity)
			}
			b, _ := json.MarshalIndent(ai, "", "  ")
			t.Logf("%s %s count %d\n%s", f.Type, f.Title, f.Service.Count, b)
		})
	}
}

func tacticSeverity(typ string) float64 {
	for _, ti := range tacticInfo {
		if ti.typ == typ {
			return ti.severity
		}
	}
	return 0
}

// anomalies returns the AnomalousBehavior occurrences of occ.
func anomalies(occ []findings.Finding) []findings.Finding {
	var out []findings.Finding
	for _, f := range occ {
		if strings.HasSuffix(f.Type, "/AnomalousBehavior") {
			out = append(out, f)
		}
	}
	return out
}

// TestAnomalousBehaviorBaseline follows one IAM user: its profile after the
// learning period, an anomalous call that fires and a frequent one that
// does not, from the same unusual place; the baseline survives a restart
// (encode and decode) in the middle; a rare API from the usual context,
// and a frequent API from an unusual one, raise nothing.
func TestAnomalousBehaviorBaseline(t *testing.T) {
	recs, evs := detonation(t, "stratus.persistence.iam-backdoor-user.json")
	tmpl, attack := recs[0], evs[0] // CreateAccessKey by christophe
	// Stratus anonymised the address into one that does not parse
	// ("211.9.016.253"); this one is in the hosting network of attackerGeo.
	attack.CloudTrail.SourceIP = "240.9.16.253"
	day0 := attack.Time.Truncate(24 * time.Hour)
	hist := history(t, tmpl, day0, 10)

	cfg := DefaultConfig()
	cfg.Geo = attackerGeo(t)
	w := newWorld(cfg)
	half := len(hist) / 2
	w.applyAll(hist[:half])
	// Restart: the profile is written and read back.
	p := w.profile(attack).(*profiles.Principal)
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q profiles.Principal
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	w.profiles[attack.Key()] = &q
	w.applyAll(hist[half:])
	p = w.profile(attack).(*profiles.Principal)

	ref := profiles.Day(day0)
	for _, tc := range []struct {
		dim   profiles.Dim
		value string
		class profiles.Class
	}{
		{profiles.DimAPI, "ec2:DescribeInstances", profiles.ClassFrequent},
		{profiles.DimAPI, "iam:CreateAccessKey", profiles.ClassNew},
		{profiles.DimUserAgent, "aws-cli", profiles.ClassFrequent},
		{profiles.DimASN, "64500 EXAMPLE-OFFICE", profiles.ClassFrequent},
		{profiles.DimCountry, "DE", profiles.ClassFrequent},
		{profiles.DimUserType, "IAMUser", profiles.ClassFrequent},
		{profiles.DimHour, "10", profiles.ClassFrequent},
		{profiles.DimHour, "21", profiles.ClassNew},
	} {
		got := p.Baseline.Usage(tc.dim).Before(tc.value, ref)
		if got.Class() != tc.class || tc.class == profiles.ClassFrequent && got.Days != 10 {
			t.Errorf("%s %q: %s on %d days, want %s", tc.dim, tc.value, got.Class(), got.Days, tc.class)
		}
	}
	if calls, failures, days := p.Baseline.Activity(ref); calls != uint64(len(hist)) || failures != 0 || days != 10 {
		t.Errorf("activity %d calls %d failures on %d days", calls, failures, days)
	}
	pb, _ := p.MarshalBinary()
	t.Logf("profile after %d days, %d calls: %d bytes", 10, len(hist), len(pb))

	// A frequent API from the attacker's place and tool: nothing.
	frequent := benignCall(t, tmpl, attack.Time.Add(-time.Minute), "ec2.amazonaws.com", "DescribeInstances", "")
	frequent.CloudTrail.UserAgent, frequent.CloudTrail.SourceIP = attack.CloudTrail.UserAgent, attack.CloudTrail.SourceIP
	if got := anomalies(w.apply(frequent)); len(got) != 0 {
		t.Fatalf("a frequent API raised%s", summary(got))
	}
	// A new API from the usual place, tool and hours: nothing.
	usual := benignCall(t, tmpl, day0.Add(10*time.Hour), "iam.amazonaws.com", "CreateUser", "")
	if got := anomalies(w.apply(usual)); len(got) != 0 {
		t.Fatalf("a new API in the usual context raised%s", summary(got))
	}
	// The backdoor key, from an unknown network, tool and hour: fires.
	got := anomalies(w.apply(attack))
	if len(got) != 1 || got[0].Type != TypeAnomalousPersistence || got[0].Service.Count != 1 {
		t.Fatalf("CreateAccessKey raised%s", summary(got))
	}
	evidence := got[0].Service.AdditionalInfo["baselineEvidence"].(map[string]any)
	var features []string
	for _, u := range evidence["unusualValues"].([]map[string]any) {
		features = append(features, u["feature"].(string)+"="+fmt.Sprint(u["value"]))
	}
	if want := "UserAgent=stratus-red-team ASN=asnNumber: 64666 asnOrg: EXAMPLE-HOSTING Country=NL Hour=21"; strings.Join(features, " ") != want {
		t.Errorf("unusual values %q, want %q", strings.Join(features, " "), want)
	}
	// Its decoded profile raises the same again (the panes are kept).
	b, _ = w.profile(attack).MarshalBinary()
	var r profiles.Principal
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if len(r.Baseline.Anomalies.Panes) != 1 || r.Baseline.Anomalies.Panes[0].Count != 1 {
		t.Errorf("decoded panes %+v", r.Baseline.Anomalies.Panes)
	}
}

// TestAnomalousBehaviorRoleSession: a role's sessions share its baseline.
// A new session of a known role, calling its usual APIs from its usual
// place, raises nothing; the same new session calling an API the role
// never called, from a new network, does.
func TestAnomalousBehaviorRoleSession(t *testing.T) {
	recs, evs := detonation(t, "stratus.discovery.ec2-download-user-data.json")
	tmpl := recs[len(recs)-1]
	last := evs[len(evs)-1]
	day0 := last.Time.Truncate(24 * time.Hour)
	cfg := DefaultConfig()
	cfg.Geo = attackerGeo(t)
	w := newWorld(cfg)
	w.applyAll(history(t, tmpl, day0, 10))
	// A new session at 10:00 calling the usual APIs.
	var session []*event.Event
	for i, api := range benignAPIs {
		session = append(session, benignCall(t, tmpl, day0.Add(10*time.Hour+time.Duration(i)*time.Minute), api[0], api[1], "brand-new-session"))
	}
	if got := anomalies(w.applyAll(session)); len(got) != 0 {
		t.Fatalf("a new session of a known role raised%s", summary(got))
	}
	if w.profile(last).(*profiles.Principal).Entity != last.Entity {
		t.Fatal("the session is not the role's")
	}
	got := aggregate(anomalies(w.applyAll(evs)))
	if len(got) != 1 || got[0].Type != TypeAnomalousDiscovery {
		t.Fatalf("the detonation's session raised%s", summary(got))
	}
}

// TestAnomalousBehaviorOrder: the events of benign history and of attacks
// spread over several windows, applied in random orders in which no event
// arrives after one more than an AnomalyWindow later (the exactness
// condition of anomalous_behavior.go), some with profiles restored from
// their encoding mid-stream, give byte-identical profiles and identical
// merged findings.
func TestAnomalousBehaviorOrder(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Geo = attackerGeo(t)
	var evs []*event.Event
	for _, name := range []string{"stratus.credential-access.secretsmanager-retrieve-secrets.json",
		"stratus.impact.bedrock-invoke-model.json", "stratus.execution.ssm-start-session.json"} {
		recs, det := detonation(t, name)
		day0 := det[0].Time.Truncate(24 * time.Hour)
		evs = append(evs, history(t, recs[len(recs)-1], day0, 9)...)
		// The detonation three times, 40 minutes apart, so that windows
		// overlap and hold several of its calls; the session one from
		// 23:40, across midnight.
		var shift time.Duration
		if strings.Contains(name, "ssm-start-session") {
			shift = day0.Add(23*time.Hour + 40*time.Minute).Sub(det[0].Time)
		}
		for i := range 3 {
			for _, r := range recs {
				ev := cloudTrailEvent(t, r)
				ev.Time = ev.Time.Add(shift + time.Duration(i)*40*time.Minute)
				ev.CloudTrail.EventID += fmt.Sprint(i)
				evs = append(evs, ev)
			}
		}
	}
	slices.SortStableFunc(evs, func(a, b *event.Event) int { return a.Time.Compare(b.Time) })
	want := anomalyRun(t, cfg, evs, nil)
	if len(want.findings) < 4 {
		t.Fatalf("only %d findings:%s", len(want.findings), summary(want.findings))
	}
	counts := map[string]int{}
	for _, f := range want.findings {
		counts[f.Type+" "+f.Resource.AccessKeyDetails.UserName] = f.Service.Count
	}
	t.Logf("%d events, findings (counted half-windows): %v", len(evs), counts)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 30 {
		perm := boundedShuffle(evs, cfg.AnomalyWindow, r)
		var restore *rand.Rand
		if i%3 == 2 {
			restore = rand.New(rand.NewPCG(uint64(i), 2))
		}
		if d := anomalyRun(t, cfg, perm, restore).diff(want); d != "" {
			t.Fatalf("permutation %d (restore %v):%s", i, restore != nil, d)
		}
	}
}

// boundedShuffle returns evs in a random order in which no event comes
// after one more than bound later: sorted by event time plus a random
// delay below bound.
func boundedShuffle(evs []*event.Event, bound time.Duration, r *rand.Rand) []*event.Event {
	type delayed struct {
		at time.Time
		ev *event.Event
	}
	d := make([]delayed, len(evs))
	for i, ev := range evs {
		d[i] = delayed{ev.Time.Add(time.Duration(r.Int64N(int64(bound)))), ev}
	}
	slices.SortStableFunc(d, func(a, b delayed) int { return a.at.Compare(b.at) })
	out := make([]*event.Event, len(d))
	for i := range d {
		out[i] = d[i].ev
	}
	return out
}

// anomalyRun is applyRun with configuration cfg, keeping of the profiles
// their baselines and of the findings the anomalies: the other state of a
// principal belongs to other detectors, whose own tests shuffle it.
func anomalyRun(t testing.TB, cfg Config, evs []*event.Event, restore *rand.Rand) run {
	t.Helper()
	eng := New(cfg)
	ps := map[string]profiles.Profile{}
	var occ []findings.Finding
	for _, ev := range evs {
		p, ok := ps[ev.Key()]
		if !ok {
			p = profiles.New(ev.Kind, ev.Account, ev.Region, ev.Entity)
			ps[ev.Key()] = p
		} else if restore != nil && restore.IntN(8) == 0 {
			b, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if p, err = profiles.Unmarshal(p.Kind(), b); err != nil {
				t.Fatalf("restore %s: %v", ev.Key(), err)
			}
			ps[ev.Key()] = p
		}
		got, _ := eng.Apply(p, ev)
		occ = append(occ, got...)
	}
	res := run{profiles: map[string][]byte{}, findings: aggregate(anomalies(occ))}
	for k, p := range ps {
		// The baseline as encoded: through a principal holding it alone.
		q := profiles.NewPrincipal("", "", "")
		q.Header, q.Baseline = p.(*profiles.Principal).Header, p.(*profiles.Principal).Baseline
		b, err := q.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		res.profiles[k] = b
	}
	return res
}

func TestUserAgentCategory(t *testing.T) {
	for ua, want := range map[string]string{
		"aws-cli/2.13.0 Python/3.11.4 Linux/5.10.0-1234-aws exe/x86_64.ubuntu.22": "aws-cli",
		"[aws-cli/2.13.0]": "aws-cli",
		"Boto3/1.26.0":     "Boto3",
		"Boto3/1.28.57 md/Botocore#1.31.57 ua/2.0 os/linux": "Boto3",
		"botocore/1.31.57": "Botocore",
		"aws-sdk-go/1.15.12 (go1.12.6; linux; amd64)":                                                                     "aws-sdk-go",
		"aws-sdk-go-v2/1.32.3 os/linux lang/go#1.23.1":                                                                    "aws-sdk-go-v2",
		"aws-sdk-go/1.29.7 (go1.13.7; darwin; amd64) APN/1.0 HashiCorp/1.0 Terraform/0.12.24 (+https://www.terraform.io)": "Terraform",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36":                                              "browser",
		"AWS Internal":                                          "AWS Internal",
		"console.amazonaws.com":                                 "AWS Console",
		"console.ec2.amazonaws.com":                             "AWS Console",
		"signin.amazonaws.com":                                  "AwsSignin",
		"cloudformation.amazonaws.com":                          "AWS Service",
		"aws-internal/3 aws-sdk-java/1.11.965 Linux/4.9.230":    "aws-internal/3",
		"stratus-red-team_c97089f1-1ae3-4ecc-b006-f5e8fd0f2571": "stratus-red-team",
		"68319f60-9dec-43b2-9702-de3a08c9d8a3":                  "OTHER",
		"amazon-ssm-agent/3.2.0":                                "amazon-ssm-agent",
		"trufflehog/3.63.0":                                     "trufflehog",
		"":                                                      "",
	} {
		if got := userAgentCategory(ua); got != want {
			t.Errorf("userAgentCategory(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestAPITactic(t *testing.T) {
	for _, tc := range []struct {
		service, name string
		want          tactic
		ok            bool
	}{
		{"secretsmanager.amazonaws.com", "GetSecretValue", tacticCredentialAccess, true},
		{"ec2.amazonaws.com", "GetPasswordData", tacticCredentialAccess, true},
		{"cloudtrail.amazonaws.com", "StopLogging", tacticDefenseEvasion, true},
		{"ec2.amazonaws.com", "DescribeInstances", tacticDiscovery, true},
		{"iam.amazonaws.com", "GetRolePolicy", tacticDiscovery, true},
		{"s3.amazonaws.com", "PutBucketReplication", tacticExfiltration, true},
		{"s3.amazonaws.com", "PutBucketPolicy", tacticImpact, true},
		{"ec2.amazonaws.com", "DeleteSecurityGroup", tacticImpact, true},
		{"ssm.amazonaws.com", "StartSession", tacticInitialAccess, true},
		{"ecr.amazonaws.com", "GetAuthorizationToken", tacticInitialAccess, true},
		{"iam.amazonaws.com", "CreateAccessKey", tacticPersistence, true},
		{"lambda.amazonaws.com", "UpdateFunctionCode20150331v2", tacticPersistence, true},
		{"rolesanywhere.amazonaws.com", "CreateProfile", tacticPersistence, true},
		{"iam.amazonaws.com", "PutUserPolicy", tacticPrivilegeEscalation, true},
		{"ec2.amazonaws.com", "AssociateIamInstanceProfile", tacticPrivilegeEscalation, true},
		{"kms.amazonaws.com", "Decrypt", 0, false},
		{"s3.amazonaws.com", "Getaway", 0, false},
	} {
		got, ok := apiTactic(tc.service, tc.name)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("apiTactic(%s, %s) = %d %v, want %d %v", tc.service, tc.name, got, ok, tc.want, tc.ok)
		}
	}
	for in, want := range map[string]string{"IAMUser": "IAM_USER", "AssumedRole": "ASSUMED_ROLE", "AWSService": "AWS_SERVICE", "Root": "ROOT", "FederatedUser": "FEDERATED_USER"} {
		if got := upperSnake(in); got != want {
			t.Errorf("upperSnake(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestAnomalousAPIsFormat: the string of spec §2.2.
func TestAnomalousAPIsFormat(t *testing.T) {
	calls := []profiles.AnomalousCall{
		{API: "redshift:DescribeClusters"}, {API: "redshift:DescribeClusterSubnetGroups"},
		{API: "health:DescribeEventAggregates"}, {API: "redshift:DescribeClusterSnapshots", Outcome: "AccessDenied"},
	}
	want := "redshift.amazonaws.com:[DescribeClusters:success , DescribeClusterSubnetGroups:success , DescribeClusterSnapshots:AccessDenied] , health.amazonaws.com:[DescribeEventAggregates:success]"
	if got := anomalousAPIs(calls); got != want {
		t.Errorf("anomalousAPIs\n got %s\nwant %s", got, want)
	}
}

// TestBaselineLearnsGlobalEvents: a global-service event broadcast to every
// region teaches every region's profile, though only the copy of the
// region it is logged in runs the detectors.
func TestBaselineLearnsGlobalEvents(t *testing.T) {
	ev := cloudTrailEvent(t, callJSON(t, "iam.amazonaws.com", "CreateAccessKey", map[string]any{"awsRegion": "us-east-1"}))
	if !ev.CloudTrail.Global {
		t.Fatal("not a global event")
	}
	cfg := DefaultConfig()
	cfg.Regions = []string{"us-east-1", "eu-west-1"}
	w := newWorld(cfg)
	for _, region := range cfg.Regions {
		cp := *ev
		cp.Region = region
		w.apply(&cp)
		p := w.profile(&cp).(*profiles.Principal)
		if p.Region != region || p.Baseline.APIs.Find("iam:CreateAccessKey") == nil || p.Baseline.UserAgents.Find("aws-cli") == nil {
			t.Errorf("%s: baseline %+v", region, p.Baseline)
		}
	}
}
