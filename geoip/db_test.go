package geoip_test

import (
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/vigil-sec/vigil/geoip"
	"github.com/vigil-sec/vigil/geoip/geoiptest"
)

// fixture is a small world: documentation prefixes placed in Frankfurt and
// Sydney, one network with an ASN only, one with a country only.
var fixture = []geoiptest.Entry{
	{Prefix: "198.51.100.0/24", Info: geoip.Info{ASN: 64500, Org: "Example Carrier GmbH", Country: "DE",
		City: "Frankfurt am Main", Lat: 50.1109, Lon: 8.6821, HasLocation: true}},
	{Prefix: "203.0.113.0/24", Info: geoip.Info{ASN: 64501, Org: "Example Telecom Pty Ltd", Country: "AU",
		City: "Sydney", Lat: -33.8688, Lon: 151.2093, HasLocation: true}},
	{Prefix: "2001:db8:1::/48", Info: geoip.Info{ASN: 64502, Org: "Example IPv6 Net", Country: "JP",
		City: "Tokyo", Lat: 35.6895, Lon: 139.6917, HasLocation: true}},
	{Prefix: "192.0.2.0/25", Info: geoip.Info{ASN: 64503, Org: "ASN Only"}},
	{Prefix: "192.0.2.128/25", Info: geoip.Info{Country: "BR"}},
}

func TestLookup(t *testing.T) {
	db := geoiptest.Open(t, fixture...)
	if st := db.Status(); !st.ASN || !st.Country || !st.Location || st.Degraded() {
		t.Fatalf("status %+v, want every database", st)
	}
	tests := []struct {
		addr  string
		want  geoip.Info
		found bool
	}{
		{"198.51.100.7", geoip.Info{ASN: 64500, Org: "Example Carrier GmbH", Country: "DE", CountryName: "Germany",
			City: "Frankfurt am Main", Lat: 50.1109, Lon: 8.6821, HasLocation: true}, true},
		{"::ffff:203.0.113.9", geoip.Info{ASN: 64501, Org: "Example Telecom Pty Ltd", Country: "AU", CountryName: "Australia",
			City: "Sydney", Lat: -33.8688, Lon: 151.2093, HasLocation: true}, true},
		{"2001:db8:1::42", geoip.Info{ASN: 64502, Org: "Example IPv6 Net", Country: "JP", CountryName: "Japan",
			City: "Tokyo", Lat: 35.6895, Lon: 139.6917, HasLocation: true}, true},
		{"192.0.2.1", geoip.Info{ASN: 64503, Org: "ASN Only"}, true},
		{"192.0.2.200", geoip.Info{Country: "BR", CountryName: "Brazil"}, true},
		{"100.64.0.1", geoip.Info{}, false},
		{"2001:db8:2::1", geoip.Info{}, false},
	}
	for _, tc := range tests {
		got, found := db.Lookup(netip.MustParseAddr(tc.addr))
		if got != tc.want || found != tc.found {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v, %v", tc.addr, got, found, tc.want, tc.found)
		}
	}
	if _, found := db.Lookup(netip.Addr{}); found {
		t.Error("the zero address was found")
	}
}

