package profiles

import (
	"strings"
	"time"
)

// Credentials is what a principal keeps about the credentials it is used
// with: for a role, the EC2 instances whose instance-profile sessions it
// issues and the addresses they are known to have; for a user, its
// long-term access keys and whether AWS quarantined them.
//
// Every part is a function of the set of events applied: times are mins
// and maxes, the ways a value was learned are unions, and a full list
// keeps its greatest entries by (last seen, key). Detectors decide with
// the state at the time an event is applied, so a decision is exact when
// the facts (a launch, a quarantine) are applied before the calls they
// explain, as CloudTrail delivers them.
type Credentials struct {
	// Instances are sorted by ID.
	Instances []Instance `json:"instances,omitempty"`
	// Keys are the long-term access keys the principal used, sorted by ID.
	Keys []AccessKey `json:"keys,omitempty"`
	// QuarantinedAt is the earliest time an AWSCompromisedKeyQuarantine
	// policy was put on the user, zero if never.
	QuarantinedAt time.Time `json:"quarantinedAt,omitzero"`
}

// Caps of the credential state, and the bytes it takes at most: an
// instance takes about 60 bytes and 30 per address, a key about 40.
const (
	// MaxInstances bounds the instances a role keeps. A full list drops
	// the instance seen least recently (ties: the least id): the
	// instances of a large fleet that are still running stay.
	MaxInstances = 32
	// MaxInstanceAddrs bounds the addresses an instance keeps: its
	// private and public ones from a launch and an association, and
	// those of its calls through its account's VPC endpoints. A full list
	// drops the one seen least recently (ties: the least address).
	MaxInstanceAddrs = 6
	// MaxAccessKeys bounds the long-term keys a user keeps (IAM allows
	// two at a time; rotation adds more over the years). A full list
	// drops the key used least recently.
	MaxAccessKeys = 8
	// MaxCredentialsSize bounds the encoding of a Credentials.
	MaxCredentialsSize = 16 + MaxInstances*(2*maxInstanceIDLen+40+MaxInstanceAddrs*(maxAddrLen+24)) + MaxAccessKeys*(maxKeyIDLen+40)

	maxInstanceIDLen = 32
	maxAddrLen       = 64
	maxKeyIDLen      = 128
)

// How an instance or one of its addresses was learned (bits of Via).
const (
	// ViaSession: a session of the role is named for the instance (its
	// instance-profile credentials made a call).
	ViaSession uint8 = 1 << iota
	// ViaRunInstances: a RunInstances response named it.
	ViaRunInstances
	// ViaInstanceProfile: AssociateIamInstanceProfile named it.
	ViaInstanceProfile
	// ViaAssociateAddress: AssociateAddress gave it the address.
	ViaAssociateAddress
	// ViaVPCEndpoint: the instance's credentials called from the address
	// through a VPC endpoint of the instance's own account.
	ViaVPCEndpoint

	viaAll = ViaSession | ViaRunInstances | ViaInstanceProfile | ViaAssociateAddress | ViaVPCEndpoint
)

