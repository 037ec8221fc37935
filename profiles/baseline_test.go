package profiles

import (
	"bytes"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// encodeBaseline returns the encoding of a principal holding b alone, at
// latest event time latest.
func encodeBaseline(t testing.TB, b Baseline, latest time.Time) []byte {
	t.Helper()
	p := NewPrincipal("111122223333", "us-east-1", "arn:aws:iam::111122223333:user/alice")
	p.Events, p.FirstEvent, p.LastEvent = 1, latest, latest
	p.Baseline = b
	enc, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// TestUsageDays: the day map of a value holds the days it was seen in the
// 64 days ending at its last, whatever the order, and Before counts them.
func TestUsageDays(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var times []time.Time
		for range 1 + r.IntN(40) {
			times = append(times, t0.Add(time.Duration(r.Int64N(int64(90*24*time.Hour)))))
		}
		var want Usage
		for _, at := range times {
			want.observe("ec2:DescribeInstances", at, 8)
		}
		for range 5 {
			r.Shuffle(len(times), func(i, j int) { times[i], times[j] = times[j], times[i] })
			var got Usage
			for _, at := range times {
				got.observe("ec2:DescribeInstances", at, 8)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: %+v, want %+v", round, got, want)
			}
		}
		// Brute force: the distinct days within the map, and per reference
		// day the days of the 30 before it.
		e := want[0]
		last := Day(e.Last)
		days := map[int64]bool{}
		for _, at := range times {
			days[Day(at)] = true
		}
		var m uint64
		for d := range days {
			if last-d < 64 {
				m |= 1 << uint(last-d)
			}
		}
		if m != e.Days || !e.First.Equal(slices.MinFunc(times, time.Time.Compare)) {
			t.Fatalf("round %d: map %b first %v, want %b", round, e.Days, e.First, m)
		}
		for ref := last - 20; ref <= last+40; ref++ {
			n := 0
			for d := range days {
				if d < ref && d >= ref-BaselineDays && last-d < 64 {
					n++
				}
			}
			b := want.Before("ec2:DescribeInstances", ref)
			seen := Day(e.First) < ref
			if b.Days != n || b.Seen != seen || b.Class() != ClassOf(n, seen) {
				t.Fatalf("round %d ref %d: %+v, want %d days, seen %v", round, ref-last, b, n, seen)
			}
		}
	}
}

func TestClassOf(t *testing.T) {
	for _, tc := range []struct {
		days int
		seen bool
		want Class
	}{
		{0, false, ClassNew}, {0, true, ClassRare}, {1, true, ClassRare}, {2, true, ClassInfrequent},
		{3, true, ClassInfrequent}, {4, true, ClassFrequent}, {30, true, ClassFrequent},
	} {
		if got := ClassOf(tc.days, tc.seen); got != tc.want {
			t.Errorf("ClassOf(%d, %v) = %s, want %s", tc.days, tc.seen, got, tc.want)
		}
	}
}

// realisticCalls is a month of an administrator's calls: a dozen daily
// APIs and a few weekly and monthly ones, from a CLI and a browser, at the
// office and at home, in working hours, one call in fifty failing.
func realisticCalls(days int, r *rand.Rand) []Call {
	daily := []string{"sts:GetCallerIdentity", "ec2:DescribeInstances", "ec2:DescribeSecurityGroups", "s3:ListBuckets",
		"s3:GetBucketPolicy", "cloudwatch:GetMetricData", "logs:DescribeLogGroups", "logs:FilterLogEvents",
		"ssm:DescribeInstanceInformation", "iam:ListUsers", "iam:ListRoles", "lambda:ListFunctions20150331"}
	weekly := []string{"ec2:RunInstances", "ec2:TerminateInstances", "iam:CreatePolicyVersion", "s3:PutBucketPolicy",
		"cloudformation:UpdateStack", "ecr:GetAuthorizationToken", "lambda:UpdateFunctionCode20150331v2"}
	monthly := []string{"iam:CreateAccessKey", "iam:DeleteAccessKey", "kms:ScheduleKeyDeletion", "rds:CreateDBSnapshot"}
	agents := []string{"aws-cli", "aws-cli", "aws-cli", "browser", "Boto3"}
	var out []Call
	for d := range days {
		day := t0.AddDate(0, 0, -days+d).Truncate(24 * time.Hour)
		if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			continue
		}
		asn, country := "3320 DTAG", "DE"
		if d%5 == 4 {
			asn = "6805 TDDE-ASN1" // working from home
		}
		for i := range 400 {
			at := day.Add(8*time.Hour + time.Duration(r.Int64N(int64(10*time.Hour))))
			api := daily[r.IntN(len(daily))]
			switch {
			case day.Weekday() == time.Tuesday && i < 20:
				api = weekly[r.IntN(len(weekly))]
			case day.Weekday() == time.Wednesday && d%30 >= 14 && d%30 < 21 && i < 5:
				api = monthly[r.IntN(len(monthly))]
			}
			out = append(out, Call{At: at, API: api, UserAgent: agents[r.IntN(len(agents))], ASN: asn,
				Country: country, UserType: "IAMUser", Failed: r.IntN(50) == 0})
		}
	}
	return out
}

