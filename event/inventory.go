package event

import (
	"encoding/binary"
	"net/netip"

	"github.com/vigil-sec/vigil/wire"
)

// Bounds of an Inventory, checked by the codec: one RunInstances response
// launches at most a few instances with a few interfaces each, and an
// interface holds at most a few dozen private addresses (AWS allows 50 on
// the largest types; vigil keeps the first MaxInventoryAddrs).
const (
	MaxInventoryInterfaces = 64
	MaxInventoryAddrs      = 16
)

// Inventory is what one CloudTrail record says about the instances and
// network interfaces of an account: which addresses belong to which
// interface and instance, and the interface's VPC and subnet. Ingest
// derives it from RunInstances, CreateNetworkInterface,
// AttachNetworkInterface, AssociateAddress, AssignPrivateIpAddresses and
// similar responses, and sends it to every network entity it names (the
// instance and each interface), so that flow records can be oriented by
// the entity's own addresses.
type Inventory struct {
	// EventName is the CloudTrail event the facts come from.
	EventName  string
	Interfaces []InventoryInterface
}

// InventoryInterface is one network interface and its addresses. ID is
// empty when the record names the instance's addresses but not the
// interface that holds them (AssociateAddress by instance id), and
// InstanceID when the interface is not attached.
type InventoryInterface struct {
	InstanceID string
	ID         string
	VPCID      string
	SubnetID   string
	// Private are the interface's private addresses (IPv4 and IPv6),
	// Public its public (Elastic or auto-assigned) addresses.
	Private []netip.Addr
	Public  []netip.Addr
}

// ForEntity returns the facts of inv that concern the network entity
// named entity: an instance gets the interfaces attached to it, an
// interface its own entry. It returns nil when none does.
func (inv *Inventory) ForEntity(entity string) *Inventory {
	var out *Inventory
	for _, ni := range inv.Interfaces {
		if ni.InstanceID != entity && ni.ID != entity {
			continue
		}
		if out == nil {
			out = &Inventory{EventName: inv.EventName}
		}
		out.Interfaces = append(out.Interfaces, ni)
	}
	return out
}

// Entities lists the network entities inv names, instances and
// interfaces, each once, in order of appearance.
func (inv *Inventory) Entities() []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, ni := range inv.Interfaces {
		add(ni.InstanceID)
		add(ni.ID)
	}
	return out
}

// appendInventory writes the event name, then per interface its four
// strings and its two address lists.
func appendInventory(b []byte, inv *Inventory) []byte {
	b = wire.AppendString(b, inv.EventName)
	b = binary.AppendUvarint(b, uint64(len(inv.Interfaces)))
	for i := range inv.Interfaces {
		ni := &inv.Interfaces[i]
		for _, s := range [...]string{ni.InstanceID, ni.ID, ni.VPCID, ni.SubnetID} {
			b = wire.AppendString(b, s)
		}
		for _, l := range [...][]netip.Addr{ni.Private, ni.Public} {
			b = binary.AppendUvarint(b, uint64(len(l)))
			for _, a := range l {
				b = appendAddr(b, a)
			}
		}
	}
	return b
}

// inventory decodes an Inventory, refusing more than
// MaxInventoryInterfaces interfaces or MaxInventoryAddrs addresses in a
// list, and invalid addresses.
func (r *reader) inventory() *Inventory {
	inv := &Inventory{EventName: r.string()}
	// An interface takes at least six bytes (four empty strings, two
	// empty lists).
	n := r.length(6)
	if r.Err == nil && n > MaxInventoryInterfaces {
		r.Failf("%d inventory interfaces, more than %d", n, MaxInventoryInterfaces)
	}
	if r.Err != nil || n == 0 {
		return inv
	}
	inv.Interfaces = make([]InventoryInterface, n)
	for i := range inv.Interfaces {
		ni := &inv.Interfaces[i]
		for _, p := range [...]*string{&ni.InstanceID, &ni.ID, &ni.VPCID, &ni.SubnetID} {
			*p = r.string()
		}
		for _, l := range [...]*[]netip.Addr{&ni.Private, &ni.Public} {
			// An address takes at least one byte (its length).
			m := r.length(1)
			if r.Err == nil && m > MaxInventoryAddrs {
				r.Failf("%d inventory addresses, more than %d", m, MaxInventoryAddrs)
			}
			if r.Err != nil || m == 0 {
				continue
			}
			*l = make([]netip.Addr, m)
			for j := range *l {
				if (*l)[j] = r.addr(); r.Err == nil && !(*l)[j].IsValid() {
					r.Failf("invalid inventory address")
				}
			}
		}
		if r.Err != nil {
			return inv
		}
	}
	return inv
}
