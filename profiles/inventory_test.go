package profiles

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/event"
)

const (
	scanner = "i-0c8d2f1b58e4f3a6b"
	scanENI = "eni-0e8e8f1d3b4f6a2c1"
)

// v2Flow is a default-format (version 2) record of the scanner's
// interface: no instance id, no flow-direction.
func v2Flow(at time.Time, src, dst string, sport, dport uint16) *event.Event {
	ev := flowEvent(at, src, dst, sport, dport, event.ActionReject)
	ev.Entity = scanENI
	ev.Flow.Version, ev.Flow.InstanceID, ev.Flow.InterfaceID, ev.Flow.VPCID, ev.Flow.SubnetID = 2, "", scanENI, "", ""
	return ev
}

// inventoryEvent is what ingest derives from a RunInstances response for
// the scanner's interface.
func inventoryEvent(at time.Time, entity string, private, public []string) *event.Event {
	ni := event.InventoryInterface{InstanceID: scanner, ID: scanENI, VPCID: "vpc-0b6d2e3f4a5c6d7e8", SubnetID: "subnet-0a1b2c3d4e5f60718"}
	for _, a := range private {
		ni.Private = append(ni.Private, netip.MustParseAddr(a))
	}
	for _, a := range public {
		ni.Public = append(ni.Public, netip.MustParseAddr(a))
	}
	return &event.Event{Source: event.SourceCloudTrail, Time: at, Account: "111122223333", Region: "us-east-1",
		Kind: event.KindNetwork, Entity: entity, Inventory: &event.Inventory{EventName: "RunInstances", Interfaces: []event.InventoryInterface{ni}}}
}

// scanRecords is a connect scan of 30 ports between two private
// addresses, seen on the scanner's interface: probe out, reset back.
func scanRecords() []*event.Event {
	var evs []*event.Event
	for i := range 30 {
		at := t0.Add(time.Duration(i) * time.Second)
		evs = append(evs,
			v2Flow(at, "10.0.1.5", "10.0.2.40", uint16(50000+i), uint16(20+i)),
			v2Flow(at, "10.0.2.40", "10.0.1.5", uint16(20+i), uint16(50000+i)))
	}
	return evs
}

// TestInventoryOrientsPrivateScan: the scan's records wait parked, their
// bytes unknown and never outbound, until the inventory says which side
// is the interface's; then every one is oriented.
func TestInventoryOrientsPrivateScan(t *testing.T) {
	n := NewNetwork("111122223333", "us-east-1", scanENI)
	for _, ev := range scanRecords() {
		if ready := n.Observe(ev, nil); len(ready) != 0 {
			t.Fatalf("oriented without inventory: %+v", ready)
		}
	}
	if n.BytesOut != 0 || n.BytesIn != 0 || n.BytesUnknown != 60*120 || len(n.Parked) != 60 {
		t.Fatalf("before: out %d in %d unknown %d parked %d", n.BytesOut, n.BytesIn, n.BytesUnknown, len(n.Parked))
	}
	ready := n.Observe(inventoryEvent(t0.Add(-time.Hour), scanENI, []string{"10.0.1.5"}, nil), nil)
	if len(ready) != 60 || len(n.Parked) != 0 || n.BytesUnknown != 0 || n.BytesOut != 30*120 || n.BytesIn != 30*120 {
		t.Fatalf("after: %d ready, out %d in %d unknown %d parked %d", len(ready), n.BytesOut, n.BytesIn, n.BytesUnknown, len(n.Parked))
	}
	for _, r := range ready {
		if r.Local != netip.MustParseAddr("10.0.1.5") || r.Outbound != (r.Src == r.Local) {
			t.Fatalf("oriented %+v", r)
		}
	}
	if n.Inventory.InstanceID != scanner || !n.IsLocal(netip.MustParseAddr("10.0.1.5")) {
		t.Fatalf("inventory %+v", n.Inventory)
	}
	// Later records are oriented as they come.
	if ready := n.Observe(v2Flow(t0.Add(time.Minute), "10.0.1.5", "10.0.2.40", 50100, 8080), nil); len(ready) != 1 || !ready[0].Outbound {
		t.Fatalf("later record %+v", ready)
	}
}

// TestInventoryBeforeLearned: an address in the inventory decides before
// one learned from the records, and a public-to-public record (an
// instance's public address) is oriented by it.
func TestInventoryBeforeLearned(t *testing.T) {
	n := NewNetwork("111122223333", "us-east-1", scanner)
	n.Observe(inventoryEvent(t0, scanner, []string{"10.0.1.5"}, []string{"54.74.1.10"}), nil)
	ready := n.Observe(flowEvent(t0, "198.51.100.7", "54.74.1.10", 40022, 22, event.ActionAccept), nil)
	if len(ready) != 1 || ready[0].Outbound || ready[0].Local != netip.MustParseAddr("54.74.1.10") {
		t.Fatalf("public inbound %+v", ready)
	}
	// Learned from three partners: 10.0.9.9 is not ours, whatever
	// co-occurrence says, when its peer is in the inventory.
	for _, p := range []string{"10.0.7.1", "10.0.7.2", "10.0.7.3"} {
		n.Observe(flowEvent(t0, "10.0.9.9", p, 1, 2, event.ActionAccept), nil)
	}
	if !n.IsLocal(netip.MustParseAddr("10.0.9.9")) {
		t.Fatal("co-occurrence did not learn")
	}
	if ready := n.Observe(flowEvent(t0, "10.0.9.9", "10.0.1.5", 3, 4, event.ActionAccept), nil); len(ready) != 1 || ready[0].Outbound {
		t.Fatalf("inventory did not decide: %+v", ready)
	}
}

