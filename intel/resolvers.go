package intel

import (
	"errors"
	"io/fs"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// ResolverKind says which encrypted DNS service a resolver list lists.
type ResolverKind uint8

const (
	// DoH lists public DNS-over-HTTPS resolvers (lists/doh): addresses
	// that answer DNS queries over HTTPS on TCP 443.
	DoH ResolverKind = iota
	// DoT lists public DNS-over-TLS resolvers (lists/dot), TCP 853.
	DoT
	numResolverKinds
)

// resolverDirs are the list directories of the resolver kinds.
var resolverDirs = [numResolverKinds]string{DoH: "doh", DoT: "dot"}

func (k ResolverKind) String() string {
	if k < numResolverKinds {
		return resolverDirs[k]
	}
	return "ResolverKind(" + strconv.Itoa(int(k)) + ")"
}

// resolverSet holds the resolver lists: they are no threat lists, so IP
// never matches them, and a trusted list does not hide them.
type resolverSet struct {
	idx   [numResolverKinds]prefixIndex
	names [numResolverKinds][]string
}

// read reads the doh and dot directories of fsys, or of base (when not
// nil) for a directory fsys lacks, as LoadOverBuiltin does for the other
// kinds. One address or network per line; comments as in the IP lists.
func (r *resolverSet) read(fsys, base fs.FS) error {
	for k, dir := range resolverDirs {
		from := fsys
		if base != nil {
			if _, err := fs.Stat(fsys, dir); errors.Is(err, fs.ErrNotExist) {
				from = base
			}
		}
		entries, err := fs.ReadDir(from, dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range entries { // sorted by name: the first list holding an entry names it
			if !isListFile(e) {
				continue
			}
			var prefixes []netip.Prefix
			if err := eachLine(from, path.Join(dir, e.Name()), func(line string) { prefixes = appendIP(prefixes, line) }); err != nil {
				return err
			}
			v := len(r.names[k])
			r.names[k] = append(r.names[k], strings.TrimSuffix(e.Name(), path.Ext(e.Name())))
			for _, p := range prefixes {
				r.idx[k].add(p, v)
			}
		}
	}
	return nil
}

// ResolverMatch is an address found on a resolver list.
type ResolverMatch struct {
	// List is the list's name, Entry the entry that matched (an address
	// or a network).
	List, Entry string
}

// Resolver returns the resolver list of kind k that holds addr: the most
// specific entry, of the first list by name holding it. Only publicly
// routable addresses match.
func (s *Set) Resolver(k ResolverKind, addr netip.Addr) (ResolverMatch, bool) {
	if s == nil || k >= numResolverKinds || !addr.IsValid() {
		return ResolverMatch{}, false
	}
	addr = addr.Unmap()
	if !routable(addr) {
		return ResolverMatch{}, false
	}
	p, i, ok := s.resolvers.idx[k].lookup(addr)
	if !ok {
		return ResolverMatch{}, false
	}
	entry := p.String()
	if p.IsSingleIP() {
		entry = p.Addr().String()
	}
	return ResolverMatch{List: s.resolvers.names[k][i], Entry: entry}, true
}
