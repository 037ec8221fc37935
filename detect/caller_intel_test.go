package detect

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/profiles"
)

var callerIntelTypes = []string{
	TypeReconTorIPCaller, TypeUnauthorizedTorIPCaller, TypeReconMaliciousIPCaller, TypeUnauthorizedMaliciousIPCaller,
	TypeReconCustomIPCaller, TypeUnauthorizedCustomIPCaller,
}

// pantherRecord returns the CloudTrail record of one panther-analysis test
// case.
func pantherRecord(t *testing.T, rule, name string) []byte {
	t.Helper()
	for _, c := range pantherCases(t, rule) {
		if c.TestName == name {
			return c.Log
		}
	}
	t.Fatalf("no panther case %s / %s", rule, name)
	return nil
}

// intelFindings applies raw and returns its caller-intel findings as
// "type list entry", checking the evidence every one carries.
func intelFindings(t *testing.T, w *world, raw []byte) []string {
	t.Helper()
	var got []string
	for _, f := range w.apply(cloudTrailEvent(t, raw)) {
		if !slices.Contains(callerIntelTypes, f.Type) {
			continue
		}
		checkFinding(t, f)
		info := f.Service.AdditionalInfo
		ti := f.Service.Evidence.ThreatIntelligenceDetails
		names, _ := info["threatNames"].([]string)
		if f.Severity != findings.SeverityMedium || len(ti) != 1 || len(ti[0].ThreatNames) != 1 ||
			info["threatListName"] != ti[0].ThreatListName || !slices.Equal(names, ti[0].ThreatNames) || info["threatName"] == "" {
			t.Errorf("%s: severity %g, evidence %+v, additionalInfo %v", f.Type, f.Severity, ti, info)
			continue
		}
		if !strings.Contains(f.Description, ti[0].ThreatNames[0]) || !strings.Contains(f.Description, ti[0].ThreatListName) {
			t.Errorf("%s: description %q does not name the list and entry", f.Type, f.Description)
		}
		got = append(got, f.Type+" "+ti[0].ThreatListName+" "+ti[0].ThreatNames[0])
	}
	return got
}

// TestCallerIntelCustom: the .Custom types from a customer threat list,
// Recon for reads and UnauthorizedAccess otherwise, on real panther-analysis
// records (caller 111.111.111.111) and realistic ones.
func TestCallerIntelCustom(t *testing.T) {
	lists := fstest.MapFS{
		"malicious/feed.txt": {Data: []byte("203.0.113.9\n")},
		"tor/exits.txt":      {Data: []byte("185.220.101.1\n")},
		"custom/lists.json": {Data: []byte(`{"lists": [
			{"name": "acme", "format": "TXT", "kind": "threat", "file": "acme.txt"},
			{"name": "partners", "format": "TXT", "kind": "trusted", "file": "partners.txt"}]}`)},
		"custom/acme.txt":     {Data: []byte("111.111.111.0/24\n2001:db8:bad::/48\n10.0.0.0/8\n203.0.113.9\n198.51.100.7\n")},
		"custom/partners.txt": {Data: []byte("198.51.100.7\n185.220.101.1\n")},
	}
	set, err := intel.LoadFS(lists)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Intel = set
	call := func(name, ip string) []byte {
		return callJSON(t, "iam.amazonaws.com", name, map[string]any{"sourceIPAddress": ip})
	}
	for _, tt := range []struct {
		name string
		raw  []byte
		want []string
	}{
		{"real DescribeTable", pantherRecord(t, "AWS.Console.RootLogin", "Non-Login Event"),
			[]string{TypeReconCustomIPCaller + " acme 111.111.111.0/24"}},
		{"real GetBucketAcl", pantherRecord(t, "AWS.Root.Activity", "IAMUser Activity"),
			[]string{TypeReconCustomIPCaller + " acme 111.111.111.0/24"}},
		{"real CreateAccessKey", pantherRecord(t, "AWS.CloudTrail.RootAccessKeyCreated", "Root Created Access Key For User"),
			[]string{TypeUnauthorizedCustomIPCaller + " acme 111.111.111.0/24"}},
		// The GuardDuty tester: iam get-user from an address on a custom list.
		{"tester GetUser, IPv6", call("GetUser", "2001:db8:bad::7"), []string{TypeReconCustomIPCaller + " acme 2001:db8:bad::/48"}},
		{"bundled and custom", call("CreateUser", "203.0.113.9"),
			[]string{TypeUnauthorizedMaliciousIPCaller + " feed 203.0.113.9", TypeUnauthorizedCustomIPCaller + " acme 203.0.113.9"}},
		{"trusted beats custom", call("CreateUser", "198.51.100.7"), nil},
		{"trusted beats Tor", call("ListUsers", "185.220.101.1"), nil},
		{"private address", call("CreateUser", "10.1.2.3"), nil},
		{"clean address", call("GetUser", "198.51.100.8"), nil},
		{"an AWS service calling", call("CreateUser", "autoscaling.amazonaws.com"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := intelFindings(t, newWorld(cfg), tt.raw); !slices.Equal(got, tt.want) {
				t.Errorf("raised %q, want %q", got, tt.want)
			}
		})
	}
	// Without customer lists, the real records raise nothing.
	if got := intelFindings(t, newWorld(DefaultConfig()), pantherRecord(t, "AWS.CloudTrail.RootAccessKeyCreated", "Root Created Access Key For User")); got != nil {
		t.Errorf("built-in lists: raised %q", got)
	}
}

