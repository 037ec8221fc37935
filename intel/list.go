package intel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Format is a list file format, named as GuardDuty's CreateThreatIntelSet
// and CreateIPSet name them.
type Format string

// The list formats GuardDuty accepts (format_*.go parse them).
const (
	FormatTXT        Format = "TXT"
	FormatSTIX       Format = "STIX"
	FormatOTXCSV     Format = "OTX_CSV"
	FormatAlienVault Format = "ALIEN_VAULT"
	FormatProofPoint Format = "PROOF_POINT"
	FormatFireEye    Format = "FIRE_EYE"
)

// Formats returns every format ParseList reads.
func Formats() []Format {
	return []Format{FormatTXT, FormatSTIX, FormatOTXCSV, FormatAlienVault, FormatProofPoint, FormatFireEye}
}

// ListKind says what a customer list does: a threat list raises the
// .Custom findings, a trusted list silences every list, built-in or not.
type ListKind string

const (
	KindThreat  ListKind = "threat"
	KindTrusted ListKind = "trusted"
)

// Limits bound what ParseList reads, so that a list file cannot make the
// node use unbounded memory. A zero field takes its ThreatLimits value.
type Limits struct {
	// MaxBytes is the largest file, in bytes.
	MaxBytes int64
	// MaxEntries is the most addresses, networks and domains a list may
	// hold (a STIX address range counts as the networks it spans).
	MaxEntries int
	// MaxLine is the longest line, in bytes, of the line-based formats.
	MaxLine int
}

// GuardDuty's quotas: a list file of at most 35 MB, a threat list of at
// most 250,000 entries, a trusted list of at most 2,000.
const (
	MaxListBytes      = 35 << 20
	MaxThreatEntries  = 250_000
	MaxTrustedEntries = 2_000
	maxListLine       = 64 << 10
	maxDomainLen      = 253
	maxIndicatorLen   = 4 << 10
)

// ThreatLimits returns GuardDuty's limits for a threat list.
func ThreatLimits() Limits {
	return Limits{MaxBytes: MaxListBytes, MaxEntries: MaxThreatEntries, MaxLine: maxListLine}
}

// TrustedLimits returns GuardDuty's limits for a trusted list.
func TrustedLimits() Limits {
	l := ThreatLimits()
	l.MaxEntries = MaxTrustedEntries
	return l
}

func (l Limits) normalize() Limits {
	d := ThreatLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxLine <= 0 {
		l.MaxLine = d.MaxLine
	}
	return l
}

// List is one parsed list file.
type List struct {
	// Name is the list's name, reported as threatListName; Kind and
	// Format as the manifest gives them. ParseList leaves Name and Kind
	// to its caller.
	Name   string
	Kind   ListKind
	Format Format
	// Prefixes are the listed addresses (as single-address prefixes) and
	// networks, masked, IPv4 addresses unmapped.
	Prefixes []netip.Prefix
	// Domains are the listed domains, lower case without a trailing dot;
	// a domain matches itself only. Wildcards are the domains of
	// "*.example.org" entries, which match every name under them.
	Domains   []string
	Wildcards []string
	// Skipped counts indicators the format carries that are neither
	// addresses nor domains (URLs, file hashes, e-mail addresses).
	Skipped int

	max int
}

// Len returns the number of entries.
func (l *List) Len() int { return len(l.Prefixes) + len(l.Domains) + len(l.Wildcards) }

func (l *List) full() error {
	if l.Len() >= l.max {
		return fmt.Errorf("more than %d entries", l.max)
	}
	return nil
}

func (l *List) addPrefix(p netip.Prefix) error {
	if err := l.full(); err != nil {
		return err
	}
	l.Prefixes = append(l.Prefixes, p)
	return nil
}

// addIndicator adds an address, a network or a domain.
func (l *List) addIndicator(s string) error {
	if looksLikeIP(s) {
		p, err := parseIPEntry(s)
		if err != nil {
			return err
		}
		return l.addPrefix(p)
	}
	return l.addDomain(s)
}

// addIP adds an address or a network, and nothing else.
func (l *List) addIP(s string) error {
	p, err := parseIPEntry(s)
	if err != nil {
		return err
	}
	return l.addPrefix(p)
}

func (l *List) addDomain(s string) error {
	d, wildcard, err := parseDomainEntry(s)
	if err != nil {
		return err
	}
	if err := l.full(); err != nil {
		return err
	}
	if wildcard {
		l.Wildcards = append(l.Wildcards, d)
	} else {
		l.Domains = append(l.Domains, d)
	}
	return nil
}

