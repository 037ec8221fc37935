package intel

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Reputation holds the built-in domain-reputation lists of the
// .Reputation finding types (lists/reputation, see its SOURCE.md):
// dynamic-DNS providers, free-subdomain suffixes, abused top-level
// domains, sinkhole addresses, popular domains and the AWS tester's
// indicator names. It never changes once built.
type Reputation struct {
	dynamic, free, abusedTLD map[string]bool
	// popular holds registrable domains (eTLD+1).
	popular   map[string]bool
	sinkholes []netip.Prefix
	test      map[string]string
}

//go:embed lists/reputation/*.txt
var reputationFiles embed.FS

// BuiltinReputation parses the embedded reputation lists.
func BuiltinReputation() (*Reputation, error) {
	r := &Reputation{dynamic: map[string]bool{}, free: map[string]bool{}, abusedTLD: map[string]bool{},
		popular: map[string]bool{}, test: map[string]string{}}
	read := func(file string, line func(fields []string) error) error {
		b, err := reputationFiles.ReadFile("lists/reputation/" + file)
		if err != nil {
			return fmt.Errorf("intel: reputation list %s: %w", file, err)
		}
		s := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; s.Scan(); n++ {
			l := strings.TrimSpace(s.Text())
			if l == "" || l[0] == '#' {
				continue
			}
			if err := line(strings.Fields(strings.ToLower(l))); err != nil {
				return fmt.Errorf("intel: reputation list %s:%d: %w", file, n, err)
			}
		}
		return s.Err()
	}
	set := func(m map[string]bool) func([]string) error {
		return func(f []string) error { m[strings.TrimSuffix(f[0], ".")] = true; return nil }
	}
	if err := read("maltrail_dynamic_domain.txt", set(r.dynamic)); err != nil {
		return nil, err
	}
	if err := read("free_subdomain.txt", set(r.free)); err != nil {
		return nil, err
	}
	if err := read("abused_tlds.txt", set(r.abusedTLD)); err != nil {
		return nil, err
	}
	err := read("opendns_top_domains.txt", func(f []string) error {
		if suffix, icann := publicsuffix.PublicSuffix(f[0]); !icann && strings.IndexByte(suffix, '.') >= 0 {
			// A platform with a private suffix whose customers are
			// popular: cloudfront.net, s3.amazonaws.com.
			r.popular[suffix] = true
		}
		if d, err := publicsuffix.EffectiveTLDPlusOne(f[0]); err == nil {
			r.popular[d] = true
		} else {
			r.popular[f[0]] = true // a public suffix itself: cloudfront.net
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := read("cloud_platforms.txt", set(r.popular)); err != nil {
		return nil, err
	}
	err = read("sinkholes.txt", func(f []string) error {
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			a, aerr := netip.ParseAddr(f[0])
			if aerr != nil {
				return fmt.Errorf("not an address or network: %q", f[0])
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		r.sinkholes = append(r.sinkholes, p.Masked())
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = read("vigil-test.txt", func(f []string) error {
		if len(f) != 2 {
			return fmt.Errorf("want a name and a rule kind")
		}
		r.test[f[0]] = f[1]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// suffixIn returns the entry of set that name is or lies under.
func suffixIn(set map[string]bool, name string) (string, bool) {
	for s := name; s != ""; {
		if set[s] {
			return s, true
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	return "", false
}

// DynamicDNS returns the dynamic-DNS provider domain name lies under.
func (r *Reputation) DynamicDNS(name string) (entry string, ok bool) {
	return suffixIn(r.dynamic, name)
}

// FreeSubdomain returns the free-subdomain suffix (a top-level domain or
// a provider's domain) name lies under.
func (r *Reputation) FreeSubdomain(name string) (entry string, ok bool) {
	return suffixIn(r.free, name)
}

// AbusedTLD returns name's top-level domain when it is one of the abused
// ones.
func (r *Reputation) AbusedTLD(name string) (tld string, ok bool) {
	tld = name[strings.LastIndexByte(name, '.')+1:]
	return tld, r.abusedTLD[tld]
}

// Popular reports whether the registrable domain is on the popular list
// (which holds the registrable domains of the OpenDNS top names, the
// names that are public suffixes themselves, and the cloud platforms of
// cloud_platforms.txt, such as cloudfront.net).
func (r *Reputation) Popular(domain string) bool { return r.popular[domain] }

// Sinkhole returns the sinkhole network that holds a.
func (r *Reputation) Sinkhole(a netip.Addr) (netip.Prefix, bool) {
	a = a.Unmap()
	for _, p := range r.sinkholes {
		if p.Contains(a) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// TestIndicator returns the rule kind (abused, bitcoin, malicious,
// suspicious) of an AWS GuardDuty tester indicator name.
func (r *Reputation) TestIndicator(name string) (kind string, ok bool) {
	kind, ok = r.test[name]
	return kind, ok
}
