package detect

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
)

var networkIntelTypes = []string{
	TypeCCActivityB, TypeBitcoinTool, TypeBlackholeTraffic, TypeDropPoint, TypeTorClient, TypeTorRelay, TypeCustomIPCallerEC2,
}

var intelStart = time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)

const (
	intelInstance = "i-0c2c2c2c2c2c2c2c2"
	intelLocal    = "10.0.1.25"
)

// threatIntelFS is a list directory with one list of every kind.
var threatIntelFS = fstest.MapFS{
	"pools.txt":            {Data: []byte("pool.example-miner.com\n107.191.47.239:3333\n")},
	"trusted.txt":          {Data: []byte("203.0.113.200\n")},
	"tor/exits.txt":        {Data: []byte("185.220.101.1\n")},
	"tor-relays/nodes.txt": {Data: []byte("185.220.101.1\n192.0.2.77\n198.51.100.9\n")},
	"c2/feed.txt":          {Data: []byte("203.0.113.10\n203.0.113.11\n203.0.113.200\n")},
	"log4j/feed.txt":       {Data: []byte("203.0.113.11\n")},
	"sinkhole/feed.txt":    {Data: []byte("198.51.100.53\n")},
	"droppoint/feed.txt":   {Data: []byte("198.51.100.66:8080\n")},
	"custom/lists.json":    {Data: []byte(`{"lists": [{"name": "acme", "format": "TXT", "kind": "threat", "file": "acme.txt"}]}`)},
	"custom/acme.txt":      {Data: []byte("66.63.168.35\n10.0.9.0/24\n")},
	"malicious/ipsum.txt":  {Data: []byte("203.0.113.10\n")},
	"phishing/feed.txt":    {Data: []byte("login-example.com\n")},
	"dga/feed.txt":         {Data: []byte("xjwqpzkvbnmq.com\n")},
	"driveby/feed.txt":     {Data: []byte("ek.example.net\n")},
}

// networkIntelFindings applies evs and returns their flow threat-intel
// findings as "type role list entry", checking the evidence every one
// carries.
func networkIntelFindings(t *testing.T, w *world, evs ...*event.Event) []string {
	t.Helper()
	var got []string
	for _, ev := range evs {
		for _, f := range w.apply(ev) {
			if !slices.Contains(networkIntelTypes, f.Type) {
				continue
			}
			checkFinding(t, f)
			got = append(got, f.Type+" "+f.Service.ResourceRole+" "+checkIntelEvidence(t, f))
		}
	}
	return got
}

// checkIntelEvidence checks that f names its list and entry alike in
// additionalInfo, evidence and description, and returns "list entry".
func checkIntelEvidence(t *testing.T, f findings.Finding) string {
	t.Helper()
	info := f.Service.AdditionalInfo
	ev := f.Service.Evidence
	names, _ := info["threatNames"].([]string)
	if ev == nil || len(ev.ThreatIntelligenceDetails) != 1 || len(names) != 1 ||
		info["threatListName"] != ev.ThreatIntelligenceDetails[0].ThreatListName ||
		!slices.Equal(names, ev.ThreatIntelligenceDetails[0].ThreatNames) || info["threatName"] == "" {
		t.Errorf("%s: evidence %+v, additionalInfo %v", f.Type, ev, info)
		return ""
	}
	d := ev.ThreatIntelligenceDetails[0]
	if !strings.Contains(f.Description, d.ThreatListName) || !strings.Contains(f.Description, d.ThreatNames[0]) {
		t.Errorf("%s: description %q does not name the list and entry", f.Type, f.Description)
	}
	return d.ThreatListName + " " + d.ThreatNames[0]
}