// ParseError is a list file ParseList refused: the file, the line (0 when
// the error is not one line's) and why.
type ParseError struct {
	File   string
	Line   int
	Reason string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("intel: list file %s: line %d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("intel: list file %s: %s", e.File, e.Reason)
}

// parser reads one format from r (bounded by br) into l.
type parser func(br *boundedReader, l *List) error

var parsers = map[Format]parser{
	FormatTXT:        parseTXT,
	FormatSTIX:       parseSTIX,
	FormatOTXCSV:     parseOTXCSV,
	FormatAlienVault: parseAlienVault,
	FormatProofPoint: parseProofPoint,
	FormatFireEye:    parseFireEye,
}

// ParseFormat returns the Format named s, in any case.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToUpper(strings.TrimSpace(s)))
	if _, ok := parsers[f]; !ok {
		return "", fmt.Errorf("unknown list format %q (want one of %v)", s, Formats())
	}
	return f, nil
}

// ParseList reads a list file in format from r. file names it in errors.
// A malformed file is refused whole: the error is a *ParseError naming
// the line and the reason. Indicators that are neither addresses nor
// domains (URLs, hashes) are counted in List.Skipped, not refused, where
// the format carries them beside addresses.
func ParseList(format Format, file string, r io.Reader, lim Limits) (*List, error) {
	p, ok := parsers[format]
	if !ok {
		return nil, &ParseError{File: file, Reason: fmt.Sprintf("unknown format %q", format)}
	}
	lim = lim.normalize()
	br := &boundedReader{r: r, maxBytes: lim.MaxBytes, maxLine: lim.MaxLine, line: 1}
	if format == FormatSTIX {
		br.maxLine = 0 // XML may be one line; the size bounds it
	}
	l := &List{Format: format, max: lim.MaxEntries}
	if err := p(br, l); err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.File = file
			return nil, pe
		}
		return nil, &ParseError{File: file, Reason: err.Error()}
	}
	return l, nil
}

// boundedReader fails a read past maxBytes, or of a line longer than
// maxLine (when set), with a *ParseError.
type boundedReader struct {
	r        io.Reader
	maxBytes int64
	maxLine  int
	n        int64
	line     int
	lineLen  int
	err      error
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	for _, c := range p[:n] {
		if c == '\n' {
			b.line++
			b.lineLen = 0
			continue
		}
		b.lineLen++
		if b.maxLine > 0 && b.lineLen > b.maxLine {
			b.err = &ParseError{Line: b.line, Reason: fmt.Sprintf("line longer than %d bytes", b.maxLine)}
			return 0, b.err
		}
	}
	b.n += int64(n)
	if b.n > b.maxBytes {
		b.err = &ParseError{Reason: fmt.Sprintf("larger than %d bytes", b.maxBytes)}
		return 0, b.err
	}
	return n, err
}

// eachLine calls fn with every line of br and its number, without the line
// end, and stops at fn's first error, which it returns as a *ParseError of
// that line.
func eachListLine(br *boundedReader, fn func(line string) error) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 4096), br.maxLine+2)
	n := 0
	for sc.Scan() {
		n++
		if err := fn(strings.TrimSuffix(sc.Text(), "\r")); err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				return err
			}
			return &ParseError{Line: n, Reason: err.Error()}
		}
	}
	if err := sc.Err(); err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return err
		}
		return &ParseError{Line: n + 1, Reason: err.Error()}
	}
	return nil
}

// looksLikeIP reports whether s is meant as an address or network rather
// than a domain: it has a colon or a slash, or only digits and dots.
func looksLikeIP(s string) bool {
	if strings.ContainsAny(s, ":/") {
		return true
	}
	return strings.Trim(s, "0123456789.") == ""
}

// parseIPEntry parses an address or a network (CIDR) entry: masked,
// IPv4-mapped IPv6 turned into IPv4, no zone.
func parseIPEntry(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP network (CIDR)", clip(s))
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address", clip(s))
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseDomainEntry parses a domain entry, "example.org" or
// "*.example.org" (wildcard): letters, digits, '-' and '_' in 1–63-byte
// labels, at least two labels under a top-level domain of the public
// suffix list, and not itself an ICANN public suffix ("co.uk"), which
// would stand for every registration under it.
func parseDomainEntry(s string) (domain string, wildcard bool, err error) {
	orig := s
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	s, wildcard = strings.CutPrefix(s, "*.")
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("%q is not a domain: %s", clip(orig), why)
	}
	if s == "" || len(s) > maxDomainLen {
		return bad("empty or longer than 253 bytes")
	}
	if !strings.Contains(s, ".") {
		return bad("a single label")
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad("an empty, too long or hyphen-edged label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return bad(fmt.Sprintf("character %q", c))
			}
		}
	}
	if _, icann := publicsuffix.PublicSuffix(s[strings.LastIndexByte(s, '.')+1:]); !icann {
		return bad("unknown top-level domain")
	}
	if ps, icann := publicsuffix.PublicSuffix(s); ps == s && icann {
		return bad("a public suffix")
	}
	return s, wildcard, nil
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
