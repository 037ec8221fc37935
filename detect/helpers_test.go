package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
	"github.com/vigil-sec/vigil/sources"
)

// CloudTrail records go through vigil's own decoder; the small parsers
// below turn flow and DNS test records into event.Event values the way the
// spec (§3.7, §5) says the decoders do.

// cloudTrailEvent converts one CloudTrail record with vigil's decoder, as
// ingest does.
func cloudTrailEvent(t testing.TB, raw []byte) *event.Event {
	t.Helper()
	ev, err := decodeCloudTrail(raw)
	if err != nil {
		t.Fatalf("cloudtrail record: %v", err)
	}
	return ev
}

// decodeCloudTrail converts one CloudTrail record with vigil's decoder,
// marking a global-service event Global as ingest does; an error is what
// ingest would dead-letter the record for.
func decodeCloudTrail(raw []byte) (*event.Event, error) {
	var d sources.CloudTrailDecoder
	var out *event.Event
	_, err := d.Decode(raw, func(ev *event.Event) {
		cp := *ev
		ct := *ev.CloudTrail
		ct.RequestParameters = maps.Clone(ct.RequestParameters) // the decoder's map is reused
		ct.Global = sources.IsGlobal(&ct)
		cp.CloudTrail = &ct
		out = &cp
	})
	if err == nil && out == nil {
		err = errors.New("not a management event")
	}
	return out, err
}

// route53Record is a Route 53 Resolver query-log record.
type route53Record struct {
	AccountID      string `json:"account_id"`
	Region         string `json:"region"`
	VPCID          string `json:"vpc_id"`
	QueryTimestamp string `json:"query_timestamp"`
	QueryName      string `json:"query_name"`
	QueryType      string `json:"query_type"`
	QueryClass     string `json:"query_class"`
	RCode          string `json:"rcode"`
	SrcAddr        string `json:"srcaddr"`
	SrcPort        string `json:"srcport"`
	Transport      string `json:"transport"`
	SrcIDs         struct {
		Instance         string `json:"instance"`
		ResolverEndpoint string `json:"resolver_endpoint"`
	} `json:"srcids"`
	FirewallRuleAction string `json:"firewall_rule_action"`
}

// dnsEventJSON converts one Route 53 Resolver query-log record.
func dnsEventJSON(t testing.TB, raw []byte) *event.Event {
	t.Helper()
	var r route53Record
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("route53 record: %v", err)
	}
	src, _ := netip.ParseAddr(r.SrcAddr)
	port, _ := strconv.ParseUint(r.SrcPort, 10, 16)
	q := &event.DNS{
		AccountID: r.AccountID, Region: r.Region, VPCID: r.VPCID,
		QueryName: strings.TrimSuffix(strings.ToLower(r.QueryName), "."), QueryType: r.QueryType,
		QueryClass: r.QueryClass, RCode: r.RCode, SrcAddr: src, SrcPort: uint16(port), Transport: r.Transport,
		InstanceID: r.SrcIDs.Instance, ResolverEndpoint: r.SrcIDs.ResolverEndpoint, FirewallAction: r.FirewallRuleAction,
	}
	entity := r.SrcIDs.Instance
	if entity == "" {
		entity = "ip:" + r.SrcAddr
	}
	return &event.Event{
		Source: event.SourceDNS, Time: parseTime(r.QueryTimestamp), Account: r.AccountID, Region: r.Region,
		Kind: event.KindNetwork, Entity: entity, DNS: q,
	}
}

// dnsQuery builds a query event from an instance.
func dnsQuery(at time.Time, instance, src, name string) *event.Event {
	return &event.Event{
		Source: event.SourceDNS, Time: at, Account: "111122223333", Region: "us-east-1",
		Kind: event.KindNetwork, Entity: instance,
		DNS: &event.DNS{
			AccountID: "111122223333", Region: "us-east-1", VPCID: "vpc-0123456789abcdef0",
			QueryName: strings.TrimSuffix(strings.ToLower(name), "."), QueryType: "A", QueryClass: "IN",
			RCode: "NOERROR", SrcAddr: netip.MustParseAddr(src), SrcPort: 53422, Transport: "UDP", InstanceID: instance,
		},
	}
}

