package detect

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/intel"
)

var dnsIntelTypes = []string{
	TypeCCActivityBDNS, TypeDriveByDNS, TypeDropPointDNS, TypePhishingDNS, TypeDGADomainC, TypeBlackholeDNS,
	TypeMetadataDNSRebind, TypeMaliciousDomainCustom,
}

// dnsIntelFindings applies a query for name with answers and returns its
// threat-intel findings as "type list entry" ("type answer" for
// MetadataDNSRebind).
func dnsIntelFindings(t *testing.T, w *world, name string, answers ...event.Answer) []string {
	t.Helper()
	ev := dnsQuery(dnsStart, intelInstance, intelLocal, name)
	ev.DNS.Answers = answers
	var got []string
	for _, f := range w.apply(ev) {
		if !slices.Contains(dnsIntelTypes, f.Type) {
			continue
		}
		checkFinding(t, f)
		a := f.Service.Action.DNSRequestAction
		if f.Service.ResourceRole != findings.RoleActor || a == nil || a.Domain != strings.TrimSuffix(name, ".") ||
			f.Resource.InstanceDetails.InstanceID != intelInstance {
			t.Errorf("%s: role %s, action %+v", f.Type, f.Service.ResourceRole, a)
		}
		if f.Type == TypeMetadataDNSRebind {
			got = append(got, f.Type+" "+f.Service.AdditionalInfo["answer"].(string))
			continue
		}
		got = append(got, f.Type+" "+checkIntelEvidence(t, f))
	}
	return got
}

func answerA(rdata string) event.Answer { return event.Answer{Rdata: rdata, Type: "A"} }

// TestDNSIntelTester: the AWS GuardDuty tester's indicator domains raise
// what GuardDuty raises for them, and nothing more.
func TestDNSIntelTester(t *testing.T) {
	w := newWorld(DefaultConfig())
	for _, tt := range []struct{ name, want string }{
		{"guarddutyc2activityb.com", TypeCCActivityBDNS},
		{"c2.guarddutyc2activityb.com.", TypeCCActivityBDNS},
		{"guarddutyblackholeactivity.com", TypeBlackholeDNS},
		{"guarddutydgaactivity.com", TypeDGADomainC},
		{"guarddutydrivebyactivity.com", TypeDriveByDNS},
		{"guarddutydroppointactivity.com", TypeDropPointDNS},
		{"guarddutyphishingactivity.com", TypePhishingDNS},
		// Other tests' indicators under the C&C domain: not C&C.
		{"crypto.guarddutyc2activityb.com", ""},
		{"abused-rep.guarddutyc2activityb.com", ""},
		{"malicious-rep.guarddutyc2activityb.com", ""},
		{"0ubb0enpjyobgcqxasiapvenqj.3gbiyxdapb3doq.guarddutyc2activityb.com", ""},
	} {
		got := dnsIntelFindings(t, w, tt.name)
		var want []string
		if tt.want != "" {
			want = []string{tt.want + " guardduty-tester " + strings.TrimSuffix(tt.name, ".")}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: raised %q, want %q", tt.name, got, want)
		}
	}
}

// firstDomain returns the first domain line of a bundled list.
func firstDomain(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "intel", "lists", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && l[0] != '#' && strings.Trim(l, "0123456789.:") != "" && !strings.Contains(l, ":") {
			return l
		}
	}
	t.Fatalf("%s: no domain", file)
	return ""
}

// TestDNSIntelBuiltin: the bundled lists raise every DNS type, for the
// listed name and the names under it.
func TestDNSIntelBuiltin(t *testing.T) {
	w := newWorld(DefaultConfig())
	for _, tt := range []struct{ file, typ, list string }{
		{"c2/maltrail_c2.txt", TypeCCActivityBDNS, "maltrail_c2"},
		{"log4j/maltrail_log4j.txt", TypeCCActivityBDNS, "maltrail_log4j"},
		{"driveby/maltrail_driveby.txt", TypeDriveByDNS, "maltrail_driveby"},
		{"droppoint/maltrail_droppoint.txt", TypeDropPointDNS, "maltrail_droppoint"},
		{"phishing/maltrail_phishing.txt", TypePhishingDNS, "maltrail_phishing"},
		{"dga/maltrail_dga.txt", TypeDGADomainC, "maltrail_dga"},
		{"sinkhole/maltrail_sinkhole.txt", TypeBlackholeDNS, "maltrail_sinkhole"},
	} {
		d := firstDomain(t, tt.file)
		for _, name := range []string{d, "www." + d} {
			if got, want := dnsIntelFindings(t, w, name), tt.typ+" "+tt.list+" "+d; !slices.Contains(got, want) {
				t.Errorf("%s: raised %q, want %q", name, got, want)
			}
		}
	}
	// Log4j domains are C&C with GuardDuty's Log4j threatName.
	ev := dnsQuery(dnsStart, intelInstance, intelLocal, firstDomain(t, "log4j/maltrail_log4j.txt"))
	if got := ofType(w.apply(ev), TypeCCActivityBDNS); len(got) != 1 || got[0].Service.AdditionalInfo["threatName"] != "Log4j Related" {
		t.Errorf("log4j:%s", summary(got))
	}
}

