package eval

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-sec/vigil/event"
)

// A Unit is a labelled part of a data set whose findings are scored
// together: a Stratus detonation, a panther test case, a host of a flow
// capture, a DNS capture. Each unit is replayed in an account of its own
// (Account), which is how its findings are told apart from the others'.
type Unit struct {
	Set  string `json:"set"`
	Name string `json:"name"`
	// Account is the account id its records are rewritten to.
	Account string `json:"account"`
	// Expect are the types the unit must raise.
	Expect []string `json:"expect,omitempty"`
	// Forbid are types it must not raise; Benign units must raise
	// nothing but Expect. A finding of another type is "other".
	Forbid []string `json:"forbid,omitempty"`
	Benign bool     `json:"benign,omitempty"`
	// Reason says why Expect is what it is.
	Reason string `json:"reason,omitempty"`
	// Records are produced to vigil's raw topics in this order.
	Records []Record `json:"-"`
}

// A Record is one raw record; Header is the flow-log format of a flow
// record when it is not the version 2 default.
type Record struct {
	Source event.Source
	Value  []byte
	Header string
}

// Corpus is the units of the data sets found under some paths.
type Corpus struct {
	Units []*Unit
	// Sets lists the data sets read, with their files.
	Sets map[string][]string
	// Skipped lists files that were recognised but not used, and why.
	Skipped []string
	// DGADir is the first directory found holding a dga/ directory: the
	// data directory dga.EvaluateDir reads (dga/ and benign_domains/);
	// empty if there is none.
	DGADir string
}

// Records counts the corpus's records.
func (c *Corpus) Records() int {
	n := 0
	for _, u := range c.Units {
		n += len(u.Records)
	}
	return n
}

// Data-set names, as the report prints them.
const (
	SetStratus  = "stratus"
	SetPanther  = "panther"
	SetSlips    = "slips"
	SetCICIDS   = "cicids2017"
	SetHoneypot = "uqo-honeypot"
	SetNetrack  = "netrack-dns"
	SetCaptures = "dns-captures"
	SetBenign   = "benign-domains"
)

// Load reads the data sets under paths (files or directories, walked in
// lexical order), recognising them by file name, as
// /work/shared/data lays them out or as a test's testdata copies them:
//
//   - aws.<technique>.json, stratus.<technique>.json: Stratus detonations;
//   - panther_rule_tests.jsonl, panther_cases.jsonl: panther rule tests;
//   - compromised-root-creds/*_cloudtrail.yml (or their conversion,
//     panther_compromised_root_cloudtrail.jsonl): panther's scenario;
//   - port-scans/{vertical,horizontal}/conn.log.vpcflow.txt: slips scans;
//   - cicids2017_sample.vpcflow.txt with its .labels.txt: CIC-IDS2017;
//   - *cowrie_sessions*.csv, *ssh_legitimate*.csv: SSH sessions;
//   - <tool>/names.csv, netrack_<tool>_names.csv: tunnel query names
//     (plain: benign);
//   - *dns2tcp*.route53.jsonl, *iodine*.route53.jsonl: DNS tunnel
//     captures (the other Route 53 conversions are not labelled);
//   - benign_domains/*.txt: popular-domain lists.
//
// A directory named dga is not a set of units: its parent is DGADir.
//
// Accounts are assigned in load order, so the same paths give the same
// accounts.
func Load(paths []string) (*Corpus, error) {
	c := &Corpus{Sets: map[string][]string{}}
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "dga" && c.DGADir == "" {
					c.DGADir = filepath.Dir(path)
				}
				return nil
			}
			return c.loadFile(path)
		})
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
	}
	for i, u := range c.Units {
		u.Account = unitAccount(i)
	}
	for _, u := range c.Units {
		if err := u.rewrite(); err != nil {
			return nil, fmt.Errorf("eval: %s %s: %w", u.Set, u.Name, err)
		}
	}
	return c, nil
}

// unitAccount is the account of unit i: 12 digits no data set uses.
func unitAccount(i int) string { return strconv.Itoa(900000000000 + i) }

func (c *Corpus) add(set, path string, units ...*Unit) {
	for _, u := range units {
		u.Set = set
	}
	c.Units = append(c.Units, units...)
	c.Sets[set] = append(c.Sets[set], path)
}

