// Package inventory loads the EC2 inventory file given with --inventory:
// the JSON output of `aws ec2 describe-instances` and/or `aws ec2
// describe-network-interfaces`, which tells which addresses and network
// interfaces belong to which instance. The detectors consult the loaded
// Index, read-only, to orient flow records (profiles/orient.go) and to
// describe instances in findings; CloudTrail teaches the same facts while
// vigil runs (event.Inventory), so the file is optional.
package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vigil-sec/vigil/event"
)

// Bounds of what Load reads. A large account has tens of thousands of
// instances; describe-instances writes about 5 KB per instance.
const (
	MaxFileSize   = 512 << 20
	MaxFiles      = 10000
	MaxInterfaces = 1 << 20
	maxIDLen      = 64
)

// Index answers which inventory facts concern a network entity. It is
// read-only once loaded, so any number of goroutines may use it. A nil
// *Index knows nothing.
type Index struct {
	byEntity map[string]*event.Inventory // instance or interface id
	byAddr   map[netip.Addr]*event.Inventory
	// Instances and Interfaces count what was loaded.
	Instances, Interfaces int
}

// Facts returns the facts about the network entity named entity (an
// instance id, an interface id, or "ip:<addr>"), or nil. The result is
// shared: callers must not modify it.
func (x *Index) Facts(entity string) *event.Inventory {
	if x == nil {
		return nil
	}
	if a, ok := strings.CutPrefix(entity, "ip:"); ok {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return nil
		}
		return x.byAddr[addr.Unmap()]
	}
	return x.byEntity[entity]
}

// Load reads path, a file or a directory of files (*.json, not
// recursively), each holding describe-instances and/or
// describe-network-interfaces output: one JSON object with Reservations
// and/or NetworkInterfaces, or several such objects one after the other.
// Errors name the file and the entry.
func Load(path string) (*Index, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	files := []string{path}
	if fi.IsDir() {
		files, err = filepath.Glob(filepath.Join(path, "*.json"))
		if err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("inventory: %s: no *.json file", path)
		}
		if len(files) > MaxFiles {
			return nil, fmt.Errorf("inventory: %s: %d files, more than %d", path, len(files), MaxFiles)
		}
		slices.Sort(files)
	}
	b := newBuilder()
	for _, name := range files {
		if err := b.file(name); err != nil {
			return nil, err
		}
	}
	return b.index(), nil
}

// Parse reads one document stream from r; name is for errors.
func Parse(name string, r io.Reader) (*Index, error) {
	b := newBuilder()
	if err := b.read(name, r); err != nil {
		return nil, err
	}
	return b.index(), nil
}

// The JSON of the AWS CLI (the EC2 API's shapes), only what is used.
type (
	document struct {
		Reservations      *[]reservation `json:"Reservations"`
		NetworkInterfaces *[]apiENI      `json:"NetworkInterfaces"`
	}
	reservation struct {
		Instances []instance `json:"Instances"`
	}
	instance struct {
		InstanceID        string   `json:"InstanceId"`
		PrivateIPAddress  string   `json:"PrivateIpAddress"`
		PublicIPAddress   string   `json:"PublicIpAddress"`
		VPCID             string   `json:"VpcId"`
		SubnetID          string   `json:"SubnetId"`
		NetworkInterfaces []apiENI `json:"NetworkInterfaces"`
	}
	apiENI struct {
		NetworkInterfaceID string `json:"NetworkInterfaceId"`
		PrivateIPAddress   string `json:"PrivateIpAddress"`
		PrivateIPAddresses []struct {
			PrivateIPAddress string       `json:"PrivateIpAddress"`
			Association      *association `json:"Association"`
		} `json:"PrivateIpAddresses"`
		Ipv6Addresses []struct {
			Ipv6Address string `json:"Ipv6Address"`
		} `json:"Ipv6Addresses"`
		Association *association `json:"Association"`
		Attachment  *struct {
			InstanceID string `json:"InstanceId"`
		} `json:"Attachment"`
		VPCID    string `json:"VpcId"`
		SubnetID string `json:"SubnetId"`
	}
	association struct {
		PublicIP string `json:"PublicIp"`
	}
)

