package event

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

func inventoryEvent() Event {
	a := netip.MustParseAddr
	return Event{
		Source: SourceCloudTrail, Time: time.Date(2022, 1, 27, 16, 2, 52, 0, time.UTC),
		Account: "012345678901", Region: "us-east-1", Kind: KindNetwork, Entity: "i-0c8d2f1b58e4f3a6b",
		Inventory: &Inventory{EventName: "RunInstances", Interfaces: []InventoryInterface{
			{InstanceID: "i-0c8d2f1b58e4f3a6b", ID: "eni-0e8e8f1d3b4f6a2c1", VPCID: "vpc-0b6d2e3f4a5c6d7e8", SubnetID: "subnet-0a1b2c3d",
				Private: []netip.Addr{a("10.0.1.5"), a("10.0.1.6")}, Public: []netip.Addr{a("54.74.1.10")}},
			{InstanceID: "i-0c8d2f1b58e4f3a6b", Private: []netip.Addr{a("2600:1f18::5")}},
		}},
	}
}

func TestInventoryRoundTrip(t *testing.T) {
	for name, e := range map[string]Event{
		"full":  inventoryEvent(),
		"empty": {Kind: KindNetwork, Entity: "eni-1", Inventory: &Inventory{}},
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := e.MarshalBinary()
			var got Event
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got.Inventory, e.Inventory)
			}
			for i := range len(b) {
				var e2 Event
				if err := e2.UnmarshalBinary(b[:i]); !errors.Is(err, ErrCodec) {
					t.Fatalf("prefix %d/%d: %v", i, len(b), err)
				}
			}
		})
	}
}

// TestInventoryBounds: counts past the bounds and invalid addresses are
// errors, not allocations.
func TestInventoryBounds(t *testing.T) {
	many := make([]InventoryInterface, MaxInventoryInterfaces+1)
	addrs := make([]netip.Addr, MaxInventoryAddrs+1)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
	}
	head := func(inv *Inventory) []byte {
		b, _ := (&Event{Inventory: inv}).MarshalBinary()
		return b
	}
	for name, b := range map[string][]byte{
		"interfaces": head(&Inventory{Interfaces: many}),
		"addresses":  head(&Inventory{Interfaces: []InventoryInterface{{Private: addrs}}}),
		"invalid":    head(&Inventory{Interfaces: []InventoryInterface{{Public: []netip.Addr{{}}}}}),
		"huge count": hugeCount(head(&Inventory{})),
	} {
		t.Run(name, func(t *testing.T) {
			var e Event
			err := e.UnmarshalBinary(b)
			t.Log(err)
			if !errors.Is(err, ErrCodec) || e.Inventory != nil {
				t.Fatalf("err = %v, event %+v", err, e)
			}
		})
	}
}

// hugeCount replaces the interface count (the last byte of an empty
// inventory) by a huge one.
func hugeCount(b []byte) []byte {
	return append(slices.Clone(b[:len(b)-1]), 0xff, 0xff, 0xff, 0xff, 0x0f)
}

func TestInventoryForEntity(t *testing.T) {
	e := inventoryEvent()
	inv := e.Inventory
	if got := inv.Entities(); !slices.Equal(got, []string{"i-0c8d2f1b58e4f3a6b", "eni-0e8e8f1d3b4f6a2c1"}) {
		t.Fatalf("entities %v", got)
	}
	if got := inv.ForEntity("eni-0e8e8f1d3b4f6a2c1"); got == nil || len(got.Interfaces) != 1 || got.EventName != "RunInstances" {
		t.Fatalf("interface facts %+v", got)
	}
	if got := inv.ForEntity("i-0c8d2f1b58e4f3a6b"); got == nil || len(got.Interfaces) != 2 {
		t.Fatalf("instance facts %+v", got)
	}
	if inv.ForEntity("eni-other") != nil {
		t.Fatal("facts for an entity not named")
	}
}

func FuzzUnmarshalInventory(f *testing.F) {
	e := inventoryEvent()
	b, _ := e.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if err := e.UnmarshalBinary(b); err != nil {
			return
		}
		if inv := e.Inventory; inv != nil {
			if len(inv.Interfaces) > MaxInventoryInterfaces {
				t.Fatalf("%d interfaces", len(inv.Interfaces))
			}
			for _, ni := range inv.Interfaces {
				if len(ni.Private) > MaxInventoryAddrs || len(ni.Public) > MaxInventoryAddrs {
					t.Fatal("too many addresses")
				}
			}
		}
		b2, _ := e.MarshalBinary()
		var e2 Event
		if err := e2.UnmarshalBinary(b2); err != nil || !reflect.DeepEqual(e, e2) {
			t.Fatalf("unstable: %v", err)
		}
		if b3, _ := e2.MarshalBinary(); !bytes.Equal(b2, b3) {
			t.Fatal("encoding not canonical")
		}
	})
}
