// Package geoiptest writes small MaxMind-format databases for tests, in
// the layout and with the field names of the real ones that geoip.Open
// reads, so that tests need no downloaded data.
//
// Typical use:
//
//	db := geoiptest.Open(t,
//		geoiptest.Entry{Prefix: "198.51.100.0/24", Info: geoip.Info{
//			ASN: 64500, Org: "Example Net", Country: "DE", City: "Frankfurt am Main",
//			Lat: 50.1109, Lon: 8.6821, HasLocation: true}},
//		geoiptest.Entry{Prefix: "2001:db8::/32", Info: geoip.Info{ASN: 64501, Country: "AU"}},
//	)
//	cfg.Geo = db
//
// Every database file is written, empty when no entry fills it; remove one
// from Dir's directory to test a missing database. Prefixes may be
// reserved ranges (TEST-NET, documentation), which real databases leave
// out.
package geoiptest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/vigil-sec/vigil/geoip"
)

// Entry is what the databases say of one network. Info.ASN and Info.Org go
// to the ASN database when ASN is set, Info.Country to the country
// database when set, and Country, City and the location (when
// HasLocation) to the city database of the prefix's address family when
// City or HasLocation is set. CountryName is ignored: geoip names
// countries itself.
type Entry struct {
	Prefix string
	Info   geoip.Info
}

// Open writes entries into a fresh temporary directory (Dir) and opens it;
// the DB is closed when the test ends.
func Open(t testing.TB, entries ...Entry) *geoip.DB {
	t.Helper()
	db := geoip.Open(Dir(t, entries...))
	t.Cleanup(func() { db.Close() })
	return db
}

// Dir writes entries into a fresh temporary directory and returns it,
// failing the test on error.
func Dir(t testing.TB, entries ...Entry) string {
	t.Helper()
	dir := t.TempDir()
	if err := Write(dir, entries...); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Write writes the four databases geoip.Open reads into dir, holding
// entries. Later entries win where prefixes overlap.
func Write(dir string, entries ...Entry) error {
	trees := map[string]*mmdbwriter.Tree{}
	for _, f := range []struct {
		name, typ string
		v4        bool
	}{
		{geoip.ASNFile, "vigil-test-asn", false},
		{geoip.CountryFile, "country ipvAll", false},
		{geoip.CityV4File, "city ipv4", true},
		{geoip.CityV6File, "city ipv6", false},
	} {
		opts := mmdbwriter.Options{DatabaseType: f.typ, IncludeReservedNetworks: true, RecordSize: 24}
		if f.v4 {
			opts.IPVersion = 4
		}
		tree, err := mmdbwriter.New(opts)
		if err != nil {
			return fmt.Errorf("geoiptest: %s: %w", f.name, err)
		}
		trees[f.name] = tree
	}
	for _, e := range entries {
		p, err := netip.ParsePrefix(e.Prefix)
		if err != nil {
			return fmt.Errorf("geoiptest: %w", err)
		}
		p = p.Masked()
		network := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		in := e.Info
		if in.ASN != 0 {
			err = errors.Join(err, trees[geoip.ASNFile].Insert(network, mmdbtype.Map{
				"autonomous_system_number":       mmdbtype.Uint32(in.ASN),
				"autonomous_system_organization": mmdbtype.String(in.Org),
			}))
		}
		if in.Country != "" {
			err = errors.Join(err, trees[geoip.CountryFile].Insert(network, mmdbtype.Map{
				"country_code": mmdbtype.String(in.Country),
			}))
		}
		if in.City != "" || in.HasLocation {
			rec := mmdbtype.Map{"country_code": mmdbtype.String(in.Country), "city": mmdbtype.String(in.City)}
			if in.HasLocation {
				// The real database stores float32 coordinates.
				rec["latitude"], rec["longitude"] = mmdbtype.Float32(in.Lat), mmdbtype.Float32(in.Lon)
			}
			city := geoip.CityV6File
			if p.Addr().Is4() {
				city = geoip.CityV4File
			}
			err = errors.Join(err, trees[city].Insert(network, rec))
		}
		if err != nil {
			return fmt.Errorf("geoiptest: %s: %w", e.Prefix, err)
		}
	}
	for name, tree := range trees {
		if err := writeTree(filepath.Join(dir, name), tree); err != nil {
			return err
		}
	}
	return nil
}

func writeTree(path string, tree *mmdbwriter.Tree) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("geoiptest: %w", err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("geoiptest: write %s: %w", path, err)
	}
	return f.Close()
}