func (c *Corpus) loadFile(path string) error {
	base, dir := filepath.Base(path), filepath.Base(filepath.Dir(path))
	var (
		units []*Unit
		set   string
		err   error
	)
	switch {
	case (strings.HasPrefix(base, "aws.") || strings.HasPrefix(base, "stratus.")) && strings.HasSuffix(base, ".json"):
		set = SetStratus
		units, err = stratusUnit(path)
	case base == "panther_rule_tests.jsonl" || base == "panther_cases.jsonl":
		set = SetPanther
		units, err = pantherUnits(path)
	case dir == "compromised-root-creds" && strings.HasSuffix(base, "_cloudtrail.yml"),
		base == "panther_compromised_root_cloudtrail.jsonl":
		return c.scenario(path)
	case base == "conn.log.vpcflow.txt" && (dir == "vertical" || dir == "horizontal"):
		set = SetSlips
		units, err = slipsUnit(path, dir)
	case base == "cicids2017_sample.vpcflow.txt":
		set = SetCICIDS
		units, err = cicidsUnits(path, strings.TrimSuffix(path, ".txt")+".labels.txt")
	case strings.Contains(base, "cowrie_sessions") && strings.HasSuffix(base, ".csv"):
		set = SetHoneypot
		units, err = honeypotUnits(path, false)
	case strings.Contains(base, "ssh_legitimate") && strings.HasSuffix(base, ".csv"):
		set = SetHoneypot
		units, err = honeypotUnits(path, true)
	case base == "names.csv" && slices.Contains(netrackTools, dir):
		set = SetNetrack
		units, err = netrackUnit(path, dir)
	case strings.HasPrefix(base, "netrack_") && strings.HasSuffix(base, "_names.csv"):
		set = SetNetrack
		units, err = netrackUnit(path, strings.TrimSuffix(strings.TrimPrefix(base, "netrack_"), "_names.csv"))
	case strings.HasSuffix(base, ".route53.jsonl") && (strings.Contains(base, "dns2tcp") || strings.Contains(base, "iodine")):
		set = SetCaptures
		units, err = captureUnit(path)
	case dir == "benign_domains" && strings.HasSuffix(base, ".txt") && base != "SOURCE.txt":
		set = SetBenign
		units, err = benignUnit(path)
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(units) == 0 {
		c.Skipped = append(c.Skipped, path+": no records")
		return nil
	}
	c.add(set, path, units...)
	return nil
}

// The CloudTrail sets.

// stratusUnit is one detonation. Its records are kept as they are but for
// the account; they are anonymised (fake regions, accounts, addresses).
func stratusUnit(path string) ([]*Unit, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("not a JSON array of CloudTrail records: %w", err)
	}
	base := filepath.Base(path)
	technique := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(base, "aws."), "stratus."), ".json")
	l, ok := StratusLabels[technique]
	if !ok {
		l.Reason = "technique not in the label table"
	}
	u := &Unit{Name: "aws." + technique, Expect: l.Types, Reason: l.Reason}
	for _, r := range recs {
		u.Records = append(u.Records, Record{Source: event.SourceCloudTrail, Value: r})
	}
	return []*Unit{u}, nil
}

type pantherCase struct {
	RuleID        string          `json:"rule_id"`
	TestName      string          `json:"test_name"`
	ExpectedAlert bool            `json:"expected_alert"`
	LogTypes      []string        `json:"log_types"`
	Log           json.RawMessage `json:"log"`
}