// TestBaselineOrderIndependent: a month of calls in any order, with the
// baseline restored from its encoding midway, encodes the same.
func TestBaselineOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	calls := realisticCalls(30, r)
	latest := slices.MaxFunc(calls, func(a, b Call) int { return a.At.Compare(b.At) }).At
	var want Baseline
	for _, c := range calls {
		want.Observe(c)
	}
	wantEnc := encodeBaseline(t, want, latest)
	for i := range 5 {
		r.Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })
		var got Baseline
		for j, c := range calls {
			if i%2 == 1 && j == len(calls)/2 {
				var p Principal
				if err := p.UnmarshalBinary(encodeBaseline(t, got, latest)); err != nil {
					t.Fatal(err)
				}
				got = p.Baseline
			}
			got.Observe(c)
		}
		if enc := encodeBaseline(t, got, latest); !bytes.Equal(enc, wantEnc) {
			t.Fatalf("order %d: %d bytes differ from %d", i, len(enc), len(wantEnc))
		}
	}
}

// TestBaselineSize measures a principal after 30 days of an
// administrator's traffic, and after 60.
func TestBaselineSize(t *testing.T) {
	for _, days := range []int{30, 60} {
		r := rand.New(rand.NewPCG(5, uint64(days)))
		p := NewPrincipal("111122223333", "us-east-1", "arn:aws:iam::111122223333:user/alice")
		calls := realisticCalls(days, r)
		for i, c := range calls {
			ev := ctEvent(c.At, "ec2.amazonaws.com", "DescribeInstances", "198.51.100.7", "aws-cli/2.15.30", "")
			ev.CloudTrail.EventID = fmt.Sprint(i)
			p.Observe(ev)
			p.Baseline.Observe(c)
		}
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		base := len(encodeBaseline(t, p.Baseline, p.LastEvent)) - len(encodeBaseline(t, Baseline{}, p.LastEvent))
		t.Logf("%d days, %d calls: principal %d bytes, of which baseline %d (%d APIs)", days, len(calls), len(b), base, len(p.Baseline.APIs))
		if base > 3000 {
			t.Errorf("baseline of %d days takes %d bytes", days, base)
		}
	}
}

// TestBaselineCaps: an enumeration of a thousand APIs in one day does not
// push out the APIs used every day, and a flooded baseline stays bounded.
func TestBaselineCaps(t *testing.T) {
	var b Baseline
	for d := range 10 {
		b.Observe(Call{At: t0.AddDate(0, 0, -10+d), API: "ec2:DescribeInstances", UserAgent: "aws-cli", UserType: "IAMUser"})
	}
	long := string(bytes.Repeat([]byte("x"), 1000))
	for i := range 1000 {
		b.Observe(Call{At: t0.Add(time.Duration(i) * time.Second), API: fmt.Sprintf("svc%d:List%s", i, long),
			UserAgent: fmt.Sprintf("tool%d", i), ASN: fmt.Sprintf("%d org", i), Country: fmt.Sprint(i), UserType: fmt.Sprint(i)})
	}
	if len(b.APIs) != MaxBaselineAPIs || len(b.UserAgents) != MaxBaselineAgents || len(b.ASNs) != MaxBaselineASNs ||
		len(b.Countries) != MaxBaselineCountries || len(b.UserTypes) != MaxBaselineUserTypes {
		t.Errorf("sizes %d %d %d %d %d", len(b.APIs), len(b.UserAgents), len(b.ASNs), len(b.Countries), len(b.UserTypes))
	}
	for _, v := range []struct {
		u Usage
		v string
	}{{b.APIs, "ec2:DescribeInstances"}, {b.UserAgents, "aws-cli"}, {b.UserTypes, "IAMUser"}} {
		if e := v.u.Find(v.v); e == nil || bits.OnesCount64(e.Days) != 10 {
			t.Errorf("%s was dropped: %+v", v.v, e)
		}
	}
	// Anomaly panes: a flood of distinct calls over many hours.
	for i := range 2000 {
		c := AnomalousCall{Tactic: uint8(i % AnomalyTactics), API: fmt.Sprintf("svc:Api%d%s", i, long), At: t0.Add(time.Duration(i) * time.Minute),
			SourceIP: long, UserAgent: long, AccessKeyID: fmt.Sprint(i), PrincipalID: long, UserType: long}
		b.Anomalies.Observe(c, []Unusual{{Dim: DimASN, Value: fmt.Sprint(i) + long}, {Dim: DimHour, Value: "03"}}, time.Hour, c.At)
	}
	if len(b.Anomalies.Panes) > MaxAnomalyPanes {
		t.Errorf("%d panes", len(b.Anomalies.Panes))
	}
	enc := encodeBaseline(t, b, t0.Add(2000*time.Minute))
	var p Principal
	if err := p.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if enc2, _ := p.MarshalBinary(); !bytes.Equal(enc, enc2) {
		t.Error("flooded baseline does not round-trip")
	}
	if len(enc) > MaxBaselineSize {
		t.Errorf("flooded baseline: %d bytes, more than MaxBaselineSize %d", len(enc), MaxBaselineSize)
	}
	t.Logf("flooded baseline: %d bytes (MaxBaselineSize %d)", len(enc), MaxBaselineSize)
}