// TestDNSIntelAnswers: BlackholeTraffic!DNS from a sink-hole answer and
// MetadataDNSRebind from a metadata-service answer.
func TestDNSIntelAnswers(t *testing.T) {
	w := newWorld(DefaultConfig())
	sink := firstIP(t, "sinkhole/maltrail_sinkhole.txt")
	sinkDomain := firstDomain(t, "sinkhole/maltrail_sinkhole.txt")
	for _, tt := range []struct {
		name    string
		answers []event.Answer
		want    []string
	}{
		{"seized.example.com", []event.Answer{answerA(sink)}, []string{TypeBlackholeDNS + " maltrail_sinkhole " + sink}},
		{"seized.example.org", []event.Answer{{Rdata: "x." + sinkDomain + ".", Type: "CNAME"}, answerA("192.0.2.1")},
			[]string{TypeBlackholeDNS + " maltrail_sinkhole " + sinkDomain}},
		{"rebind.attacker.example", []event.Answer{answerA("169.254.169.254")}, []string{TypeMetadataDNSRebind + " 169.254.169.254"}},
		{"rebind6.attacker.example", []event.Answer{{Rdata: "fd00:ec2::254", Type: "AAAA"}}, []string{TypeMetadataDNSRebind + " fd00:ec2::254"}},
		// AWS's own names for the metadata service.
		{"instance-data.ec2.internal", []event.Answer{answerA("169.254.169.254")}, nil},
		{"instance-data", []event.Answer{answerA("169.254.169.254")}, nil},
		{"www.example.com", []event.Answer{answerA("93.184.216.34")}, nil},
		{"private.example.com", []event.Answer{answerA("10.1.2.3")}, nil},
	} {
		if got := dnsIntelFindings(t, w, tt.name, tt.answers...); !slices.Equal(got, tt.want) {
			t.Errorf("%s: raised %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestDNSIntelCustom: customer entity lists' domains raise
// MaliciousDomainRequest.Custom; customer IP entries do not apply to DNS;
// a trusted entry wins over every list.
func TestDNSIntelCustom(t *testing.T) {
	fsys := fstest.MapFS{}
	for k, v := range threatIntelFS {
		fsys[k] = v
	}
	fsys["custom/lists.json"] = &fstest.MapFile{Data: []byte(`{"lists": [
		{"name": "acme", "format": "TXT", "kind": "threat", "file": "acme.txt"},
		{"name": "partners", "format": "TXT", "kind": "trusted", "file": "partners.txt"}]}`)}
	fsys["custom/acme.txt"] = &fstest.MapFile{Data: []byte("bad.example.com\n*.evil.example.org\n198.51.100.7\nok.example.net\n")}
	fsys["custom/partners.txt"] = &fstest.MapFile{Data: []byte("ok.example.net\nlogin-example.com\nimds.corp.example.com\n")}
	set, err := intel.LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Intel = set
	w := newWorld(cfg)
	for _, tt := range []struct {
		name    string
		answers []event.Answer
		want    []string
	}{
		{"bad.example.com", nil, []string{TypeMaliciousDomainCustom + " acme bad.example.com"}},
		{"a.evil.example.org", nil, []string{TypeMaliciousDomainCustom + " acme *.evil.example.org"}},
		{"answered.example.com", []event.Answer{answerA("198.51.100.7")}, nil}, // IP entries: not for DNS
		{"ok.example.net", nil, nil},        // trusted beats the threat list
		{"login-example.com", nil, nil},     // trusted beats a feed
		{"www.login-example.com", nil, nil}, // and the names under its entry
		{"ek.example.net", nil, []string{TypeDriveByDNS + " feed ek.example.net"}},
		{"xjwqpzkvbnmq.com", nil, []string{TypeDGADomainC + " feed xjwqpzkvbnmq.com"}},
		// A name the customer trusts may resolve to the metadata service.
		{"imds.corp.example.com", []event.Answer{answerA("169.254.169.254")}, nil},
		{"imds2.corp.example.com", []event.Answer{answerA("169.254.169.254")}, []string{TypeMetadataDNSRebind + " 169.254.169.254"}},
	} {
		if got := dnsIntelFindings(t, w, tt.name, tt.answers...); !slices.Equal(got, tt.want) {
			t.Errorf("%s: raised %q, want %q", tt.name, got, tt.want)
		}
	}
}

// adware names the popularity lists hold that are malware's all the same
// (maltrail's fakebat, fakeapp, mingloa, android_bigpanzi);
// the abused legitimate ones are on intel/lists/trusted.txt.
var listedPopular = []string{"pcapp.store", "eapplicationonline.com", "igmhb.com", "pcdnbus.ou2sv.com"}

// TestDNSIntelClean: clean names raise nothing: OpenDNS's top domains and
// the benign names of the netrack set, with www. and api. under them.
func TestDNSIntelClean(t *testing.T) {
	w := newWorld(DefaultConfig())
	var names []string
	for _, l := range readLines(t, "opendns_top1000.txt") {
		if n := strings.TrimSpace(string(l)); !slices.Contains(listedPopular, n) {
			names = append(names, n)
		}
	}
	for _, l := range readLines(t, "netrack_plain_names.csv")[1:] {
		if _, n, ok := strings.Cut(string(l), ","); ok && !slices.Contains(listedPopular, strings.TrimSuffix(n, ".")) {
			names = append(names, n)
		}
	}
	if len(names) < 1000 {
		t.Fatalf("%d names", len(names))
	}
	// The abused legitimate hosts are trusted.
	names = append(names, "razzball.com", "www.ufro.cl")
	for _, n := range names {
		for _, name := range []string{n, "www." + n, "api." + n} {
			if got := dnsIntelFindings(t, w, name, answerA("93.184.216.34")); got != nil {
				t.Errorf("%s raised %q", name, got)
			}
		}
	}
}
