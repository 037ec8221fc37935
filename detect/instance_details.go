package detect

import (
	"net/netip"

	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// describeInterface completes a network finding's instanceDetails from
// the entity's inventory (profiles/inventory.go: CloudTrail's EC2
// responses and the --inventory file): the interface of the connection,
// found by its id or else by the local address, gives what the flow
// record does not carry: its private and public addresses, and on a
// version-2 log its VPC and subnet. What the record says is kept.
//
// The inventory is part of the profile, not of a detection window: a
// finding raised before the entity's inventory facts arrived, and not
// updated since, describes the instance as the records alone do.
func describeInterface(n *profiles.Network, d *findings.InstanceDetails, local netip.Addr) {
	inv := &n.Inventory
	if len(inv.Interfaces) == 0 {
		return
	}
	var id string
	if len(d.NetworkInterfaces) > 0 {
		id = d.NetworkInterfaces[0].NetworkInterfaceID
	}
	ni, ok := inv.Interface(id)
	if !ok {
		if ni, ok = inv.Holder(local); !ok {
			return
		}
	}
	if len(d.NetworkInterfaces) == 0 {
		d.NetworkInterfaces = []findings.NetworkInterface{{}}
	}
	out := &d.NetworkInterfaces[0]
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&out.NetworkInterfaceID, ni.ID)
	fill(&out.VpcID, ni.VPCID)
	fill(&out.SubnetID, ni.SubnetID)
	for _, a := range ni.Private {
		if !a.Is4() {
			out.Ipv6Addresses = append(out.Ipv6Addresses, a.String())
			continue
		}
		fill(&out.PrivateIPAddress, a.String())
		out.PrivateIPAddresses = append(out.PrivateIPAddresses, findings.PrivateIPAddress{PrivateIPAddress: a.String()})
	}
	for _, a := range ni.Public {
		if a.Is4() {
			fill(&out.PublicIP, a.String())
		} else {
			out.Ipv6Addresses = append(out.Ipv6Addresses, a.String())
		}
	}
}
