package sources

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/valyala/fastjson"
	"github.com/vigil-sec/vigil/event"
)

// Bounds on the values detectorParams keeps. A bucket policy is at most
// 20 KB (S3's limit); an ACL has at most 100 grants of a few hundred
// bytes; a RunInstances response may launch many instances, of which the
// first maxLaunched are kept with up to maxInstanceAddrs addresses each.
const (
	maxPolicyDoc     = 20 << 10
	maxACLDoc        = 32 << 10
	maxHeaderValue   = 1 << 10
	maxLaunched      = 16
	maxInstanceAddrs = 6
)

// grantHeaders are the x-amz-grant-* headers of PutBucketAcl and
// CreateBucket, each a list of grantees ("uri=...", "id=...").
var grantHeaders = []string{
	"x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write",
	"x-amz-grant-write-acp", "x-amz-grant-full-control",
}

// detectorParams adds to ct.RequestParameters the values some detectors
// evaluate that requestParams does not keep (event.Param*): the account of
// the VPC endpoint, the policy and grants of S3 bucket changes (nested
// objects and arrays), and the instances a RunInstances response
// launched (from inv, its inventory facts). Nothing else of the request
// or response is kept.
func (d *CloudTrailDecoder) detectorParams(w *ctView, ct *event.CloudTrail, inv *event.Inventory) {
	if len(w.vpcEndpointAccount) > 0 {
		d.setParam(ct, event.ParamVPCEndpointAccount, d.in.get(w.vpcEndpointAccount))
	}
	switch ct.EventSource {
	case "s3.amazonaws.com":
		if w.params == nil {
			return
		}
		switch ct.EventName {
		case "PutBucketPolicy":
			if v := w.params.Get("bucketPolicy"); v != nil {
				d.setDoc(ct, event.ParamBucketPolicy, v, maxPolicyDoc)
			}
		case "PutBucketAcl", "CreateBucket":
			if v := w.params.Get("AccessControlPolicy"); v != nil {
				d.setDoc(ct, event.ParamAccessControlPolicy, v, maxACLDoc)
			}
			if v := w.params.Get("x-amz-acl"); v != nil {
				d.setList(ct, event.ParamCannedACL, v)
			}
			for _, h := range grantHeaders {
				if v := w.params.Get(h); v != nil {
					d.setList(ct, event.ParamGrantPrefix+h, v)
				}
			}
		}
	case "ec2.amazonaws.com":
		if ct.EventName == "RunInstances" && inv != nil {
			if s := launched(inv); s != "" {
				d.setParam(ct, event.ParamInstances, s)
			}
		}
	}
}

// setParam sets one request parameter, making the map if the request had
// none.
func (d *CloudTrailDecoder) setParam(ct *event.CloudTrail, k, v string) {
	if ct.RequestParameters == nil {
		if d.params == nil {
			d.params = make(map[string]string, maxParams)
		} else {
			clear(d.params)
		}
		ct.RequestParameters = d.params
	}
	ct.RequestParameters[k] = v
}

// setDoc keeps a policy document: an object as compact JSON, a string (a
// document sent as text) as it is; a larger one is not kept at all, since
// a cut document cannot be evaluated.
func (d *CloudTrailDecoder) setDoc(ct *event.CloudTrail, k string, v *fastjson.Value, max int) {
	var b []byte
	switch v.Type() {
	case fastjson.TypeObject:
		d.scratch = v.MarshalTo(d.scratch[:0])
		b = d.scratch
	case fastjson.TypeString:
		b, _ = v.StringBytes()
	default:
		return
	}
	if len(b) > 0 && len(b) <= max {
		d.setParam(ct, k, string(b))
	}
}

// setList keeps a header that CloudTrail logs as a list of strings (or a
// string), joined with ", ".
func (d *CloudTrailDecoder) setList(ct *event.CloudTrail, k string, v *fastjson.Value) {
	var parts []string
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		parts = append(parts, string(b))
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, e := range a {
			if b, err := e.StringBytes(); err == nil && len(b) > 0 {
				parts = append(parts, string(b))
			}
		}
	}
	if s := strings.Join(parts, ", "); s != "" {
		d.setParam(ct, k, string(truncateUTF8([]byte(s), maxHeaderValue)))
	}
}

// launched lists the instances of a RunInstances response from its
// inventory facts: "<id> <addr>..." per instance, joined by ';', the
// first maxLaunched instances with up to maxInstanceAddrs addresses each,
// private then public per interface (a launching instance has no public
// address yet, as a rule).
func launched(inv *event.Inventory) string {
	var b strings.Builder
	var ids []string
	for _, ni := range inv.Interfaces {
		if ni.InstanceID == "" || slices.Contains(ids, ni.InstanceID) {
			continue
		}
		if len(ids) == maxLaunched {
			break
		}
		ids = append(ids, ni.InstanceID)
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(ni.InstanceID)
		var addrs []netip.Addr
		for _, o := range inv.Interfaces {
			if o.InstanceID != ni.InstanceID {
				continue
			}
			for _, a := range slices.Concat(o.Private, o.Public) {
				if len(addrs) < maxInstanceAddrs && !slices.Contains(addrs, a) {
					addrs = append(addrs, a)
					b.WriteByte(' ')
					b.WriteString(a.String())
				}
			}
		}
	}
	return b.String()
}

