package findings

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestID(t *testing.T) {
	const typ = "UnauthorizedAccess:EC2/SSHBruteForce"
	id := ID(typ, "957132980467", "us-west-2", "i-99999999")
	if !hex32.MatchString(id) {
		t.Fatalf("ID = %q, want 32 lowercase hex", id)
	}
	if again := ID(typ, "957132980467", "us-west-2", "i-99999999"); again != id {
		t.Fatalf("ID not deterministic: %s then %s", id, again)
	}
	seen := map[string]string{}
	for name, parts := range map[string][]string{
		"base":           {typ, "957132980467", "us-west-2", "i-99999999"},
		"other instance": {typ, "957132980467", "us-west-2", "i-88888888"},
		"other type":     {"Recon:EC2/Portscan", "957132980467", "us-west-2", "i-99999999"},
		"ab|c":           {typ, "ab", "c"},
		"a|bc":           {typ, "a", "bc"},
		"abc":            {typ, "abc"},
		"abc|":           {typ, "abc", ""},
		"swapped":        {typ, "us-west-2", "957132980467", "i-99999999"},
	} {
		got := ID(parts[0], parts[1:]...)
		if other, dup := seen[got]; dup {
			t.Errorf("ID(%s) == ID(%s) = %s", name, other, got)
		}
		seen[got] = name
	}
}

func TestDetectorIDAndArn(t *testing.T) {
	d := DetectorID("957132980467", "us-west-2")
	if !hex32.MatchString(d) {
		t.Fatalf("DetectorID = %q, want 32 lowercase hex", d)
	}
	if d != DetectorID("957132980467", "us-west-2") {
		t.Fatal("DetectorID not deterministic")
	}
	if d == DetectorID("957132980467", "us-east-1") || d == DetectorID("957132980468", "us-west-2") {
		t.Fatal("DetectorID does not depend on account and region")
	}
	got := Arn("cn-north-1", "123456789012", "d", "f")
	if want := "arn:aws-cn:guardduty:cn-north-1:123456789012:detector/d/finding/f"; got != want {
		t.Fatalf("Arn = %s, want %s", got, want)
	}
}

func TestPartition(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1":      "aws",
		"eu-west-3":      "aws",
		"cn-north-1":     "aws-cn",
		"cn-northwest-1": "aws-cn",
		"us-gov-west-1":  "aws-us-gov",
		"us-gov-east-1":  "aws-us-gov",
		"":               "aws",
	} {
		if got := Partition(region); got != want {
			t.Errorf("Partition(%q) = %q, want %q", region, got, want)
		}
	}
}

func TestSeverityLabel(t *testing.T) {
	for _, tc := range []struct {
		sev  float64
		want string
	}{
		{0.5, "Low"}, {1, "Low"}, {SeverityLow, "Low"}, {3.9, "Low"},
		{4, "Medium"}, {SeverityMedium, "Medium"}, {6.9, "Medium"},
		{7, "High"}, {SeverityHigh, "High"}, {8.9, "High"},
		{SeverityCritical, "Critical"}, {10, "Critical"},
	} {
		if got := SeverityLabel(tc.sev); got != tc.want {
			t.Errorf("SeverityLabel(%v) = %s, want %s", tc.sev, got, tc.want)
		}
	}
}

func TestTimestampJSON(t *testing.T) {
	ts := Timestamp{time.Date(2018, 10, 25, 10, 43, 4, 605_999_999, time.UTC)}
	b, err := json.Marshal(ts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `"2018-10-25T10:43:04.605Z"`; got != want {
		t.Fatalf("Marshal = %s, want %s (milliseconds, truncated)", got, want)
	}
	// A non-UTC time is written in UTC.
	b, _ = json.Marshal(Timestamp{time.Date(2018, 10, 25, 12, 43, 4, 0, time.FixedZone("CEST", 7200))})
	if got, want := string(b), `"2018-10-25T10:43:04.000Z"`; got != want {
		t.Fatalf("Marshal(CEST) = %s, want %s", got, want)
	}
	for in, want := range map[string]time.Time{
		`"2021-04-28T02:41:25Z"`:      time.Date(2021, 4, 28, 2, 41, 25, 0, time.UTC),
		`"2018-10-25T10:43:04.605Z"`:  time.Date(2018, 10, 25, 10, 43, 4, 605e6, time.UTC),
		`"2018-10-25T12:43:04+02:00"`: time.Date(2018, 10, 25, 10, 43, 4, 0, time.UTC),
	} {
		var got Timestamp
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Errorf("Unmarshal(%s): %v", in, err)
			continue
		}
		if !got.Equal(want) {
			t.Errorf("Unmarshal(%s) = %v, want %v", in, got, want)
		}
	}
	for _, in := range []string{`1620934206`, `"yesterday"`, `""`} {
		var got Timestamp
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want error", in, got)
		}
	}
}

func TestAdditionalInfoJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   AdditionalInfo
		want string
	}{
		{"nil", nil, `{"value":"{}","type":"default"}`},
		{"empty", AdditionalInfo{}, `{"value":"{}","type":"default"}`},
		{
			"sorted keys, value mirrors them",
			AdditionalInfo{"threatListName": "nocoin", "domain": "minexmr.com", "sample": true},
			`{"domain":"minexmr.com","sample":true,"threatListName":"nocoin",` +
				`"value":"{\"domain\":\"minexmr.com\",\"sample\":true,\"threatListName\":\"nocoin\"}","type":"default"}`,
		},
		{
			"reserved keys dropped",
			AdditionalInfo{"value": "x", "type": "y", "portsScannedSample": []int{22, 80}},
			`{"portsScannedSample":[22,80],"value":"{\"portsScannedSample\":[22,80]}","type":"default"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("Marshal =\n%s\nwant\n%s", b, tc.want)
			}
			var back AdditionalInfo
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			b2, _ := json.Marshal(back)
			if !bytes.Equal(b, b2) {
				t.Fatalf("round trip =\n%s\nwant\n%s", b2, b)
			}
		})
	}

	// The API form keeps the keys only inside "value".
	var api AdditionalInfo
	in := `{"value":"{\"threatListName\":\"GeneratedFindingThreatListName\",\"sample\":true}","type":"default"}`
	if err := json.Unmarshal([]byte(in), &api); err != nil {
		t.Fatal(err)
	}
	if api["threatListName"] != "GeneratedFindingThreatListName" || api["sample"] != true {
		t.Fatalf("API form = %#v", api)
	}
	for _, bad := range []string{`[]`, `{"value":1}`, `{"value":"{not json"}`} {
		var a AdditionalInfo
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want error", bad, a)
		}
	}
}

// sshFinding builds the finding of the spec §3.8 example the way a
// detector does: New, then the details.
func sshFinding() Finding {
	first := time.Date(2018, 10, 25, 10, 43, 4, 605e6, time.UTC)
	f := New("UnauthorizedAccess:EC2/SSHBruteForce", SeverityLow, "957132980467", "us-west-2", first,
		"i-99999999", RoleTarget)
	f.Resource = Resource{
		ResourceType: ResourceInstance,
		InstanceDetails: &InstanceDetails{
			InstanceID: "i-99999999",
			NetworkInterfaces: []NetworkInterface{{
				NetworkInterfaceID: "eni-bfcffe88",
				PrivateIPAddress:   "10.0.0.1",
				SubnetID:           "subnet-7461ef11",
				VpcID:              "vpc-f205b397",
			}},
		},
	}
	f.Service.Action = Action{
		ActionType: ActionNetworkConnection,
		NetworkConnectionAction: &NetworkConnectionAction{
			ConnectionDirection:   DirectionInbound,
			RemoteIPDetails:       &RemoteIPDetails{IPAddressV4: "198.51.100.7"},
			RemotePortDetails:     &PortDetails{Port: 32794, PortName: PortName(32794)},
			LocalPortDetails:      &PortDetails{Port: 22, PortName: PortName(22)},
			LocalIPDetails:        &LocalIPDetails{IPAddressV4: "10.0.0.1"},
			Protocol:              ProtocolName(6),
			LocalNetworkInterface: "eni-bfcffe88",
		},
	}
	f.Service.ResourceRole = RoleTarget
	f.Title = "198.51.100.7 is performing SSH brute force attacks against i-99999999. "
	f.Description = "198.51.100.7 is performing SSH brute force attacks against i-99999999. " +
		"Brute force attacks are used to gain unauthorized access to your instance by guessing the SSH password."
	// Ten more occurrences, the last one on 2 November.
	last := f
	last.Service.EventFirstSeen = Timestamp{time.Date(2018, 11, 2, 21, 34, 15, 262e6, time.UTC)}
	last.Service.EventLastSeen = last.Service.EventFirstSeen
	last.Service.Count = 10
	f.Merge(&last)
	return f
}

func cryptoFinding() Finding {
	at := time.Date(2026, 3, 8, 21, 41, 7, 0, time.UTC)
	f := New("CryptoCurrency:EC2/BitcoinTool.B!DNS", SeverityHigh, "111122223333", "us-east-1", at,
		"i-00779ebad43b2470d", "crypto.guarddutyc2activityb.com")
	f.Resource = Resource{
		ResourceType: ResourceInstance,
		InstanceDetails: &InstanceDetails{
			InstanceID:        "i-00779ebad43b2470d",
			NetworkInterfaces: []NetworkInterface{{PrivateIPAddress: "10.0.1.25", VpcID: "vpc-0123456789abcdef0"}},
		},
	}
	f.Service.Action = Action{
		ActionType: ActionDNSRequest,
		DNSRequestAction: &DNSRequestAction{
			Domain:            "crypto.guarddutyc2activityb.com",
			Protocol:          "UDP",
			DomainWithSuffix:  "guarddutyc2activityb.com",
			VpcOwnerAccountID: "111122223333",
		},
	}
	f.Service.ResourceRole = RoleActor
	f.Service.AdditionalInfo = AdditionalInfo{"threatListName": "vigil-test", "domain": "crypto.guarddutyc2activityb.com"}
	f.Service.Evidence = &Evidence{ThreatIntelligenceDetails: []ThreatIntelligenceDetail{{
		ThreatListName: "vigil-test", ThreatNames: []string{"CryptoCurrency"},
	}}}
	f.Title = "Bitcoin-related domain name queried by EC2 instance i-00779ebad43b2470d."
	f.Description = "EC2 instance i-00779ebad43b2470d is querying a domain name that is associated with Bitcoin-related activity."
	return f
}

func TestGolden(t *testing.T) {
	for name, f := range map[string]Finding{
		"ssh_bruteforce.golden.json": sshFinding(),
		"crypto_dns.golden.json":     cryptoFinding(),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(f, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Marshal =\n%s\nwant (%s)\n%s", got, path, want)
			}
			var back Finding
			if err := json.Unmarshal(want, &back); err != nil {
				t.Fatal(err)
			}
			again, _ := json.MarshalIndent(back, "", "  ")
			if !bytes.Equal(append(again, '\n'), want) {
				t.Fatalf("Unmarshal+Marshal of golden =\n%s\nwant\n%s", again, want)
			}
		})
	}
}

func TestGoldenShape(t *testing.T) {
	f := sshFinding()
	if f.Service.Count != 11 {
		t.Errorf("count = %d, want 11", f.Service.Count)
	}
	b, _ := json.Marshal(f)
	s := string(b)
	for _, want := range []string{
		`"eventFirstSeen":"2018-10-25T10:43:04.605Z"`,
		`"eventLastSeen":"2018-11-02T21:34:15.262Z"`,
		`"createdAt":"2018-10-25T10:43:04.605Z"`,
		`"updatedAt":"2018-11-02T21:34:15.262Z"`,
		`"severity":2,`,
		`"count":11}`,
		`"evidence":null`,
		`"additionalInfo":{"value":"{}","type":"default"}`,
		`"partition":"aws"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s:\n%s", want, s)
		}
	}
	// Top-level and service keys come in the spec's order.
	order := []string{`"schemaVersion"`, `"accountId"`, `"region"`, `"partition"`, `"id"`, `"arn"`, `"type"`,
		`"resource"`, `"service"`, `"serviceName"`, `"detectorId"`, `"action"`, `"resourceRole"`, `"additionalInfo"`,
		`"evidence"`, `"eventFirstSeen"`, `"eventLastSeen"`, `"archived"`, `"count"`, `"severity"`, `"createdAt"`,
		`"updatedAt"`, `"title"`, `"description"`}
	last := -1
	for _, k := range order {
		i := strings.Index(s, k)
		if i <= last {
			t.Fatalf("key %s at %d, not after the previous key (%d):\n%s", k, i, last, s)
		}
		last = i
	}
	if !strings.HasSuffix(f.Arn, "/finding/"+f.ID) || !strings.Contains(f.Arn, ":detector/"+f.Service.DetectorID+"/") {
		t.Errorf("arn %s does not name detector %s and finding %s", f.Arn, f.Service.DetectorID, f.ID)
	}
}

