// Package intel holds threat-intelligence sets: the domain and address
// lists that threat-intel findings match against — the built-in open
// lists, and customer threat and trusted lists in GuardDuty's formats
// (ParseList, format_*.go). A Set is built once (Load, LoadFS,
// LoadOverBuiltin or Default) and never changes afterwards, so any number
// of detectors may read it concurrently without locking; a Reloader
// replaces a running node's set whole when its list files change.
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
	// lists are the names of the crypto-currency domain lists, sorted.
	lists []string
	// ipLists are the IP and customer lists, by kind and then name; the
	// indexes map a listed address or network of each kind to the first
	// of them holding it. trusted holds the addresses and networks of the
	// trusted lists, which no match may fall in.
	ipLists []ipList
	ips     [numKinds]prefixIndex
	trusted prefixIndex
	// listed4 marks the IPv4 /24s any network of ips touches.
	listed4 v4Filter
	// feeds are the domains of the directory lists, by kind (kinds.go).
	feeds [numKinds]feedIndex
	// domains are the customer threat lists' domains; trustedDomains the
	// trusted lists' domains, which no domain match may be.
	domains        domainIndex
	trustedDomains domainIndex
	// info describes every list, for status pages.
	info []ListInfo
	// resolvers are the public DoH and DoT resolver lists (resolvers.go).
	resolvers resolverSet
}

// IPKind says what an IP list lists.
type IPKind uint8

const (
	// TorExit lists the exit relays of the Tor network.
	TorExit IPKind = iota + 1
	// Malicious lists addresses seen attacking or serving malware.
	Malicious
	// Custom is a customer threat list (see LoadFS): its matches raise
	// the .Custom finding types.
	Custom

	numKinds = int(lastKind) + 1 // see kinds.go for the kinds after Custom
)

func (k IPKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("IPKind(%d)", uint8(k))
}

type ipList struct {
	name string
	kind IPKind
}

// IPMatch is an address found on an IP list.
type IPMatch struct {
	Kind IPKind
	// List is the list's name, Entry the entry that matched (an address
	// or a network).
	List, Entry string
}

// DomainMatch is a domain found on a customer threat list.
type DomainMatch struct {
	// List is the list's name, Entry the entry that matched: the domain,
	// or the wildcard "*.parent" that holds it.
	List, Entry string
}

