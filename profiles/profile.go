// Package profiles holds the behavioural profile of every entity vigil
// watches — a principal (IAM user, role or root) or a network entity
// (instance or network interface) — and its compact binary encoding.
//
// A profile is what remains of the raw logs: identity, counters, bounded
// sets of what the entity has been seen doing, and the short event-time
// windows the detectors count in.
//
// Same input, same output: a profile is a function of the set of events
// applied to it, not of the order in which they arrived (an entity's
// events come from several partitions, interleaved differently on every
// run). Counts are sums, times are mins and maxes, "latest" fields are
// chosen by (event time, value), sets keep their greatest entries by an
// order of their own (never by arrival), windows are keyed by event time,
// and a flow record's direction is decided by addresses learned from the
// set of records (orient.go). Exactness is lost only when a documented cap
// overflows or an event is later than a documented horizon (DedupeHorizon,
// WindowLateness); each cap says which.
//
// Everything in it is bounded. Every set has a cap (the Max* constants,
// each documented with why), and windows expire by event time, so a
// profile cannot grow without limit however hard an attacker drives the
// entity: MaxPrincipalSize and MaxNetworkSize bound the encodings. A
// profile is not safe for concurrent use; its entity actor owns it.
//
// The encoding (MarshalBinary, Unmarshal) is a version byte, a kind byte,
// then varints and length-prefixed strings (see codec.go). It is what the
// shards store in Pebble and append to the changelog, so it is compact;
// the JSON form (the exported, json-tagged fields) is for the admin
// endpoint.
package profiles

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/event"
)

// Profile is the behavioural profile of one entity.
type Profile interface {
	// Kind is the kind of entity the profile describes.
	Kind() event.EntityKind
	// MarshalBinary returns the compact encoding of the profile.
	MarshalBinary() ([]byte, error)
	// UnmarshalBinary replaces the profile with the one encoded in b.
	UnmarshalBinary(b []byte) error
}

// Caps on what a profile holds. A full set keeps its greatest entries by
// (last seen, value) unless documented otherwise: adding a value older
// than all of them does not add it.
const (
	// MaxIDLen bounds identity strings (account, region, entity, ARNs,
	// ids): an IAM ARN is at most 2048 characters.
	MaxIDLen = 2048
	// MaxValueLen bounds a remembered free-form value (a user agent, a
	// source "IP" that is a host name). Longer values are cut: the prefix
	// identifies the client, and an attacker cannot inflate the profile
	// with megabyte user agents.
	MaxValueLen = 512
	// MaxAPIs bounds a principal's API set. A busy automation role uses a
	// few hundred distinct APIs; enumeration tools call many more, and
	// beyond 512 the least recently used drop out (about 40 KB at most).
	MaxAPIs = 512
	// MaxSourceIPs bounds a principal's source addresses: people and
	// services use a handful; a principal seen from more than 64 recent
	// addresses is already anomalous, and the recent ones are kept.
	MaxSourceIPs = 64
	// MaxUserAgents bounds a principal's user agents (SDK and CLI versions
	// of a few clients).
	MaxUserAgents = 32
	// MaxENIs bounds the network interfaces of a network entity: the
	// largest instance types attach at most 15 (50 on a few), and the
	// recent ones are what findings name.
	MaxENIs = 16
	// MaxLocalAddrs bounds the learned local addresses of a network
	// entity: an interface has a primary and a few secondary private
	// addresses (at most 50 on the largest types). A full set keeps the
	// smallest addresses, an order that needs no time.
	MaxLocalAddrs = 32
	// MaxWindowPorts, MaxFanoutAddrs and MaxWindowNames are the distinct
	// keys a window counts (MaxWindowKeys): detection thresholds are
	// clamped to them.
	MaxWindowPorts = MaxWindowKeys
	MaxFanoutAddrs = MaxWindowKeys
	MaxWindowNames = MaxWindowKeys
	// MaxDomainLen is the longest DNS name (253 characters).
	MaxDomainLen = 253

	// MaxPrincipalSize bounds the encoding of a principal: identity
	// strings of MaxIDLen bytes, every set full of values of MaxValueLen
	// bytes with their counts and times, MaxDedupeIDs event ids, and the
	// detection state (baseline, sign-ins, instance credentials,
	// attack-sequence signals, custom-rule windows) full of maximal
	// strings: megabytes that no real principal approaches (one seen a few
	// times takes about 250 bytes, a busy one a few KB; vigil eval prints
	// the median and p99 over the evaluation data).
	MaxPrincipalSize = 4*MaxIDLen + 64 + (MaxAPIs+MaxSourceIPs+MaxUserAgents)*(MaxValueLen+24) + MaxDedupeIDs*18 + MaxCredentialsSize +
		MaxBaselineSize + maxConsoleLoginsSize + maxSignalsSize + maxRuleCountsSize
	// MaxNetworkSize bounds the encoding of a network profile whose
	// identifiers (interface, VPC, subnet, instance ids) have AWS's
	// lengths, about 25 bytes: every list full, every pane full of keys
	// with its own exemplar, IPv6 remotes (about 125 KB, see
	// TestNetworkCaps; a quiet instance takes under 200 bytes).
	// The detection state added since (inventory, baseline, attack
	// windows, DNS models, beacons) adds its own bounds.
	MaxNetworkSize = 256<<10 + MaxInventorySize + MaxNetBaselineSize + maxAttackWindowsSize + MaxDNSModelsSize + MaxBeaconsSize
)

