// Package awsranges tells whether an address belongs to AWS, and to which
// region and services, from AWS's published ip-ranges.json.
//
// AWS publishes every public prefix it announces, with its region and
// service (EC2, S3, CLOUDFRONT, ... and AMAZON for all of them), at
// https://ip-ranges.amazonaws.com/ip-ranges.json. vigil reads a copy of
// that file (--aws-ip-ranges); it never fetches it. Without one it uses a
// small bundled subset (fallback.json), enough for tests and for the
// largest EC2 blocks, but not a complete list: Complete reports which, so
// that a detector never takes "not in the subset" for "outside AWS".
package awsranges

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
)

// Bounds on a ranges file: the published file is about 2 MB with some
// 10,000 prefixes; these leave room for growth and refuse anything else.
const (
	MaxFileSize = 64 << 20
	MaxPrefixes = 500_000
	maxNameLen  = 64
)

// Range is what the list says of one prefix. Several entries of the file
// for the same prefix (AMAZON and EC2, say) are one Range.
type Range struct {
	Prefix             netip.Prefix `json:"prefix"`
	Region             string       `json:"region"`
	NetworkBorderGroup string       `json:"networkBorderGroup,omitempty"`
	// Services are the services of the prefix, sorted (AMAZON, EC2, ...).
	Services []string `json:"services"`
}

// Ranges is a loaded list. It is immutable: one may serve any number of
// goroutines.
type Ranges struct {
	// byLen holds the ranges by prefix length, for lookups by the longest
	// match: lens lists the lengths present, longest first.
	byLen    map[int]map[netip.Prefix]*Range
	lens     []int
	n        int
	source   string
	created  string
	complete bool
}

// file is the layout of ip-ranges.json.
type file struct {
	SyncToken  string `json:"syncToken"`
	CreateDate string `json:"createDate"`
	Prefixes   []struct {
		IPPrefix           string `json:"ip_prefix"`
		Region             string `json:"region"`
		Service            string `json:"service"`
		NetworkBorderGroup string `json:"network_border_group"`
	} `json:"prefixes"`
	IPv6Prefixes []struct {
		IPv6Prefix         string `json:"ipv6_prefix"`
		Region             string `json:"region"`
		Service            string `json:"service"`
		NetworkBorderGroup string `json:"network_border_group"`
	} `json:"ipv6_prefixes"`
}