// ListInfo describes one list of a Set.
type ListInfo struct {
	Name string `json:"name"`
	// Kind is crypto (crypto-currency domains), an IPKind's name (tor,
	// malicious, tor-relays, c2, …), threat (a customer threat list) or
	// trusted.
	Kind string `json:"kind"`
	// Format is the customer list's format; empty for the others.
	Format Format `json:"format,omitempty"`
	// Entries counts the list's entries, Skipped the indicators of other
	// types its file carried (URLs, hashes).
	Entries int  `json:"entries"`
	Skipped int  `json:"skipped,omitempty"`
	Builtin bool `json:"builtin,omitempty"`
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

// LoadOverBuiltin reads directory dir as LoadFS does, except that a kind of
// list dir has none of — no crypto-currency domain list at its top level,
// no subdirectory of the kind (tor, malicious, c2, …) — is taken from the
// built-in lists: a
// directory holding only custom/ adds customer lists to the built-in
// ones. An empty tor/ or malicious/ directory turns that built-in kind off.
func LoadOverBuiltin(dir string) (*Set, error) {
	s, err := loadOver(os.DirFS(dir), builtinFS())
	if err != nil {
		return nil, fmt.Errorf("intel: load %s: %w", dir, err)
	}
	return s, nil
}

func builtinFS() fs.FS {
	sub, err := fs.Sub(builtin, "lists")
	if err != nil {
		panic(err) // "lists" is a valid path: impossible
	}
	return sub
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
// trusted lists are never matched. The subdirectories of the other kinds
// (kinds.go: tor-relays, c2, log4j, sinkhole, droppoint, driveby,
// phishing, dga) hold addresses, networks and domains; the
// crypto-currency lists' addresses ("ip" or "ip:port") are the
// CryptoMining kind's.
//
// The subdirectory custom holds customer lists in GuardDuty's formats,
// named by the manifest custom/lists.json (see readCustom): threat lists,
// whose addresses match as kind Custom and whose domains match Domain, and
// trusted lists, whose addresses and domains match nothing, on any list.
func LoadFS(fsys fs.FS) (*Set, error) {
	return loadOver(fsys, nil)
}

// loadOver reads fsys, taking the kinds it has no lists of from base (when
// not nil).
func loadOver(fsys, base fs.FS) (*Set, error) {
	b := &builder{trustedCrypto: map[string]bool{}}
	ownCrypto := true
	if base != nil {
		has, err := hasDomainLists(fsys)
		if err != nil {
			return nil, err
		}
		if !has {
			ownCrypto = false
			if err := b.readDomainLists(base, true, true); err != nil {
				return nil, err
			}
		}
	}
	// The directory's trusted files always apply; its crypto lists when it
	// has them.
	if err := b.readDomainLists(fsys, ownCrypto, false); err != nil {
		return nil, err
	}
	for _, k := range kindDirs {
		from, isBase := fsys, false
		if base != nil {
			if _, err := fs.Stat(fsys, k.String()); errors.Is(err, fs.ErrNotExist) {
				from, isBase = base, true
			}
		}
		if err := b.readIPDir(from, k.String(), k, isBase); err != nil {
			return nil, err
		}
	}
	if err := b.readCustom(fsys); err != nil {
		return nil, err
	}
	if err := b.resolvers.read(fsys, base); err != nil {
		return nil, err
	}
	return b.build()
}

// builder collects lists before indexing them into a Set.
type builder struct {
	crypto        []domainList
	trustedCrypto map[string]bool
	ip            []ipSource
	trustedIPs    []netip.Prefix
	custom        []*List
	resolvers     resolverSet
}

type domainList struct {
	name    string
	domains []string
	builtin bool
}

type ipSource struct {
	ipList
	prefixes []netip.Prefix
	domains  []feedDomain // the directory lists' domains
	builtin  bool
}

// hasDomainLists reports whether fsys has a crypto-currency domain list
// (a list file not named trusted*) at its top level.
func hasDomainLists(fsys fs.FS) (bool, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if isListFile(e) && !strings.HasPrefix(e.Name(), "trusted") {
			return true, nil
		}
	}
	return false, nil
}

// readDomainLists reads the top-level list files of fsys: its
// crypto-currency lists when lists is set, and its trusted files.
func (b *builder) readDomainLists(fsys fs.FS, lists, builtin bool) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !isListFile(e) {
			continue
		}
		name := e.Name()
		base := strings.TrimSuffix(name, path.Ext(name))
		isTrusted := strings.HasPrefix(base, "trusted")
		if !isTrusted && !lists {
			continue
		}
		var domains []string
		var ips []netip.Prefix
		err := eachLine(fsys, name, func(line string) {
			domains = appendEntries(domains, line)
			if isTrusted {
				b.trustedIPs = appendIP(b.trustedIPs, line)
			} else {
				ips = appendIPPort(ips, line) // mining pools' addresses
			}
		})
		if err != nil {
			return err
		}
		if isTrusted {
			for _, d := range domains {
				b.trustedCrypto[d] = true
			}
			continue
		}
		b.crypto = append(b.crypto, domainList{base, domains, builtin})
		if len(ips) > 0 {
			b.ip = append(b.ip, ipSource{ipList: ipList{base, CryptoMining}, prefixes: ips, builtin: builtin})
		}
	}
	return nil
}

// readIPDir reads the IP lists of directory dir of fsys, of kind k.
func (b *builder) readIPDir(fsys fs.FS, dir string, k IPKind, builtin bool) error {
	entries, err := fs.ReadDir(fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
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
		var domains []feedDomain
		err := eachLine(fsys, path.Join(dir, name), func(line string) {
			n := len(prefixes)
			if prefixes = appendIPPort(prefixes, line); len(prefixes) == n {
				domains = appendDomain(domains, line)
			}
		})
		if err != nil {
			return err
		}
		b.ip = append(b.ip, ipSource{ipList{strings.TrimSuffix(name, path.Ext(name)), k}, prefixes, domains, builtin})
	}
	return nil
}