// connection returns the two records of one TCP connection the local
// instance opens to remote:port (outbound) or remote opens to the
// instance's port (inbound), as a v5 log with TCP flags records them.
func connection(remote string, port uint16, outbound bool, action event.FlowAction) []*event.Event {
	client, server, cport, sport := intelLocal, remote, uint16(49822), port
	if !outbound {
		client, server = remote, intelLocal
	}
	req := flowSpec{at: intelStart, src: client, dst: server, sport: cport, dport: sport, flags: tcpSYN,
		instance: intelInstance, action: action, packets: 3, bytes: 180}
	resp := flowSpec{at: intelStart, src: server, dst: client, sport: sport, dport: cport, flags: tcpSYN | tcpACK,
		instance: intelInstance, action: action, packets: 3, bytes: 400}
	return []*event.Event{req.event(), resp.event()}
}

// ownRelay is a record of an instance whose public address (logged with
// its flow direction) is a listed relay.
func ownRelay() []*event.Event {
	return []*event.Event{flowSpec{at: intelStart, src: "192.0.2.77", dst: "198.51.100.200", sport: 9001, dport: 51515,
		flags: tcpSYN | tcpACK, dir: event.DirectionEgress, instance: intelInstance, packets: 5, bytes: 3000}.event()}
}

func TestNetworkIntel(t *testing.T) {
	set, err := intel.LoadFS(threatIntelFS)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Intel = set
	out, in := true, false
	twice := func(s string) []string { return []string{s, s} }
	for _, tt := range []struct {
		name string
		evs  []*event.Event
		want []string
	}{
		{"C&C", connection("203.0.113.10", 443, out, event.ActionAccept), twice(TypeCCActivityB + " ACTOR feed 203.0.113.10")},
		{"Log4j before C&C", connection("203.0.113.11", 1389, out, event.ActionAccept), twice(TypeCCActivityB + " ACTOR feed 203.0.113.11")},
		{"mining pool, port dropped", connection("107.191.47.239", 3333, out, event.ActionAccept), twice(TypeBitcoinTool + " ACTOR pools 107.191.47.239")},
		{"black hole, rejected", connection("198.51.100.53", 80, out, event.ActionReject), twice(TypeBlackholeTraffic + " ACTOR feed 198.51.100.53")},
		{"drop point", connection("198.51.100.66", 8080, out, event.ActionAccept), twice(TypeDropPoint + " ACTOR feed 198.51.100.66")},
		{"Tor client to a guard", connection("192.0.2.77", 9001, out, event.ActionAccept), twice(TypeTorClient + " ACTOR nodes 192.0.2.77")},
		{"Tor relay: a middle relay connects in", connection("198.51.100.9", 9001, in, event.ActionAccept), twice(TypeTorRelay + " ACTOR nodes 198.51.100.9")},
		{"Tor relay: the instance's own address is listed", ownRelay(), []string{TypeTorRelay + " ACTOR nodes 192.0.2.77"}},
		{"Tor exit connecting in is no relay", connection("185.220.101.1", 443, in, event.ActionAccept), nil},
		{"relay connecting in, rejected", connection("198.51.100.9", 9001, in, event.ActionReject), nil},
		// The labelled RemcosRAT exfiltration of slips' CTU-SME-11 capture:
		// 192.168.1.107 → 66.63.168.35:5888, on a customer list.
		{"custom, RemcosRAT exfiltration", connection("66.63.168.35", 5888, out, event.ActionReject), twice(TypeCustomIPCallerEC2 + " ACTOR acme 66.63.168.35")},
		{"custom, inbound", connection("66.63.168.35", 22, in, event.ActionAccept), twice(TypeCustomIPCallerEC2 + " TARGET acme 66.63.168.35")},
		{"C&C connecting in", connection("203.0.113.10", 22, in, event.ActionAccept), nil},
		{"trusted beats C&C", connection("203.0.113.200", 443, out, event.ActionAccept), nil},
		{"private address on a custom list", connection("10.0.9.7", 443, out, event.ActionAccept), nil},
		{"clean address", connection("198.51.100.200", 443, out, event.ActionAccept), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := networkIntelFindings(t, newWorld(cfg), tt.evs...); !slices.Equal(got, tt.want) {
				t.Errorf("raised %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNetworkIntelFinding checks one finding whole: severity, action,
// threatName of the Log4j list, aggregation of a connection's records.
func TestNetworkIntelFinding(t *testing.T) {
	set, err := intel.LoadFS(threatIntelFS)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Intel = set
	w := newWorld(cfg)
	var occ []findings.Finding
	for _, ev := range connection("203.0.113.11", 1389, true, event.ActionAccept) {
		occ = append(occ, ofType(w.apply(ev), TypeCCActivityB)...)
	}
	agg := aggregate(occ)
	if len(agg) != 1 || agg[0].Service.Count != 2 {
		t.Fatalf("findings:%s", summary(agg))
	}
	f := agg[0]
	a := f.Service.Action.NetworkConnectionAction
	if f.Severity != findings.SeverityHigh || f.Service.AdditionalInfo["threatName"] != "Log4j Related" ||
		a == nil || a.RemoteIPDetails.IPAddressV4 != "203.0.113.11" || a.RemotePortDetails.Port != 1389 ||
		f.Resource.InstanceDetails.InstanceID != intelInstance {
		t.Errorf("finding: %+v, action %+v", f.Service.AdditionalInfo, a)
	}
}

// firstIP returns the first address line of a bundled list.
func firstIP(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "intel", "lists", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && l[0] >= '0' && l[0] <= '9' {
			l, _, _ = strings.Cut(l, ":")
			l, _, _ = strings.Cut(l, " ")
			return l
		}
	}
	t.Fatalf("%s: no address", file)
	return ""
}

// TestNetworkIntelBuiltin: the bundled lists raise every flow type.
func TestNetworkIntelBuiltin(t *testing.T) {
	for _, tt := range []struct {
		file, typ, list string
		port            uint16
	}{
		{"c2/maltrail_c2.txt", TypeCCActivityB, "maltrail_c2", 443},
		{"log4j/maltrail_log4j.txt", TypeCCActivityB, "maltrail_log4j", 1389},
		{"maltrail_crypto_mining.txt", TypeBitcoinTool, "maltrail_crypto_mining", 3333},
		{"sinkhole/maltrail_sinkhole.txt", TypeBlackholeTraffic, "maltrail_sinkhole", 80},
		{"droppoint/maltrail_droppoint.txt", TypeDropPoint, "maltrail_droppoint", 443},
		{"tor-relays/tor-directory-authorities.txt", TypeTorClient, "tor-directory-authorities", 80},
	} {
		t.Run(tt.list, func(t *testing.T) {
			addr := firstIP(t, tt.file)
			got := networkIntelFindings(t, newWorld(DefaultConfig()), connection(addr, tt.port, true, event.ActionAccept)[0])
			if want := tt.typ + " ACTOR " + tt.list + " " + addr; !slices.Contains(got, want) {
				t.Errorf("raised %q, want %q", got, want)
			}
		})
	}
}

// TestNetworkIntelReplacedWhileRunning: a list replaced while the engine
// runs changes the flow findings of the next records.
func TestNetworkIntelReplacedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	write := func(data string, step int) {
		p := filepath.Join(dir, "c2", "feed.txt")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(time.Duration(step) * time.Minute)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	write("203.0.113.10\n", 0)
	set, err := intel.LoadOverBuiltin(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Intel = set
	eng := New(cfg)
	reloader := intel.NewReloader(dir, set, eng.SetIntel, nil)
	w := newWorldEngine(eng)
	conn := func(ip string) []string {
		return networkIntelFindings(t, w, connection(ip, 443, true, event.ActionAccept)[0])
	}
	if got := conn("203.0.113.10"); !slices.Equal(got, []string{TypeCCActivityB + " ACTOR feed 203.0.113.10"}) {
		t.Fatalf("before: %q", got)
	}
	write("198.51.100.0/24\n", 1)
	if ok, err := reloader.Check(); !ok || err != nil {
		t.Fatalf("Check = %v, %v", ok, err)
	}
	if got := conn("203.0.113.10"); got != nil {
		t.Errorf("a removed entry still raised %q", got)
	}
	if got := conn("198.51.100.20"); !slices.Equal(got, []string{TypeCCActivityB + " ACTOR feed 198.51.100.0/24"}) {
		t.Errorf("the new entry raised %q", got)
	}
}
