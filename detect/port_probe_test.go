package detect

import (
	"encoding/csv"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
)

// Scanner addresses on the bundled maltrail list.
const (
	censys = "162.142.125.1"  // censys.io
	shodan = "66.240.205.34"  // malware-hunter.census.shodan.io
	notScn = "198.51.100.200" // on no list
)

// probe is a scanner's SYN to the instance's port, as the instance's v5
// log records it.
func probe(at time.Time, src string, port uint16, action event.FlowAction) *event.Event {
	return flowSpec{at: at, src: src, dst: localIP, sport: 54321, dport: port, packets: 1, bytes: 44, flags: tcpSYN,
		dir: event.DirectionIngress, action: action, instance: scanner}.event()
}

func TestPortProbe(t *testing.T) {
	if m := intel.Default().IP(mustAddr(censys)); len(m) == 0 || m[len(m)-1].Kind != intel.Scanner {
		t.Fatalf("censys address not on the built-in scanner list: %v", m)
	}
	t0 := time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		evs  []*event.Event
		typ  string // "" for none
		sev  float64
		port int
	}{
		{"Censys probes SSH, accepted", []*event.Event{probe(t0, censys, 22, event.ActionAccept)}, TypePortProbeUnprotected, findings.SeverityLow, 22},
		{"Shodan probes Elasticsearch", []*event.Event{probe(t0, shodan, 9200, event.ActionAccept)}, TypePortProbeUnprotected, findings.SeverityHigh, 9200},
		{"Elasticsearch transport port", []*event.Event{probe(t0, shodan, 9300, event.ActionAccept)}, TypePortProbeUnprotected, findings.SeverityHigh, 9300},
		{"YARN ResourceManager", []*event.Event{probe(t0, censys, 8088, event.ActionAccept)}, TypePortProbeEMRUnprotected, findings.SeverityHigh, 8088},
		{"Spark history server", []*event.Event{probe(t0, censys, 18080, event.ActionAccept)}, TypePortProbeEMRUnprotected, findings.SeverityHigh, 18080},
		{"blocked by the security group", []*event.Event{probe(t0, censys, 22, event.ActionReject)}, "", 0, 0},
		{"an address on no scanner list", []*event.Event{probe(t0, notScn, 22, event.ActionAccept)}, "", 0, 0},
		{"the instance's own connection to a scanner's web site, and its reply", []*event.Event{
			flowSpec{at: t0, src: localIP, dst: censys, sport: 50123, dport: 443, packets: 12, bytes: 2000, flags: tcpSYN | tcpFIN, dir: event.DirectionEgress, instance: scanner}.event(),
			flowSpec{at: t0, src: censys, dst: localIP, sport: 443, dport: 50123, packets: 10, bytes: 9000, flags: tcpSYN | tcpACK | tcpFIN, dir: event.DirectionIngress, instance: scanner}.event(),
		}, "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(DefaultConfig())
			all := w.applyAll(tc.evs)
			got := append(ofType(all, TypePortProbeUnprotected), ofType(all, TypePortProbeEMRUnprotected)...)
			if tc.typ == "" {
				if len(got) != 0 {
					t.Fatalf("raised:%s", summary(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d findings:%s", len(got), summary(got))
			}
			f := got[0]
			checkFinding(t, f)
			pp := f.Service.Action.PortProbeAction
			ai := f.Service.AdditionalInfo
			if f.Type != tc.typ || f.Severity != tc.sev || f.Service.ResourceRole != findings.RoleTarget ||
				f.Service.Action.ActionType != findings.ActionPortProbe || pp == nil || len(pp.PortProbeDetails) != 1 ||
				pp.PortProbeDetails[0].LocalPortDetails.Port != tc.port || pp.PortProbeDetails[0].LocalIPDetails.IPAddressV4 != localIP ||
				ai["threatName"] != "Scanner" || ai["threatListName"] != "maltrail_mass_scanner" || ai["threatListEntry"] == "" ||
				f.Service.Evidence == nil || f.Resource.InstanceDetails.InstanceID != scanner {
				t.Fatalf("finding %s %v: %+v %+v", f.Type, f.Severity, pp, ai)
			}
			if !strings.Contains(f.Description, "known scanner") {
				t.Errorf("description %q", f.Description)
			}
		})
	}
}

// TestPortProbeSeveritiesApart: an instance probed on 22 and on 9200 has
// a Low and a High finding; repeated probes count on one finding.
func TestPortProbeSeveritiesApart(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC)
	w := newWorld(DefaultConfig())
	for i := range 3 {
		w.apply(probe(t0.Add(time.Duration(i)*time.Minute), censys, 22, event.ActionAccept))
		w.apply(probe(t0.Add(time.Duration(i)*time.Minute), shodan, 9200, event.ActionAccept))
	}
	agg := aggregate(ofType(w.occ, TypePortProbeUnprotected))
	if len(agg) != 2 || agg[0].Severity == agg[1].Severity || agg[0].Service.Count != 3 || agg[1].Service.Count != 3 {
		t.Fatalf("%d findings:%s", len(agg), summary(agg))
	}
}

