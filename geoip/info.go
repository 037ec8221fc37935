// Package geoip answers what vigil knows of an IP address: its network
// (ASN and organisation), country and location, from the ip-location-db
// MaxMind-format databases in a data directory (--geoip-dir).
package geoip

import "net/netip"

// Info is what the databases tell of one address. Zero fields are
// unknown.
type Info struct {
	// ASN and Org are the autonomous system announcing the address.
	ASN uint32
	Org string
	// Country is the ISO 3166-1 alpha-2 code; CountryName its English name
	// when the database has one.
	Country     string
	CountryName string
	City        string
	// Lat and Lon are the location, valid when HasLocation is set.
	Lat, Lon    float64
	HasLocation bool
}

// DB answers lookups. A nil *DB knows nothing: Lookup reports false.
type DB struct{}

// Lookup returns what the databases know of addr.
func (db *DB) Lookup(addr netip.Addr) (Info, bool) {
	if db == nil {
		return Info{}, false
	}
	return Info{}, false
}
