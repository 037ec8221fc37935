package detect

import (
	"net/netip"
	"strings"

	"github.com/vigil-sec/vigil/event"
	"github.com/vigil-sec/vigil/findings"
	"github.com/vigil-sec/vigil/profiles"
)

// Helpers shared by the flow-log and DNS detectors.

// TCP flags as VPC flow logs record them (spec §5.2): OR'ed over the
// aggregation interval, only FIN, SYN, RST and SYN-ACK (which sets the ACK
// bit) appear.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

const (
	protoTCP = 6
	protoUDP = 17
)

// ephemeralFloor is the lowest port Linux hands out as a client port
// (32768–60999; Windows uses 49152–65535). A service listens below it.
const ephemeralFloor = 32768

// initiated reports whether the record's source opened the connection, so
// that a server's replies (which go from its service port to the client's
// many ephemeral ports) are not taken for connection attempts. With TCP
// flags (flow logs version 3+) a new connection shows SYN without the ACK
// of a SYN-ACK. Without flags, the record is a reply when it comes from
// the lower port and that port is below the ephemeral range: the client
// side of a connection has the ephemeral port.
func initiated(f *profiles.FlowRecord) bool {
	if f.Protocol == protoTCP && f.TCPFlags != 0 {
		return f.TCPFlags&tcpSYN != 0 && f.TCPFlags&tcpACK == 0
	}
	return !(f.SrcPort < f.DstPort && f.SrcPort < ephemeralFloor)
}

// instanceLabel names the entity in titles: its instance id, interface id
// or, for DNS queries from an unnamed source, its address. It is the
// entity key, so that a finding's title does not depend on which record
// raised it.
func instanceLabel(n *profiles.Network, ev *event.Event) string {
	return strings.TrimPrefix(entityKey(&n.Header, ev), "ip:")
}

// instanceID is the instance behind a network entity: the entity when it
// is an instance (its records name it), else the one its inventory names
// (an interface attached to it), else none.
func instanceID(n *profiles.Network, ev *event.Event) string {
	if k := entityKey(&n.Header, ev); strings.HasPrefix(k, "i-") {
		return k
	}
	return n.Inventory.InstanceID
}

// instanceResource describes the instance and the network interface
// behind a network finding, naming both when known. ni is the interface
// (with its VPC and subnet) of the connection; local is the entity's own
// address in it.
func instanceResource(instance string, ni findings.NetworkInterface, local netip.Addr) findings.Resource {
	d := &findings.InstanceDetails{InstanceID: instance}
	if a := local.Unmap(); a.Is4() && profiles.IsPrivate(a) {
		ni.PrivateIPAddress = a.String()
	} else if a.Is4() {
		ni.PublicIP = a.String() // oriented by the inventory: its public address
	}
	if ni.NetworkInterfaceID != "" || ni.PrivateIPAddress != "" || ni.PublicIP != "" || ni.VpcID != "" || ni.SubnetID != "" {
		d.NetworkInterfaces = []findings.NetworkInterface{ni}
	}
	return findings.Resource{ResourceType: findings.ResourceInstance, InstanceDetails: d}
}

// flowResource is the resource of a window's connection.
func flowResource(n *profiles.Network, ev *event.Event, x *profiles.FlowExemplar) findings.Resource {
	r := instanceResource(instanceID(n, ev),
		findings.NetworkInterface{NetworkInterfaceID: x.ENI, VpcID: x.VPC, SubnetID: x.Subnet}, x.Local)
	describeInterface(n, r.InstanceDetails, x.Local)
	return r
}

// connectionAction is the NETWORK_CONNECTION action of a window's
// connection.
func connectionAction(x *profiles.FlowExemplar, outbound bool) findings.Action {
	dir := findings.DirectionInbound
	if outbound {
		dir = findings.DirectionOutbound
	}
	local := &findings.LocalIPDetails{}
	if a := x.Local.Unmap(); a.Is4() {
		local.IPAddressV4 = a.String()
	} else {
		local.IPAddressV6 = a.String()
	}
	return findings.Action{
		ActionType: findings.ActionNetworkConnection,
		NetworkConnectionAction: &findings.NetworkConnectionAction{
			ConnectionDirection:   dir,
			RemoteIPDetails:       remoteIP(x.Remote),
			RemotePortDetails:     &findings.PortDetails{Port: int(x.RemotePort), PortName: findings.PortName(int(x.RemotePort))},
			LocalPortDetails:      &findings.PortDetails{Port: int(x.LocalPort), PortName: findings.PortName(int(x.LocalPort))},
			LocalIPDetails:        local,
			Protocol:              findings.ProtocolName(x.Protocol),
			Blocked:               x.Blocked,
			LocalNetworkInterface: x.ENI,
		},
	}
}