// ViaNames returns the names of the bits of via, in bit order.
func ViaNames(via uint8) []string {
	var out []string
	for i, n := range []string{"instance-profile session", "RunInstances", "AssociateIamInstanceProfile", "AssociateAddress", "own VPC endpoint"} {
		if via&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Instance is one EC2 instance a role's sessions are named for, or that
// the role launched or gave an address or instance profile.
type Instance struct {
	ID        string         `json:"id"`
	Via       uint8          `json:"via"`
	FirstSeen time.Time      `json:"firstSeen"`
	LastSeen  time.Time      `json:"lastSeen"`
	Addrs     []InstanceAddr `json:"addrs,omitempty"` // sorted by Addr
}

// InstanceAddr is one address an instance is known to have.
type InstanceAddr struct {
	Addr      string    `json:"addr"`
	Via       uint8     `json:"via"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// AccessKey is one long-term access key a user called with.
type AccessKey struct {
	ID        string    `json:"id"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// DeniedByQuarantine is the earliest time a call with the key was
	// denied by an AWSCompromisedKeyQuarantine policy, zero if never.
	DeniedByQuarantine time.Time `json:"deniedByQuarantine,omitzero"`
}

// Instance returns the instance id, or nil.
func (c *Credentials) Instance(id string) *Instance {
	return find(c.Instances, id, func(e Instance, k string) int { return strings.Compare(e.ID, k) })
}

// Key returns the access key id, or nil.
func (c *Credentials) Key(id string) *AccessKey {
	return find(c.Keys, id, func(e AccessKey, k string) int { return strings.Compare(e.ID, k) })
}

// ObserveInstance records that instance id was learned at t (via), with
// addr if it is not "".
func (c *Credentials) ObserveInstance(id string, via uint8, t time.Time, addr string, addrVia uint8) {
	if id == "" || len(id) > maxInstanceIDLen || len(addr) > maxAddrLen {
		return
	}
	in := observeSeen(&c.Instances, id, t, MaxInstances, instanceLess)
	if in == nil {
		return
	}
	in.Via |= via
	if addr == "" {
		return
	}
	if a := observeSeen(&in.Addrs, addr, t, MaxInstanceAddrs, addrLess); a != nil {
		a.Via |= addrVia
	}
}

// ObserveKey records a call with long-term key id at t; denied says the
// call was denied by a quarantine policy.
func (c *Credentials) ObserveKey(id string, t time.Time, denied bool) {
	if id == "" || len(id) > maxKeyIDLen {
		return
	}
	k := observeSeen(&c.Keys, id, t, MaxAccessKeys, keyLess)
	if k == nil {
		return
	}
	if denied {
		k.DeniedByQuarantine = minNonZero(k.DeniedByQuarantine, t)
	}
}

// ObserveQuarantine records that a quarantine policy was put on the user
// at t.
func (c *Credentials) ObserveQuarantine(t time.Time) {
	c.QuarantinedAt = minNonZero(c.QuarantinedAt, t)
}

// seenEntry is an entry of a credential list: its key, and when it was
// first and last seen; newSeen makes the entry of a key first seen at t.
type seenEntry[E any] interface {
	*E
	seen() (key *string, first, last *time.Time)
}

type newSeen[E any] interface {
	newSeen(key string, t time.Time) E
}

func (in *Instance) seen() (*string, *time.Time, *time.Time) {
	return &in.ID, &in.FirstSeen, &in.LastSeen
}

func (Instance) newSeen(id string, t time.Time) Instance {
	return Instance{ID: strings.Clone(id), FirstSeen: t, LastSeen: t}
}

func (a *InstanceAddr) seen() (*string, *time.Time, *time.Time) {
	return &a.Addr, &a.FirstSeen, &a.LastSeen
}

func (InstanceAddr) newSeen(addr string, t time.Time) InstanceAddr {
	return InstanceAddr{Addr: strings.Clone(addr), FirstSeen: t, LastSeen: t}
}

func (k *AccessKey) seen() (*string, *time.Time, *time.Time) {
	return &k.ID, &k.FirstSeen, &k.LastSeen
}

func (AccessKey) newSeen(id string, t time.Time) AccessKey {
	return AccessKey{ID: strings.Clone(id), FirstSeen: t, LastSeen: t}
}

// observeSeen records that the entry of key in the sorted list *s was seen
// at t, adding it (see insertBounded, with less) when it is not there, and
// returns it, or nil when it was not kept. (It reaches entries through
// pointers into the list only: a local one would move to the heap.)
func observeSeen[E newSeen[E], PE seenEntry[E]](s *[]E, key string, t time.Time, max int, less func(a, b E) bool) *E {
	i, j := 0, len(*s)
	for i < j {
		h := int(uint(i+j) >> 1)
		if k, _, _ := PE(&(*s)[h]).seen(); *k < key {
			i = h + 1
		} else {
			j = h
		}
	}
	found := false
	if i < len(*s) {
		k, _, _ := PE(&(*s)[i]).seen()
		found = *k == key
	}
	if !found {
		var at int
		var zero E
		if *s, at = insertBounded(*s, i, zero.newSeen(key, t), max, less); at < 0 {
			return nil
		}
		i = at
	}
	e := &(*s)[i]
	_, first, last := PE(e).seen()
	*first, *last = minTime(*first, t), maxTime(*last, t)
	return e
}

// instanceLess, addrLess and keyLess order entries for eviction: the
// least is dropped first.
func instanceLess(a, b Instance) bool {
	if !a.LastSeen.Equal(b.LastSeen) {
		return a.LastSeen.Before(b.LastSeen)
	}
	return a.ID < b.ID
}

func addrLess(a, b InstanceAddr) bool {
	if !a.LastSeen.Equal(b.LastSeen) {
		return a.LastSeen.Before(b.LastSeen)
	}
	return a.Addr < b.Addr
}

func keyLess(a, b AccessKey) bool {
	if !a.LastSeen.Equal(b.LastSeen) {
		return a.LastSeen.Before(b.LastSeen)
	}
	return a.ID < b.ID
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func minNonZero(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// encode writes the state, its times relative to ref (the profile's
// latest event time).
func (c *Credentials) encode(e *encoder, ref time.Time) {
	encodeList(e, c.Instances, func(in *Instance) {
		e.str(in.ID)
		e.byte(in.Via)
		e.timeRel(in.LastSeen, ref)
		e.timeRel(in.FirstSeen, in.LastSeen)
		encodeList(e, in.Addrs, func(a *InstanceAddr) {
			e.str(a.Addr)
			e.byte(a.Via)
			e.timeRel(a.LastSeen, ref)
			e.timeRel(a.FirstSeen, a.LastSeen)
		})
	})
	encodeList(e, c.Keys, func(k *AccessKey) {
		e.str(k.ID)
		e.timeRel(k.LastSeen, ref)
		e.timeRel(k.FirstSeen, k.LastSeen)
		e.optTimeRel(k.DeniedByQuarantine, ref)
	})
	e.optTimeRel(c.QuarantinedAt, ref)
}

func decodeCredentials(d *decoder, ref time.Time) Credentials {
	var c Credentials
	via := func() uint8 {
		v := d.Byte()
		if v&^viaAll != 0 {
			d.Failf("credentials: unknown via bits %#x", v)
		}
		return v
	}
	c.Instances = decodeList(d, "instances", MaxInstances, func(in *Instance) {
		in.ID = d.str("instance id", maxInstanceIDLen)
		in.Via = via()
		in.LastSeen = d.timeRel(ref)
		in.FirstSeen = d.timeRel(in.LastSeen)
		in.Addrs = decodeList(d, "instance addresses", MaxInstanceAddrs, func(a *InstanceAddr) {
			a.Addr = d.str("instance address", maxAddrLen)
			a.Via = via()
			a.LastSeen = d.timeRel(ref)
			a.FirstSeen = d.timeRel(a.LastSeen)
		}, func(prev, next *InstanceAddr) bool { return prev.Addr < next.Addr }, "%s: not sorted")
	}, func(prev, next *Instance) bool { return prev.ID < next.ID }, "%s: not sorted")
	c.Keys = decodeList(d, "access keys", MaxAccessKeys, func(k *AccessKey) {
		k.ID = d.str("access key id", maxKeyIDLen)
		k.LastSeen = d.timeRel(ref)
		k.FirstSeen = d.timeRel(k.LastSeen)
		k.DeniedByQuarantine = d.optTimeRel(ref)
	}, func(prev, next *AccessKey) bool { return prev.ID < next.ID }, "%s: not sorted")
	c.QuarantinedAt = d.optTimeRel(ref)
	return c
}
