package detect

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
)

// stratusRecord returns the first record of a Stratus detonation log in
// testdata, decoded as a JSON object to patch.
func stratusRecord(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(b, &recs); err != nil || len(recs) == 0 {
		t.Fatalf("%s: %v", name, err)
	}
	return recs[0]
}

// seqCall is one call of a sequence: a record, made at offset from the
// sequence's start with access key key.
type seqCall struct {
	rec    map[string]any
	offset time.Duration
	key    string
}

var seqStart = time.Date(2024, 7, 31, 13, 0, 0, 0, time.UTC)

// seqEvents puts the calls on one principal (the Stratus user) and decodes
// them.
func seqEvents(t *testing.T, calls []seqCall) []*event.Event {
	t.Helper()
	var out []*event.Event
	for i, c := range calls {
		rec := map[string]any{}
		for k, v := range c.rec {
			rec[k] = v
		}
		rec["eventTime"] = seqStart.Add(c.offset).Format(time.RFC3339)
		rec["eventID"] = "00000000-0000-4000-8000-" + strconv.FormatInt(int64(100000000000+i), 10)
		rec["recipientAccountId"] = "143434273843"
		rec["awsRegion"] = "eu-west-1"
		rec["userIdentity"] = map[string]any{"accessKeyId": c.key, "accountId": "143434273843", "arn": "arn:aws:iam::143434273843:user/christophe",
			"principalId": "AIDAOC1SYDVN0AF0FMMR", "type": "IAMUser", "userName": "christophe"}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cloudTrailEvent(t, b))
	}
	return out
}

// The three stages of a Stratus-like intrusion: discovery (the user data
// of an instance read, a weak signal), persistence (an access key made for
// another user: the real iam-backdoor-user detonation, weak) and defence
// evasion (the real cloudtrail-stop detonation, which raises
// Stealth:IAMUser/CloudTrailLoggingDisabled).
func seqStages(t *testing.T) (recon, persist, evade map[string]any) {
	var r map[string]any
	if err := json.Unmarshal(callJSON(t, "ec2.amazonaws.com", "DescribeInstanceAttribute",
		map[string]any{"requestParameters": map[string]any{"instanceId": "i-0a1b2c3d4e5f67890", "attribute": "userData"}, "readOnly": true}), &r); err != nil {
		t.Fatal(err)
	}
	return r, stratusRecord(t, "stratus.persistence.iam-backdoor-user.json"), stratusRecord(t, "stratus.defense-evasion.cloudtrail-stop.json")
}

const (
	keyA = "AKIAGGWFBBHBE7D3M9WI"
	keyB = "AKIA30BEZSJBVKOFKZW0"
)

func TestAttackSequence(t *testing.T) {
	recon, persist, evade := seqStages(t)
	deleteTrail := map[string]any{}
	for k, v := range evade {
		deleteTrail[k] = v
	}
	deleteTrail["eventName"] = "DeleteTrail"
	selectors := stratusRecord(t, "stratus.defense-evasion.cloudtrail-event-selectors.json")
	// A persistence call no rule raises a finding for: a weak signal only.
	createUser := map[string]any{}
	for k, v := range persist {
		createUser[k] = v
	}
	createUser["eventName"] = "CreateUser"
	tests := []struct {
		name  string
		calls []seqCall
		want  int // counted occurrences
	}{
		{"three stages within an hour", []seqCall{{recon, 0, keyA}, {persist, 20 * time.Minute, keyA}, {evade, time.Hour, keyA}}, 1},
		{"three stages within a day", []seqCall{{recon, 0, keyA}, {persist, 9 * time.Hour, keyA}, {evade, 20 * time.Hour, keyA}}, 1},
		{"stages repeated in the window", []seqCall{{recon, 0, keyA}, {persist, time.Minute, keyA}, {evade, 2 * time.Minute, keyA},
			{recon, 3 * time.Minute, keyA}, {deleteTrail, 4 * time.Minute, keyA}}, 1},
		{"spread beyond the window", []seqCall{{recon, 0, keyA}, {persist, 30 * time.Hour, keyA}, {evade, 60 * time.Hour, keyA}}, 0},
		{"one tactic", []seqCall{{evade, 0, keyA}, {deleteTrail, time.Minute, keyA}, {selectors, 2 * time.Minute, keyA}}, 0},
		{"two tactics", []seqCall{{persist, 0, keyA}, {evade, time.Minute, keyA}}, 0},
		{"three tactics, no finding", []seqCall{{recon, 0, keyA}, {createUser, time.Minute, keyA}, {selectors, 2 * time.Minute, keyA}}, 0},
		{"two credentials", []seqCall{{recon, 0, keyA}, {persist, time.Minute, keyB}, {evade, 2 * time.Minute, keyA}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := seqEvents(t, tt.calls)
			want := applyRun(t, evs, nil)
			var got []findings.Finding
			for _, f := range want.findings {
				if f.Type == TypeAttackSequence {
					got = append(got, f)
				}
			}
			n := 0
			for _, f := range got {
				n += f.Service.Count
			}
			if n != tt.want {
				t.Fatalf("%d occurrences, want %d:%s", n, tt.want, summary(want.findings))
			}
			// Any order, with passivations, gives the same findings and
			// profiles.
			r := rand.New(rand.NewPCG(7, uint64(len(evs))))
			for i := range 20 {
				perm := slices.Clone(evs)
				r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
				var restore *rand.Rand
				if i%2 == 1 {
					restore = rand.New(rand.NewPCG(uint64(i), 3))
				}
				if d := applyRun(t, perm, restore).diff(want); d != "" {
					t.Fatalf("permutation %d:%s", i, d)
				}
			}
			if tt.want == 0 {
				return
			}
			f := got[0]
			checkFinding(t, f)
			if f.Severity != findings.SeverityCritical || f.Resource.AccessKeyDetails.AccessKeyID != keyA {
				t.Errorf("severity %v, key %+v", f.Severity, f.Resource.AccessKeyDetails)
			}
			seq, _ := f.Service.AdditionalInfo["sequence"].(map[string]any)
			b, _ := json.Marshal(seq)
			var s struct {
				Tactics []struct {
					Name  string `json:"name"`
					Mitre string `json:"mitreTacticId"`
				} `json:"tactics"`
				Signals []struct {
					Type, Name, API, FindingID string
				} `json:"signals"`
				FindingIDs []string `json:"findingIds"`
			}
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			var tactics []string
			for _, x := range s.Tactics {
				tactics = append(tactics, x.Mitre)
			}
			if !slices.Equal(tactics, []string{"TA0007", "TA0003", "TA0005"}) {
				t.Errorf("tactics %v", tactics)
			}
			var trail string
			for _, g := range want.findings {
				if g.Type == TypeCloudTrailLoggingDisabled {
					trail = g.ID
				}
			}
			if trail == "" || !slices.Contains(s.FindingIDs, trail) {
				t.Errorf("finding ids %v, want the logging finding %q", s.FindingIDs, trail)
			}
			if _, ok := f.Service.AdditionalInfo["reason"]; !ok || len(s.Signals) < 3 {
				t.Errorf("evidence: %s", b)
			}
			t.Logf("%s", b)
		})
	}
}

