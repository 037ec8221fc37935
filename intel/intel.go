// Package intel holds threat-intelligence sets: the domain and address
// lists that threat-intel findings match against. A Set is built once (Load, LoadFS or
// Default) and never changes afterwards, so any number of detectors may
// read it concurrently without locking.
package intel

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"sync"

	"golang.org/x/net/publicsuffix"
)

// Set is an immutable collection of threat lists. The zero Set matches
// nothing.
type Set struct {
	// crypto maps a listed crypto-currency domain to the index of the first
	// list (in list-name order) that holds it.
	crypto map[string]int
	// lists are the names of the threat lists, sorted.
	lists []string
	// ips and prefixes map a listed address, or a listed network, to
	// the IP list holding it (an index into ipLists); trusted holds the
	// addresses and networks of the trusted lists, which no IP match
	// may fall in.
	ips      map[listedAddr]int
	prefixes []listedPrefix
	ipLists  []ipList
	trusted  []netip.Prefix
}

// IPKind says what an IP list lists.
type IPKind uint8

const (
	// TorExit lists the exit relays of the Tor network.
	TorExit IPKind = iota + 1
	// Malicious lists addresses seen attacking or serving malware.
	Malicious
)

// ipDirs are the subdirectories of a list directory that hold IP lists,
// by kind.
var ipDirs = []struct {
	dir  string
	kind IPKind
}{{"tor", TorExit}, {"malicious", Malicious}}

type ipList struct {
	name string
	kind IPKind
}

type listedAddr struct {
	addr netip.Addr
	kind IPKind
}

type listedPrefix struct {
	prefix netip.Prefix
	list   int
}

// IPMatch is an address found on an IP list.
type IPMatch struct {
	Kind IPKind
	// List is the list's name, Entry the line that matched (an address
	// or a network).
	List, Entry string
}

// maxLine bounds a list file's line; longer lines are an error rather than
// a silent truncation.
const maxLine = 64 << 10

// List files are recognised by these extensions; anything else in a list
// directory (README, SOURCE.md, licences) is ignored.
var listExts = []string{".txt", ".list", ".hosts"}

// Load reads the threat lists in directory dir (see LoadFS).
func Load(dir string) (*Set, error) {
	s, err := LoadFS(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("intel: load %s: %w", dir, err)
	}
	return s, nil
}

// LoadFS reads the threat lists at the top level of fsys. Every file ending
// in .txt, .list or .hosts is a crypto-currency domain list named after the
// file without its extension, except files whose name begins with "trusted":
// those are trusted lists, and a threat-list entry equal to a trusted entry
// is dropped. One entry per line, in any of these forms:
//
//	minexmr.com                      a domain
//	0.0.0.0 minexmr.com              a hosts-file line (every name after the address)
//	||minexmr.com^$third-party       an adblock domain rule (options ignored)
//
// Blank lines and lines starting with '#' or '!' are comments, as is
// anything after " #". Entries that are not domains (IP addresses,
// "ip:port", URLs, adblock path rules) are skipped, and so are entries that
// are public suffixes ("ddns.net"), which would match every site under them.
//
// The subdirectories tor and malicious hold IP lists, of Tor exit relays
// and of malicious addresses: one address or network (CIDR) per line,
// comments as above, anything else skipped. Addresses and networks in the
// trusted lists are never matched.
func LoadFS(fsys fs.FS) (*Set, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	type list struct {
		name    string
		domains []string
	}
	var threat []list
	trusted := map[string]bool{}
	var trustedIPs []netip.Prefix
	for _, e := range entries {
		if !isListFile(e) {
			continue
		}
		name := e.Name()
		base := strings.TrimSuffix(name, path.Ext(name))
		isTrusted := strings.HasPrefix(base, "trusted")
		var domains []string
		err := eachLine(fsys, name, func(line string) {
			domains = appendEntries(domains, line)
			if isTrusted {
				trustedIPs = appendIP(trustedIPs, line)
			}
		})
		if err != nil {
			return nil, err
		}
		if isTrusted {
			for _, d := range domains {
				trusted[d] = true
			}
			continue
		}
		threat = append(threat, list{base, domains})
	}
	slices.SortFunc(threat, func(a, b list) int { return strings.Compare(a.name, b.name) })
	s := &Set{crypto: map[string]int{}, ips: map[listedAddr]int{}, trusted: trustedIPs}
	if err := s.loadIPLists(fsys); err != nil {
		return nil, err
	}
	for _, l := range threat {
		if i := len(s.lists); i > 0 && s.lists[i-1] == l.name {
			return nil, fmt.Errorf("two list files named %q", l.name)
		}
		idx := len(s.lists)
		s.lists = append(s.lists, l.name)
		for _, d := range l.domains {
			if _, dup := s.crypto[d]; !dup && !trusted[d] {
				s.crypto[d] = idx
			}
		}
	}
	return s, nil
}