// TestPortProbeCustomScannerList: a scanner list in --intel-dir scanner/
// names the scanners, replacing the built-in one.
func TestPortProbeCustomScannerList(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "scanner/our-scanners.txt", "198.51.100.0/24 # the red team's scanners\n")
	set, err := intel.LoadOverBuiltin(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Intel = set
	w := newWorld(cfg)
	got := w.apply(probe(time.Date(2026, 3, 8, 21, 0, 0, 0, time.UTC), notScn, 3306, event.ActionAccept))
	if len(got) != 1 || got[0].Service.AdditionalInfo["threatListName"] != "our-scanners" || got[0].Service.AdditionalInfo["threatListEntry"] != "198.51.100.0/24" {
		t.Fatalf("raised:%s", summary(got))
	}
	if got := w.apply(probe(time.Date(2026, 3, 8, 21, 1, 0, 0, time.UTC), censys, 22, event.ActionAccept)); len(got) != 0 {
		t.Fatalf("the built-in list still applies:%s", summary(got))
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// writeFile writes content to dir/name, making its directory.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPortProbeHoneypot replays the real Cowrie sessions opened by mass
// scanners (testdata/uqo_cowrie_scanner_sessions.csv: the 56 of the 20k
// sessions whose source is on the bundled scanner list, Shodan, Censys
// and others) as the honeypot's flow log: the ports Cowrie listens on
// (22 and 23) accepted them, so every scanner is reported, on a Low
// finding, and the sessions of sources on no list are not.
func TestPortProbeHoneypot(t *testing.T) {
	path := filepath.Join("testdata", "uqo_cowrie_scanner_sessions.csv")
	sessions := readSessions(t, path)
	ports := map[string]uint16{}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		p, _ := strconv.ParseUint(r[6], 10, 16)
		ports[r[4]+"/"+r[5]] = uint16(p)
	}
	if len(sessions) != 56 {
		t.Fatalf("%d sessions", len(sessions))
	}
	var evs []*event.Event
	for _, s := range sessions {
		port := ports[s.src+"/"+strconv.Itoa(int(s.srcPort))]
		for _, ev := range sessionFlows(s) {
			switch {
			case ev.Flow.DstPort == 22:
				ev.Flow.DstPort = port
			case ev.Flow.SrcPort == 22:
				ev.Flow.SrcPort = port
			}
			evs = append(evs, ev)
		}
	}
	evs = append(evs, sessionEvents(t, readSessions(t, filepath.Join("testdata", "uqo_cowrie_sessions_sample.csv")))...)
	w := newWorld(DefaultConfig())
	got := ofType(w.applyAll(evs), TypePortProbeUnprotected)
	flagged := map[string]bool{}
	for _, f := range got {
		checkFinding(t, f)
		d := f.Service.Action.PortProbeAction.PortProbeDetails[0]
		if f.Severity != findings.SeverityLow || (d.LocalPortDetails.Port != 22 && d.LocalPortDetails.Port != 23) {
			t.Fatalf("finding %v on port %d", f.Severity, d.LocalPortDetails.Port)
		}
		flagged[d.RemoteIPDetails.IPAddressV4] = true
	}
	scanners := map[string]bool{}
	for _, s := range sessions {
		scanners[s.src] = true
	}
	for s := range scanners {
		if !flagged[s] {
			t.Errorf("scanner %s not reported", s)
		}
	}
	for s := range flagged {
		if !scanners[s] {
			t.Errorf("%s reported, on no scanner list", s)
		}
	}
	agg := aggregate(got)
	t.Logf("%d scanner sources, %d occurrences, %d finding(s) on the honeypot", len(scanners), raised(got), len(agg))
	if len(agg) != 1 || agg[0].Resource.InstanceDetails.NetworkInterfaces[0].NetworkInterfaceID != honeypotE {
		t.Fatalf("aggregated:%s", summary(agg))
	}
}