// TestInventoryFile: facts without a time (the --inventory file) orient
// like an event's, and later CloudTrail facts win the details.
func TestInventoryFile(t *testing.T) {
	n := NewNetwork("111122223333", "us-east-1", scanENI)
	file := inventoryEvent(time.Time{}, scanENI, []string{"10.0.1.5"}, nil).Inventory
	file.Interfaces[0].SubnetID = "subnet-old"
	if ready := n.LearnInventory(file, nil); len(ready) != 0 {
		t.Fatal("nothing was parked")
	}
	ready := n.Observe(scanRecords()[0], nil)
	if len(ready) != 1 || !ready[0].Outbound {
		t.Fatalf("file did not orient: %+v", ready)
	}
	n.Observe(inventoryEvent(t0, scanENI, nil, nil), nil)
	if ni, ok := n.Inventory.Interface(scanENI); !ok || ni.SubnetID != "subnet-0a1b2c3d4e5f60718" {
		t.Fatalf("details %+v", n.Inventory.Interfaces)
	}
	if n.LearnInventory(nil, nil) != nil {
		t.Fatal("nil facts")
	}
}

// TestInventoryOrderIndependent: scan records, public traffic and
// inventory facts (two events, with different details) give the same
// profile in any order.
func TestInventoryOrderIndependent(t *testing.T) {
	evs := scanRecords()
	evs = append(evs,
		inventoryEvent(t0.Add(-time.Hour), scanENI, []string{"10.0.1.5"}, nil),
		inventoryEvent(t0.Add(time.Hour), scanENI, []string{"10.0.1.6"}, []string{"54.74.1.10"}),
		v2Flow(t0, "198.51.100.7", "54.74.1.10", 40022, 22),
		v2Flow(t0, "10.0.1.6", "10.0.3.3", 40023, 443))
	evs[len(evs)-3].Inventory.Interfaces[0].VPCID = "vpc-other"
	b := checkOrderIndependent(t, func() Profile { return NewNetwork("111122223333", "us-east-1", scanENI) }, evs, 50)
	var n Network
	if err := n.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	ni, _ := n.Inventory.Interface(scanENI)
	if len(n.Parked) != 0 || n.BytesUnknown != 0 || ni == nil || ni.VPCID != "vpc-other" ||
		!slices.Equal(ni.Private, []netip.Addr{netip.MustParseAddr("10.0.1.5"), netip.MustParseAddr("10.0.1.6")}) {
		j, _ := json.MarshalIndent(n, "", " ")
		t.Fatalf("profile:\n%s", j)
	}
}

// TestInventoryCaps: the inventory keeps the smallest interface ids and
// addresses, within MaxInventorySize, and decodes.
func TestInventoryCaps(t *testing.T) {
	n := NewNetwork("1", "us-east-1", "i-1")
	long := strings.Repeat("x", 500)
	for i := range 40 {
		ni := event.InventoryInterface{InstanceID: "i-" + long, ID: fmt.Sprintf("eni-%02d%s", i, long),
			VPCID: "vpc-" + long, SubnetID: "subnet-" + long}
		for k := range 40 {
			ni.Private = append(ni.Private, netip.AddrFrom16([16]byte{0xfd, 14: byte(i), 15: byte(k)}))
			ni.Public = append(ni.Public, netip.AddrFrom16([16]byte{0x20, 0x01, 14: byte(i), 15: byte(k)}))
		}
		n.Observe(&event.Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: event.KindNetwork, Entity: "i-1",
			Inventory: &event.Inventory{Interfaces: []event.InventoryInterface{ni}}}, nil)
	}
	inv := &n.Inventory
	if len(inv.Interfaces) != MaxInventoryInterfaces || len(inv.Interfaces[0].Private) != MaxInventoryAddrs {
		t.Fatalf("%d interfaces, %d addresses", len(inv.Interfaces), len(inv.Interfaces[0].Private))
	}
	var e encoder
	inv.encode(&e, t0)
	if len(e.b) > MaxInventorySize {
		t.Fatalf("inventory encodes to %d bytes, more than %d", len(e.b), MaxInventorySize)
	}
	t.Logf("full inventory: %d bytes (MaxInventorySize %d)", len(e.b), MaxInventorySize)
	b := mustMarshal(t, n)
	var q Network
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if b2 := mustMarshal(t, &q); string(b2) != string(b) {
		t.Fatal("re-encoding differs")
	}
}

func inventoryNetwork() *Network {
	n := NewNetwork("111122223333", "us-east-1", scanENI)
	n.Observe(inventoryEvent(t0, scanENI, []string{"10.0.1.5", "2600:1f18::5"}, []string{"54.74.1.10"}), nil)
	n.LearnInventory(&event.Inventory{Interfaces: []event.InventoryInterface{{InstanceID: scanner, Private: []netip.Addr{netip.MustParseAddr("10.0.1.7")}}}}, nil)
	return n
}

func FuzzUnmarshalNetworkInventory(f *testing.F) {
	fuzzUnmarshal(f, event.KindNetwork, inventoryNetwork())
}
