package findings

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
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
	occ := func(at time.Time, remote string) Finding {
		f := New("UnauthorizedAccess:EC2/SSHBruteForce", SeverityLow, "111122223333", "us-east-1", at, "i-1", RoleTarget)
		f.Service.ResourceRole = RoleTarget
		f.Service.Action = Action{ActionType: ActionNetworkConnection, NetworkConnectionAction: &NetworkConnectionAction{
			ConnectionDirection: DirectionInbound, RemoteIPDetails: &RemoteIPDetails{IPAddressV4: remote}, Protocol: "TCP"}}
		f.Service.AdditionalInfo = AdditionalInfo{"remote": remote}
		f.Title = remote + " is performing SSH brute force attacks against i-1. "
		return f
	}
	f := occ(t0, "198.51.100.1")
	created := f.CreatedAt

	later := occ(t0.Add(time.Hour), "198.51.100.2")
	f.Merge(&later)
	earlier := occ(t0.Add(-time.Hour), "198.51.100.3") // arrives late
	f.Merge(&earlier)
	same := occ(t0.Add(time.Hour), "198.51.100.4") // same time as the latest: the newer arrival wins
	same.Service.Count = 0
	f.Merge(&same)

	if f.Service.Count != 4 {
		t.Errorf("count = %d, want 4", f.Service.Count)
	}
	if !f.Service.EventFirstSeen.Equal(t0.Add(-time.Hour)) || !f.Service.EventLastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("seen = %v..%v, want %v..%v", f.Service.EventFirstSeen, f.Service.EventLastSeen, t0.Add(-time.Hour), t0.Add(time.Hour))
	}
	if f.CreatedAt != created {
		t.Errorf("createdAt = %v, want kept %v", f.CreatedAt, created)
	}
	if f.UpdatedAt != f.Service.EventLastSeen {
		t.Errorf("updatedAt = %v, want eventLastSeen %v", f.UpdatedAt, f.Service.EventLastSeen)
	}
	if got := f.Service.Action.NetworkConnectionAction.RemoteIPDetails.IPAddressV4; got != "198.51.100.4" {
		t.Errorf("remote = %s, want the latest occurrence's 198.51.100.4", got)
	}
	if !strings.HasPrefix(f.Title, "198.51.100.4 ") {
		t.Errorf("title = %q, want the latest occurrence's", f.Title)
	}
	// Details are copied, not aliased.
	same.Service.AdditionalInfo["remote"] = "changed"
	if f.Service.AdditionalInfo["remote"] != "198.51.100.4" {
		t.Errorf("additionalInfo aliased the occurrence's map")
	}
	// An occurrence of another finding is ignored.
	other := New("Recon:EC2/Portscan", SeverityMedium, "111122223333", "us-east-1", t0.Add(2*time.Hour), "i-1")
	f.Merge(&other)
	f.Merge(nil)
	if f.Service.Count != 4 || f.Type != "UnauthorizedAccess:EC2/SSHBruteForce" {
		t.Errorf("merging another id changed the finding: count %d type %s", f.Service.Count, f.Type)
	}
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