// Header is the identity and bookkeeping every profile carries.
type Header struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Entity  string `json:"entity"`
	// Events counts the events applied.
	Events uint64 `json:"events"`
	// FirstEvent and LastEvent are the earliest and latest event times
	// seen (event time, never the wall clock).
	FirstEvent time.Time `json:"firstEvent"`
	LastEvent  time.Time `json:"lastEvent"`
}

func newHeader(account, region, entity string) Header {
	return Header{
		Account: clip(account, MaxIDLen),
		Region:  clip(region, MaxIDLen),
		Entity:  clip(entity, MaxIDLen),
	}
}

// observe counts one event at time t. The first event sets both times,
// so that no time (not even the zero time) is taken for "none".
func (h *Header) observe(t time.Time) {
	h.Events++
	if h.Events == 1 || t.Before(h.FirstEvent) {
		h.FirstEvent = t
	}
	if h.Events == 1 || t.After(h.LastEvent) {
		h.LastEvent = t
	}
}

// encode writes the header; the profile's other times are written
// relative to LastEvent.
func (h *Header) encode(e *encoder) {
	e.str(h.Account)
	e.str(h.Region)
	e.str(h.Entity)
	e.uvarint(h.Events)
	e.time(h.LastEvent)
	e.timeRel(h.FirstEvent, h.LastEvent)
}

func (h *Header) decode(d *decoder) {
	h.Account = d.str("account", MaxIDLen)
	h.Region = d.str("region", MaxIDLen)
	h.Entity = d.str("entity", MaxIDLen)
	h.Events = d.Uvarint()
	h.LastEvent = d.time()
	h.FirstEvent = d.timeRel(h.LastEvent)
}

// New returns the empty profile of an entity of the given kind, or nil if
// kind is not a profiled kind.
func New(kind event.EntityKind, account, region, entity string) Profile {
	switch kind {
	case event.KindPrincipal:
		return NewPrincipal(account, region, entity)
	case event.KindNetwork:
		return NewNetwork(account, region, entity)
	}
	return nil
}

// Unmarshal decodes a profile of the given kind from b.
func Unmarshal(kind event.EntityKind, b []byte) (Profile, error) {
	var p Profile
	switch kind {
	case event.KindPrincipal:
		p = &Principal{}
	case event.KindNetwork:
		p = &Network{}
	default:
		return nil, fmt.Errorf("profiles: unmarshal: unknown entity kind %d", kind)
	}
	if err := p.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return p, nil
}

// HeaderOf returns the header of a profile, or nil for a type this package
// does not define.
func HeaderOf(p Profile) *Header {
	switch p := p.(type) {
	case *Principal:
		return &p.Header
	case *Network:
		return &p.Header
	}
	return nil
}

// keep sets *dst to s cut to n bytes, copying it only when it changes: a
// decoded event's strings share one buffer, and a long-lived profile must
// not hold a whole event alive through one of them.
func keep(dst *string, s string, n int) {
	if s = clip(s, n); *dst != s {
		*dst = strings.Clone(s)
	}
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-4 && s[i]&0xc0 == 0x80 {
		i--
	}
	return s[:i]
}