// shortString returns v's text if v is a string of at most maxID bytes.
func shortString(v *fastjson.Value) string {
	if v == nil || v.Type() != fastjson.TypeString {
		return ""
	}
	b, _ := v.StringBytes()
	if len(b) > maxID {
		return ""
	}
	return string(b)
}

// Bounds of the inventory facts one record gives (event.Inventory): the
// first maxInventoryInterfaces interfaces and maxInterfaceAddrs addresses
// of each list are kept.
const (
	maxInventoryInterfaces = 32
	maxInterfaceAddrs      = 8
)

// inventoryFacts returns what a successful EC2 call says about which
// addresses and interfaces belong to which instance, or nil: the
// instances RunInstances launched with their interfaces, the interface
// CreateNetworkInterface made, the attachment AttachNetworkInterface
// made, the public address AssociateAddress gave, and the addresses
// AssignPrivateIpAddresses and AssignIpv6Addresses added. Ingest sends
// them to the network entities they name.
//
// Removals (TerminateInstances, DetachNetworkInterface,
// DisassociateAddress, Unassign*) are not facts: an entity's learned
// addresses are never unlearned (profiles/orient.go). AssociateAddress by
// allocation id alone, as in a VPC, does not name the public address, so
// it teaches nothing.
func inventoryFacts(ct *event.CloudTrail, params, resp *fastjson.Object) *event.Inventory {
	if ct.EventSource != "ec2.amazonaws.com" || ct.ErrorCode != "" {
		return nil
	}
	inv := &event.Inventory{EventName: ct.EventName}
	switch ct.EventName {
	case "RunInstances":
		if resp == nil {
			return nil
		}
		for _, it := range items(resp.Get("instancesSet"), "items") {
			id := shortString(it.Get("instanceId"))
			if !strings.HasPrefix(id, "i-") {
				continue
			}
			vpc, subnet := shortString(it.Get("vpcId")), shortString(it.Get("subnetId"))
			named := len(inv.Interfaces)
			for _, v := range items(it.Get("networkInterfaceSet"), "items") {
				ni := interfaceFacts(v)
				ni.InstanceID = id
				addInterface(inv, ni)
			}
			// The instance's own addresses, when no interface holds them.
			ni := event.InventoryInterface{InstanceID: id, VPCID: vpc, SubnetID: subnet}
			addAddr(&ni.Private, it.Get("privateIpAddress"))
			addAddr(&ni.Public, it.Get("ipAddress"))
			if !heldBy(inv.Interfaces[named:], ni.Private) || !heldBy(inv.Interfaces[named:], ni.Public) || len(inv.Interfaces) == named {
				addInterface(inv, ni)
			}
		}
	case "CreateNetworkInterface":
		if resp == nil {
			return nil
		}
		if v := resp.Get("networkInterface"); v != nil {
			ni := interfaceFacts(v)
			ni.InstanceID = shortString(v.Get("attachment", "instanceId"))
			addInterface(inv, ni)
		}
	case "AttachNetworkInterface":
		if params == nil {
			return nil
		}
		addInterface(inv, event.InventoryInterface{
			InstanceID: shortString(params.Get("instanceId")),
			ID:         shortString(params.Get("networkInterfaceId")),
		})
	case "AssociateAddress":
		if params == nil {
			return nil
		}
		ni := event.InventoryInterface{
			InstanceID: shortString(params.Get("instanceId")),
			ID:         shortString(params.Get("networkInterfaceId")),
		}
		addAddr(&ni.Public, params.Get("publicIp"))
		if resp != nil {
			addAddr(&ni.Public, resp.Get("publicIp"))
		}
		addAddr(&ni.Private, params.Get("privateIpAddress"))
		if len(ni.Public) > 0 {
			addInterface(inv, ni)
		}
	case "AssignPrivateIpAddresses", "AssignIpv6Addresses":
		if params == nil {
			return nil
		}
		ni := event.InventoryInterface{ID: shortString(params.Get("networkInterfaceId"))}
		// The addresses asked for, and those assigned (the request may
		// ask for a count only).
		for _, o := range []*fastjson.Object{params, resp} {
			if o == nil {
				continue
			}
			o.Visit(func(k []byte, v *fastjson.Value) { collectAddrs(&ni, v, 4) })
		}
		if len(ni.Private)+len(ni.Public) > 0 {
			addInterface(inv, ni)
		}
	default:
		return nil
	}
	if len(inv.Interfaces) == 0 {
		return nil
	}
	return inv
}

