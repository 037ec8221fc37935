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
func initiated(f *event.Flow) bool {
	if f.Protocol == protoTCP && f.TCPFlags != 0 {
		return f.TCPFlags&tcpSYN != 0 && f.TCPFlags&tcpACK == 0
	}
	return !(f.SrcPort < f.DstPort && f.SrcPort < ephemeralFloor)
}

// instanceLabel names the entity in titles: the instance id, else the
// network interface, else the entity key.
func instanceLabel(n *profiles.Network, ev *event.Event) string {
	switch {
	case ev.Flow != nil && ev.Flow.InstanceID != "":
		return ev.Flow.InstanceID
	case ev.DNS != nil && ev.DNS.InstanceID != "":
		return ev.DNS.InstanceID
	case n.InstanceID != "":
		return n.InstanceID
	case ev.Flow != nil && ev.Flow.InterfaceID != "":
		return ev.Flow.InterfaceID
	}
	if e, ok := n.LatestENI(); ok {
		return e.ID
	}
	// DNS queries from an unnamed source are keyed "ip:<addr>".
	return strings.TrimPrefix(entityKey(&n.Header, ev), "ip:")
}

// instanceResource describes the instance and the network interface
// behind a network finding, naming both when known. vpcID is the VPC the
// record names; local is the entity's own address in the record.
func instanceResource(n *profiles.Network, ev *event.Event, local netip.Addr) findings.Resource {
	d := &findings.InstanceDetails{InstanceID: n.InstanceID}
	var ni findings.NetworkInterface
	switch {
	case ev.Flow != nil:
		f := ev.Flow
		if f.InstanceID != "" {
			d.InstanceID = f.InstanceID
		}
		ni = findings.NetworkInterface{NetworkInterfaceID: f.InterfaceID, VpcID: f.VPCID, SubnetID: f.SubnetID}
	case ev.DNS != nil:
		if ev.DNS.InstanceID != "" {
			d.InstanceID = ev.DNS.InstanceID
		}
		if e, ok := n.LatestENI(); ok {
			ni = findings.NetworkInterface{NetworkInterfaceID: e.ID, VpcID: e.VPCID, SubnetID: e.SubnetID}
		}
		if ev.DNS.VPCID != "" {
			ni.VpcID = ev.DNS.VPCID
		}
	}
	if a := local.Unmap(); a.Is4() {
		ni.PrivateIPAddress = a.String()
	}
	if ni.NetworkInterfaceID != "" || ni.PrivateIPAddress != "" || ni.VpcID != "" || ni.SubnetID != "" {
		d.NetworkInterfaces = []findings.NetworkInterface{ni}
	}
	return findings.Resource{ResourceType: findings.ResourceInstance, InstanceDetails: d}
}

// connectionAction is the NETWORK_CONNECTION action of a flow record.
func connectionAction(f *event.Flow, o profiles.Orientation) findings.Action {
	dir := findings.DirectionInbound
	switch {
	case !o.Known:
		dir = findings.DirectionUnknown
	case o.Outbound:
		dir = findings.DirectionOutbound
	}
	local := &findings.LocalIPDetails{}
	if a := o.Local.Unmap(); a.Is4() {
		local.IPAddressV4 = a.String()
	} else {
		local.IPAddressV6 = a.String()
	}
	return findings.Action{
		ActionType: findings.ActionNetworkConnection,
		NetworkConnectionAction: &findings.NetworkConnectionAction{
			ConnectionDirection:   dir,
			RemoteIPDetails:       remoteIP(o.Remote),
			RemotePortDetails:     &findings.PortDetails{Port: int(o.RemotePort), PortName: findings.PortName(int(o.RemotePort))},
			LocalPortDetails:      &findings.PortDetails{Port: int(o.LocalPort), PortName: findings.PortName(int(o.LocalPort))},
			LocalIPDetails:        local,
			Protocol:              findings.ProtocolName(f.Protocol),
			Blocked:               f.Action == event.ActionReject,
			LocalNetworkInterface: f.InterfaceID,
		},
	}
}