// TestSpecExampleRoundTrip checks that the model covers every member of
// the spec's sample finding: decoding and re-encoding loses nothing but
// empty values (null platform, empty arrays), which vigil omits.
func TestSpecExampleRoundTrip(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "spec_3_8_detail.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f Finding
	if err := json.Unmarshal(in, &f); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(in, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if w, g := dropEmpty(want), dropEmpty(got); !reflect.DeepEqual(w, g) {
		wb, _ := json.MarshalIndent(w, "", " ")
		gb, _ := json.MarshalIndent(g, "", " ")
		t.Fatalf("round trip differs:\ngot  %s\nwant %s", gb, wb)
	}
}

// dropEmpty removes nulls, empty arrays and empty objects.
func dropEmpty(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e = dropEmpty(e); e != nil {
				out[k] = e
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, e := range x {
			if e = dropEmpty(e); e != nil {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

func TestMerge(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)
	occ := func(at time.Time, remote string, count int, rank uint64) Finding {
		f := New("UnauthorizedAccess:EC2/SSHBruteForce", SeverityLow, "111122223333", "us-east-1", at, "i-1", RoleTarget)
		f.Service.ResourceRole = RoleTarget
		f.Service.Action = Action{ActionType: ActionNetworkConnection, NetworkConnectionAction: &NetworkConnectionAction{
			ConnectionDirection: DirectionInbound, RemoteIPDetails: &RemoteIPDetails{IPAddressV4: remote}, Protocol: "TCP"}}
		f.Service.AdditionalInfo = AdditionalInfo{"remote": remote}
		f.Title = remote + " is performing SSH brute force attacks against i-1. "
		f.Service.Count, f.Rank = count, rank
		return f
	}
	remoteOf := func(f Finding) string { return f.Service.Action.NetworkConnectionAction.RemoteIPDetails.IPAddressV4 }
	for _, tc := range []struct {
		name   string
		occ    []Finding
		count  int
		first  time.Time
		last   time.Time
		remote string
		rank   uint64
	}{
		{
			name: "the latest by event time wins, whatever arrived last",
			occ: []Finding{occ(t0, "198.51.100.1", 1, 1), occ(t0.Add(time.Hour), "198.51.100.2", 1, 1),
				occ(t0.Add(-time.Hour), "198.51.100.3", 1, 1)},
			count: 3, first: t0.Add(-time.Hour), last: t0.Add(time.Hour), remote: "198.51.100.2", rank: 1,
		},
		{
			name:  "same last-seen: the greater Rank wins",
			occ:   []Finding{occ(t0, "198.51.100.9", 1, 1), occ(t0, "198.51.100.1", 0, 7), occ(t0, "198.51.100.5", 0, 3)},
			count: 1, first: t0, last: t0, remote: "198.51.100.1", rank: 7,
		},
		{
			name:  "same last-seen and Rank: the greater details win",
			occ:   []Finding{occ(t0, "198.51.100.4", 1, 1), occ(t0, "198.51.100.2", 1, 1)},
			count: 2, first: t0, last: t0, remote: "198.51.100.4", rank: 1,
		},
		{
			name:  "count 0 updates last-seen without counting",
			occ:   []Finding{occ(t0, "198.51.100.1", 1, 1), occ(t0.Add(time.Minute), "198.51.100.2", 0, 2)},
			count: 1, first: t0, last: t0.Add(time.Minute), remote: "198.51.100.2", rank: 2,
		},
		{
			name:  "times compare at millisecond precision",
			occ:   []Finding{occ(t0.Add(900*time.Microsecond), "198.51.100.1", 1, 1), occ(t0.Add(100*time.Microsecond), "198.51.100.2", 1, 2)},
			count: 2, first: t0, last: t0, remote: "198.51.100.2", rank: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}} {
				var f Finding
				for _, i := range order {
					if i >= len(tc.occ) {
						continue
					}
					if o := tc.occ[i]; f.ID == "" {
						f = o
					} else {
						f.Merge(&o)
					}
				}
				if f.Service.Count != tc.count || !f.Service.EventFirstSeen.Equal(tc.first) || !f.Service.EventLastSeen.Equal(tc.last) ||
					!f.CreatedAt.Equal(tc.first) || f.UpdatedAt != f.Service.EventLastSeen || remoteOf(f) != tc.remote || f.Rank != tc.rank {
					t.Fatalf("order %v: count %d seen %v..%v created %v updated %v remote %s rank %d; want %d %v..%v %s %d",
						order, f.Service.Count, f.Service.EventFirstSeen, f.Service.EventLastSeen, f.CreatedAt, f.UpdatedAt,
						remoteOf(f), f.Rank, tc.count, tc.first, tc.last, tc.remote, tc.rank)
				}
				if !strings.HasPrefix(f.Title, tc.remote+" ") {
					t.Errorf("title = %q, want the winning occurrence's", f.Title)
				}
			}
		})
	}

	// Details are copied, not aliased.
	f := occ(t0, "198.51.100.1", 1, 1)
	later := occ(t0.Add(time.Hour), "198.51.100.4", 1, 1)
	f.Merge(&later)
	later.Service.AdditionalInfo["remote"] = "changed"
	if f.Service.AdditionalInfo["remote"] != "198.51.100.4" {
		t.Errorf("additionalInfo aliased the occurrence's map")
	}
	// An occurrence of another finding is ignored.
	other := New("Recon:EC2/Portscan", SeverityMedium, "111122223333", "us-east-1", t0.Add(2*time.Hour), "i-1")
	f.Merge(&other)
	f.Merge(nil)
	if f.Service.Count != 2 || f.Type != "UnauthorizedAccess:EC2/SSHBruteForce" {
		t.Errorf("merging another id changed the finding: count %d type %s", f.Service.Count, f.Type)
	}
}

// TestMergeJoin is the property that makes findings independent of event
// order: any permutation and any grouping of the same occurrences merges
// to byte-identical JSON and the same Rank.
func TestMergeJoin(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		// Few distinct times, ranks and remotes, so that every tie-break is
		// exercised.
		occ := make([]Finding, 2+r.IntN(10))
		for i := range occ {
			at := t0.Add(time.Duration(r.IntN(3))*time.Minute + time.Duration(r.IntN(2))*time.Microsecond)
			f := New("Recon:EC2/Portscan", SeverityMedium, "111122223333", "us-east-1", at, "i-1")
			f.Service.EventFirstSeen = Stamp(at.Add(-time.Duration(r.IntN(3)) * time.Minute))
			f.CreatedAt = f.Service.EventFirstSeen
			f.Service.Count = r.IntN(2)
			f.Rank = uint64(r.IntN(3))
			remote := fmt.Sprintf("198.51.100.%d", r.IntN(3))
			f.Service.Action = Action{ActionType: ActionNetworkConnection, NetworkConnectionAction: &NetworkConnectionAction{
				ConnectionDirection: DirectionOutbound, RemoteIPDetails: &RemoteIPDetails{IPAddressV4: remote}, Protocol: "TCP"}}
			f.Service.AdditionalInfo = AdditionalInfo{"portsScannedSample": []int{22, 80 + r.IntN(2)}}
			f.Title = "scan of " + remote
			occ[i] = f
		}
		var want []byte
		var wantRank uint64
		for perm := range 20 {
			o := slices.Clone(occ)
			r.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
			var got Finding
			if perm%2 == 0 {
				got = o[0]
				for i := 1; i < len(o); i++ {
					got.Merge(&o[i])
				}
			} else {
				got = mergeTree(r, o)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if perm == 0 {
				want, wantRank = b, got.Rank
				continue
			}
			if !bytes.Equal(b, want) || got.Rank != wantRank {
				t.Fatalf("round %d, permutation %d: rank %d\n%s\nwant rank %d\n%s", round, perm, got.Rank, b, wantRank, want)
			}
		}
	}
}

// mergeTree merges o as a random binary tree: random groupings.
func mergeTree(r *rand.Rand, o []Finding) Finding {
	if len(o) == 1 {
		return o[0]
	}
	k := 1 + r.IntN(len(o)-1)
	a, b := mergeTree(r, o[:k]), mergeTree(r, o[k:])
	if r.IntN(2) == 0 {
		a, b = b, a
	}
	a.Merge(&b)
	return a
}

func TestMergeByID(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)
	a := New("Recon:EC2/Portscan", SeverityMedium, "1", "us-east-1", t0, "i-1")
	b := New("Recon:EC2/Portscan", SeverityMedium, "1", "us-east-1", t0, "i-2")
	a2 := New("Recon:EC2/Portscan", SeverityMedium, "1", "us-east-1", t0.Add(time.Minute), "i-1")
	a2.Service.Count = 0
	got := MergeByID([]Finding{a, b, a2, b})
	if len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID || got[0].Service.Count != 1 || got[1].Service.Count != 2 ||
		!got[0].Service.EventLastSeen.Equal(t0.Add(time.Minute)) {
		t.Fatalf("MergeByID = %+v", got)
	}
	if got := MergeByID(nil); len(got) != 0 {
		t.Fatalf("MergeByID(nil) = %v", got)
	}
}