// loadIPLists reads the IP lists of the ipDirs subdirectories, in kind
// and then name order; an address on several lists of a kind counts for
// the first.
func (s *Set) loadIPLists(fsys fs.FS) error {
	for _, d := range ipDirs {
		entries, err := fs.ReadDir(fsys, d.dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range entries { // ReadDir sorts by name
			if !isListFile(e) {
				continue
			}
			name := e.Name()
			var prefixes []netip.Prefix
			if err := eachLine(fsys, path.Join(d.dir, name), func(line string) { prefixes = appendIP(prefixes, line) }); err != nil {
				return err
			}
			idx := len(s.ipLists)
			s.ipLists = append(s.ipLists, ipList{strings.TrimSuffix(name, path.Ext(name)), d.kind})
			for _, p := range prefixes {
				if !p.IsSingleIP() {
					s.prefixes = append(s.prefixes, listedPrefix{p, idx})
					continue
				}
				k := listedAddr{p.Addr(), d.kind}
				if _, dup := s.ips[k]; !dup {
					s.ips[k] = idx
				}
			}
		}
	}
	return nil
}

// appendIP appends the address (as a single-address prefix) or network of
// one list line to out; anything else adds nothing.
func appendIP(out []netip.Prefix, line string) []netip.Prefix {
	line = strings.TrimSpace(line)
	if i := strings.IndexAny(line, " \t#"); i >= 0 {
		line = line[:i]
	}
	if p, err := netip.ParsePrefix(line); err == nil {
		return append(out, p.Masked())
	}
	if a, err := netip.ParseAddr(line); err == nil {
		a = a.Unmap()
		return append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out
}

// IP returns the IP lists addr is on, at most one match per kind (the
// first list of the kind by name, an address entry before a network), or
// none when a trusted list holds it.
func (s *Set) IP(addr netip.Addr) []IPMatch {
	if s == nil || !addr.IsValid() || len(s.ipLists) == 0 {
		return nil
	}
	addr = addr.Unmap()
	for _, t := range s.trusted {
		if t.Contains(addr) {
			return nil
		}
	}
	var out []IPMatch
	add := func(list int, entry string) {
		l := s.ipLists[list]
		if !slices.ContainsFunc(out, func(m IPMatch) bool { return m.Kind == l.kind }) {
			out = append(out, IPMatch{Kind: l.kind, List: l.name, Entry: entry})
		}
	}
	for _, d := range ipDirs {
		if i, ok := s.ips[listedAddr{addr, d.kind}]; ok {
			add(i, addr.String())
		}
	}
	for _, p := range s.prefixes {
		if p.prefix.Contains(addr) {
			add(p.list, p.prefix.String())
		}
	}
	return out
}

// isListFile reports whether a directory entry is a list file: a regular,
// not hidden file with one of listExts.
func isListFile(e fs.DirEntry) bool {
	name := e.Name()
	return e.Type().IsRegular() && !strings.HasPrefix(name, ".") && slices.Contains(listExts, path.Ext(name))
}

// eachLine calls fn with every line of the list file name.
func eachLine(fsys fs.FS, name string, fn func(line string)) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		fn(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// appendEntries appends the domains of one list line to out.
func appendEntries(out []string, line string) []string {
	line = strings.TrimSpace(line)
	if i := strings.Index(line, " #"); i >= 0 {
		line = strings.TrimSpace(line[:i])
	}
	if line == "" || line[0] == '#' || line[0] == '!' || line[0] == '[' {
		return out
	}
	if rule, ok := strings.CutPrefix(line, "||"); ok {
		host, _, ok := strings.Cut(rule, "^")
		if d, valid := normalize(host); ok && valid {
			out = append(out, d)
		}
		return out
	}
	fields := strings.Fields(line)
	if len(fields) > 1 {
		// A hosts-file line: an address, then one or more names.
		if _, err := netip.ParseAddr(fields[0]); err != nil {
			return out
		}
		fields = fields[1:]
	}
	for _, f := range fields {
		if d, ok := normalize(f); ok {
			out = append(out, d)
		}
	}
	return out
}

// normalize returns s as a list entry: lower case, without a trailing dot
// or a leading "*.", and reports whether it is a usable domain: ASCII
// letters, digits, '-' and '_' in 1–63-byte labels that do not start or
// end with '-', at least two labels, an ICANN top-level domain, and not
// itself a public suffix.
func normalize(s string) (string, bool) {
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	s = strings.TrimPrefix(s, "*.")
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return "", false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return "", false
	}
	// The top-level domain must be a real one: this drops address
	// fragments ("1.2.3"), file names from adblock path rules
	// ("cryptonight.wasm") and placeholders ("my.domain").
	if _, icann := publicsuffix.PublicSuffix(s[strings.LastIndexByte(s, '.')+1:]); !icann {
		return "", false
	}
	if ps, _ := publicsuffix.PublicSuffix(s); ps == s {
		return "", false
	}
	return s, true
}

// CryptoDomain reports whether name, or one of its parent domains, is on a
// crypto-currency list: "pool.minexmr.com" matches an entry "minexmr.com".
// It returns the entry that matched, the most specific first, and the name
// of the list holding it. Case and a trailing dot are ignored.
func (s *Set) CryptoDomain(name string) (match, list string, ok bool) {
	if s == nil || len(s.crypto) == 0 {
		return "", "", false
	}
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	for name != "" {
		if i, ok := s.crypto[name]; ok {
			return name, s.lists[i], true
		}
		dot := strings.IndexByte(name, '.')
		if dot < 0 {
			break
		}
		name = name[dot+1:]
	}
	return "", "", false
}

// Len returns the number of crypto-currency domains in s.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.crypto)
}

// Lists returns the names of s's threat lists, sorted.
func (s *Set) Lists() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.lists)
}