// TestCallerIntelBuiltinEvidence: findings of the built-in lists name the
// list and the entry too.
func TestCallerIntelBuiltinEvidence(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "intel", "lists", "tor", "tor-exit-nodes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	addr := netip.MustParseAddr(strings.TrimSpace(first))
	raw := callJSON(t, "s3.amazonaws.com", "ListBuckets", map[string]any{"sourceIPAddress": addr.String()})
	got := intelFindings(t, newWorld(DefaultConfig()), raw)
	if !slices.Contains(got, TypeReconTorIPCaller+" tor-exit-nodes "+addr.String()) {
		t.Errorf("raised %q", got)
	}
}

// TestIntelReplacedWhileRunning: a list file replaced while the engine
// runs changes the findings of the next events; a malformed replacement
// leaves the lists in force.
func TestIntelReplacedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	writeList := func(name, data string, step int) {
		p := filepath.Join(dir, name)
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
	writeList("custom/lists.json", `{"lists": [{"name": "acme", "format": "PROOF_POINT", "kind": "threat", "file": "acme.csv"}]}`, 0)
	writeList("custom/acme.csv", "ip,category,score,first_seen,last_seen,ports (|)\n192.0.2.10,1,100,,,\n", 0)
	set, err := intel.LoadOverBuiltin(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Intel = set
	eng := New(cfg)
	reloader := intel.NewReloader(dir, set, eng.SetIntel, nil)
	w := newWorldEngine(eng)
	n := 0
	call := func(ip string) []string {
		n++
		return intelFindings(t, w, callJSON(t, "iam.amazonaws.com", "CreateUser", map[string]any{
			"sourceIPAddress": ip, "eventID": fmt.Sprintf("5d8b1c3e-0000-4000-8000-%012d", n)}))
	}
	hit := func(entry string) []string { return []string{TypeUnauthorizedCustomIPCaller + " acme " + entry} }

	if got := call("192.0.2.10"); !slices.Equal(got, hit("192.0.2.10")) {
		t.Fatalf("before: %q", got)
	}
	writeList("custom/acme.csv", "ip,category,score,first_seen,last_seen,ports (|)\n198.51.100.0/24,1,100,,,\n", 1)
	if ok, err := reloader.Check(); !ok || err != nil {
		t.Fatalf("Check = %v, %v", ok, err)
	}
	if got := call("192.0.2.10"); got != nil {
		t.Errorf("a removed entry still raised %q", got)
	}
	if got := call("198.51.100.20"); !slices.Equal(got, hit("198.51.100.0/24")) {
		t.Errorf("the new entry raised %q", got)
	}
	writeList("custom/acme.csv", "ip,category,score,first_seen,last_seen,ports (|)\n192.0.2.10,1,100,,,\n192.0.2.300,1,100,,,\n", 2)
	if _, err := reloader.Check(); err == nil || !strings.Contains(err.Error(), "custom/acme.csv: line 3") {
		t.Fatalf("a malformed list: %v", err)
	}
	if got := call("198.51.100.21"); !slices.Equal(got, hit("198.51.100.0/24")) {
		t.Errorf("after a refused reload the old set raised %q", got)
	}
	if got := call("192.0.2.10"); got != nil {
		t.Errorf("the refused list's entry raised %q", got)
	}
	if eng.Config().Intel != set {
		t.Error("Config().Intel is not the initial set")
	}
}

func newWorldEngine(eng *Engine) *world {
	return &world{eng: eng, profiles: map[string]profiles.Profile{}}
}

// TestSetIntelConcurrent replaces the lists while events are applied (run
// with -race).
func TestSetIntelConcurrent(t *testing.T) {
	a, err := intel.LoadFS(fstest.MapFS{"malicious/a.txt": {Data: []byte("203.0.113.0/24\n")}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := intel.LoadFS(fstest.MapFS{"tor/b.txt": {Data: []byte("203.0.113.0/24\n")}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Intel = a
	eng := New(cfg)
	raw := callJSON(t, "iam.amazonaws.com", "CreateUser", map[string]any{"sourceIPAddress": "203.0.113.1"})
	var wg sync.WaitGroup
	for g := range 4 {
		ev := cloudTrailEvent(t, raw)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if g == 0 && i%10 == 0 {
					eng.SetIntel([]*intel.Set{a, b, nil}[i/10%3])
				}
				w := newWorldEngine(eng)
				var occ []findings.Finding
				for _, f := range w.apply(ev) {
					if slices.Contains(callerIntelTypes, f.Type) {
						occ = append(occ, f)
					}
				}
				if len(occ) > 1 {
					t.Errorf("%d occurrences from one set:%s", len(occ), summary(occ))
					return
				}
			}
		}()
	}
	wg.Wait()
}
