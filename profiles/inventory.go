package profiles

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// An entity's inventory is what EC2 says about it: the instance, its
// network interfaces and their addresses, as CloudTrail's RunInstances,
// CreateNetworkInterface, AttachNetworkInterface, AssociateAddress and
// Assign* responses tell (ingest sends those facts to the entities they
// name, event.Inventory) and as the --inventory file tells (the detectors
// apply its facts before each event). Orientation trusts it before the
// addresses learned from the records (orient.go), and findings describe
// the instance from it (instanceDetails).
//
// The inventory is a function of the set of facts applied: addresses are
// a union, and the instance and an interface's VPC and subnet are the
// latest by (fact time, value), file facts having no time. Caps keep the
// smallest: the MaxInventoryInterfaces interfaces of smallest id, the
// MaxInventoryAddrs smallest addresses of each list. Facts are never
// unlearned (a terminated instance's address reused by another is an
// address of both), so that orientation stays order independent.
const (
	MaxInventoryInterfaces = 8
	MaxInventoryAddrs      = 16
	// MaxInventoryIDLen bounds the ids kept: EC2 ids are at most 24
	// characters.
	MaxInventoryIDLen = 64
	// MaxInventorySize bounds the encoded inventory, for MaxNetworkSize.
	MaxInventorySize = MaxInventoryIDLen + 24 +
		MaxInventoryInterfaces*(3*(MaxInventoryIDLen+2)+12+2*(2+MaxInventoryAddrs*17))
)

// Inventory is what EC2 says about a network entity.
type Inventory struct {
	// InstanceID is the instance the entity is or is attached to, the
	// latest by (fact time, id); InstanceSeen is that time.
	InstanceID   string    `json:"instanceId,omitempty"`
	InstanceSeen time.Time `json:"instanceSeen,omitzero"`
	// Interfaces are sorted by id; the one with an empty id holds the
	// instance's addresses that no named interface holds.
	Interfaces []InventoryInterface `json:"interfaces,omitempty"`
}

// InventoryInterface is one network interface of the entity.
type InventoryInterface struct {
	ID          string    `json:"id,omitempty"`
	VPCID       string    `json:"vpcId,omitempty"`
	SubnetID    string    `json:"subnetId,omitempty"`
	DetailsSeen time.Time `json:"detailsSeen,omitzero"`
	// Private and Public are sorted, unmapped, without zone.
	Private []netip.Addr `json:"private,omitempty"`
	Public  []netip.Addr `json:"public,omitempty"`
}

// Has reports whether a is one of the entity's addresses by its
// inventory.
func (inv *Inventory) Has(a netip.Addr) bool {
	_, ok := inv.Holder(a)
	return ok
}

// Holder returns the interface that holds a.
func (inv *Inventory) Holder(a netip.Addr) (*InventoryInterface, bool) {
	a = a.Unmap()
	for i := range inv.Interfaces {
		ni := &inv.Interfaces[i]
		if _, ok := slices.BinarySearchFunc(ni.Private, a, netip.Addr.Compare); ok {
			return ni, true
		}
		if _, ok := slices.BinarySearchFunc(ni.Public, a, netip.Addr.Compare); ok {
			return ni, true
		}
	}
	return nil, false
}

// Interface returns the interface with id, if known.
func (inv *Inventory) Interface(id string) (*InventoryInterface, bool) {
	if id == "" {
		return nil, false
	}
	i, ok := slices.BinarySearchFunc(inv.Interfaces, id, byInventoryID)
	if !ok {
		return nil, false
	}
	return &inv.Interfaces[i], true
}

func byInventoryID(ni InventoryInterface, id string) int { return strings.Compare(ni.ID, id) }

// LearnInventory applies facts known before any event (the inventory
// file): they carry no time. It returns ready with the parked records the
// new addresses orient appended. facts may be nil.
func (n *Network) LearnInventory(facts *event.Inventory, ready []OrientedFlow) []OrientedFlow {
	if facts == nil {
		return ready
	}
	return n.learnInventory(facts, time.Time{}, ready)
}