// interfaceFacts reads a CloudTrail networkInterface object (of a
// RunInstances instance or of CreateNetworkInterface).
func interfaceFacts(v *fastjson.Value) event.InventoryInterface {
	ni := event.InventoryInterface{
		ID:       shortString(v.Get("networkInterfaceId")),
		VPCID:    shortString(v.Get("vpcId")),
		SubnetID: shortString(v.Get("subnetId")),
	}
	addAddr(&ni.Private, v.Get("privateIpAddress"))
	for _, p := range items(v.Get("privateIpAddressesSet"), "item") {
		addAddr(&ni.Private, p.Get("privateIpAddress"))
		addAddr(&ni.Public, p.Get("association", "publicIp"))
	}
	for _, p := range items(v.Get("ipv6AddressesSet"), "item") {
		addAddr(&ni.Private, p.Get("ipv6Address"))
	}
	addAddr(&ni.Public, v.Get("association", "publicIp"))
	return ni
}

// collectAddrs adds the addresses under the keys privateIpAddress,
// ipv6Address and publicIp found in v, down to depth levels of nesting
// (CloudTrail wraps lists as {"item": [...]} or {"items": [...]}, and
// some in a further object).
func collectAddrs(ni *event.InventoryInterface, v *fastjson.Value, depth int) {
	if depth == 0 || v == nil {
		return
	}
	switch v.Type() {
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, e := range a {
			if e.Type() == fastjson.TypeString {
				// AssignIpv6Addresses lists assigned addresses as bare
				// strings.
				addAddr(&ni.Private, e)
				continue
			}
			collectAddrs(ni, e, depth-1)
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		o.Visit(func(k []byte, e *fastjson.Value) {
			switch string(k) {
			case "privateIpAddress", "ipv6Address", "ipv6Addresses":
				addAddr(&ni.Private, e)
			case "publicIp":
				addAddr(&ni.Public, e)
			default:
				collectAddrs(ni, e, depth-1)
			}
		})
	}
}

// items returns the array under key of v ({"items": [...]}), or none.
func items(v *fastjson.Value, key string) []*fastjson.Value {
	if v == nil {
		return nil
	}
	a := v.Get(key)
	if a == nil || a.Type() != fastjson.TypeArray {
		return nil
	}
	s, _ := a.Array()
	return s
}

// addAddr appends v's address to *l if it parses, is not there yet, and
// the list has room.
func addAddr(l *[]netip.Addr, v *fastjson.Value) {
	s := shortString(v)
	if s == "" || len(*l) >= maxInterfaceAddrs {
		return
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return
	}
	if a = a.Unmap(); !slices.Contains(*l, a) {
		*l = append(*l, a)
	}
}

// addInterface appends ni to inv if it names an instance or an interface
// and inv has room.
func addInterface(inv *event.Inventory, ni event.InventoryInterface) {
	if !validID(ni.InstanceID, "i-") {
		ni.InstanceID = ""
	}
	if !validID(ni.ID, "eni-") {
		ni.ID = ""
	}
	if ni.InstanceID == "" && ni.ID == "" || len(inv.Interfaces) >= maxInventoryInterfaces {
		return
	}
	inv.Interfaces = append(inv.Interfaces, ni)
}

// validID reports whether s is an EC2 id with prefix: routing keys must
// be plain.
func validID(s, prefix string) bool {
	if !strings.HasPrefix(s, prefix) || len(s) > maxID {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// heldBy reports whether every address of l is held by one of nis.
func heldBy(nis []event.InventoryInterface, l []netip.Addr) bool {
	for _, a := range l {
		held := false
		for _, ni := range nis {
			held = held || slices.Contains(ni.Private, a) || slices.Contains(ni.Public, a)
		}
		if !held {
			return false
		}
	}
	return true
}

// DeriveInventory calls emit with one event per network entity that
// inv, the inventory facts of the CloudTrail event ev, names: its instances
// and interfaces, keyed as flow-log and DNS events key them (instance id,
// else interface id), each with the facts that concern it. The events
// belong to ev's account and region and time, and to the CloudTrail
// source. It returns how many it emitted; the event passed to emit is
// reused after emit returns.
func DeriveInventory(ev *event.Event, inv *event.Inventory, emit func(*event.Event)) int {
	n := 0
	for _, entity := range inv.Entities() {
		facts := inv.ForEntity(entity)
		if facts == nil {
			continue
		}
		d := event.Event{
			Source: event.SourceCloudTrail, Time: ev.Time, Account: ev.Account, Region: ev.Region,
			Kind: event.KindNetwork, Entity: entity, Inventory: facts,
		}
		if checkRouting(&d) != nil {
			continue
		}
		emit(&d)
		n++
	}
	return n
}