// flowLine parses a version-2 default-format flow-log line ("2 account
// eni src dst sport dport proto packets bytes start end action status")
// for entity (an instance id, or "" for the interface).
func flowLine(t testing.TB, line, entity string) *event.Event {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 14 {
		t.Fatalf("flow line %q: %d fields", line, len(f))
	}
	num := func(s string) uint64 {
		if s == "-" {
			return 0
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("flow line %q: %v", line, err)
		}
		return v
	}
	fl := &event.Flow{Version: 2, AccountID: f[1], InterfaceID: f[2]}
	if f[13] == "OK" {
		fl.Src, fl.Dst = netip.MustParseAddr(f[3]), netip.MustParseAddr(f[4])
		fl.SrcPort, fl.DstPort, fl.Protocol = uint16(num(f[5])), uint16(num(f[6])), uint8(num(f[7]))
		fl.Packets, fl.Bytes = num(f[8]), num(f[9])
	}
	fl.Start, fl.End = int64(num(f[10])), int64(num(f[11]))
	switch f[12] {
	case "ACCEPT":
		fl.Action = event.ActionAccept
	case "REJECT":
		fl.Action = event.ActionReject
	}
	switch f[13] {
	case "NODATA":
		fl.LogStatus = event.StatusNoData
	case "SKIPDATA":
		fl.LogStatus = event.StatusSkipData
	}
	if entity == "" {
		entity = fl.InterfaceID
	} else {
		fl.InstanceID = entity
	}
	return &event.Event{
		Source: event.SourceVPCFlow, Time: time.Unix(fl.Start, 0).UTC(), Account: f[1], Region: "us-east-1",
		Kind: event.KindNetwork, Entity: entity, Flow: fl,
	}
}

// flowSpec builds flow records for generated traffic.
type flowSpec struct {
	at              time.Time
	src, dst        string
	sport, dport    uint16
	proto           uint8
	packets, bytes  uint64
	action          event.FlowAction
	flags           uint16
	dir             event.Direction
	instance, eni   string
	account, region string
	vpc, subnet     string
	version         uint8
	logStatus       event.LogStatus
}

func (s flowSpec) event() *event.Event {
	if s.proto == 0 {
		s.proto = protoTCP
	}
	if s.account == "" {
		s.account = "111122223333"
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.eni == "" {
		s.eni = "eni-0a1b2c3d4e5f67890"
	}
	if s.version == 0 {
		s.version = 5
	}
	if s.vpc == "" {
		s.vpc = "vpc-0123456789abcdef0"
	}
	if s.subnet == "" {
		s.subnet = "subnet-0123456789abcdef0"
	}
	if s.action == event.ActionNone && s.logStatus == event.StatusOK {
		s.action = event.ActionAccept
	}
	entity := s.instance
	if entity == "" {
		entity = s.eni
	}
	f := &event.Flow{
		Version: s.version, AccountID: s.account, InterfaceID: s.eni, InstanceID: s.instance,
		VPCID: s.vpc, SubnetID: s.subnet, Src: netip.MustParseAddr(s.src), Dst: netip.MustParseAddr(s.dst),
		SrcPort: s.sport, DstPort: s.dport, Protocol: s.proto, Packets: s.packets, Bytes: s.bytes,
		Start: s.at.Unix(), End: s.at.Unix() + 1, Action: s.action, LogStatus: s.logStatus,
		TCPFlags: s.flags, Direction: s.dir, Region: s.region,
	}
	return &event.Event{
		Source: event.SourceVPCFlow, Time: s.at.UTC(), Account: s.account, Region: s.region,
		Kind: event.KindNetwork, Entity: entity, Flow: f,
	}
}

// parseTime reads the timestamp forms of the test data; unparseable
// ("redacted") gives a fixed time.
func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02 15:04:05.000"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
}

// readLines returns the non-empty lines of a testdata file.
func readLines(t testing.TB, name string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, bytes.Clone(l))
		}
	}
	return out
}

// stratusEvents returns the events of a Stratus detonation log.
func stratusEvents(t testing.TB, name string) []*event.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := make([]*event.Event, len(recs))
	for i, r := range recs {
		out[i] = cloudTrailEvent(t, r)
	}
	return out
}

// pantherCase is one line of testdata/panther_cases.jsonl.
type pantherCase struct {
	RuleID        string          `json:"rule_id"`
	TestName      string          `json:"test_name"`
	ExpectedAlert bool            `json:"expected_alert"`
	Log           json.RawMessage `json:"log"`
}

