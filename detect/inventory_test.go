package detect

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/inventory"
	"github.com/vigil-sec/vigil/profiles"
	"github.com/vigil-sec/vigil/sources"
)

// The instance a real RunInstances response launched
// (testdata/panther_runinstances.json).
const (
	launched    = "i-07d06021b0da55115"
	launchedENI = "eni-03ac9043f76fab96c"
	launchedIP  = "192.168.1.95"
)

// runInstancesFacts decodes the RunInstances record and returns the
// network-entity events ingest derives from it.
func runInstancesFacts(t testing.TB) []*event.Event {
	t.Helper()
	raw, err := os.ReadFile("testdata/panther_runinstances.json")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := decodeCloudTrail(raw)
	if err != nil || ev.Inventory == nil {
		t.Fatalf("RunInstances: %v, facts %+v", err, ev)
	}
	var out []*event.Event
	sources.DeriveInventory(ev, ev.Inventory, func(d *event.Event) { cp := *d; out = append(out, &cp) })
	if len(out) != 2 {
		t.Fatalf("%d derived events", len(out))
	}
	return out
}

// v2Scan is an nmap -sT scan by the launched instance of another private
// host of its VPC, on a default-format (version 2) log: no instance id,
// no flow-direction, no TCP flags, no VPC or subnet; the records belong
// to the interface.
func v2Scan(start time.Time, target string, ports int) []*event.Event {
	evs := nmapScan(start, target, scanPorts(ports, 11), 2, 100*time.Millisecond)
	mine, launchedAddr := netip.MustParseAddr(localIP), netip.MustParseAddr(launchedIP)
	for _, ev := range evs {
		f := ev.Flow
		if f.Src == mine {
			f.Src = launchedAddr
		}
		if f.Dst == mine {
			f.Dst = launchedAddr
		}
		f.AccountID, f.InterfaceID, f.InstanceID, f.VPCID, f.SubnetID = "111122223333", launchedENI, "", "", ""
		ev.Account, ev.Region, ev.Entity = "111122223333", "us-west-2", launchedENI
	}
	return evs
}

// describeLaunched is `aws ec2 describe-instances` for the launched
// instance, as the --inventory file gives it.
const describeLaunched = `{"Reservations": [{"OwnerId": "111122223333", "Instances": [{
  "InstanceId": "i-07d06021b0da55115", "InstanceType": "p2.xlarge", "PrivateIpAddress": "192.168.1.95",
  "SubnetId": "subnet-083e5906ef2809ac2", "VpcId": "vpc-0330bfd33da75b36e", "State": {"Code": 16, "Name": "running"},
  "NetworkInterfaces": [{"NetworkInterfaceId": "eni-03ac9043f76fab96c", "PrivateIpAddress": "192.168.1.95",
    "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "192.168.1.95"}],
    "Attachment": {"AttachmentId": "eni-attach-022e4a3077e096442", "DeviceIndex": 0, "Status": "attached"},
    "SubnetId": "subnet-083e5906ef2809ac2", "VpcId": "vpc-0330bfd33da75b36e"}]}]}]}`

func launchedInventory(t testing.TB) *inventory.Index {
	x, err := inventory.Parse("describe-instances.json", strings.NewReader(describeLaunched))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestInventoryOrientsPrivateScan: a port scan between two private
// addresses on a version-2 log is oriented, and Recon:EC2/Portscan raised
// for the scanner, when the scanner's address is known from a RunInstances
// record (before or after the scan's records) or from the inventory file;
// without either the records stay unoriented and no byte counts as
// outbound.
func TestInventoryOrientsPrivateScan(t *testing.T) {
	const target = "192.168.1.120"
	scan := v2Scan(scanStart, target, 120) // fewer records than profiles.MaxParked
	byCase := map[string][]byte{}
	for _, tc := range []struct {
		name string
		evs  []*event.Event
		file bool
		want bool
	}{
		{name: "RunInstances before the scan", evs: append(runInstancesFacts(t), scan...), want: true},
		{name: "RunInstances after the scan", evs: append(append([]*event.Event{}, scan...), runInstancesFacts(t)...), want: true},
		{name: "inventory file", evs: scan, file: true, want: true},
		{name: "neither", evs: scan},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.file {
				cfg.Inventory = launchedInventory(t)
			}
			w := newWorld(cfg)
			got := aggregate(ofType(w.applyAll(tc.evs), TypePortscan))
			n := w.profiles[scan[0].Key()].(*profiles.Network)
			if !tc.want {
				if len(got) != 0 {
					t.Fatalf("raised without an inventory:%s", summary(got))
				}
				if n.BytesOut != 0 || n.PacketsOut != 0 || n.BytesIn != 0 || n.BytesUnknown == 0 || len(n.Parked) == 0 {
					t.Fatalf("unoriented records counted: out %d in %d unknown %d parked %d", n.BytesOut, n.BytesIn, n.BytesUnknown, len(n.Parked))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d findings:%s", len(got), summary(got))
			}
			f := got[0]
			checkFinding(t, f)
			nc := f.Service.Action.NetworkConnectionAction
			d := f.Resource.InstanceDetails
			if f.Service.ResourceRole != findings.RoleActor || nc == nil || nc.ConnectionDirection != findings.DirectionOutbound ||
				nc.RemoteIPDetails.IPAddressV4 != target || nc.LocalIPDetails.IPAddressV4 != launchedIP || d == nil || d.InstanceID != launched ||
				len(d.NetworkInterfaces) != 1 || d.NetworkInterfaces[0].NetworkInterfaceID != launchedENI ||
				d.NetworkInterfaces[0].PrivateIPAddress != launchedIP || d.NetworkInterfaces[0].VpcID != "vpc-0330bfd33da75b36e" ||
				d.NetworkInterfaces[0].SubnetID != "subnet-083e5906ef2809ac2" {
				b, _ := json.MarshalIndent(f, "", "  ")
				t.Fatalf("finding:\n%s", b)
			}
			if len(n.Parked) != 0 || n.BytesUnknown != 0 || n.BytesOut == 0 {
				t.Fatalf("parked %d, unknown %d, out %d", len(n.Parked), n.BytesUnknown, n.BytesOut)
			}
			byCase[tc.name], _ = json.Marshal(f)
		})
	}
	// Whether the facts came before or after the records, the finding is
	// the same.
	if a, b := byCase["RunInstances before the scan"], byCase["RunInstances after the scan"]; string(a) != string(b) {
		t.Errorf("the finding depends on the order:\n%s\n%s", a, b)
	}
}