// learnInventory merges facts seen at t, then learns each new address as
// local (which orients the parked records that carry it).
func (n *Network) learnInventory(facts *event.Inventory, t time.Time, ready []OrientedFlow) []OrientedFlow {
	inv := &n.Inventory
	for i := range facts.Interfaces {
		f := &facts.Interfaces[i]
		id := f.InstanceID
		if n.Entity != "" && strings.HasPrefix(n.Entity, "i-") {
			id = n.Entity // an instance's facts name itself
		}
		if id = clip(id, MaxInventoryIDLen); id != "" {
			if c := t.Compare(inv.InstanceSeen); c > 0 || c == 0 && id > inv.InstanceID {
				inv.InstanceSeen = t
				keep(&inv.InstanceID, id, MaxInventoryIDLen)
			}
		}
		eni := clip(f.ID, MaxInventoryIDLen)
		j, ok := slices.BinarySearchFunc(inv.Interfaces, eni, byInventoryID)
		if !ok {
			// A full list keeps the smallest ids.
			if inv.Interfaces, j = insertBounded(inv.Interfaces, j, InventoryInterface{ID: strings.Clone(eni)},
				MaxInventoryInterfaces, func(a, b InventoryInterface) bool { return a.ID > b.ID }); j < 0 {
				continue
			}
		}
		ni := &inv.Interfaces[j]
		vpc, subnet := clip(f.VPCID, MaxInventoryIDLen), clip(f.SubnetID, MaxInventoryIDLen)
		if vpc != "" || subnet != "" {
			if c := t.Compare(ni.DetailsSeen); c > 0 || c == 0 && compareStrings([]string{vpc, subnet}, []string{ni.VPCID, ni.SubnetID}) > 0 {
				ni.DetailsSeen = t
				keep(&ni.VPCID, vpc, MaxInventoryIDLen)
				keep(&ni.SubnetID, subnet, MaxInventoryIDLen)
			}
		}
		for _, a := range f.Private {
			if addInventoryAddr(&ni.Private, a) {
				ready = n.learnOwn(a.Unmap(), ready)
			}
		}
		for _, a := range f.Public {
			if addInventoryAddr(&ni.Public, a) {
				ready = n.learnOwn(a.Unmap(), ready)
			}
		}
	}
	return ready
}

// learnOwn learns a, an address the inventory gave, as local, and
// orients the parked records that carry it even when a full LocalAddrs
// keeps smaller addresses (Orient consults the inventory first).
func (n *Network) learnOwn(a netip.Addr, ready []OrientedFlow) []OrientedFlow {
	if ready = n.learn(a, ready); !n.IsLocal(a) {
		ready = n.unpark(a, ready)
	}
	return ready
}

// addInventoryAddr adds a to the sorted list l, keeping the
// MaxInventoryAddrs smallest, and reports whether it was added.
func addInventoryAddr(l *[]netip.Addr, a netip.Addr) bool {
	if a = a.Unmap(); !a.IsValid() || a.Zone() != "" {
		return false
	}
	i, ok := slices.BinarySearchFunc(*l, a, netip.Addr.Compare)
	if ok {
		return false
	}
	var j int
	*l, j = insertBounded(*l, i, a, MaxInventoryAddrs, func(x, y netip.Addr) bool { return x.Compare(y) > 0 })
	return j >= 0
}

// encode writes the inventory; times are relative to ref.
func (inv *Inventory) encode(e *encoder, ref time.Time) {
	e.str(inv.InstanceID)
	e.optTimeRel(inv.InstanceSeen, ref)
	var prev InventoryInterface
	encodeList(e, inv.Interfaces, func(ni *InventoryInterface) {
		e.str(ni.ID)
		e.strRef(ni.VPCID, prev.VPCID)
		e.strRef(ni.SubnetID, prev.SubnetID)
		e.optTimeRel(ni.DetailsSeen, ref)
		encodeList(e, ni.Private, func(a *netip.Addr) { e.addr(*a) })
		encodeList(e, ni.Public, func(a *netip.Addr) { e.addr(*a) })
		prev = *ni
	})
}

// decode reads what encode wrote, checking bounds and order.
func (inv *Inventory) decode(d *decoder, ref time.Time) {
	inv.InstanceID = d.str("inventory instance", MaxInventoryIDLen)
	inv.InstanceSeen = d.optTimeRel(ref)
	addrs := func(what string) []netip.Addr {
		return decodeList(d, what, MaxInventoryAddrs, func(a *netip.Addr) {
			if *a = d.addr(); d.Err == nil && !a.IsValid() {
				d.Failf("%s: invalid address", what)
			}
		}, func(prev, next *netip.Addr) bool { return prev.Less(*next) }, "%s not sorted")
	}
	var prev InventoryInterface
	inv.Interfaces = decodeList(d, "inventory interfaces", MaxInventoryInterfaces, func(ni *InventoryInterface) {
		ni.ID = d.str("inventory interface", MaxInventoryIDLen)
		ni.VPCID = d.strRef("inventory vpc", MaxInventoryIDLen, prev.VPCID)
		ni.SubnetID = d.strRef("inventory subnet", MaxInventoryIDLen, prev.SubnetID)
		ni.DetailsSeen = d.optTimeRel(ref)
		ni.Private = addrs("inventory private addresses")
		ni.Public = addrs("inventory public addresses")
		prev = *ni
	}, func(prev, next *InventoryInterface) bool { return prev.ID < next.ID }, "%s not sorted")
}