// TestAttackSequenceGlobal: a global-service call (IAM) is logged in
// us-east-1 and applied to the principal's profile in every region; its
// findings are raised in us-east-1 only, but its weak signal counts in
// the sequence of each region, so stages in eu-west-1 around an IAM
// backdoor make a sequence there.
func TestAttackSequenceGlobal(t *testing.T) {
	recon, persist, evade := seqStages(t)
	evs := seqEvents(t, []seqCall{{recon, 0, keyA}, {persist, 20 * time.Minute, keyA}, {evade, time.Hour, keyA}})
	// The IAM call as ingest broadcasts it: logged in us-east-1, one copy
	// per enabled region.
	iam := evs[1]
	iam.CloudTrail.AWSRegion = "us-east-1"
	iam.CloudTrail.Global = true
	home := *iam
	home.Region = "us-east-1"
	evs = append(evs, &home)
	if iam.Region != "eu-west-1" {
		t.Fatalf("region %s", iam.Region)
	}
	got := map[string]int{}
	for _, f := range applyRun(t, evs, nil).findings {
		if f.Type == TypeAttackSequence {
			got[f.Region] += f.Service.Count
		}
	}
	if len(got) != 1 || got["eu-west-1"] != 1 {
		t.Errorf("sequences per region %v, want one in eu-west-1", got)
	}
}

// TestAttackSequencePantherScenario replays panther-analysis's compromised
// root credentials scenario (testdata/SOURCE.md): the victim's sign-ins
// alone are one tactic; with the attacker's root session, which signs in
// without MFA, creates a user and its access key and attaches
// IAMFullAccess within ten hours, the credential's window holds initial
// access (a finding), persistence and privilege escalation.
func TestAttackSequencePantherScenario(t *testing.T) {
	var victim, all []*event.Event
	for i, l := range readLines(t, "panther_compromised_root_cloudtrail.jsonl") {
		var rec struct {
			File string         `json:"file"`
			Log  map[string]any `json:"log"`
		}
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatal(err)
		}
		rec.Log["eventID"] = "scenario-" + strconv.Itoa(i) // the scenario's ids are all "1"
		b, _ := json.Marshal(rec.Log)
		ev := cloudTrailEvent(t, b)
		all = append(all, ev)
		if strings.HasPrefix(rec.File, "victim") {
			victim = append(victim, ev)
		}
	}
	seqs := func(evs []*event.Event) []findings.Finding {
		var out []findings.Finding
		for _, f := range applyRun(t, evs, nil).findings {
			if f.Type == TypeAttackSequence {
				out = append(out, f)
			}
		}
		return out
	}
	if got := seqs(victim); len(got) != 0 {
		t.Errorf("victim alone: %s", summary(got))
	}
	got := seqs(all)
	if len(got) != 1 || got[0].Service.Count != 1 {
		t.Fatalf("attacker: %s", summary(got))
	}
	checkFinding(t, got[0])
	b, _ := json.Marshal(got[0].Service.AdditionalInfo["sequence"])
	for _, want := range []string{`"TA0001"`, `"TA0003"`, `"TA0004"`, `InitialAccess:IAM/ValidAccounts`, `"api":"AttachUserPolicy"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("sequence lacks %s: %s", want, b)
		}
	}
	t.Logf("%s", b)
}