func TestNilDB(t *testing.T) {
	var db *geoip.DB
	if _, found := db.Lookup(netip.MustParseAddr("198.51.100.7")); found || db.HasLocation() {
		t.Fatal("a nil DB knows something")
	}
	if st := db.Status(); st.ASN || st.Country || st.Location {
		t.Fatalf("nil status %+v", st)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDegraded: a missing directory, a missing file and a corrupt file
// leave the DB working on what remains, with the problems named.
func TestDegraded(t *testing.T) {
	t.Run("missing dir", func(t *testing.T) {
		db := geoip.Open(filepath.Join(t.TempDir(), "absent"))
		defer db.Close()
		st := db.Status()
		if st.ASN || st.Country || st.Location || len(st.Problems) != 4 || db.HasLocation() {
			t.Fatalf("status %+v, want nothing and four problems", st)
		}
		if _, found := db.Lookup(netip.MustParseAddr("198.51.100.7")); found {
			t.Fatal("found with no databases")
		}
	})
	t.Run("no city, corrupt country", func(t *testing.T) {
		dir := geoiptest.Dir(t, fixture...)
		for _, f := range []string{geoip.CityV4File, geoip.CityV6File} {
			if err := os.Remove(filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, geoip.CountryFile), []byte("not a database"), 0o644); err != nil {
			t.Fatal(err)
		}
		db := geoip.Open(dir)
		defer db.Close()
		st := db.Status()
		if !st.ASN || st.Country || st.Location || len(st.Problems) != 3 {
			t.Fatalf("status %+v, want ASN only and three problems", st)
		}
		if !strings.Contains(strings.Join(st.Problems, "\n"), geoip.CountryFile+" (country): ") {
			t.Errorf("problems %q do not name the corrupt country database", st.Problems)
		}
		got, found := db.Lookup(netip.MustParseAddr("198.51.100.7"))
		if !found || got != (geoip.Info{ASN: 64500, Org: "Example Carrier GmbH"}) {
			t.Fatalf("Lookup = %+v, %v; want the ASN only", got, found)
		}
	})
	t.Run("city gives the country", func(t *testing.T) {
		dir := geoiptest.Dir(t, fixture...)
		if err := os.Remove(filepath.Join(dir, geoip.CountryFile)); err != nil {
			t.Fatal(err)
		}
		db := geoip.Open(dir)
		defer db.Close()
		if st := db.Status(); !st.Country || !st.Location || len(st.Problems) != 1 {
			t.Fatalf("status %+v", st)
		}
		if got, _ := db.Lookup(netip.MustParseAddr("203.0.113.9")); got.Country != "AU" || got.CountryName != "Australia" {
			t.Fatalf("Lookup = %+v, want AU from the city database", got)
		}
	})
}

func TestDistanceKm(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want                   float64 // km, within 0.5%
	}{
		{"Frankfurt-Sydney", 50.1109, 8.6821, -33.8688, 151.2093, 16_480},
		{"London-New York", 51.5074, -0.1278, 40.7128, -74.0060, 5_570},
		{"same place", 1, 2, 1, 2, 0},
		{"antipodes", 0, 0, 0, 180, math.Pi * 6371.0088},
	}
	for _, tc := range tests {
		got := geoip.DistanceKm(tc.lat1, tc.lon1, tc.lat2, tc.lon2)
		if math.Abs(got-tc.want) > 0.005*tc.want+1e-9 {
			t.Errorf("%s: %.0f km, want %.0f", tc.name, got, tc.want)
		}
	}
}

// TestMaxMindLayout: MaxMind's own GeoLite2-City and GeoLite2-ASN files
// are read too, the city file in place of ip-location-db's.
func TestMaxMindLayout(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, network string, rec mmdbtype.Map) {
		t.Helper()
		tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: strings.TrimSuffix(name, ".mmdb"), IncludeReservedNetworks: true})
		if err != nil {
			t.Fatal(err)
		}
		_, n, _ := net.ParseCIDR(network)
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := tree.WriteTo(f); err != nil {
			t.Fatal(err)
		}
	}
	write(geoip.MaxMindCityFile, "81.2.69.128/25", mmdbtype.Map{
		"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("Bracknell"), "de": mmdbtype.String("Bracknell")}},
		"country":  mmdbtype.Map{"iso_code": mmdbtype.String("GB")},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(51.4036), "longitude": mmdbtype.Float64(-0.7618), "accuracy_radius": mmdbtype.Uint16(5)},
	})
	write(geoip.MaxMindASNFile, "81.2.64.0/18", mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(20712),
		"autonomous_system_organization": mmdbtype.String("Andrews & Arnold Ltd"),
	})
	db := geoip.Open(dir)
	defer db.Close()
	st := db.Status()
	if !st.ASN || !st.Country || !st.Location || len(st.Problems) != 1 || !strings.Contains(st.Problems[0], geoip.CountryFile) {
		t.Fatalf("status %+v, want everything but the country file", st)
	}
	got, _ := db.Lookup(netip.MustParseAddr("81.2.69.160"))
	want := geoip.Info{ASN: 20712, Org: "Andrews & Arnold Ltd", Country: "GB", CountryName: "United Kingdom",
		City: "Bracknell", Lat: 51.4036, Lon: -0.7618, HasLocation: true}
	if got != want {
		t.Fatalf("Lookup = %+v, want %+v", got, want)
	}
}

// TestLookupConcurrent: entity actors look up from many goroutines at
// once (run with -race).
func TestLookupConcurrent(t *testing.T) {
	db := geoiptest.Open(t, fixture...)
	want, _ := db.Lookup(netip.MustParseAddr("198.51.100.7"))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + g)})
				if got, _ := db.Lookup(a); got != want {
					t.Errorf("Lookup(%s) = %+v", a, got)
					return
				}
			}
		})
	}
	wg.Wait()
}