func pantherCases(t testing.TB, rules ...string) []pantherCase {
	t.Helper()
	var out []pantherCase
	for _, l := range readLines(t, "panther_cases.jsonl") {
		var c pantherCase
		if err := json.Unmarshal(l, &c); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(rules, c.RuleID) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no panther cases for %v", rules)
	}
	return out
}

// world applies events to per-entity profiles, as the entity actors do.
type world struct {
	eng      *Engine
	profiles map[string]profiles.Profile
	occ      []findings.Finding
}

func newWorld(cfg Config) *world {
	return &world{eng: New(cfg), profiles: map[string]profiles.Profile{}}
}

func (w *world) profile(ev *event.Event) profiles.Profile {
	p, ok := w.profiles[ev.Key()]
	if !ok {
		p = profiles.New(ev.Kind, ev.Account, ev.Region, ev.Entity)
		w.profiles[ev.Key()] = p
	}
	return p
}

// apply runs ev and returns the occurrences it raised.
func (w *world) apply(ev *event.Event) []findings.Finding {
	got, _ := w.eng.Apply(w.profile(ev), ev)
	w.occ = append(w.occ, got...)
	return got
}

func (w *world) applyAll(evs []*event.Event) []findings.Finding {
	var out []findings.Finding
	for _, ev := range evs {
		out = append(out, w.apply(ev)...)
	}
	return out
}

// aggregate merges occurrences by id, as the findings store does, and
// returns them sorted by id.
func aggregate(occ []findings.Finding) []findings.Finding {
	byID := map[string]int{}
	var out []findings.Finding
	for _, f := range occ {
		if i, ok := byID[f.ID]; ok {
			out[i].Merge(&f)
			continue
		}
		byID[f.ID] = len(out)
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b findings.Finding) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// raised is how many occurrences occ counts: a window detector raises one
// counted occurrence per window that reaches its threshold, and updates
// (count 0) for the window's later events.
func raised(occ []findings.Finding) int {
	n := 0
	for _, f := range occ {
		n += f.Service.Count
	}
	return n
}

// ofType returns the occurrences of one finding type.
func ofType(occ []findings.Finding, typ string) []findings.Finding {
	var out []findings.Finding
	for _, f := range occ {
		if f.Type == typ {
			out = append(out, f)
		}
	}
	return out
}

func summary(occ []findings.Finding) string {
	var b strings.Builder
	for _, f := range occ {
		fmt.Fprintf(&b, "\n  %s %s %s", f.Type, f.Service.ResourceRole, f.Title)
	}
	return b.String()
}

// checkFinding checks the fields every finding must have. An update
// occurrence has count 0.
func checkFinding(t testing.TB, f findings.Finding) {
	t.Helper()
	if len(f.ID) != 32 || f.SchemaVersion != "2.0" || f.Service.ServiceName != "guardduty" ||
		f.Service.Count < 0 || f.Rank < 1 || f.Service.ResourceRole == "" || f.Title == "" || f.Description == "" ||
		f.Resource.ResourceType == "" || f.Service.Action.ActionType == "" ||
		!strings.HasSuffix(f.Arn, "/finding/"+f.ID) || f.CreatedAt.IsZero() {
		b, _ := json.MarshalIndent(f, "", "  ")
		t.Fatalf("incomplete finding:\n%s", b)
	}
	if _, err := json.Marshal(f); err != nil {
		t.Fatalf("finding does not marshal: %v", err)
	}
}

// runPantherCases runs each panther-analysis test case of rules in a fresh
// world and checks its number of findings of type typ against want, which
// must list every case; check then checks those findings further.
func runPantherCases(t *testing.T, typ string, want map[string]int, rules []string, check func(t *testing.T, got []findings.Finding)) {
	t.Helper()
	cases := pantherCases(t, rules...)
	if len(cases) != len(want) {
		t.Fatalf("%d cases, want %d", len(cases), len(want))
	}
	for _, c := range cases {
		name := c.RuleID + "/" + c.TestName
		t.Run(name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			var got []findings.Finding
			if ev, err := decodeCloudTrail(c.Log); err == nil {
				got = ofType(w.apply(ev), typ)
			} else {
				t.Logf("dead-lettered: %v", err) // as ingest would: no finding
			}
			if n, ok := want[name]; !ok || len(got) != n {
				t.Fatalf("%d findings, want %d (case known: %v):%s", len(got), n, ok, summary(got))
			}
			check(t, got)
		})
	}
}
