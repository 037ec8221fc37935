package profiles

import (
	"cmp"
	"net/netip"
	"strings"

	"github.com/vigil-sec/vigil/event"
)

// FlowExemplar is what a flow pane keeps of the record at its last event
// time: what a finding shows of the connection. Of two records at that
// time the greater by Compare is kept, so the exemplar, and the finding,
// do not depend on which arrived last.
type FlowExemplar struct {
	Local      netip.Addr `json:"local"`
	Remote     netip.Addr `json:"remote"`
	LocalPort  uint16     `json:"localPort"`
	RemotePort uint16     `json:"remotePort"`
	Protocol   uint8      `json:"protocol"`
	Blocked    bool       `json:"blocked,omitempty"`
	// ENI, VPC and Subnet are the record's interface, VPC and subnet.
	ENI    string `json:"eni,omitempty"`
	VPC    string `json:"vpc,omitempty"`
	Subnet string `json:"subnet,omitempty"`
}

// Compare orders exemplars field by field.
func (x FlowExemplar) Compare(y FlowExemplar) int {
	if c := x.Local.Compare(y.Local); c != 0 {
		return c
	}
	if c := x.Remote.Compare(y.Remote); c != 0 {
		return c
	}
	if c := cmp.Compare(x.LocalPort, y.LocalPort); c != 0 {
		return c
	}
	if c := cmp.Compare(x.RemotePort, y.RemotePort); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Protocol, y.Protocol); c != 0 {
		return c
	}
	if x.Blocked != y.Blocked {
		if x.Blocked {
			return 1
		}
		return -1
	}
	return compareStrings([]string{x.ENI, x.VPC, x.Subnet}, []string{y.ENI, y.VPC, y.Subnet})
}

// kept returns x: its strings are the profile's own already, interned by
// Network.Observe from its interface list (see Network.intern).
func (x FlowExemplar) kept(*FlowExemplar) FlowExemplar { return x }

// Exemplar returns the exemplar of an oriented record.
func (r *OrientedFlow) Exemplar() FlowExemplar {
	return FlowExemplar{
		Local: r.Local, Remote: r.Remote, LocalPort: r.LocalPort, RemotePort: r.RemotePort,
		Protocol: r.Protocol, Blocked: r.Action == event.ActionReject,
		ENI: r.ENI, VPC: r.VPC, Subnet: r.Subnet,
	}
}

func (x *FlowExemplar) encode(e *encoder, prev *FlowExemplar) {
	e.addr(x.Local)
	e.addr(x.Remote)
	e.uint16(x.LocalPort)
	e.uint16(x.RemotePort)
	e.byte(x.Protocol)
	e.bool(x.Blocked)
	e.strRef(x.ENI, prev.ENI)
	e.strRef(x.VPC, prev.VPC)
	e.strRef(x.Subnet, prev.Subnet)
}

func (x *FlowExemplar) decode(d *decoder, prev *FlowExemplar) {
	x.Local = d.addr()
	x.Remote = d.addr()
	x.LocalPort = d.uint16()
	x.RemotePort = d.uint16()
	x.Protocol = d.Byte()
	x.Blocked = d.bool()
	x.ENI = d.strRef("exemplar eni", MaxIDLen, prev.ENI)
	x.VPC = d.strRef("exemplar vpc", MaxIDLen, prev.VPC)
	x.Subnet = d.strRef("exemplar subnet", MaxIDLen, prev.Subnet)
}

// DNSExemplar is what a DNS-tunnelling pane keeps of the query at its last
// event time (see FlowExemplar).
type DNSExemplar struct {
	// Name is the query name, at most MaxDomainLen bytes.
	Name string     `json:"name"`
	Src  netip.Addr `json:"src"`
	VPC  string     `json:"vpc,omitempty"`
	// Owner is the account owning the VPC.
	Owner     string `json:"owner,omitempty"`
	Transport string `json:"transport,omitempty"`
	Blocked   bool   `json:"blocked,omitempty"`
}

// Compare orders exemplars field by field.
func (x DNSExemplar) Compare(y DNSExemplar) int {
	if c := strings.Compare(x.Name, y.Name); c != 0 {
		return c
	}
	if c := x.Src.Compare(y.Src); c != 0 {
		return c
	}
	if c := compareStrings([]string{x.VPC, x.Owner, x.Transport}, []string{y.VPC, y.Owner, y.Transport}); c != 0 {
		return c
	}
	switch {
	case x.Blocked == y.Blocked:
		return 0
	case x.Blocked:
		return 1
	}
	return -1
}

// keepString returns p when s equals it, else a copy of s: s may share
// the memory of a decoded event.
func keepString(s, p string) string {
	if s == p {
		return p
	}
	return strings.Clone(s)
}

// kept copies the strings of x that differ from prev's: they come from a
// decoded event.
func (x DNSExemplar) kept(prev *DNSExemplar) DNSExemplar {
	x.Name = keepString(x.Name, prev.Name)
	x.VPC = keepString(x.VPC, prev.VPC)
	x.Owner = keepString(x.Owner, prev.Owner)
	x.Transport = keepString(x.Transport, prev.Transport)
	return x
}

func (x *DNSExemplar) encode(e *encoder, prev *DNSExemplar) {
	e.strRef(x.Name, prev.Name)
	e.addr(x.Src)
	e.strRef(x.VPC, prev.VPC)
	e.strRef(x.Owner, prev.Owner)
	e.strRef(x.Transport, prev.Transport)
	e.bool(x.Blocked)
}

func (x *DNSExemplar) decode(d *decoder, prev *DNSExemplar) {
	x.Name = d.strRef("exemplar name", MaxDomainLen, prev.Name)
	x.Src = d.addr()
	x.VPC = d.strRef("exemplar vpc", MaxIDLen, prev.VPC)
	x.Owner = d.strRef("exemplar owner", MaxIDLen, prev.Owner)
	x.Transport = d.strRef("exemplar transport", MaxIDLen, prev.Transport)
	x.Blocked = d.bool()
}