func TestStored(t *testing.T) {
	f := sshFinding()
	f.Rank = 300
	b, err := f.MarshalStored()
	if err != nil {
		t.Fatal(err)
	}
	g, err := UnmarshalStored(b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(f)
	got, _ := json.Marshal(g)
	if !bytes.Equal(got, want) || g.Rank != 300 {
		t.Fatalf("stored round trip: rank %d\n%s\nwant\n%s", g.Rank, got, want)
	}
	j, err := StoredJSON(b)
	if err != nil || !bytes.Equal(j, want) {
		t.Fatalf("StoredJSON = %s, %v", j, err)
	}
	if strings.Contains(string(want), "300") || strings.Contains(string(want), `"rank"`) {
		t.Errorf("Rank leaked into the GuardDuty JSON: %s", want)
	}
	// A stored finding merges like the one written: Rank decides ties.
	h := f
	h.Rank = 299
	h.Title = "a title that sorts last"
	g.Merge(&h)
	if g.Title != f.Title {
		t.Errorf("a lower Rank won after a round trip")
	}
	for _, bad := range [][]byte{nil, {}, {2, 0, '{', '}'}, {storedVersion}, {storedVersion, 0x80}, {storedVersion, 1, '['}} {
		if _, err := UnmarshalStored(bad); err == nil {
			t.Errorf("UnmarshalStored(%q) succeeded", bad)
		}
	}
	if _, err := StoredJSON([]byte{9}); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("StoredJSON of version 9: %v", err)
	}
}

