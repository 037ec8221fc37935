package sources

import (
	"net/netip"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/vigil-sec/vigil/event"
)

func mustAddrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func sameInterface(a, b event.InventoryInterface) bool {
	return a.InstanceID == b.InstanceID && a.ID == b.ID && a.VPCID == b.VPCID && a.SubnetID == b.SubnetID &&
		slices.Equal(a.Private, b.Private) && slices.Equal(a.Public, b.Public)
}

// TestCloudTrailInventory: the EC2 calls that tell which addresses and
// interfaces belong to which instance yield inventory facts; failed calls
// and other calls none.
func TestCloudTrailInventory(t *testing.T) {
	panther, err := os.ReadFile("testdata/cloudtrail/panther_runinstances.json")
	if err != nil {
		t.Fatal(err)
	}
	record := func(name, params, response, extra string) []byte {
		return []byte(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice",` +
			`"accountId":"111122223333","userName":"alice"},"eventTime":"2026-03-08T21:44:02Z","eventSource":"ec2.amazonaws.com","eventName":"` + name + `",` +
			`"awsRegion":"us-east-1","sourceIPAddress":"198.51.100.20","requestParameters":` + params + `,"responseElements":` + response + `,` +
			`"eventID":"e-1","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"` + extra + `}`)
	}
	for _, c := range []struct {
		name string
		rec  []byte
		want []event.InventoryInterface // nil: no facts
	}{
		{"run instances (Panther)", panther, []event.InventoryInterface{{
			InstanceID: "i-07d06021b0da55115", ID: "eni-03ac9043f76fab96c", VPCID: "vpc-0330bfd33da75b36e",
			SubnetID: "subnet-083e5906ef2809ac2", Private: mustAddrs("192.168.1.95")}}},
		{"run instances with public addresses", record("RunInstances", `{"instanceType":"t3.micro"}`,
			`{"instancesSet":{"items":[{"instanceId":"i-0d7e4b9be8a0de6ea","privateIpAddress":"10.0.1.5","ipAddress":"54.74.1.10","vpcId":"vpc-1","subnetId":"subnet-1",`+
				`"networkInterfaceSet":{"items":[{"networkInterfaceId":"eni-0aa","privateIpAddress":"10.0.1.5","association":{"publicIp":"54.74.1.10"},"vpcId":"vpc-1","subnetId":"subnet-1",`+
				`"privateIpAddressesSet":{"item":[{"privateIpAddress":"10.0.1.5"},{"privateIpAddress":"10.0.1.6"}]},"ipv6AddressesSet":{"item":[{"ipv6Address":"2600:1f18::5"}]}}]}},`+
				`{"instanceId":"i-0bbb","privateIpAddress":"10.0.3.3"},{"instanceId":"not an instance","privateIpAddress":"10.0.4.4"}]}}`, ""),
			[]event.InventoryInterface{
				{InstanceID: "i-0d7e4b9be8a0de6ea", ID: "eni-0aa", VPCID: "vpc-1", SubnetID: "subnet-1",
					Private: mustAddrs("10.0.1.5", "10.0.1.6", "2600:1f18::5"), Public: mustAddrs("54.74.1.10")},
				{InstanceID: "i-0bbb", Private: mustAddrs("10.0.3.3")},
			}},
		{"failed run instances", record("RunInstances", `{}`, `{"instancesSet":{"items":[{"instanceId":"i-0bbb","privateIpAddress":"10.0.3.3"}]}}`,
			`,"errorCode":"Client.UnauthorizedOperation"`), nil},
		{"create network interface", record("CreateNetworkInterface", `{"subnetId":"subnet-2"}`,
			`{"networkInterface":{"networkInterfaceId":"eni-0cc","subnetId":"subnet-2","vpcId":"vpc-2","privateIpAddress":"10.0.5.5",`+
				`"privateIpAddressesSet":{"item":[{"privateIpAddress":"10.0.5.5","primary":true}]},"ipv6AddressesSet":{}}}`, ""),
			[]event.InventoryInterface{{ID: "eni-0cc", VPCID: "vpc-2", SubnetID: "subnet-2", Private: mustAddrs("10.0.5.5")}}},
		{"attach network interface", record("AttachNetworkInterface", `{"networkInterfaceId":"eni-0cc","instanceId":"i-0bbb","deviceIndex":1}`,
			`{"attachmentId":"eni-attach-1"}`, ""), []event.InventoryInterface{{InstanceID: "i-0bbb", ID: "eni-0cc"}}},
		{"associate address", record("AssociateAddress", `{"instanceId":"i-0bbb","publicIp":"203.0.113.25"}`, `{"return":true}`, ""),
			[]event.InventoryInterface{{InstanceID: "i-0bbb", Public: mustAddrs("203.0.113.25")}}},
		{"associate address by allocation id", record("AssociateAddress", `{"allocationId":"eipalloc-1","networkInterfaceId":"eni-0cc"}`,
			`{"associationId":"eipassoc-1"}`, ""), nil},
		{"assign private addresses", record("AssignPrivateIpAddresses",
			`{"networkInterfaceId":"eni-0cc","privateIpAddressesSet":{"item":[{"privateIpAddress":"10.0.5.9"}]}}`,
			`{"networkInterfaceId":"eni-0cc","assignedPrivateIpAddressesSet":{"assignedPrivateIpAddressSetType":[{"privateIpAddress":"10.0.5.9"}]}}`, ""),
			[]event.InventoryInterface{{ID: "eni-0cc", Private: mustAddrs("10.0.5.9")}}},
		{"assign IPv6 addresses", record("AssignIpv6Addresses", `{"networkInterfaceId":"eni-0cc","ipv6AddressCount":1}`,
			`{"networkInterfaceId":"eni-0cc","assignedIpv6Addresses":{"items":["2600:1f18::9"]}}`, ""),
			[]event.InventoryInterface{{ID: "eni-0cc", Private: mustAddrs("2600:1f18::9")}}},
		{"another call", record("DescribeInstances", `{}`, `{"instancesSet":{"items":[{"instanceId":"i-0bbb","privateIpAddress":"10.0.3.3"}]}}`, ""), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d CloudTrailDecoder
			evs, _, err := decodeAll(d.Decode, c.rec)
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events, %v", len(evs), err)
			}
			inv := evs[0].Inventory
			if c.want == nil {
				if inv != nil {
					t.Fatalf("facts %+v", inv)
				}
				return
			}
			if inv == nil || len(inv.Interfaces) != len(c.want) {
				t.Fatalf("facts %+v, want %+v", inv, c.want)
			}
			for i := range c.want {
				if !sameInterface(inv.Interfaces[i], c.want[i]) {
					t.Errorf("interface %d = %+v, want %+v", i, inv.Interfaces[i], c.want[i])
				}
			}
			// One event per entity named, keyed like flow events.
			var derived []event.Event
			n := DeriveInventory(&evs[0], inv, func(e *event.Event) { derived = append(derived, *e) })
			if n != len(inv.Entities()) || len(derived) != n {
				t.Fatalf("%d derived events for %v", n, inv.Entities())
			}
			for _, e := range derived {
				if e.Kind != event.KindNetwork || e.Source != event.SourceCloudTrail || e.Account != "111122223333" || e.CloudTrail != nil ||
					e.Inventory == nil || !e.Time.Equal(evs[0].Time) {
					t.Errorf("derived %+v", e)
				}
				for _, ni := range e.Inventory.Interfaces {
					if ni.InstanceID != e.Entity && ni.ID != e.Entity {
						t.Errorf("%s got the facts of %+v", e.Entity, ni)
					}
				}
				b, _ := e.MarshalBinary()
				var back event.Event
				if err := back.UnmarshalBinary(b); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestCloudTrailInventoryBounds: a response launching many instances
// with many addresses yields bounded facts.
func TestCloudTrailInventoryBounds(t *testing.T) {
	var items []byte
	for i := range 100 {
		if i > 0 {
			items = append(items, ',')
		}
		var addrs []byte
		for k := range 30 {
			if k > 0 {
				addrs = append(addrs, ',')
			}
			addrs = append(addrs, `{"privateIpAddress":"10.`+strconv.Itoa(i)+`.0.`+strconv.Itoa(k)+`"}`...)
		}
		items = append(items, `{"instanceId":"i-`+strconv.Itoa(1000+i)+`","networkInterfaceSet":{"items":[{"networkInterfaceId":"eni-`+strconv.Itoa(1000+i)+
			`","privateIpAddressesSet":{"item":[`+string(addrs)+`]}}]}}`...)
	}
	rec := []byte(`{"eventVersion":"1.09","userIdentity":{"type":"Root","principalId":"1","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},` +
		`"eventTime":"2026-03-08T21:44:02Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.20",` +
		`"requestParameters":{},"responseElements":{"instancesSet":{"items":[` + string(items) + `]}},"eventID":"e","eventType":"AwsApiCall","recipientAccountId":"111122223333"}`)
	var d CloudTrailDecoder
	evs, _, err := decodeAll(d.Decode, rec)
	if err != nil || len(evs) != 1 || evs[0].Inventory == nil {
		t.Fatalf("%v %+v", err, evs)
	}
	inv := evs[0].Inventory
	if len(inv.Interfaces) != maxInventoryInterfaces || len(inv.Interfaces[0].Private) != maxInterfaceAddrs {
		t.Fatalf("%d interfaces, %d addresses", len(inv.Interfaces), len(inv.Interfaces[0].Private))
	}
}

// FuzzCloudTrailInventory: whatever an EC2 response holds, the facts are
// bounded and the derived events route and encode.
func FuzzCloudTrailInventory(f *testing.F) {
	if b, err := os.ReadFile("testdata/cloudtrail/panther_runinstances.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root","accountId":"111122223333"},"eventTime":"2026-03-08T21:44:02Z",` +
		`"eventSource":"ec2.amazonaws.com","eventName":"AssignPrivateIpAddresses","awsRegion":"us-east-1","requestParameters":{"networkInterfaceId":"eni-1",` +
		`"privateIpAddressesSet":{"item":[{"privateIpAddress":"10.0.5.9"},["2600::1",[{"publicIp":"1.2.3.4"}]]]}},"responseElements":{"a":{"b":{"c":{"d":["10.1.1.1"]}}}}}`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		evs, _, _ := decodeAll(NewCloudTrailDecoder(Limits{}).Decode, rec)
		for i := range evs {
			inv := evs[i].Inventory
			if inv == nil {
				continue
			}
			if len(inv.Interfaces) > maxInventoryInterfaces {
				t.Fatalf("%d interfaces", len(inv.Interfaces))
			}
			for _, ni := range inv.Interfaces {
				if len(ni.Private) > maxInterfaceAddrs || len(ni.Public) > maxInterfaceAddrs || ni.ID == "" && ni.InstanceID == "" {
					t.Fatalf("interface %+v", ni)
				}
			}
			DeriveInventory(&evs[i], inv, func(d *event.Event) {
				if err := checkRouting(d); err != nil {
					t.Fatal(err)
				}
				b, _ := d.MarshalBinary()
				var back event.Event
				if err := back.UnmarshalBinary(b); err != nil {
					t.Fatalf("derived event does not decode: %v", err)
				}
			})
		}
	})
}