// TestAnomalyPanes: a pane is new once whatever the order, a window is the
// union of its panes, and the panes come out the same in any order.
func TestAnomalyPanes(t *testing.T) {
	calls := []AnomalousCall{
		{Tactic: 2, API: "secretsmanager:GetSecretValue", At: t0, SourceIP: "240.1.1.1", UserAgent: "x"},
		{Tactic: 2, API: "secretsmanager:GetSecretValue", At: t0.Add(time.Second), SourceIP: "240.1.1.2"},
		{Tactic: 2, API: "secretsmanager:BatchGetSecretValue", Outcome: "AccessDenied", At: t0.Add(40 * time.Minute)},
		{Tactic: 7, API: "secretsmanager:ListSecrets", At: t0.Add(time.Minute)},
	}
	unusual := []Unusual{{Dim: DimUserAgent, Value: "stratus-red-team"}, {Dim: DimHour, Value: "13", FirstSeen: t0.AddDate(0, 0, -40), LastSeen: t0.AddDate(0, 0, -35)}}
	var want []byte
	for round := range 24 {
		perm := slices.Clone(calls)
		r := rand.New(rand.NewPCG(uint64(round), 9))
		r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		var a AnomalyPanes
		crossed := 0
		for _, c := range perm {
			_, x, ok := a.Observe(c, unusual, time.Hour, t0.Add(time.Hour))
			if !ok {
				t.Fatal("not windowed")
			}
			if x {
				crossed++
			}
		}
		if crossed != 3 { // (2, pane 0), (2, pane 1), (7, pane 0)
			t.Fatalf("round %d: %d new panes, want 3", round, crossed)
		}
		w, ok := a.Window(2, paneIndex(t0, 30*time.Minute))
		if !ok || w.Count != 3 || len(w.Calls) != 2 || !w.First.Equal(t0) || !w.Last.Equal(t0.Add(40*time.Minute)) ||
			w.Calls[1].SourceIP != "240.1.1.1" || len(w.Unusual) != 2 {
			t.Fatalf("round %d: window %+v", round, w)
		}
		var e encoder
		a.encode(&e, t0.Add(time.Hour))
		if round == 0 {
			want = e.b
		} else if !bytes.Equal(e.b, want) {
			t.Fatalf("round %d: encoding differs", round)
		}
	}
}

// baselinePrincipal is a principal with a baseline and anomaly panes, for
// the fuzzer's seeds.
func baselinePrincipal() *Principal {
	p := NewPrincipal("111122223333", "us-east-1", "arn:aws:iam::111122223333:role/ci")
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range realisticCalls(10, r)[:300] {
		p.Observe(ctEvent(c.At, "ec2.amazonaws.com", "DescribeInstances", "198.51.100.7", "aws-cli/2", ""))
		p.Baseline.Observe(c)
	}
	p.Baseline.Anomalies.Observe(AnomalousCall{Tactic: 4, API: "iam:CreateAccessKey", At: p.LastEvent, SourceIP: "240.1.1.1",
		UserAgent: "stratus-red-team_1", AccessKeyID: "AKIAEXAMPLE", UserType: "IAMUser", FirstSeen: p.FirstEvent, LastSeen: p.FirstEvent, Days: 1},
		[]Unusual{{Dim: DimErrorRate, Value: "AccessDenied", Calls: 300, Failures: 2}}, time.Hour, p.LastEvent)
	return p
}