// builtin holds the lists of intel/lists; see lists/SOURCE.md.
//
//go:embed lists/*.txt lists/tor/*.txt lists/malicious/*.txt
var builtin embed.FS

// defaultSet parses the built-in lists once; the Set is immutable, so
// sharing it is safe.
var defaultSet = sync.OnceValues(func() (*Set, error) {
	sub, err := fs.Sub(builtin, "lists")
	if err != nil {
		return nil, err
	}
	return LoadFS(sub)
})

// Default returns the built-in set: the crypto-mining domain lists of
// maltrail, NoCoin and panther-analysis, the GuardDuty tester's crypto
// indicator domain as list "vigil-test", the Tor exit relays of
// SecOps-Institute/Tor-IP-Addresses and ipsum's addresses seen on three
// or more blocklists. The same immutable Set is
// returned on every call.
func Default() *Set {
	s, err := defaultSet()
	if err != nil {
		// The embedded lists are fixed at build time and covered by tests;
		// an empty set is the safe answer to an impossible error.
		return &Set{}
	}
	return s
}

// errNoLists is returned by defaultErr when the embedded lists are broken;
// it exists for the package's own tests.
var errNoLists = errors.New("intel: built-in lists are empty")

// defaultErr returns the built-in set or the error that Default hides.
func defaultErr() (*Set, error) {
	s, err := defaultSet()
	if err != nil {
		return nil, err
	}
	if s.Len() == 0 {
		return nil, errNoLists
	}
	return s, nil
}
