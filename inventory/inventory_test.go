package inventory

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/event"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestLoadDirectory(t *testing.T) {
	x, err := Load("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if x.Instances != 2 || x.Interfaces != 4 {
		t.Fatalf("%d instances, %d interfaces", x.Instances, x.Interfaces)
	}
	// A public instance: its interface holds both addresses.
	web := x.Facts("i-0598c7d356eba48d7")
	if web == nil || len(web.Interfaces) != 1 {
		t.Fatalf("web facts %+v", web)
	}
	want := event.InventoryInterface{InstanceID: "i-0598c7d356eba48d7", ID: "eni-0c0a29997760baee7",
		VPCID: "vpc-1234567890abcdef0", SubnetID: "subnet-04a636d18e83cfacb",
		Private: addrs("10.0.1.25"), Public: addrs("3.91.171.12")}
	if got := web.Interfaces[0]; got.ID != want.ID || got.InstanceID != want.InstanceID || got.VPCID != want.VPCID ||
		got.SubnetID != want.SubnetID || !slices.Equal(got.Private, want.Private) || !slices.Equal(got.Public, want.Public) {
		t.Fatalf("web interface %+v, want %+v", got, want)
	}
	// An instance with a secondary interface from describe-network-interfaces.
	batch := x.Facts("i-0b1c2d3e4f5a6b7c8")
	if batch == nil || len(batch.Interfaces) != 2 || batch.Interfaces[0].ID != "eni-0a1b2c3d4e5f60002" || batch.Interfaces[1].ID != "eni-0e7f1a2b3c4d5e6f7" {
		t.Fatalf("batch facts %+v", batch)
	}
	if got := batch.Interfaces[0].Private; !slices.Equal(got, addrs("10.0.2.40", "10.0.2.41", "2600:1f18:4a3:6e02:8c2b:1d5e:7f0a:9b31")) {
		t.Fatalf("batch private %v", got)
	}
	// An interface, and an address, name their own interface only.
	if f := x.Facts("eni-0e7f1a2b3c4d5e6f7"); f == nil || len(f.Interfaces) != 1 || f.Interfaces[0].InstanceID != "i-0b1c2d3e4f5a6b7c8" ||
		!slices.Equal(f.Interfaces[0].Public, addrs("52.1.190.200")) {
		t.Fatalf("secondary interface facts %+v", f)
	}
	if f := x.Facts("ip:10.0.2.41"); f == nil || f.Interfaces[0].ID != "eni-0a1b2c3d4e5f60002" {
		t.Fatalf("address facts %+v", f)
	}
	if f := x.Facts("eni-0f00d00d00d00d00d"); f == nil || f.Interfaces[0].InstanceID != "" {
		t.Fatalf("unattached interface facts %+v", f)
	}
	for _, k := range []string{"i-unknown", "ip:10.9.9.9", "ip:nonsense", ""} {
		if x.Facts(k) != nil {
			t.Errorf("facts for %q", k)
		}
	}
	var none *Index
	if none.Facts("i-0598c7d356eba48d7") != nil {
		t.Error("a nil index knows something")
	}
}

// TestBothInOneFile: one file may hold both outputs, as one object or one
// after the other.
func TestBothInOneFile(t *testing.T) {
	a, _ := os.ReadFile("testdata/describe-instances.json")
	b, _ := os.ReadFile("testdata/describe-network-interfaces.json")
	x, err := Parse("both.json", strings.NewReader(string(a)+"\n"+string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if x.Instances != 2 || x.Interfaces != 4 {
		t.Fatalf("%d instances, %d interfaces", x.Instances, x.Interfaces)
	}
	one := `{"Reservations": [], "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.1.1.1"}]}`
	if x, err := Parse("one.json", strings.NewReader(one)); err != nil || x.Facts("eni-1") == nil {
		t.Fatalf("%v %+v", err, x)
	}
}

func TestErrorsNameTheFile(t *testing.T) {
	for name, tc := range map[string]struct{ doc, want string }{
		"not json":      {`{"Reservations": [`, "bad.json: document 1"},
		"empty":         {``, "bad.json: empty"},
		"other command": {`{"Vpcs": []}`, "neither Reservations"},
		"bad id":        {`{"Reservations": [{"Instances": [{"InstanceId": "web-1"}]}]}`, "Reservations[0].Instances[0]: InstanceId \"web-1\""},
		"bad address":   {`{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.300"}]}`, "NetworkInterfaces[0]: PrivateIpAddress \"10.0.0.300\""},
		"bad attach":    {`{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "Attachment": {"InstanceId": "x"}}]}`, "Attachment.InstanceId"},
		"wrong type":    {`{"Reservations": {}}`, "bad.json: document 1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("bad.json", strings.NewReader(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no *.json file") {
		t.Fatalf("empty directory: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("missing file loaded")
	}
	bad := filepath.Join(dir, "x.json")
	os.WriteFile(bad, []byte(`{"NetworkInterfaces": [{"NetworkInterfaceId": "nope"}]}`), 0o600)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error does not name %s: %v", bad, err)
	}
}

// TestBounds: an interface keeps at most event.MaxInventoryAddrs
// addresses per list.
func TestBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "PrivateIpAddresses": [`)
	for i := range 60 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"PrivateIpAddress": "10.0.0.%d"}`, i)
	}
	b.WriteString(`]}]}`)
	x, err := Parse("big.json", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(x.Facts("eni-1").Interfaces[0].Private); n != event.MaxInventoryAddrs {
		t.Fatalf("%d addresses kept", n)
	}
}