// build indexes the lists: crypto lists by name, IP lists by kind and
// then name, customer lists by name (an entry on several lists of a kind
// counts for the first).
func (b *builder) build() (*Set, error) {
	s := &Set{crypto: map[string]int{}, resolvers: b.resolvers}
	slices.SortStableFunc(b.crypto, func(x, y domainList) int { return strings.Compare(x.name, y.name) })
	for _, l := range b.crypto {
		if i := len(s.lists); i > 0 && s.lists[i-1] == l.name {
			return nil, fmt.Errorf("two list files named %q", l.name)
		}
		idx := len(s.lists)
		s.lists = append(s.lists, l.name)
		n := 0
		for _, d := range l.domains {
			if _, dup := s.crypto[d]; !dup && !b.trustedCrypto[d] {
				s.crypto[d] = idx
				n++
			}
		}
		s.info = append(s.info, ListInfo{Name: l.name, Kind: "crypto", Entries: n, Builtin: l.builtin})
	}
	for _, p := range b.trustedIPs {
		s.trusted.add(p, 0)
	}
	slices.SortStableFunc(b.custom, func(x, y *List) int { return strings.Compare(x.Name, y.Name) })
	for _, l := range b.custom {
		if l.Kind != KindTrusted {
			b.ip = append(b.ip, ipSource{ipList: ipList{l.Name, Custom}, prefixes: l.Prefixes})
			continue
		}
		for _, p := range l.Prefixes {
			s.trusted.add(p, 0)
		}
		for _, d := range l.Domains {
			s.trustedDomains.add(d, false, 0)
		}
		for _, d := range l.Wildcards {
			s.trustedDomains.add(d, true, 0)
		}
	}
	slices.SortStableFunc(b.ip, func(x, y ipSource) int {
		if x.kind != y.kind {
			return int(x.kind) - int(y.kind)
		}
		return strings.Compare(x.name, y.name)
	})
	for _, l := range b.ip {
		idx := len(s.ipLists)
		s.ipLists = append(s.ipLists, l.ipList)
		if s.listed4 == nil {
			s.listed4 = newV4Filter()
		}
		for _, p := range l.prefixes {
			s.ips[l.kind].add(p, idx)
			s.listed4.add(p)
		}
		n := len(l.prefixes)
		for _, d := range l.domains {
			if !b.trustedCrypto[d.name] {
				s.feeds[l.kind].add(d, idx)
				n++
			}
		}
		if l.kind != Custom {
			s.info = append(s.info, ListInfo{Name: l.name, Kind: l.kind.String(), Entries: n, Builtin: l.builtin})
		}
	}
	for _, l := range b.custom {
		s.info = append(s.info, ListInfo{Name: l.Name, Kind: string(l.Kind), Format: l.Format, Entries: l.Len(), Skipped: l.Skipped})
		if l.Kind == KindTrusted {
			continue
		}
		idx := slices.IndexFunc(s.ipLists, func(x ipList) bool { return x.kind == Custom && x.name == l.Name })
		for _, d := range l.Domains {
			s.domains.add(d, false, idx)
		}
		for _, d := range l.Wildcards {
			s.domains.add(d, true, idx)
		}
	}
	return s, nil
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

// IP returns the IP lists addr is on, at most one match per kind in kind
// order: the most specific entry of the kind (an address before a
// network, a smaller network before a larger), of the first list by name
// holding it. It returns none when a trusted list holds addr or addr is
// not publicly routable.
func (s *Set) IP(addr netip.Addr) []IPMatch {
	if s == nil || !addr.IsValid() || len(s.ipLists) == 0 {
		return nil
	}
	addr = addr.Unmap()
	if addr.Is4() && !s.listed4.mayHold(addr) || !routable(addr) {
		return nil
	}
	if _, _, ok := s.trusted.lookup(addr); ok {
		return nil
	}
	var out []IPMatch
	for k := TorExit; int(k) < numKinds; k++ {
		p, i, ok := s.ips[k].lookup(addr)
		if !ok {
			continue
		}
		entry := p.String()
		if p.IsSingleIP() {
			entry = p.Addr().String()
		}
		out = append(out, IPMatch{Kind: k, List: s.ipLists[i].name, Entry: entry})
	}
	return out
}

// Domain returns the customer threat list holding name — the name itself,
// or a wildcard entry over it — unless a trusted list holds it. Case and a
// trailing dot are ignored.
func (s *Set) Domain(name string) (DomainMatch, bool) {
	if s == nil || s.domains.empty() {
		return DomainMatch{}, false
	}
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	entry, i, ok := s.domains.lookup(name)
	if !ok || s.trustedName(name) {
		return DomainMatch{}, false
	}
	return DomainMatch{List: s.ipLists[i].name, Entry: entry}, true
}

// trustedName reports whether a trusted customer list holds name.
func (s *Set) trustedName(name string) bool {
	if s.trustedDomains.empty() {
		return false
	}
	_, _, ok := s.trustedDomains.lookup(name)
	return ok
}

// Info describes the set's lists: crypto lists, IP lists by kind, then
// customer lists, each by name.
func (s *Set) Info() []ListInfo {
	if s == nil {
		return nil
	}
	return slices.Clone(s.info)
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
	if s.trustedName(name) {
		return "", "", false
	}
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
//go:embed lists/*.txt lists/tor/*.txt lists/malicious/*.txt lists/tor-relays/*.txt lists/c2/*.txt lists/log4j/*.txt
//go:embed lists/sinkhole/*.txt lists/droppoint/*.txt lists/driveby/*.txt lists/phishing/*.txt lists/dga/*.txt
//go:embed lists/scanner/*.txt
//go:embed lists/doh/*.txt lists/dot/*.txt
var builtin embed.FS

// defaultSet parses the built-in lists once; the Set is immutable, so
// sharing it is safe.
var defaultSet = sync.OnceValues(func() (*Set, error) {
	s, err := LoadFS(builtinFS())
	if err != nil {
		return nil, err
	}
	for i := range s.info {
		s.info[i].Builtin = true
	}
	return s, nil
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