func FuzzUnmarshalStored(f *testing.F) {
	for _, fd := range []Finding{sshFinding(), cryptoFinding()} {
		b, err := fd.MarshalStored()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{storedVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		fd, err := UnmarshalStored(b)
		if err != nil {
			return
		}
		j, err := StoredJSON(b)
		if err != nil || len(j) > len(b) {
			t.Fatalf("UnmarshalStored accepted what StoredJSON refuses: %v", err)
		}
		b2, err := fd.MarshalStored()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		fd2, err := UnmarshalStored(b2)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		b3, _ := fd2.MarshalStored()
		if !bytes.Equal(b2, b3) || fd2.Rank != fd.Rank {
			t.Fatalf("stored form is not stable:\n%q\n%q", b2, b3)
		}
	})
}

// TestMergeDeterministic replays the same occurrences twice and expects
// byte-identical JSON: nothing depends on the wall clock.
func TestMergeDeterministic(t *testing.T) {
	run := func() []byte {
		f := sshFinding()
		g := sshFinding()
		g.Service.Count = 3
		f.Merge(&g)
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := run()
	time.Sleep(2 * time.Millisecond)
	if b := run(); !bytes.Equal(a, b) {
		t.Fatalf("replay differs:\n%s\n%s", a, b)
	}
}

func TestPortAndProtocolNames(t *testing.T) {
	for port, want := range map[int]string{22: "SSH", 80: "HTTP", 443: "HTTPS", 3389: "RDP", 25: "SMTP", 53: "DNS", 32794: "Unknown"} {
		if got := PortName(port); got != want {
			t.Errorf("PortName(%d) = %s, want %s", port, got, want)
		}
	}
	for proto, want := range map[uint8]string{6: "TCP", 17: "UDP", 1: "ICMP", 2: "IGMP", 47: "47"} {
		if got := ProtocolName(proto); got != want {
			t.Errorf("ProtocolName(%d) = %s, want %s", proto, got, want)
		}
	}
}