// pantherUnits are the test cases whose log is a CloudTrail event or, for
// the rules mapped to a DNS type, a Route 53 query.
func pantherUnits(path string) ([]*Unit, error) {
	var out []*Unit
	err := eachLine(path, func(line []byte) error {
		var c pantherCase
		if err := json.Unmarshal(line, &c); err != nil {
			return err
		}
		var probe struct {
			EventName  string `json:"eventName"`
			QueryName  string `json:"query_name"`
			AccountID  string `json:"account_id"`
			EventSouce string `json:"eventSource"`
		}
		if json.Unmarshal(c.Log, &probe) != nil {
			return nil
		}
		l, mapped := PantherRules[c.RuleID]
		u := &Unit{Name: c.RuleID + "/" + c.TestName, Reason: l.Reason}
		switch {
		case probe.EventName != "" && probe.EventSouce != "":
			u.Records = []Record{{Source: event.SourceCloudTrail, Value: c.Log}}
		case probe.QueryName != "" && mapped:
			u.Records = []Record{{Source: event.SourceDNS, Value: c.Log}}
		default:
			return nil
		}
		switch o, ok := PantherCases[u.Name]; {
		case ok:
			u.Expect, u.Reason = o.Types, o.Reason
		case mapped && c.ExpectedAlert:
			u.Expect = l.Types
		case mapped:
			u.Forbid = l.Types
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

// scenarioName names the panther-analysis scenario unit.
const scenarioName = "compromised-root-creds"

// scenario adds the CloudTrail logs of panther-analysis's compromised
// root credentials scenario (the YAML files, or their conversion to JSON
// lines) to its unit: the victim's own root sign-ins, then an attacker
// who signs in as root without MFA, creates a user with IAMFullAccess and
// access keys, and launches an instance. The logs share the placeholder
// event id "1", so each gets its own.
func (c *Corpus) scenario(path string) error {
	var u *Unit
	for _, x := range c.Units {
		if x.Set == SetPanther && x.Name == scenarioName {
			u = x
		}
	}
	if u == nil {
		l := PantherScenario
		u = &Unit{Name: scenarioName, Expect: l.Types, Reason: l.Reason}
		c.add(SetPanther, path, u)
	} else {
		c.Sets[SetPanther] = append(c.Sets[SetPanther], path)
	}
	var logs []map[string]any
	if strings.HasSuffix(path, ".yml") {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var doc struct {
			Logs []map[string]any `yaml:"Logs"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		logs = doc.Logs
	} else {
		err := eachLine(path, func(line []byte) error {
			var l struct {
				Log map[string]any `json:"log"`
			}
			if err := json.Unmarshal(line, &l); err != nil {
				return err
			}
			logs = append(logs, l.Log)
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, l := range logs {
		l["eventID"] = fmt.Sprintf("%s-%d", scenarioName, len(u.Records)+1)
		b, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		u.Records = append(u.Records, Record{Source: event.SourceCloudTrail, Value: b})
	}
	return nil
}

// The flow sets.

// flowV5Header is the format of the flow records made with a direction.
const flowV5Header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status flow-direction"

// slipsUnit is an nmap scan logged by the scanner's interface: the
// vertical one (many ports of one host) must raise Recon:EC2/Portscan,
// the horizontal one (one port across hosts) is a sweep and must not.
func slipsUnit(path, kind string) ([]*Unit, error) {
	u := &Unit{Name: "port-scans/" + kind}
	if kind == "vertical" {
		u.Expect, u.Reason = []string{typePortscan}, "nmap against many ports of scanme.nmap.org"
	} else {
		u.Forbid, u.Reason = []string{typePortscan}, "one port across many hosts: a sweep, not a port scan"
	}
	err := eachLine(path, func(line []byte) error {
		u.Records = append(u.Records, Record{Source: event.SourceVPCFlow, Value: line})
		return nil
	})
	return []*Unit{u}, err
}

// cicidsUnits are the hosts of the CIC-IDS2017 sample, one unit each. The
// flows come from a network tap, so each flow is logged twice, as the
// initiator's egress and the responder's ingress. A port-scan source must
// raise Recon:EC2/Portscan, the SSH-Patator source and its victim
// SSHBruteForce (ACTOR and TARGET); every other finding is false.
func cicidsUnits(path, labelsPath string) ([]*Unit, error) {
	flows, err := readLines(path)
	if err != nil {
		return nil, err
	}
	labels, err := readLines(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(flows) != len(labels) {
		return nil, fmt.Errorf("%d flows, %d labels", len(flows), len(labels))
	}
	hosts := map[string]*Unit{}
	var order []string
	host := func(ip string) *Unit {
		u, ok := hosts[ip]
		if !ok {
			u = &Unit{Name: "host " + ip, Benign: true}
			hosts[ip] = u
			order = append(order, ip)
		}
		return u
	}
	expect := func(u *Unit, typ, why string) {
		if !slices.Contains(u.Expect, typ) {
			u.Expect = append(u.Expect, typ)
			u.Reason = strings.TrimPrefix(u.Reason+"; "+why, "; ")
		}
	}
	for i, l := range flows {
		f := strings.Fields(l)
		if len(f) != 14 {
			return nil, fmt.Errorf("line %d: %d fields", i+1, len(f))
		}
		src, dst := f[3], f[4]
		label, _, _ := strings.Cut(labels[i], "\t")
		switch label {
		case "Portscan", "Infiltration - Portscan":
			expect(host(src), typePortscan, "port-scan source")
		case "SSH-Patator":
			expect(host(src), typeSSHBruteForce, "SSH-Patator source")
			expect(host(dst), typeSSHBruteForce, "SSH-Patator victim")
		}
		for _, side := range []struct{ ip, dir string }{{src, "egress"}, {dst, "ingress"}} {
			g := slices.Clone(f)
			g[0], g[2] = "5", "eni-"+side.ip
			rec := strings.Join(append(g, side.dir), " ")
			u := host(side.ip)
			u.Records = append(u.Records, Record{Source: event.SourceVPCFlow, Value: []byte(rec), Header: flowV5Header})
		}
	}
	// A host's flow log is delivered in time order; the sample is grouped
	// by label.
	out := make([]*Unit, len(order))
	for i, ip := range order {
		u := hosts[ip]
		sort.SliceStable(u.Records, func(i, j int) bool { return flowStart(u.Records[i].Value) < flowStart(u.Records[j].Value) })
		out[i] = u
	}
	return out, nil
}

// flowStart is a flow record's start field (the 11th).
func flowStart(rec []byte) int64 {
	f := bytes.Fields(rec)
	if len(f) < 11 {
		return 0
	}
	v, _ := strconv.ParseInt(string(f[10]), 10, 64)
	return v
}

// sshSession is one row of the UQO session data.
type sshSession struct {
	start, end time.Time
	src        string
	srcPort    uint16
	failed     int
}

// honeypotInbound is the SSH brute-force threshold the honeypot labels
// use: the detector's default, connections from one host within a
// window of 10 minutes that starts every 5.
const honeypotInbound = 10

// honeypotUnits replays SSH sessions as the server's flow log, one record
// each way per minute a session spans. Cowrie sources (attackers: the
// honeypot has no users) are a unit each and must raise SSHBruteForce
// when they opened 10 sessions within some 5 minutes, which lie whole in
// one of the detector's windows; their other findings are "other". The
// legitimate sessions are one benign unit.
func honeypotUnits(path string, legit bool) ([]*Unit, error) {
	sessions, err := readSessions(path)
	if err != nil {
		return nil, err
	}
	if legit {
		u := &Unit{Name: "legitimate sessions", Benign: true, Reason: "legitimate SSH sessions to one server"}
		u.Records = sessionRecords(sessions)
		return []*Unit{u}, nil
	}
	bySrc := map[string][]sshSession{}
	var order []string
	for _, s := range sessions {
		if _, ok := bySrc[s.src]; !ok {
			order = append(order, s.src)
		}
		bySrc[s.src] = append(bySrc[s.src], s)
	}
	var out []*Unit
	for _, src := range order {
		ss := bySrc[src]
		u := &Unit{Name: "source " + src}
		ts := make([]time.Time, len(ss))
		for i, s := range ss {
			ts[i] = s.start
		}
		slices.SortFunc(ts, time.Time.Compare)
		if densest(ts, 5*time.Minute) >= honeypotInbound {
			u.Expect, u.Reason = []string{typeSSHBruteForce}, "10 or more sessions within 5 minutes"
		}
		u.Records = sessionRecords(ss)
		out = append(out, u)
	}
	return out, nil
}

// densest is the most times of ts (sorted) within any span.
func densest(ts []time.Time, span time.Duration) int {
	most, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) > span {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

const (
	honeypotENI = "eni-0c0ffee0ddba11000"
	honeypotIP  = "10.0.2.15"
)

// sessionRecords are the version 2 records of the server's interface for
// sessions, in time order.
func sessionRecords(ss []sshSession) []Record {
	type rec struct {
		at   time.Time
		line string
	}
	var recs []rec
	for _, s := range ss {
		for at := s.start.Truncate(time.Second); ; at = at.Add(time.Minute) {
			pk := 12 + 4*s.failed
			start, end := at.Unix(), at.Unix()+59
			recs = append(recs,
				rec{at, fmt.Sprintf("2 0 %s %s %s %d 22 6 %d %d %d %d ACCEPT OK", honeypotENI, s.src, honeypotIP, s.srcPort, pk, 1800+120*pk, start, end)},
				rec{at, fmt.Sprintf("2 0 %s %s %s 22 %d 6 %d %d %d %d ACCEPT OK", honeypotENI, honeypotIP, s.src, s.srcPort, pk-1, 2600+150*pk, start, end)})
			if !at.Add(time.Minute).Before(s.end) {
				break
			}
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].at.Before(recs[j].at) })
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = Record{Source: event.SourceVPCFlow, Value: []byte(r.line)}
	}
	return out
}

func readSessions(path string) ([]sshSession, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errors.New("empty")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, c := range []string{"start_time", "end_time", "src_ip", "src_port", "login_failed"} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("no %s column", c)
		}
	}
	var out []sshSession
	for _, r := range rows[1:] {
		start, err1 := time.Parse(time.RFC3339Nano, r[col["start_time"]])
		end, err2 := time.Parse(time.RFC3339Nano, r[col["end_time"]])
		port, err3 := strconv.ParseUint(r[col["src_port"]], 10, 16)
		if _, err4 := netip.ParseAddr(r[col["src_ip"]]); err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue // a few rows lack times
		}
		failed, _ := strconv.Atoi(r[col["login_failed"]])
		out = append(out, sshSession{start: start, end: end, src: r[col["src_ip"]], srcPort: uint16(port), failed: failed})
	}
	return out, nil
}

// The DNS sets.

// dnsStart is when the synthetic query streams begin; dnsEvery is their
// pace, ten queries a second as a tunnel or a busy resolver client sends.
var dnsStart = time.Date(2026, 3, 8, 21, 41, 7, 0, time.UTC)

const dnsEvery = 100 * time.Millisecond

var netrackTools = []string{"dns2tcp", "iodine", "dnscapy", "plain"}

// netrackUnit is the query names of one tunnelling tool (or the benign
// "plain" capture) as one instance's queries.
func netrackUnit(path, tool string) ([]*Unit, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for i, l := range lines {
		if _, name, ok := strings.Cut(l, ","); ok && i > 0 {
			names = append(names, name)
		}
	}
	u := &Unit{Name: tool}
	if tool == "plain" {
		u.Benign, u.Reason = true, "ordinary query names"
	} else {
		u.Expect, u.Reason = []string{typeDNSDataExfiltration}, tool+" tunnel query names at 10 a second"
	}
	u.Records = queryRecords(names)
	return []*Unit{u}, nil
}

// benignUnit is a popular-domain list resolved by one instance.
func benignUnit(path string) ([]*Unit, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range lines {
		if _, n, ok := strings.Cut(l, ","); ok {
			l = n
		}
		if l = strings.TrimSpace(l); l != "" && l != "qname" {
			names = append(names, l)
		}
	}
	u := &Unit{Name: strings.TrimSuffix(filepath.Base(path), ".txt"), Benign: true, Reason: "popular domains"}
	u.Records = queryRecords(names)
	return []*Unit{u}, nil
}

// captureUnit is a tunnel capture converted to Route 53 query logs.
func captureUnit(path string) ([]*Unit, error) {
	u := &Unit{Name: strings.TrimSuffix(filepath.Base(path), ".route53.jsonl"), Expect: []string{typeDNSDataExfiltration}, Reason: "a DNS tunnel capture"}
	err := eachLine(path, func(line []byte) error {
		u.Records = append(u.Records, Record{Source: event.SourceDNS, Value: line})
		return nil
	})
	return []*Unit{u}, err
}

// queryRecords are Route 53 Resolver query-log records of one instance
// asking for names, dnsEvery apart, in the placeholder account.
func queryRecords(names []string) []Record {
	type srcIDs struct {
		Instance string `json:"instance"`
	}
	type query struct {
		Version   string `json:"version"`
		Account   string `json:"account_id"`
		Region    string `json:"region"`
		VPC       string `json:"vpc_id"`
		Time      string `json:"query_timestamp"`
		Name      string `json:"query_name"`
		Type      string `json:"query_type"`
		Class     string `json:"query_class"`
		RCode     string `json:"rcode"`
		Answers   []any  `json:"answers"`
		SrcAddr   string `json:"srcaddr"`
		SrcPort   string `json:"srcport"`
		Transport string `json:"transport"`
		SrcIDs    srcIDs `json:"srcids"`
	}
	out := make([]Record, 0, len(names))
	for i, n := range names {
		b, _ := json.Marshal(query{
			Version: "1.100000", Account: placeholderAccount, Region: "us-east-1", VPC: "vpc-0123456789abcdef0",
			Time: dnsStart.Add(time.Duration(i) * dnsEvery).Format("2006-01-02T15:04:05.000Z"),
			Name: strings.TrimSuffix(n, ".") + ".", Type: "A", Class: "IN", RCode: "NOERROR", Answers: []any{},
			SrcAddr: "10.0.1.25", SrcPort: "53422", Transport: "UDP", SrcIDs: srcIDs{"i-00779ebad43b2470d"},
		})
		out = append(out, Record{Source: event.SourceDNS, Value: b})
	}
	return out
}

// placeholderAccount is the account of the records made here, which
// rewrite replaces without decoding them.
const placeholderAccount = "000000000000"

var placeholderDNS = []byte(`"account_id":"` + placeholderAccount + `"`)

// rewrite moves the unit's records to its account: the CloudTrail
// accounts the record names (recipient and caller) everywhere in the
// record, the flow record's account field, the query log's account_id.
func (u *Unit) rewrite() error {
	for i := range u.Records {
		r := &u.Records[i]
		var err error
		switch r.Source {
		case event.SourceCloudTrail:
			r.Value, err = rewriteCloudTrail(r.Value, u.Account)
		case event.SourceVPCFlow:
			f := bytes.Fields(r.Value)
			if len(f) < 2 {
				return fmt.Errorf("flow record %q", r.Value)
			}
			f[1] = []byte(u.Account)
			r.Value = bytes.Join(f, []byte(" "))
		case event.SourceDNS:
			r.Value, err = rewriteDNS(r.Value, u.Account)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func rewriteCloudTrail(b []byte, account string) ([]byte, error) {
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	var olds []string
	if s, ok := rec["recipientAccountId"].(string); ok && s != "" {
		olds = append(olds, s)
	}
	if id, ok := rec["userIdentity"].(map[string]any); ok {
		if s, ok := id["accountId"].(string); ok && s != "" {
			olds = append(olds, s)
		}
	}
	rec["recipientAccountId"] = account
	out, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	for _, o := range olds {
		out = bytes.ReplaceAll(out, []byte(`"`+o+`"`), []byte(`"`+account+`"`))
		out = bytes.ReplaceAll(out, []byte(":"+o+":"), []byte(":"+account+":"))
	}
	return out, nil
}

// rewriteDNS sets a query log's account and writes its time as Route 53
// does (panther's test logs write "2022-06-25 00:27:53").
func rewriteDNS(b []byte, account string) ([]byte, error) {
	if bytes.Contains(b, placeholderDNS) {
		return bytes.Replace(b, placeholderDNS, []byte(`"account_id":"`+account+`"`), 1), nil
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	rec["account_id"] = account
	if ts, ok := rec["query_timestamp"].(string); ok && strings.Contains(ts, " ") {
		if t, err := time.Parse(time.DateTime, ts); err == nil {
			rec["query_timestamp"] = t.UTC().Format("2006-01-02T15:04:05Z")
		}
	}
	return json.Marshal(rec)
}

func readLines(path string) ([]string, error) {
	var out []string
	err := eachLine(path, func(l []byte) error {
		out = append(out, string(l))
		return nil
	})
	return out, err
}

// eachLine calls fn with every non-blank line of path, trimmed, in a slice
// of its own.
func eachLine(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	n := 0
	for sc.Scan() {
		n++
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			if err := fn(bytes.Clone(l)); err != nil {
				return fmt.Errorf("line %d: %w", n, err)
			}
		}
	}
	return sc.Err()
}