// Load reads an ip-ranges.json file. The list is taken as complete.
func Load(path string) (*Ranges, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("aws ip ranges: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads an ip-ranges.json document from r; source names it in
// errors and in Source. The list is taken as complete.
func Parse(r io.Reader, source string) (*Ranges, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("aws ip ranges %s: %w", source, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("aws ip ranges %s: larger than %d bytes", source, MaxFileSize)
	}
	return parse(b, source, true)
}

//go:embed fallback.json
var fallbackJSON []byte

// Fallback returns the bundled subset (see README.md beside this file): EC2
// and CloudFront prefixes of the largest regions. It is not complete.
func Fallback() *Ranges { return fallback() }

// fallback parses the bundled subset once; the list is immutable.
var fallback = sync.OnceValue(func() *Ranges {
	r, err := parse(fallbackJSON, "bundled subset", false)
	if err != nil {
		panic("awsranges: bundled fallback: " + err.Error()) // a build error, caught by the tests
	}
	return r
})

func parse(b []byte, source string, complete bool) (*Ranges, error) {
	var f file
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&f); err != nil {
		return nil, fmt.Errorf("aws ip ranges %s: %w", source, err)
	}
	if n := len(f.Prefixes) + len(f.IPv6Prefixes); n > MaxPrefixes {
		return nil, fmt.Errorf("aws ip ranges %s: %d prefixes, more than %d", source, n, MaxPrefixes)
	}
	r := &Ranges{byLen: map[int]map[netip.Prefix]*Range{}, source: source, created: clip(f.CreateDate), complete: complete}
	add := func(i int, text, region, service, nbg string) error {
		p, err := netip.ParsePrefix(text)
		if err != nil {
			return fmt.Errorf("aws ip ranges %s: prefix %d: %w", source, i, err)
		}
		return r.add(p, clip(region), clip(service), clip(nbg))
	}
	for i, p := range f.Prefixes {
		if err := add(i, p.IPPrefix, p.Region, p.Service, p.NetworkBorderGroup); err != nil {
			return nil, err
		}
	}
	for i, p := range f.IPv6Prefixes {
		if err := add(len(f.Prefixes)+i, p.IPv6Prefix, p.Region, p.Service, p.NetworkBorderGroup); err != nil {
			return nil, err
		}
	}
	if r.n == 0 {
		return nil, fmt.Errorf("aws ip ranges %s: %w", source, errEmpty)
	}
	for l := range r.byLen {
		r.lens = append(r.lens, l)
	}
	slices.SortFunc(r.lens, func(a, b int) int { return b - a })
	return r, nil
}

var errEmpty = errors.New("no prefixes")

func (r *Ranges) add(p netip.Prefix, region, service, nbg string) error {
	if p.Masked() != p {
		return fmt.Errorf("aws ip ranges %s: %s has host bits set", r.source, p)
	}
	// IPv4 prefixes are keyed by their 4-byte form, lengths of IPv6 ones
	// offset by 1000 so that the two families never share a map.
	l := p.Bits()
	if p.Addr().Is6() {
		l += 1000
	}
	m := r.byLen[l]
	if m == nil {
		m = map[netip.Prefix]*Range{}
		r.byLen[l] = m
	}
	e := m[p]
	if e == nil {
		e = &Range{Prefix: p, Region: region, NetworkBorderGroup: nbg}
		m[p] = e
		r.n++
	}
	if service != "" && !slices.Contains(e.Services, service) {
		e.Services = append(e.Services, service)
		slices.Sort(e.Services)
	}
	// A prefix listed with two regions keeps the lesser name, so that the
	// result does not depend on the file's order.
	if region != "" && (e.Region == "" || region < e.Region) {
		e.Region = region
	}
	return nil
}

// Lookup returns the most specific range that holds addr. A nil list
// knows no range.
func (r *Ranges) Lookup(addr netip.Addr) (Range, bool) {
	if r == nil || !addr.IsValid() {
		return Range{}, false
	}
	addr = addr.Unmap()
	for _, l := range r.lens {
		bits := l
		if addr.Is6() {
			if l < 1000 {
				continue
			}
			bits -= 1000
		} else if l >= 1000 {
			continue
		}
		p, err := addr.Prefix(bits)
		if err != nil {
			continue
		}
		if e := r.byLen[l][p]; e != nil {
			return *e, true
		}
	}
	return Range{}, false
}

// Len returns the number of distinct prefixes.
func (r *Ranges) Len() int {
	if r == nil {
		return 0
	}
	return r.n
}

// Complete reports whether the list is AWS's whole published file (one
// loaded with Load or Parse), so that an address it does not hold is
// outside AWS; the bundled subset is not.
func (r *Ranges) Complete() bool { return r != nil && r.complete }

// Source names where the list came from: a file path or "bundled subset".
func (r *Ranges) Source() string {
	if r == nil {
		return ""
	}
	return r.source
}

// Created is the file's createDate ("2026-11-30-21-13-09").
func (r *Ranges) Created() string {
	if r == nil {
		return ""
	}
	return r.created
}

// String describes the list for logs and evidence.
func (r *Ranges) String() string {
	if r == nil {
		return "no AWS ip ranges"
	}
	s := fmt.Sprintf("%s (%d prefixes", r.source, r.n)
	if r.created != "" {
		s += ", created " + r.created
	}
	if !r.complete {
		s += ", incomplete"
	}
	return s + ")"
}

// clip bounds a name taken from the file.
func clip(s string) string {
	if len(s) > maxNameLen {
		s = s[:maxNameLen]
	}
	return strings.ToValidUTF8(s, "")
}