// builder merges the entries of every file: an interface listed by both
// commands is one interface.
type builder struct {
	enis      map[string]*event.InventoryInterface
	own       map[string]*event.InventoryInterface // an instance's addresses no interface holds
	instances map[string]bool
}

func newBuilder() *builder {
	return &builder{enis: map[string]*event.InventoryInterface{}, own: map[string]*event.InventoryInterface{}, instances: map[string]bool{}}
}

func (b *builder) file(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	defer f.Close()
	return b.read(name, f)
}

func (b *builder) read(name string, r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return fmt.Errorf("inventory: %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return fmt.Errorf("inventory: %s: larger than %d bytes", name, MaxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for n := 1; ; n++ {
		var doc document
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			if n == 1 {
				return fmt.Errorf("inventory: %s: empty", name)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("inventory: %s: document %d: %w", name, n, err)
		}
		if doc.Reservations == nil && doc.NetworkInterfaces == nil {
			return fmt.Errorf("inventory: %s: document %d: neither Reservations (describe-instances) nor NetworkInterfaces (describe-network-interfaces)", name, n)
		}
		if doc.Reservations != nil {
			for i, res := range *doc.Reservations {
				for j := range res.Instances {
					if err := b.instance(&res.Instances[j]); err != nil {
						return fmt.Errorf("inventory: %s: document %d: Reservations[%d].Instances[%d]: %w", name, n, i, j, err)
					}
				}
			}
		}
		if doc.NetworkInterfaces != nil {
			for i := range *doc.NetworkInterfaces {
				ni := &(*doc.NetworkInterfaces)[i]
				inst := ""
				if ni.Attachment != nil {
					inst = ni.Attachment.InstanceID
				}
				if err := b.eni(ni, inst); err != nil {
					return fmt.Errorf("inventory: %s: document %d: NetworkInterfaces[%d]: %w", name, n, i, err)
				}
			}
		}
		if len(b.enis)+len(b.own) > MaxInterfaces {
			return fmt.Errorf("inventory: %s: more than %d interfaces", name, MaxInterfaces)
		}
	}
}

func (b *builder) instance(in *instance) error {
	if err := checkID(in.InstanceID, "i-", "InstanceId"); err != nil {
		return err
	}
	b.instances[in.InstanceID] = true
	held := map[netip.Addr]bool{}
	for k := range in.NetworkInterfaces {
		ni := &in.NetworkInterfaces[k]
		if err := b.eni(ni, in.InstanceID); err != nil {
			return fmt.Errorf("NetworkInterfaces[%d]: %w", k, err)
		}
		e := b.enis[ni.NetworkInterfaceID]
		for _, a := range slices.Concat(e.Private, e.Public) {
			held[a] = true
		}
	}
	own := &event.InventoryInterface{InstanceID: in.InstanceID, VPCID: in.VPCID, SubnetID: in.SubnetID}
	if err := addAddr(&own.Private, in.PrivateIPAddress, "PrivateIpAddress"); err != nil {
		return err
	}
	if err := addAddr(&own.Public, in.PublicIPAddress, "PublicIpAddress"); err != nil {
		return err
	}
	own.Private = slices.DeleteFunc(own.Private, func(a netip.Addr) bool { return held[a] })
	own.Public = slices.DeleteFunc(own.Public, func(a netip.Addr) bool { return held[a] })
	if len(own.Private)+len(own.Public) > 0 {
		b.own[in.InstanceID] = own
	}
	return nil
}