// inventoryScan is the launched instance scanning a private host ten
// minutes after its launch, on a version-2 log, with the events ingest
// derives from its RunInstances record: for the order tests.
func inventoryScan(t testing.TB) []*event.Event {
	facts := runInstancesFacts(t)
	return append(facts, v2Scan(facts[0].Time.Add(10*time.Minute), "192.168.1.120", 100)...)
}

// TestInventoryOrientsPublicSSH: an SSH brute force against an instance's
// public address, logged on a version-2 log as public-to-public records,
// is oriented by the inventory file (TARGET, inbound) and by nothing
// else.
func TestInventoryOrientsPublicSSH(t *testing.T) {
	const (
		web    = "i-0598c7d356eba48d7"
		webENI = "eni-0c0a29997760baee7"
		webIP  = "3.91.171.12"
		bot    = "185.220.101.45"
	)
	x, err := inventory.Load("../inventory/testdata/describe-instances.json")
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	for i := range 40 {
		at := scanStart.Add(time.Duration(i) * 7 * time.Second)
		port := uint16(40000 + 97*i)
		in := flowSpec{at: at, src: bot, dst: webIP, sport: port, dport: 22, packets: 12, bytes: 2100, eni: webENI, version: 2}.event()
		out := flowSpec{at: at, src: webIP, dst: bot, sport: 22, dport: port, packets: 10, bytes: 2600, eni: webENI, version: 2}.event()
		for _, ev := range []*event.Event{in, out} {
			ev.Flow.VPCID, ev.Flow.SubnetID = "", ""
			evs = append(evs, ev)
		}
	}
	for _, withFile := range []bool{false, true} {
		cfg := DefaultConfig()
		if withFile {
			cfg.Inventory = x
		}
		w := newWorld(cfg)
		got := aggregate(ofType(w.applyAll(evs), TypeSSHBruteForce))
		n := w.profiles[evs[0].Key()].(*profiles.Network)
		if !withFile {
			if len(got) != 0 || n.BytesIn+n.BytesOut != 0 {
				t.Fatalf("without inventory: %d findings, in+out %d", len(got), n.BytesIn+n.BytesOut)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("%d findings:%s", len(got), summary(got))
		}
		f := got[0]
		checkFinding(t, f)
		nc := f.Service.Action.NetworkConnectionAction
		d := f.Resource.InstanceDetails
		if f.Service.ResourceRole != findings.RoleTarget || nc == nil || nc.ConnectionDirection != findings.DirectionInbound ||
			nc.RemoteIPDetails.IPAddressV4 != bot || nc.LocalPortDetails.Port != 22 || d == nil || d.InstanceID != web ||
			len(d.NetworkInterfaces) != 1 || d.NetworkInterfaces[0].PublicIP != webIP || d.NetworkInterfaces[0].PrivateIPAddress != "10.0.1.25" ||
			d.NetworkInterfaces[0].VpcID != "vpc-1234567890abcdef0" {
			b, _ := json.MarshalIndent(f, "", "  ")
			t.Fatalf("finding:\n%s", b)
		}
		if n.BytesIn != 40*2100 || n.BytesOut != 40*2600 || n.BytesUnknown != 0 {
			t.Fatalf("in %d out %d unknown %d", n.BytesIn, n.BytesOut, n.BytesUnknown)
		}
	}
}