// eni merges one interface, attached to instance (or none).
func (b *builder) eni(ni *apiENI, instance string) error {
	if err := checkID(ni.NetworkInterfaceID, "eni-", "NetworkInterfaceId"); err != nil {
		return err
	}
	if instance != "" {
		if err := checkID(instance, "i-", "Attachment.InstanceId"); err != nil {
			return err
		}
	}
	e := b.enis[ni.NetworkInterfaceID]
	if e == nil {
		e = &event.InventoryInterface{ID: ni.NetworkInterfaceID}
		b.enis[ni.NetworkInterfaceID] = e
	}
	if instance != "" {
		e.InstanceID = instance
	}
	if ni.VPCID != "" {
		e.VPCID = ni.VPCID
	}
	if ni.SubnetID != "" {
		e.SubnetID = ni.SubnetID
	}
	errs := []error{addAddr(&e.Private, ni.PrivateIPAddress, "PrivateIpAddress")}
	for _, p := range ni.PrivateIPAddresses {
		errs = append(errs, addAddr(&e.Private, p.PrivateIPAddress, "PrivateIpAddresses.PrivateIpAddress"))
		if p.Association != nil {
			errs = append(errs, addAddr(&e.Public, p.Association.PublicIP, "PrivateIpAddresses.Association.PublicIp"))
		}
	}
	for _, p := range ni.Ipv6Addresses {
		errs = append(errs, addAddr(&e.Private, p.Ipv6Address, "Ipv6Addresses.Ipv6Address"))
	}
	if ni.Association != nil {
		errs = append(errs, addAddr(&e.Public, ni.Association.PublicIP, "Association.PublicIp"))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkID checks an EC2 id: prefix, then lower-case letters and digits.
func checkID(s, prefix, field string) error {
	ok := strings.HasPrefix(s, prefix) && len(s) > len(prefix) && len(s) <= maxIDLen
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z'
	}
	if !ok {
		return fmt.Errorf("%s %q is not an id starting %q", field, s, prefix)
	}
	return nil
}

// addAddr adds the address s (if any) to l, keeping the first
// event.MaxInventoryAddrs.
func addAddr(l *[]netip.Addr, s, field string) error {
	if s == "" {
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return fmt.Errorf("%s %q is not an IP address", field, s)
	}
	if a = a.Unmap(); !slices.Contains(*l, a) && len(*l) < event.MaxInventoryAddrs {
		*l = append(*l, a)
	}
	return nil
}

// index builds the facts of every entity: an instance's are its
// interfaces (sorted by id) and its own addresses; an interface's, itself.
func (b *builder) index() *Index {
	x := &Index{byEntity: map[string]*event.Inventory{}, byAddr: map[netip.Addr]*event.Inventory{}, Instances: len(b.instances), Interfaces: len(b.enis)}
	byInstance := map[string][]event.InventoryInterface{}
	for _, id := range slices.Sorted(maps.Keys(b.enis)) {
		e := b.enis[id]
		facts := &event.Inventory{EventName: "inventory", Interfaces: []event.InventoryInterface{*e}}
		x.byEntity[id] = facts
		for _, a := range slices.Concat(e.Private, e.Public) {
			x.byAddr[a] = facts
		}
		if e.InstanceID != "" {
			byInstance[e.InstanceID] = append(byInstance[e.InstanceID], *e)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(b.own)) {
		e := b.own[id]
		byInstance[id] = append([]event.InventoryInterface{*e}, byInstance[id]...)
		facts := &event.Inventory{EventName: "inventory", Interfaces: []event.InventoryInterface{*e}}
		for _, a := range slices.Concat(e.Private, e.Public) {
			if x.byAddr[a] == nil {
				x.byAddr[a] = facts
			}
		}
	}
	for id, nis := range byInstance {
		if len(nis) > event.MaxInventoryInterfaces {
			nis = nis[:event.MaxInventoryInterfaces]
		}
		x.byEntity[id] = &event.Inventory{EventName: "inventory", Interfaces: nis}
	}
	return x
}
